# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A tiny stand-in trained here, saved and reloaded with `from_pretrained`, runs the whole pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loyal.methods.backtranslation import pipeline
from loyal.methods.backtranslation.experiment import BacktranslationConfig
from loyal.methods.backtranslation.generator import TransformersGenerator
from loyal.methods.backtranslation.standin import StandInConfig, ensure_stand_in

TINY = StandInConfig(seed_pairs=48, doc_chars=160, vocab_size=400, width=32, layers=1, heads=2, context=128, steps=25)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return ensure_stand_in(TINY, root=tmp_path_factory.mktemp("stand_in"))


@pytest.fixture(scope="module")
def greedy(model_dir) -> TransformersGenerator:
    return TransformersGenerator(model_dir, temperature=0.0, batch_size=4)


def test_stand_in_is_saved_once_and_reused(model_dir) -> None:
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training.json"):
        assert (model_dir / name).is_file(), name
    stamp = (model_dir / "training.json").stat().st_mtime_ns
    assert ensure_stand_in(TINY, root=model_dir.parent) == model_dir
    assert (model_dir / "training.json").stat().st_mtime_ns == stamp


def _manual_greedy(gen: TransformersGenerator, prompt: str, steps: int) -> str:
    """Slow oracle: one full forward per new token, argmax, stop at EOS."""
    import torch

    ids = gen.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    new = []
    for _ in range(steps):
        with torch.no_grad():
            logits = gen.model(input_ids=torch.tensor([ids + new])).logits[0, -1]
        token = int(logits.argmax())
        if token == gen.tokenizer.eos_token_id:
            break
        new.append(token)
    return gen.tokenizer.decode(new, skip_special_tokens=True)


def test_batched_left_padded_greedy_generation_matches_token_by_token_decoding(greedy) -> None:
    prompts = ["### Instruction:\nExplain what the Python function join does.\n### Response:\n", "### Document:\n"]
    assert greedy.generate(prompts, 6, seed=0) == [_manual_greedy(greedy, p, 6) for p in prompts]


def test_mean_log_likelihood_matches_prefix_by_prefix_probabilities(greedy) -> None:
    import torch

    prompts, continuations = ["### Instruction:\nSay hi.\n### Response:\n", "a"], ["Return the sum.", "def f(x): pass"]
    got = greedy.mean_log_likelihood(prompts, continuations)
    for prompt, cont, value in zip(prompts, continuations, got):
        head = greedy.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tail = greedy.tokenizer(cont, add_special_tokens=False)["input_ids"]
        logps = []
        for k, token in enumerate(tail):
            with torch.no_grad():
                logits = greedy.model(input_ids=torch.tensor([head + tail[:k]])).logits[0, -1]
            logps.append(float(torch.log_softmax(logits, -1)[token]))
        assert value == pytest.approx(np.mean(logps), abs=1e-4)


def test_quick_pipeline_writes_valid_jsonl_and_figures(model_dir, tmp_path) -> None:
    # Prepare
    from loyal.methods.harness.runner import run_method

    config = BacktranslationConfig(documents=20, shards=2, keep_fraction=0.5, noise_fraction=0.25, model_dir=str(model_dir),
                                   doc_chars=TINY.doc_chars, instruction_tokens=8, response_tokens=8)
    # Execute
    result, run_dir = run_method("backtranslation", config, out=tmp_path)
    # Assert: 10 documents per shard, ceil(0.5 · 10) = 5 kept in each
    records = pipeline.read_jsonl(run_dir / "pairs.jsonl")
    assert len(records) == 20 and len({r["document_id"] for r in records}) == 20
    assert sum(r["document_id"].startswith("english:") for r in records) == 5
    assert [sum(r["kept"] for r in records[s * 10 : (s + 1) * 10]) for s in range(2)] == [5, 5]
    assert all((r["rewritten"] is not None) == r["kept"] == (r["distilled"] is not None) for r in records)
    for shard in range(2):
        rows = records[shard * 10 : (shard + 1) * 10]
        kept_scores = [r["score"] for r in rows if r["kept"]]
        assert min(kept_scores) >= max(r["score"] for r in rows if not r["kept"])
    metrics = result.metrics
    assert metrics["kept"] == 10 and metrics["noise_share_before_filter"] == 0.25
    assert 0 <= metrics["probe_accuracy_rewritten_vs_distilled"] <= 1
    assert all(not math.isnan(v) for v in metrics["diversity"].values())
    for name in result.figures:
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
