# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Binary-tree aggregation: vanilla prefix sums and Honaker's online variance-optimal estimator.

Each segment of `restart_every` rounds (the whole horizon if None) gets a binary tree over
P = 2^ceil(log2 R) leaves with all log2 P + 1 levels including the root; C has one row per tree node
(non-square). Vanilla: the prefix sum at t adds the noisy nodes of the dyadic decomposition of the
segment prefix (Dwork et al. 2010; Chan, Shi, Song 2011). Honaker (2015, "Efficient use of
differentially private binary trees"; Sec. 4.2 of Kairouz et al., arXiv 2103.00039): each completed
subtree's sum is estimated bottom-up by inverse-variance weighting of the node and its children, using
only nodes completed by step t (online). Tree completion trick (Kairouz et al., arXiv 2103.00039, App.
D): at a segment's last round, pad the tree with zero leaves and use its root, so a finished segment
costs one node of noise. Restarts: previous segments' totals are added to the current prefix.
"""

# Paper symbols (A, B, C, n, P, L) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator

import numpy as np
import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema, Sampler

ESTIMATORS = ("vanilla", "honaker")


@dataclasses.dataclass(frozen=True)
class TreeNode:
    """One node of a segment's tree.

    Attributes:
      segment: index of the restart segment.
      height: 0 for leaves, L - 1 for the root.
      position: index j of the node at its height (covers local leaves [j 2^h, (j+1) 2^h - 1]).
      first: global round of its first leaf.
      last: global round of its last real (non-padding) leaf.
      completed: global round after which the node's noisy value exists.
    """

    segment: int
    height: int
    position: int
    first: int
    last: int
    completed: int


def _next_pow2(r: int) -> int:
    return 1 << max(r - 1, 0).bit_length()


@dataclasses.dataclass(frozen=True, eq=False)
class TreeMechanism(MatrixMechanism):
    """Tree aggregation with restarts and the completion trick.

    Attributes:
      schema: the participation schema. With restarts every R <= b rounds each segment holds at most one
        participation, so sens = sqrt(k' (log2 P + 1)) exactly.
      estimator: "vanilla" or "honaker" (online, completed nodes only).
      restart_every: segment length R in [1, n]; None for one tree over all n rounds.
      completion: use the completed tree's root at each segment's last round (default True).
    """

    schema: ParticipationSchema
    estimator: str = "vanilla"
    restart_every: int | None = None
    completion: bool = True

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got estimator={self.estimator!r}")
        if self.restart_every is not None:
            _checks.check_positive_int(self.restart_every, "restart_every")
            if self.restart_every > self.steps:
                raise ValueError(
                    f"restart_every must be in [1, steps], got restart_every={self.restart_every}, "
                    f"steps={self.steps}"
                )

    @property
    def name(self) -> str:  # type: ignore[override]
        return "tree" if self.estimator == "vanilla" else "tree-honaker"

    @functools.cached_property
    def segments(self) -> tuple[tuple[int, int], ...]:
        """(start, length) of each restart segment."""
        r = self.restart_every or self.steps
        return tuple((s, min(r, self.steps - s)) for s in range(0, self.steps, r))

    @functools.cached_property
    def nodes(self) -> tuple[TreeNode, ...]:
        """Every node that is ever released, ordered by completion round, then height (= rows of C)."""
        out = []
        for seg, (start, length) in enumerate(self.segments):
            P = _next_pow2(length)
            for h in range(P.bit_length()):
                for j in range(P >> h):
                    lo, hi = j << h, ((j + 1) << h) - 1
                    if lo > length - 1 or (hi > length - 1 and not self.completion):
                        continue
                    last = min(hi, length - 1)
                    out.append(TreeNode(seg, h, j, start + lo, start + last, start + last))
        out.sort(key=lambda v: (v.completed, v.height))
        return tuple(out)

    @functools.cached_property
    def _index(self) -> dict[tuple[int, int, int], int]:
        return {(v.segment, v.height, v.position): i for i, v in enumerate(self.nodes)}

    def strategy_matrix(self) -> np.ndarray:
        C = np.zeros((len(self.nodes), self.steps))
        for i, v in enumerate(self.nodes):
            C[i, v.first : v.last + 1] = 1.0
        return C

    def _decomposition(self, seg: int, tau: int) -> list[tuple[int, int]]:
        """(height, position) of the nodes whose sum estimates the segment prefix [0, tau]."""
        length = self.segments[seg][1]
        if self.completion and tau == length - 1:
            return [(_next_pow2(length).bit_length() - 1, 0)]
        out, pos, m = [], 0, tau + 1
        for h in range(m.bit_length() - 1, -1, -1):
            if m >> h & 1:
                out.append((h, pos >> h))
                pos += 1 << h
        return out

    def _estimate(self, seg: int, h: int, j: int, cache: dict) -> tuple[np.ndarray, float]:
        """Coefficients over nodes and variance of the estimate of node (h, j)'s sum."""
        key = (seg, h, j)
        if key in cache:
            return cache[key]
        coef = np.zeros(len(self.nodes))
        coef[self._index[key]] = 1.0
        var = 1.0
        if self.estimator == "honaker" and h > 0:
            child_coef, child_var = np.zeros(len(self.nodes)), 0.0
            for c in (2 * j, 2 * j + 1):
                if (seg, h - 1, c) in self._index:  # a pure-padding child is known to be 0
                    cc, cv = self._estimate(seg, h - 1, c, cache)
                    child_coef += cc
                    child_var += cv
            weight = child_var / (1.0 + child_var)  # inverse-variance weight of the node itself
            coef = weight * coef + (1.0 - weight) * child_coef
            var = weight
        cache[key] = (coef, var)
        return coef, var

    def noise_matrix(self) -> np.ndarray:
        cache: dict = {}
        B = np.zeros((self.steps, len(self.nodes)))
        done = np.zeros(len(self.nodes))
        for seg, (start, length) in enumerate(self.segments):
            for tau in range(length):
                row = done.copy()
                for h, j in self._decomposition(seg, tau):
                    row += self._estimate(seg, h, j, cache)[0]
                B[start + tau] = row
            done = B[start + length - 1].copy()
        return B

    def noise_stream(self, sampler: Sampler) -> Iterator[torch.Tensor]:
        """Streams the per-round prefix-noise increments with O(log P) live node estimates."""
        honaker = self.estimator == "honaker"
        by_round: dict[int, list[TreeNode]] = {}
        for v in self.nodes:
            by_round.setdefault(v.completed, []).append(v)
        done: torch.Tensor | None = None
        previous: torch.Tensor | None = None
        for seg, (start, length) in enumerate(self.segments):
            stack: list[tuple[int, int, torch.Tensor, float]] = []  # (height, position, estimate, var)
            for t in range(start, start + length):
                for v in by_round.get(t, []):
                    z = sampler()
                    children = []
                    while stack and stack[-1][0] == v.height - 1 and stack[-1][1] >> 1 == v.position:
                        children.append(stack.pop())
                    if honaker and children:
                        s = sum(c[3] for c in children)
                        w = s / (1.0 + s)
                        est = z.mul_(w)
                        for c in children:
                            est.add_(c[2], alpha=1.0 - w)
                        stack.append((v.height, v.position, est, w))
                    else:
                        stack.append((v.height, v.position, z, 1.0))
                tau = t - start
                wanted = set(self._decomposition(seg, tau))
                prefix = torch.zeros_like(stack[-1][2]) if done is None else done.clone()
                for h, j, est, _ in stack:
                    if (h, j) in wanted:
                        prefix.add_(est)
                step = prefix if previous is None else prefix - previous
                previous = prefix
                yield step
            done = previous
