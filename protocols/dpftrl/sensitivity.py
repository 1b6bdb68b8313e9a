# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""L2 sensitivity of a strategy matrix C under (k participations, min separation b).

Convention (jax_privacy's min-separation schema, arXiv 2306.08153 Sec. 2): a user contributes at steps
i_1 < ... < i_k with i_{j+1} - i_j >= b, and

    sens(C) = max over such patterns of || sum_j C[:, i_j] ||_2.

When X = C^T C is elementwise non-negative this is the true sensitivity (signs of the contributions cannot
increase the norm, arXiv 2306.08153 Eq. 5); otherwise we bound it with |X| and say so (`exact=False`).
Exact routes: a dynamic program on diag(X) when X is b-banded (Alg. 3 "VecSens" of arXiv 2306.08153),
the Toeplitz closed form for non-negative non-increasing coefficients (Thm. 2 of arXiv 2405.13763), and
brute force over all patterns when there are few. Otherwise the Alg. 4 upper bound of arXiv 2306.08153.
Learnt from jax_privacy/matrix_factorization/sensitivity.py and toeplitz.py; our own numpy/torch code.
"""

# Paper symbols (C, X, n, k, b) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np
import torch

from loyal.protocols.dpftrl import _checks

#: Enumerate participation patterns exactly when there are at most this many.
BRUTE_FORCE_LIMIT = 20_000


@dataclasses.dataclass(frozen=True)
class SensitivityResult:
    """A sensitivity value and how it was obtained.

    Attributes:
      value: sens(C) >= 0.
      exact: True when `value` is the exact sensitivity; False when it is only an upper bound.
      method: "max-column-norm", "banded-dp", "toeplitz-closed-form", "brute-force" or "upper-bound".
    """

    value: float
    exact: bool
    method: str


def true_max_participations(n: int, participations: int, min_separation: int) -> int:
    """Largest number of participations that fit in n steps: min(k, ceil(n / b))."""
    return min(participations, -(-n // min_separation))


def max_participation_for_linear_fn(x: np.ndarray, participations: int, min_separation: int) -> float:
    """max_u <x, u> over 0/1 vectors u with at most k ones, pairwise >= b apart (Alg. 3 of arXiv 2306.08153).

    Dynamic program F[i, j] = max(x[i] + F[i + b, j - 1], F[i + 1, j]), vectorized over i; O(n k) time.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    b = min_separation
    f = np.zeros(n + b)
    for _ in range(true_max_participations(n, participations, b)):
        f[:n] = x + f[b : n + b]
        f = np.maximum.accumulate(f[::-1])[::-1]
    return float(max(f[0], 0.0))


def is_banded_gram(X: np.ndarray, min_separation: int) -> bool:
    """True when X[i, j] = 0 for all |i - j| >= b (columns a user can both touch are the only overlap)."""
    n = X.shape[0]
    i, j = np.indices((n, n))
    return bool(np.all(X[np.abs(i - j) >= min_separation] == 0))


def banded_sensitivity(X: np.ndarray, participations: int, min_separation: int) -> float:
    """Exact sens for b-banded X: the DP of Alg. 3 on diag(X) (two steps of a pattern never interact)."""
    if not is_banded_gram(X, min_separation):
        raise ValueError(
            f"X = C^T C must be b-banded (zero for |i-j| >= {min_separation}) for the banded formula"
        )
    return math.sqrt(max_participation_for_linear_fn(np.diag(X), participations, min_separation))


def upper_bound_sensitivity(X: np.ndarray, participations: int, min_separation: int) -> float:
    """Upper bound on sens via |X| (Alg. 4 of arXiv 2306.08153): row-wise DP, then a DP over row maxima."""
    absX = np.abs(X)
    rows = np.array([max_participation_for_linear_fn(r, participations, min_separation) for r in absX])
    return math.sqrt(max_participation_for_linear_fn(rows, participations, min_separation))


def iter_patterns(n: int, participations: int, min_separation: int) -> Iterator[tuple[int, ...]]:
    """Every participation pattern: 1..k steps in [0, n), consecutive steps >= b apart."""

    def extend(prefix: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        if prefix:
            yield prefix
        if len(prefix) == participations:
            return
        start = prefix[-1] + min_separation if prefix else 0
        for i in range(start, n):
            yield from extend(prefix + (i,))

    yield from extend(())


def count_patterns(n: int, participations: int, min_separation: int) -> int:
    """Number of patterns `iter_patterns` yields: sum_{j=1..k} C(n - (j-1)(b-1), j)."""
    total = 0
    for j in range(1, participations + 1):
        free = n - (j - 1) * (min_separation - 1)
        if free < j:
            break
        total += math.comb(free, j)
    return total


def brute_force_sensitivity(C: np.ndarray, participations: int, min_separation: int) -> float:
    """max over all patterns of ||sum_j C[:, i_j]||_2, by enumeration (the definition itself)."""
    n = C.shape[1]
    best = 0.0
    for pattern in iter_patterns(n, participations, min_separation):
        best = max(best, float(np.linalg.norm(C[:, list(pattern)].sum(axis=1))))
    return best


def toeplitz_sensitivity_squared(
    coef: torch.Tensor, n: int, participations: int, min_separation: int
) -> torch.Tensor:
    """sens(C)^2 of a lower-triangular Toeplitz C with non-negative, non-increasing coefficients.

    The worst pattern is steps 0, b, 2b, ... (Thm. 2 of arXiv 2405.13763), so sens^2 = ||v||^2 with
    v[r] = sum_{j < k} c[r - j b]. Computed in O(n) by block cumulative sums; differentiable in `coef`.

    Args:
      coef: the first len(coef) <= n entries of C[:, 0] (the rest are zero).
      n: number of steps (size of C).
      participations: k >= 1.
      min_separation: b in [1, n].

    Returns:
      A scalar tensor sens(C)^2.
    """
    b = min_separation
    k = true_max_participations(n, participations, b)
    c = torch.nn.functional.pad(coef[:n], (0, n - min(coef.shape[0], n)))
    padding = (-n) % b
    w = torch.nn.functional.pad(c, (0, padding)).reshape(-1, b).cumsum(dim=0).reshape(-1)[:n]
    if k * b < n:
        w = torch.cat([w[: k * b], w[k * b :] - w[: n - k * b]])
    return w @ w


def is_nonincreasing_nonnegative(coef: np.ndarray) -> bool:
    """True when Toeplitz coefficients are >= 0 and non-increasing (the closed form applies)."""
    coef = np.asarray(coef, dtype=np.float64)
    return bool(np.all(coef >= 0) and np.all(np.diff(coef) <= 0))


def sensitivity(
    C: np.ndarray,
    participations: int = 1,
    min_separation: int = 1,
    *,
    brute_force_limit: int = BRUTE_FORCE_LIMIT,
) -> SensitivityResult:
    """sens(C) for a general (possibly non-square) strategy matrix C with n columns.

    Tries, in order: single participation (max column norm, exact); b-banded X (exact DP); brute force
    when X >= 0 and there are at most `brute_force_limit` patterns (exact); else the |X| upper bound.

    Args:
      C: strategy matrix, shape (m, n).
      participations: k >= 1.
      min_separation: b in [1, n]; (k - 1) b + 1 <= n.
      brute_force_limit: largest number of patterns to enumerate.

    Returns:
      The value, whether it is exact, and the method used.

    Raises:
      ValueError: impossible schema.
    """
    C = np.asarray(C, dtype=np.float64)
    n = C.shape[1]
    _checks.check_schema(n, participations, min_separation)
    X = C.T @ C
    k = true_max_participations(n, participations, min_separation)
    if k == 1:
        return SensitivityResult(float(np.sqrt(np.max(np.diag(X)))), True, "max-column-norm")
    if is_banded_gram(X, min_separation):
        return SensitivityResult(banded_sensitivity(X, k, min_separation), True, "banded-dp")
    if np.all(X >= 0) and count_patterns(n, k, min_separation) <= brute_force_limit:
        return SensitivityResult(brute_force_sensitivity(C, k, min_separation), True, "brute-force")
    return SensitivityResult(upper_bound_sensitivity(X, k, min_separation), False, "upper-bound")

