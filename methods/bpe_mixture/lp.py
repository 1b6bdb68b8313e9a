# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The data-mixture linear program of arXiv 2407.16607 (Sec. 3.1, Eq. (2)-(3)), solved with scipy's HiGHS.

For a merge list m_1..m_T and n categories with normalised pair counts c_{i,t}(p) (count of p in
category i's sample after merges m_1..m_{t−1}, divided by the sample's bytes), BPE chose m_t because it
was the most frequent pair of the mixture:  Σ_i α_i c_{i,t}(m_t) ≥ Σ_i α_i c_{i,t}(p)  for every p.
Samples differ from the tokenizer's training data, so each step gets a slack v_t ≥ 0:

    minimise Σ_t v_t   s.t.   Σ_i α_i (c_{i,t}(m_t) − c_{i,t}(p)) + v_t ≥ 0  ∀ t, p ∈ P_t,
                              α ≥ 0,  Σ_i α_i = 1.

P_t is the union of each category's `top_k` pairs at step t (a pair frequent in no category cannot bind;
the paper adds violated constraints lazily to the same effect).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from loyal.methods.bpe_mixture.bpe import Pair, PairCounts


@dataclasses.dataclass(frozen=True)
class MergeConstraints:
    """Rows of the LP: `diffs[r] @ α + v[step[r]] ≥ 0`.

    Attributes:
      diffs: (rows, n) values c_{i,t}(m_t) − c_{i,t}(p), normalised per category.
      step: (rows,) the merge index t of each row.
      num_steps: T.
    """

    diffs: np.ndarray
    step: np.ndarray
    num_steps: int


def merge_constraints(
    states: Sequence[PairCounts], sizes: Sequence[float], merges: Sequence[Pair], top_k: int = 30
) -> MergeConstraints:
    """Replays `merges` over every category's counts and collects the constraint rows (mutates `states`).

    Args:
      states: one `PairCounts` per category, fresh (no merge applied).
      sizes: normaliser of each category's counts (bytes of its sample), > 0.
      merges: the tokenizer's ordered merge list.
      top_k: candidate pairs taken from each category per step, >= 1.
    """
    if len(states) != len(sizes):
        raise ValueError(f"got {len(states)} category states and {len(sizes)} sizes")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    scale = 1.0 / np.asarray(sizes, dtype=float)
    rows, steps = [], []
    for t, merge in enumerate(merges):
        chosen = np.array([s.count(merge) for s in states]) * scale
        candidates = {p for s in states for p, _ in s.top(top_k)} - {merge}
        for pair in candidates:
            rows.append(chosen - np.array([s.count(pair) for s in states]) * scale)
            steps.append(t)
        for s in states:
            s.apply_merge(merge)
    diffs = np.array(rows) if rows else np.zeros((0, len(states)))
    return MergeConstraints(diffs=diffs, step=np.array(steps, dtype=int), num_steps=len(merges))


def solve_mixture(constraints: MergeConstraints) -> np.ndarray:
    """α̂ on the simplex minimising the total slack Σ_t v_t (HiGHS).

    Raises:
      RuntimeError: HiGHS reports a failure (the LP is always feasible, so this is a solver problem).
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, hstack

    n, T = constraints.diffs.shape[1], constraints.num_steps
    rows = constraints.diffs.shape[0]
    # −diffs·α − v_t ≤ 0
    slack = coo_matrix((-np.ones(rows), (np.arange(rows), constraints.step)), shape=(rows, T))
    A_ub = hstack([coo_matrix(-constraints.diffs), slack]).tocsr()
    cost = np.concatenate([np.zeros(n), np.ones(T)])
    A_eq = np.concatenate([np.ones(n), np.zeros(T)])[None, :]
    res = linprog(cost, A_ub=A_ub, b_ub=np.zeros(rows), A_eq=A_eq, b_eq=[1.0], bounds=[(0, None)] * (n + T), method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    alpha = np.clip(res.x[:n], 0.0, None)
    return alpha / alpha.sum()
