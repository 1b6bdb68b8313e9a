# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The written policy, the synthetic splits, and the metrics against sklearn as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import f1_score, precision_recall_fscore_support

from loyal.methods.guardrail import data, metrics


def test_policy_has_the_k12_categories_with_definitions_and_examples() -> None:
    policy = data.load_policy()
    assert policy.names[-1] == data.ALLOWED
    assert {"self_harm", "violence", "sexual_content", "drugs_alcohol", "hate_harassment", "academic_dishonesty",
            "personal_information"} <= set(policy.names)
    for c in policy.categories:
        assert c.definition and len(c.examples) >= 3 and len(c.fillers) >= 8
        assert all("{x}" in t for t in c.templates)
    assert "trusted adult" in policy.refusal


def test_splits_are_disjoint_and_the_test_split_is_hand_written_only() -> None:
    policy, splits = data.load_policy(), data.load_splits()
    texts = {k: set(v.texts) for k, v in splits.items()}
    assert not (texts["train"] & texts["val"]) and not (texts["test"] & (texts["train"] | texts["val"]))
    templated = {t.replace("{x}", f) for c in policy.categories for t in c.templates for f in c.fillers}
    assert texts["train"] | texts["val"] == templated and not texts["test"] & templated
    for split in splits.values():
        assert set(split.labels) == set(policy.names)
    assert 300 <= sum(len(s) for s in splits.values()) <= 1000  # "a few hundred short prompts"


def test_load_policy_fails_if_a_template_has_no_slot(tmp_path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text('refusal = "no"\n[categories.allowed]\ndefinition = "d"\nexamples = []\nkeywords = []\n'
                   'templates = ["no slot"]\nfillers = ["x"]\n')
    with pytest.raises(ValueError, match="template 'no slot' has no \\{x\\} slot"):
        data.load_policy(bad)


NAMES = ("a", "b", "allowed")


@given(st.integers(0, 10_000))
def test_per_category_and_macro_f1_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth, pred = rng.choice(NAMES, 30).tolist(), rng.choice(NAMES, 30).tolist()
    ours = metrics.per_category(truth, pred, NAMES)
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=list(NAMES), zero_division=0)
    for i, n in enumerate(NAMES):
        assert ours[n]["precision"] == pytest.approx(p[i]) and ours[n]["recall"] == pytest.approx(r[i])
        assert ours[n]["f1"] == pytest.approx(f[i]) and ours[n]["support"] == s[i]
    assert metrics.macro_f1(truth, pred, NAMES) == pytest.approx(
        f1_score(truth, pred, labels=list(NAMES), average="macro", zero_division=0))


def test_refusal_rates_on_a_worked_example() -> None:
    truth = ["allowed", "allowed", "allowed", "allowed", "a", "b"]
    pred = ["allowed", "a", "allowed", "b", "b", "allowed"]
    assert metrics.false_refusal_rate(truth, pred) == 0.5  # 2 of 4 allowed refused
    assert metrics.harmful_refusal_rate(truth, pred) == 0.5  # "a" refused (as b), "b" let through


def test_bootstrap_ci_is_degenerate_for_perfect_predictions_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    truth = list(np.random.default_rng(1).choice(NAMES, 60))
    lo, hi = metrics.bootstrap_ci(lambda t, p: metrics.macro_f1(t, p, NAMES), truth, truth, rng, 50)
    assert lo == hi == 1.0
    pred = list(np.random.default_rng(2).choice(NAMES, 60))
    point = metrics.macro_f1(truth, pred, NAMES)
    lo, hi = metrics.bootstrap_ci(lambda t, p: metrics.macro_f1(t, p, NAMES), truth, pred, rng, 300)
    assert lo < point < hi


def test_bootstrap_ci_fails_if_resamples_are_too_few() -> None:
    with pytest.raises(ValueError, match="resamples must be >= 10, got 5"):
        metrics.bootstrap_ci(metrics.false_refusal_rate, ["a"], ["a"], np.random.default_rng(0), 5)


def test_per_category_fails_if_lengths_differ() -> None:
    with pytest.raises(ValueError, match="equal length, got 2 and 1"):
        metrics.per_category(["a", "b"], ["a"], NAMES)
