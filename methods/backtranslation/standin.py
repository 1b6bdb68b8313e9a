# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A small stand-in LM trained here for the three pipeline roles, saved with `save_pretrained`.

The paper's roles are played by Llama-2-70B models (a backward model fine-tuned on seed data, and
Llama-2-70B-chat for rewriting). Ours is one tiny GPT-2 (BPE tokenizer trained here) fine-tuned for seconds on
seed pairs built from the Python standard library, in the `pipeline.STAND_IN_FORMAT` prompts:

* document x: a function's source (`def …` with its docstring and body, cut to `doc_chars`), the "web text";
* instruction y: "Explain what the Python function NAME does.";
* response: the first paragraph of the docstring (the clean, grounded answer the rewrite should produce).

Seed pairs come from 3 of every 4 stdlib files; the pipeline runs on functions of the other files. It shows
the pipeline's mechanics (copying a name to back-translate, extracting a grounded answer to rewrite,
hallucinating from the name alone to distil); it is no aligned LLM and its text quality is low.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import fcntl
import functools
import json
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np

from loyal.methods.backtranslation.pipeline import STAND_IN_FORMAT

logger = logging.getLogger(__name__)

EOS = "<|endoftext|>"
INSTRUCTION = "Explain what the Python function {name} does."


@dataclasses.dataclass(frozen=True)
class FunctionDoc:
    """One documented stdlib function: `source` is the document, `summary` its docstring's first paragraph."""

    ident: str
    name: str
    source: str
    summary: str


@functools.lru_cache(maxsize=2)
def _functions(doc_chars: int) -> tuple[tuple[FunctionDoc, bool], ...]:
    """Every (function, held out?) of the stdlib, parsed once and kept as JSON in the loyal cache folder."""
    import sys

    from loyal.methods.harness.corpora import category_files
    from loyal.methods.kit.data.cache import cache_dir, cache_key, scratch_path

    files = category_files("python")
    key = cache_key(doc_chars=doc_chars, python=sys.version, files=len(files), version=1)
    cached = cache_dir() / "backtranslation" / f"functions_{key}.json"
    if cached.is_file():
        return tuple((FunctionDoc(*row[:4]), bool(row[4])) for row in json.loads(cached.read_text()))
    out: list[tuple[FunctionDoc, bool]] = []
    for i, path in enumerate(files):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines = text.splitlines(keepends=True)  # ast.get_source_segment re-splits the file per call: too slow
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            doc = ast.get_docstring(node)
            summary = " ".join(doc.split("\n\n")[0].split()) if doc else ""
            if 40 <= len(summary) <= 240:
                source = "".join(lines[node.lineno - 1 : node.end_lineno])[:doc_chars]
                out.append((FunctionDoc(f"{path.stem}.{node.name}", node.name, source, summary), i % 4 == 3))
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = scratch_path(cached)
    partial.write_text(json.dumps([[*dataclasses.astuple(f), h] for f, h in out]))
    partial.replace(cached)
    return tuple(out)


def stdlib_functions(doc_chars: int, held_out: bool) -> tuple[FunctionDoc, ...]:
    """Public functions with a 40-240 character docstring summary, from the seed files (`held_out=False`:
    3 of every 4 stdlib files in sorted order) or the held-out files (every 4th); deterministic."""
    return tuple(f for f, is_held_out in _functions(doc_chars) if is_held_out == held_out)


def training_texts(functions: tuple[FunctionDoc, ...]) -> list[str]:
    """Three sequences per seed function: backtranslate, respond (distil) and rewrite, each ending in EOS."""
    fmt, texts = STAND_IN_FORMAT, []
    for f in functions:
        y = INSTRUCTION.format(name=f.name)
        texts.append(fmt.backtranslate.format(document=f.source) + y + "\n" + EOS)
        texts.append(fmt.respond.format(instruction=y) + f.summary + "\n" + EOS)
        texts.append(fmt.rewrite.format(instruction=y, document=f.source) + f.summary + "\n" + EOS)
    return texts


@dataclasses.dataclass(frozen=True)
class StandInConfig:
    """Size and training of the stand-in LM.

    Attributes:
      seed_pairs: seed functions used for training, >= 16 (capped by what the stdlib has, ~2400).
      doc_chars: characters kept of each function's source, >= 100.
      vocab_size: BPE vocabulary, >= 300.
      width, layers, heads: GPT-2 size; `width` divisible by `heads`.
      context: positions, >= 64; sequences are cut to it.
      steps: AdamW steps, >= 1; batch_size sequences each; learning_rate the peak (cosine decay).
      seed: initialisation and batch order.
    """

    seed_pairs: int = 2400
    doc_chars: int = 240
    vocab_size: int = 2048
    width: int = 64
    layers: int = 2
    heads: int = 4
    context: int = 256
    steps: int = 1500
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [("seed_pairs", self.seed_pairs >= 16), ("doc_chars", self.doc_chars >= 100),
                  ("vocab_size", self.vocab_size >= 300), ("width", self.width % self.heads == 0 and self.width >= 16),
                  ("layers", self.layers >= 1), ("heads", self.heads >= 1), ("context", self.context >= 64),
                  ("steps", self.steps >= 1), ("batch_size", self.batch_size >= 1),
                  ("learning_rate", self.learning_rate > 0), ("seed", self.seed >= 0)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"{name} out of range, got {getattr(self, name)} (see StandInConfig)")


def _tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer trained on `texts`, as a `PreTrainedTokenizerFast` (saveable)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS)


def train_stand_in(config: StandInConfig, out_dir: Path) -> dict:
    """Trains the stand-in on seed pairs and saves model + tokenizer to `out_dir` (`save_pretrained`).

    Returns:
      Training facts: pairs, parameters, first/last loss, seconds (also written to `out_dir/training.json`).
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    start = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    functions = stdlib_functions(config.doc_chars, held_out=False)[: config.seed_pairs]
    texts = training_texts(functions)
    tokenizer = _tokenizer(texts, config.vocab_size)
    eos = tokenizer.eos_token_id
    rows = [ids[: config.context] for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_positions=config.context, n_embd=config.width, n_layer=config.layers,
        n_head=config.heads, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=eos, eos_token_id=eos,
        pad_token_id=eos, tie_word_embeddings=True,
    ))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    warmup = min(100, config.steps // 10 + 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / config.steps)))
    losses, order = [], np.array([], dtype=int)
    model.train()
    for step in range(config.steps):
        if len(order) < config.batch_size:
            order = np.concatenate([order, rng.permutation(len(rows))])
        batch, order = [rows[i] for i in order[: config.batch_size]], order[config.batch_size :]
        width = max(len(r) for r in batch)
        ids = torch.tensor([r + [eos] * (width - len(r)) for r in batch])
        labels = torch.tensor([r + [-100] * (width - len(r)) for r in batch])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in batch])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % 250 == 0:
            logger.info("stand-in step %d/%d: loss %.3f", step, config.steps, losses[-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    facts = {"seed_pairs": len(functions), "parameters": sum(p.numel() for p in model.parameters()),
             "first_loss": float(np.mean(losses[:20])), "last_loss": float(np.mean(losses[-20:])),
             "seconds": time.perf_counter() - start}
    (out_dir / "training.json").write_text(json.dumps(facts, indent=2))
    return facts


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_stand_in(config: StandInConfig, root: Path | None = None) -> Path:
    """The folder of the stand-in trained with `config`, training it once under a file lock (concurrent arms and
    actors on one machine wait for the first); under `root`, by default the loyal cache folder."""
    from loyal.methods.kit.data.cache import cache_dir, cache_key, scratch_path

    base = Path(root) if root is not None else cache_dir() / "backtranslation"
    base.mkdir(parents=True, exist_ok=True)
    target = base / f"stand_in_{cache_key(**dataclasses.asdict(config), version=1)}"
    with _locked(base / f"{target.name}.lock"):
        if not (target / "training.json").is_file():
            partial = scratch_path(target)
            train_stand_in(config, partial)
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
    return target
