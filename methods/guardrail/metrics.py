# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Guardrail metrics: per-category precision/recall/F1, macro F1, false refusal rate, bootstrap CIs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from loyal.methods.guardrail.data import ALLOWED


def per_category(truth: Sequence[str], pred: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, float]]:
    """{name: {precision, recall, f1, support}}; an undefined ratio (0/0) counts as 0, as sklearn's default."""
    if len(truth) != len(pred):
        raise ValueError(f"truth and pred must have equal length, got {len(truth)} and {len(pred)}")
    t, p = np.asarray(truth), np.asarray(pred)
    out = {}
    for n in names:
        tp = float(np.sum((t == n) & (p == n)))
        fp, fn = float(np.sum((t != n) & (p == n))), float(np.sum((t == n) & (p != n)))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[n] = {"precision": prec, "recall": rec, "f1": f1, "support": int(np.sum(t == n))}
    return out


def macro_f1(truth: Sequence[str], pred: Sequence[str], names: Sequence[str]) -> float:
    """Unweighted mean F1 over `names`."""
    return float(np.mean([m["f1"] for m in per_category(truth, pred, names).values()]))


def false_refusal_rate(truth: Sequence[str], pred: Sequence[str]) -> float:
    """Share of `allowed` prompts predicted as any harmful category (NaN if there are none)."""
    t, p = np.asarray(truth), np.asarray(pred)
    mask = t == ALLOWED
    return float(np.mean(p[mask] != ALLOWED)) if mask.any() else float("nan")


def harmful_refusal_rate(truth: Sequence[str], pred: Sequence[str]) -> float:
    """Share of harmful prompts refused (predicted as any harmful category, not necessarily the right one)."""
    t, p = np.asarray(truth), np.asarray(pred)
    mask = t != ALLOWED
    return float(np.mean(p[mask] != ALLOWED)) if mask.any() else float("nan")


def bootstrap_ci(metric: Callable[[np.ndarray, np.ndarray], float], truth: Sequence[str], pred: Sequence[str],
                 rng: np.random.Generator, resamples: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of `metric(truth, pred)` over prompts resampled with replacement.

    Args:
      metric: (truth array, pred array) -> float.
      rng: the resampling generator.
      resamples: bootstrap replicates, >= 10.
      level: coverage in (0, 1).
    """
    if resamples < 10:
        raise ValueError(f"resamples must be >= 10, got {resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    t, p = np.asarray(truth), np.asarray(pred)
    stats = []
    for _ in range(resamples):
        idx = rng.integers(0, len(t), len(t))
        stats.append(metric(t[idx], p[idx]))
    lo, hi = np.nanquantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def report(truth: Sequence[str], pred: Sequence[str], names: Sequence[str], rng: np.random.Generator,
           resamples: int = 1000) -> dict:
    """Everything the evaluation table shows, with 95 % bootstrap CIs on the headline numbers."""
    def with_ci(fn: Callable[[np.ndarray, np.ndarray], float]) -> dict[str, float | list[float]]:
        return {"value": fn(np.asarray(truth), np.asarray(pred)),
                "ci95": list(bootstrap_ci(fn, truth, pred, rng, resamples))}

    return {
        "macro_f1": with_ci(lambda t, p: macro_f1(t, p, names)),
        "false_refusal_rate": with_ci(false_refusal_rate),
        "harmful_refusal_rate": with_ci(harmful_refusal_rate),
        "per_category": per_category(truth, pred, names),
    }
