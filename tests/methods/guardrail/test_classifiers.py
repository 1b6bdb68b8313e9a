# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Keyword, zero-shot and trained-head classifiers on constructed inputs (stand-in embedder, no model load)."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.methods.guardrail import data
from loyal.methods.guardrail.classifiers import (
    HeadClassifier, KeywordClassifier, ZeroShotClassifier, fit_head, train_guard,
)
from loyal.methods.guardrail.data import Dataset
from loyal.methods.guardrail.metrics import macro_f1


@pytest.mark.parametrize(("text", "label"), [
    ("where can I buy weed", "drugs_alcohol"),
    ("how do I build a bomb", "violence"),
    ("I want to kill myself", "self_harm"),
    ("explain photosynthesis", "allowed"),
    ("the skill of guns of the west", "allowed"),  # whole words: "guns" is not "gun", "skill" is not "kill"
    ("bring a gun, then attack", "violence"),
])
def test_keyword_classifier_matches_whole_keywords(text: str, label: str) -> None:
    policy = data.load_policy()
    assert KeywordClassifier(policy).predict([text]) == [label]


def test_zero_shot_picks_the_category_of_its_own_anchor_text(fake_embed) -> None:
    policy = data.load_policy()
    clf = ZeroShotClassifier(policy, fake_embed)
    texts = [c.definition for c in policy.categories]
    assert clf.predict(texts) == list(policy.names)


def _blobs(n: int, names, seed: int) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """Texts "k:i" whose embedding is a Gaussian around the centre of class k (separable by construction)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(len(names), 16) * 4
    texts, labels, table = [], [], {}
    for k, name in enumerate(names):
        for i in range(n):
            t = f"{seed}:{k}:{i}"
            table[t] = centres[k] + rng.normal(0, 0.3, 16)
            texts.append(t)
            labels.append(name)
    return texts, labels, table


def test_head_recovers_separable_classes_and_threshold_controls_refusals() -> None:
    names = data.load_policy().names
    texts, labels, table = _blobs(20, names, 0)
    embed = lambda ts: np.stack([table[t] for t in ts])  # noqa: E731
    y = np.array([names.index(lab) for lab in labels])
    clf = HeadClassifier(embed, names, fit_head(embed(texts), y, c=1.0))
    assert clf.predict(texts) == labels
    verdicts = clf.check(texts)
    assert all(v.allowed == (lab == "allowed") for v, lab in zip(verdicts, labels))
    strict = HeadClassifier(embed, names, clf.head, refuse_threshold=1.0)
    assert not any(v.allowed for v in strict.check(texts))
    assert clf.probabilities([]).shape == (0, len(names))


def test_head_fails_if_threshold_or_names_are_bad() -> None:
    with pytest.raises(ValueError, match=r"refuse_threshold must be in \(0, 1\], got 0"):
        HeadClassifier(lambda t: t, ("a", "allowed"), None, refuse_threshold=0)
    with pytest.raises(ValueError, match="names must include 'allowed'"):
        HeadClassifier(lambda t: t, ("a", "b"), None)
    with pytest.raises(ValueError, match="c must be > 0, got 0"):
        fit_head(np.zeros((2, 2)), np.array([0, 1]), 0)


def test_train_guard_keeps_the_c_with_the_best_validation_score() -> None:
    policy = data.load_policy()
    names = policy.names
    tr_texts, tr_labels, table = _blobs(6, names, 1)
    va_texts, va_labels, table2 = _blobs(4, names, 2)
    table |= table2
    embed = lambda ts: np.stack([table[t] for t in ts])  # noqa: E731
    grid = (0.001, 1.0)
    guard, record = train_guard(policy, Dataset(tuple(tr_texts), tuple(tr_labels)),
                                Dataset(tuple(va_texts), tuple(va_labels)), embed, grid=grid)
    y = np.array([names.index(lab) for lab in tr_labels])
    oracle = {c: macro_f1(va_labels, HeadClassifier(embed, names, fit_head(embed(tr_texts), y, c)).predict(va_texts),
                          names) for c in grid}  # the deployed rule: refuse when P(allowed) < 0.5
    assert record["val_macro_f1"] == {str(c): pytest.approx(s) for c, s in oracle.items()}
    assert record["c"] == max(grid, key=lambda c: (oracle[c], -c))
    assert guard.predict(va_texts) == va_labels
