# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Experiment of instruction back-and-forth translation (arXiv 2408.04614, Sec. 2 and 4.2), small scale.

Documents: functions of held-out Python stdlib files (source with docstring, the "web text"; the docstring's
first paragraph is the reference answer, never shown to the pipeline) mixed with `noise_fraction`
Shakespeare passages the filter should drop. Each arm is one shard of the documents (so `--ray-address`
fans generation out over actors): backtranslate → likelihood (or rating) score → keep the top
`keep_fraction` of the shard → rewrite grounded in the document, and distil from the instruction alone.
`summarize` writes `pairs.jsonl` and compares rewritten and distilled responses in the embedding space of
all-MiniLM-L6-v2 (`embed.py`): similarity to the document and to the reference, diversity, a linear probe.

The generator is the stand-in LM trained here (`standin.py`) unless `model_dir` (a local `transformers`
folder) or `base_url` (an OpenAI-compatible server) is given.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from loyal.methods.backtranslation import maths, pipeline
from loyal.methods.backtranslation.standin import INSTRUCTION, StandInConfig, stdlib_functions
from loyal.methods.harness.registry import MethodSpec

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BacktranslationConfig:
    """Settings of the pipeline run.

    Attributes:
      documents: documents in the pool, >= 2 × shards (capped by the held-out functions, ~680).
      noise_fraction: share of the pool that is Shakespeare, in [0, 1).
      shards: arms, >= 1; filtering keeps the top fraction within each shard (interleaved, so alike).
      keep_fraction: share of each shard's pairs kept, in (0, 1].
      instruction_tokens, response_tokens: generation lengths, >= 4.
      temperature: sampling temperature, >= 0.
      seed: document order and sampling, >= 0.
      model_dir: a local `transformers` causal-LM folder, or "" for the stand-in.
      base_url, api_model, api_key_env, api_endpoint: an OpenAI-compatible server instead (exclusive with
        `model_dir`); see `generator.OpenAIGenerator`.
      prompt_format: "stand_in" or "chat" (`pipeline.FORMATS`); the stand-in needs "stand_in".
      scorer: "likelihood" (local models only) or "rating" (the paper's 1-5 self-rating).
      standin_pairs, standin_steps, standin_width, standin_layers, doc_chars: the stand-in's training
        (`StandInConfig`); `doc_chars` also cuts every document.
    """

    documents: int = 480
    noise_fraction: float = 0.25
    shards: int = 4
    keep_fraction: float = 0.6
    instruction_tokens: int = 20
    response_tokens: int = 64
    temperature: float = 0.7
    seed: int = 0
    model_dir: str = ""
    base_url: str = ""
    api_model: str = ""
    api_key_env: str = ""
    api_endpoint: str = "completions"
    prompt_format: str = "stand_in"
    scorer: str = "likelihood"
    standin_pairs: int = 2400
    standin_steps: int = 4000
    standin_width: int = 64
    standin_layers: int = 2
    doc_chars: int = 240

    def __post_init__(self) -> None:
        checks = [
            ("documents", self.documents >= 2 * self.shards), ("noise_fraction", 0 <= self.noise_fraction < 1),
            ("shards", self.shards >= 1), ("keep_fraction", 0 < self.keep_fraction <= 1),
            ("instruction_tokens", self.instruction_tokens >= 4), ("response_tokens", self.response_tokens >= 4),
            ("temperature", self.temperature >= 0), ("seed", self.seed >= 0),
            ("prompt_format", self.prompt_format in pipeline.FORMATS), ("scorer", self.scorer in ("likelihood", "rating")),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"{name} out of range, got {getattr(self, name)!r} (see BacktranslationConfig)")
        if self.model_dir and self.base_url:
            raise ValueError(f"give model_dir or base_url, not both; got {self.model_dir!r} and {self.base_url!r}")
        if self.base_url and self.scorer == "likelihood":
            raise ValueError("scorer='likelihood' needs a local model; use scorer='rating' with base_url")
        if not (self.model_dir or self.base_url) and self.prompt_format != "stand_in":
            raise ValueError(f"the stand-in is trained on prompt_format='stand_in', got {self.prompt_format!r}")
        kept = sum(math.ceil(self.keep_fraction * len(range(s, self.documents, self.shards))) for s in range(self.shards))
        if kept < 5:
            raise ValueError(f"documents={self.documents} with keep_fraction={self.keep_fraction} keeps {kept} pairs; "
                             "the rewritten-vs-distilled probe needs >= 5")
        self.stand_in()  # validates the stand-in's fields

    def stand_in(self) -> StandInConfig:
        return StandInConfig(seed_pairs=self.standin_pairs, steps=self.standin_steps, width=self.standin_width,
                             layers=self.standin_layers, doc_chars=self.doc_chars)


@functools.lru_cache(maxsize=2)
def build_pool(documents: int, noise_fraction: float, doc_chars: int, seed: int) -> tuple[tuple[str, str, str], ...]:
    """(document id, text, reference answer or "") for the pool, in a seeded order."""
    from loyal.methods.harness.corpora import load_documents

    noise = round(documents * noise_fraction)
    functions = stdlib_functions(doc_chars, held_out=True)
    rng = np.random.default_rng(seed)
    picked = [functions[i] for i in sorted(rng.permutation(len(functions))[: documents - noise])]
    english: tuple[str, ...] = ()
    if noise:
        passages = load_documents("english", doc_chars)  # spread the picks over the plays, not the first one
        english = passages[:: max(1, len(passages) // noise)][:noise]
        if len(english) < noise:
            raise ValueError(f"noise_fraction={noise_fraction} needs {noise} passages, Shakespeare has {len(english)}")
    pool = [(f"python:{f.ident}", f.source, f.summary) for f in picked]
    pool += [(f"english:{i}", text[:doc_chars], "") for i, text in enumerate(english)]
    return tuple(pool[i] for i in rng.permutation(len(pool)))


@functools.lru_cache(maxsize=2)
def _local_generator(model_dir: str, temperature: float):
    from loyal.methods.backtranslation.generator import TransformersGenerator

    return TransformersGenerator(model_dir, temperature=temperature)


def make_generator(config: BacktranslationConfig):
    """The configured generator (training the stand-in first if it is not cached)."""
    if config.base_url:
        from loyal.methods.backtranslation.generator import OpenAIGenerator

        return OpenAIGenerator(config.base_url, config.api_model, config.api_key_env, config.api_endpoint, config.temperature)
    if config.model_dir:
        return _local_generator(config.model_dir, config.temperature)
    from loyal.methods.backtranslation.standin import ensure_stand_in

    return _local_generator(str(ensure_stand_in(config.stand_in())), config.temperature)


def run_arm(config: BacktranslationConfig, arm: dict) -> dict:
    """The pipeline on shard `arm["shard"]`: one JSONL record per document, plus the references."""
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)  # see harness/lm.py: arms share the cores
    shard, fmt = int(arm["shard"]), pipeline.FORMATS[config.prompt_format]
    pool = build_pool(config.documents, config.noise_fraction, config.doc_chars, config.seed)[shard :: config.shards]
    ids, docs, refs = zip(*pool)
    generator = make_generator(config)
    seed = config.seed * 1000 + shard * 10
    start = time.perf_counter()
    instructions = pipeline.backtranslate(generator, docs, fmt, config.instruction_tokens, seed)
    if config.scorer == "likelihood":
        scores = pipeline.likelihood_scores(generator, instructions, docs, fmt)
    else:
        scores = pipeline.rating_scores(generator, instructions, docs, fmt, seed + 1)
    kept = pipeline.filter_pairs(scores, config.keep_fraction)
    kept_instr, kept_docs = [instructions[i] for i in kept], [docs[i] for i in kept]
    rewritten = dict(zip(kept.tolist(), pipeline.rewrite(generator, kept_instr, kept_docs, fmt, config.response_tokens, seed + 2)))
    distilled = dict(zip(kept.tolist(), pipeline.distill(generator, kept_instr, fmt, config.response_tokens, seed + 3)))
    records = [
        {"document_id": ids[i], "document": docs[i], "instruction": instructions[i], "score": float(scores[i]),
         "kept": i in rewritten, "rewritten": rewritten.get(i), "distilled": distilled.get(i)}
        for i in range(len(docs))
    ]
    return {"shard": shard, "seed": config.seed, "records": records, "references": dict(zip(ids, refs)),
            "seconds": time.perf_counter() - start}


def arms(config: BacktranslationConfig) -> list[dict]:
    return [{"shard": s, "seed": config.seed} for s in range(config.shards)]


def _expected_instruction(document_id: str) -> str:
    return INSTRUCTION.format(name=document_id.rsplit(".", 1)[-1]) if document_id.startswith("python:") else ""


def summarize(config: BacktranslationConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    """Writes pairs.jsonl and the figures; returns filtering, grounding, diversity and separability metrics."""
    from loyal.methods.backtranslation import figures
    from loyal.methods.kit import embed

    records = [r for result in results for r in result["records"]]
    references = {k: v for result in results for k, v in result["references"].items()}
    pipeline.write_jsonl(out_dir / "pairs.jsonl", records)
    kept = [r for r in records if r["kept"]]
    is_code = np.array([r["document_id"].startswith("python:") for r in records])
    is_kept = np.array([r["kept"] for r in records])
    scores = np.array([r["score"] for r in records], dtype=float)
    code_kept = [r for r in kept if references[r["document_id"]]]
    instr_ok = [r["instruction"] == _expected_instruction(r["document_id"]) for r in records if r["document_id"].startswith("python:")]

    vec = {name: embed.embed([r[key] for r in kept]) for name, key in
           (("documents", "document"), ("rewritten", "rewritten"), ("distilled", "distilled"))}
    ref_vec = embed.embed([references[r["document_id"]] for r in code_kept])
    code_rows = np.array([bool(references[r["document_id"]]) for r in kept])
    cos_doc = {s: maths.paired_cosine(vec[s], vec["documents"]) for s in ("rewritten", "distilled")}
    cos_ref = {s: maths.paired_cosine(vec[s][code_rows], ref_vec) for s in ("rewritten", "distilled")}
    cos_ref["documents"] = maths.paired_cosine(vec["documents"][code_rows], ref_vec)
    xy = maths.pca_2d(np.concatenate(list(vec.values())))
    n = len(kept)
    figs = [
        figures.scatter_png(out_dir / "embedding_pca.png", {k: xy[i * n : (i + 1) * n] for i, k in enumerate(vec)},
                            title="all-MiniLM-L6-v2 embeddings of kept pairs (PCA)"),
        figures.histogram_png(out_dir / "cosine_to_document.png", cos_doc, title="Response vs its source document",
                              xlabel="cosine similarity"),
    ]
    training = {}
    if not (config.model_dir or config.base_url):
        from loyal.methods.backtranslation.standin import ensure_stand_in

        training = json.loads((ensure_stand_in(config.stand_in()) / "training.json").read_text())
    lengths = {s: float(np.mean([len(r[s].split()) for r in kept])) for s in ("rewritten", "distilled")}
    metrics = {
        "documents": len(records), "kept": n, "generation_seconds": float(sum(r["seconds"] for r in results)),
        "noise_share_before_filter": float(np.mean(~is_code)), "noise_share_after_filter": float(np.mean(~is_code[is_kept])),
        "mean_score": {"python": float(np.nanmean(scores[is_code])),
                       "english": float(np.nanmean(scores[~is_code])) if (~is_code).any() else math.nan},
        "instruction_exact_match": float(np.mean(instr_ok)) if instr_ok else math.nan,
        "cosine_to_document": {s: float(v.mean()) for s, v in cos_doc.items()},
        "cosine_to_reference": {s: float(v.mean()) for s, v in cos_ref.items()},
        "diversity": {s: maths.mean_pairwise_distance(v) for s, v in vec.items()},
        "probe_accuracy_rewritten_vs_distilled": maths.probe_accuracy(vec["rewritten"], vec["distilled"], seed=config.seed),
        "mean_words": lengths, "stand_in_training": training,
    }
    return metrics, figs


SPEC = MethodSpec(
    name="backtranslation",
    paper="2408.04614",
    title="Better Alignment with Instruction Back-and-Forth Translation",
    claim="Rewriting web documents into responses to back-translated instructions gives responses distinct from "
    "distilled ones in embedding space, more diverse and grounded in the documents.",
    quick_runtime="~100 s CPU, 2-3 min wall (2 cores shared; cold cache: includes training the stand-in)",
    config_cls=BacktranslationConfig,
    quick={"documents": 80, "shards": 2, "standin_pairs": 1600, "standin_steps": 600, "doc_chars": 200},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
