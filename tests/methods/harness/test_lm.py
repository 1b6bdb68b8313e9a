# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The shared small byte-level LM: seeded construction, training lowers held-out loss, sampling shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.methods.harness.lm import LmConfig, cross_entropy, new_model, sample_bytes, to_bytes, train_and_track

TINY = LmConfig(seq_len=16, width=16, layers=1, heads=2, steps=40, batch_size=8, eval_every=20)


def test_new_model_is_reproducible_from_its_seed() -> None:
    a, b, c = new_model(TINY, 1), new_model(TINY, 1), new_model(TINY, 2)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters()))


def test_training_lowers_held_out_cross_entropy_from_uniform() -> None:
    text = to_bytes(["abcabcabd " * 200])
    curve = train_and_track(text, text, TINY, seed=0)
    assert curve["step"] == [0, 20, 40]
    assert curve["eval_ce"][0] == pytest.approx(np.log(256), abs=0.3)  # a fresh model is near uniform
    assert curve["eval_ce"][-1] < curve["eval_ce"][0] - 1.0


def test_sample_bytes_shape_and_range() -> None:
    out = sample_bytes(new_model(TINY, 0), count=3, length=5, seed=0)
    assert out.shape == (3, 5) and out.min() >= 0 and out.max() < 256


def test_cross_entropy_fails_if_text_is_shorter_than_a_window() -> None:
    with pytest.raises(ValueError, match="eval text too short"):
        cross_entropy(new_model(TINY, 0), np.arange(10), 16)


def test_lm_config_fails_if_width_not_divisible_by_heads() -> None:
    with pytest.raises(ValueError, match="width must be divisible by heads, got width=10, heads=4"):
        LmConfig(width=10, heads=4)
