# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A tiny learned tactic-ranking policy: goal features → a score per candidate tactic, softmax over candidates.

The score of tactic t on goal g is w · vec(onehot(t.name) ⊗ φ(g, t)), i.e. one linear head per tactic name over
goal/argument features φ, trained by cross-entropy on the tactic each step of a found proof took (imitation of
exhaustive-search proofs: the tactic-prediction data that Pantograph's data extraction serves, arXiv
2410.16429). Pure numpy; Adam on the full batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from loyal.methods.proof_search.formula import BOT, OPS, Formula, neg
from loyal.methods.proof_search.kernel import (
    TACTIC_NAMES, Goal, GoalState, Tactic, apply_tactic, candidate_tactics, premises,
)

N_PHI = 16
N_FEATURES = len(TACTIC_NAMES) * N_PHI


def _phi(goal: Goal, t: Tactic) -> np.ndarray:
    """φ(goal, tactic): target connective, hypothesis counts, and what the tactic's argument would do."""
    hyps, target = goal.hyps, goal.target
    v = np.zeros(N_PHI)
    v[0] = 1.0
    v[1 + OPS.index(target.op)] = 1.0  # 1..5
    v[6] = min(len(hyps), 6) / 6
    v[7] = float(target in hyps)
    v[8] = float(BOT in hyps or any(neg(h) in hyps for h in hyps))
    v[9] = min(target.size, 12) / 12
    if t.args:
        h: Formula = t.args[0]
        prem, concl = premises(h)
        v[10] = min(h.size, 12) / 12
        v[11] = float(concl == target)  # apply closes in one go up to its premises
        v[12] = min(len(prem), 4) / 4
        v[13] = float(all(p in hyps for p in prem))  # every premise already a hypothesis
        v[14] = float(t.name == "mp" and h.right == target)
        v[15] = float(concl == BOT)
    return v


def features(goal: Goal, tactics: Sequence[Tactic]) -> np.ndarray:
    """Feature matrix, shape (len(tactics), N_FEATURES): φ placed in the block of each tactic's name."""
    x = np.zeros((len(tactics), N_FEATURES))
    for i, t in enumerate(tactics):
        k = TACTIC_NAMES.index(t.name)
        x[i, k * N_PHI:(k + 1) * N_PHI] = _phi(goal, t)
    return x


@dataclasses.dataclass(frozen=True)
class Example:
    """One supervised step: the candidates' features and the index of the tactic the proof used."""

    x: np.ndarray
    label: int


@dataclasses.dataclass(frozen=True)
class LinearPolicy:
    """The trained ranker; call it as a search `Policy` (returns log-softmax over the candidates)."""

    weights: np.ndarray

    def __call__(self, goal: Goal, tactics: Sequence[Tactic]) -> np.ndarray:
        if not tactics:
            return np.zeros(0)
        z = features(goal, tactics) @ self.weights
        return z - (z.max() + np.log(np.exp(z - z.max()).sum()))


def loss_and_grad(weights: np.ndarray, examples: Sequence[Example], l2: float) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of the labelled tactics + l2/2 ‖w‖², and its gradient (all examples in one matrix)."""
    x = np.concatenate([ex.x for ex in examples])
    sizes = np.array([len(ex.x) for ex in examples])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    z = x @ weights
    z = z - np.repeat(np.maximum.reduceat(z, starts), sizes)
    e = np.exp(z)
    p = e / np.repeat(np.add.reduceat(e, starts), sizes)
    chosen = starts + np.array([ex.label for ex in examples])
    n = len(examples)
    loss = -float(np.log(p[chosen] + 1e-12).sum()) / n + 0.5 * l2 * float(weights @ weights)
    target = np.zeros_like(p)
    target[chosen] = 1.0
    return loss, x.T @ (p - target) / n + l2 * weights


def train_policy(examples: Sequence[Example], steps: int = 300, lr: float = 0.05, l2: float = 1e-3) -> LinearPolicy:
    """Full-batch Adam on `loss_and_grad`, from zero weights (the uniform policy).

    Raises:
      ValueError: no examples, or steps < 1.
    """
    if not examples:
        raise ValueError("examples must be non-empty")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    w = np.zeros(N_FEATURES)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for i in range(1, steps + 1):
        _, g = loss_and_grad(w, examples, l2)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - lr * (m / (1 - 0.9 ** i)) / (np.sqrt(v / (1 - 0.999 ** i)) + 1e-8)
    return LinearPolicy(w)


def examples_from_proof(theorem_state: GoalState, proof: Sequence[Tactic]) -> list[Example]:
    """The (candidates, chosen) pairs along a proof; steps whose tactic is not a candidate (e.g. `have`) are skipped."""
    out, state = [], theorem_state
    for t in proof:
        tactics = candidate_tactics(state.goals[0])
        if t in tactics and len(tactics) > 1:
            out.append(Example(features(state.goals[0], tactics), tactics.index(t)))
        state = apply_tactic(state, t)
    return out
