# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The optimal dense factorization for single participation, by the fixed point of Denisov et al.

Minimize tr(A^T A X^{-1}) subject to diag(X) = 1, X = C^T C (arXiv 2202.08312, Thm. 3.2). With
multipliers v, the minimizer is X(v) = V^{-1/2} (V^{1/2} G V^{1/2})^{1/2} V^{-1/2}, G = A^T A, and the
fixed point v <- diag((V^{1/2} G V^{1/2})^{1/2}) drives diag(X(v)) to 1. The dual value
2 tr(M^{1/2}) - sum(v) lower-bounds the primal, so we stop on a relative duality gap. C is the lower-
triangular factor with C^T C = X (jax_privacy/matrix_factorization/dense.py `strategy_from_X`, learnt
from, not copied). Torch float64 on CPU; one eigendecomposition per iteration.
"""

# Paper symbols (A, B, C, G, X, V) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator

import numpy as np
import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl import streaming
from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema, Sampler, prefix_workload

logger = logging.getLogger(__name__)


def optimize_dense_gram(
    n: int, *, max_iterations: int = 500, tolerance: float = 1e-9
) -> tuple[np.ndarray, int, float]:
    """Fixed-point iteration for the optimal unit-diagonal Gram matrix X (prefix workload).

    Args:
      n: steps, >= 1 (practical up to ~2048).
      max_iterations: iteration cap (default 500).
      tolerance: stop when (primal - dual) / primal <= tolerance (default 1e-9).

    Returns:
      (X with unit diagonal, iterations used, final relative duality gap).
    """
    _checks.check_positive_int(n, "steps")
    A = torch.tril(torch.ones((n, n), dtype=torch.float64))
    G = A.T @ A
    v = torch.sqrt(torch.diag(G))
    gap = float("inf")
    X = torch.eye(n, dtype=torch.float64)
    for it in range(1, max_iterations + 1):
        s = torch.sqrt(v)
        w, U = torch.linalg.eigh(s[:, None] * G * s[None, :])
        R = (U * torch.sqrt(w.clamp(min=0))) @ U.T  # M^{1/2}
        X = R / s[:, None] / s[None, :]
        d = torch.sqrt(torch.diag(X))
        X = X / d[:, None] / d[None, :]  # feasible: unit diagonal
        L = torch.linalg.cholesky(X)
        primal = float(torch.sum(torch.linalg.solve_triangular(L, A.T, upper=False) ** 2))
        dual = float(2 * torch.trace(R) - v.sum())
        gap = (primal - dual) / primal
        if gap <= tolerance:
            break
        v = torch.diag(R)
    logger.debug("dense fixed point: n=%d iterations=%d gap=%.2e", n, it, gap)
    return X.numpy(), it, gap


def strategy_from_gram(X: np.ndarray) -> np.ndarray:
    """Lower-triangular C with C^T C = X: C = J chol(J X J)^T J, J the reversal."""
    L = np.linalg.cholesky(X[::-1, ::-1])
    return np.ascontiguousarray(L.T[::-1, ::-1])


@dataclasses.dataclass(frozen=True, eq=False)
class DenseMechanism(MatrixMechanism):
    """A general lower-triangular strategy C (e.g. the optimum of `optimize_dense_gram`).

    Attributes:
      schema: the participation schema; for k > 1 the sensitivity falls back to the general routine
        (exact for b-banded or small problems, else an upper bound; see `sensitivity_is_exact`).
      strategy: C, n x n lower-triangular with non-zero diagonal (kept as a read-only array).
    """

    schema: ParticipationSchema
    strategy: np.ndarray = dataclasses.field(repr=False)
    name: str = "dense"

    def __post_init__(self) -> None:
        C = np.asarray(self.strategy, dtype=np.float64)
        if C.shape != (self.steps, self.steps):
            raise ValueError(f"strategy must have shape ({self.steps}, {self.steps}), got {C.shape}")
        _checks.check_lower_triangular(C, "strategy")
        C.setflags(write=False)
        object.__setattr__(self, "strategy", C)

    def strategy_matrix(self) -> np.ndarray:
        return self.strategy.copy()

    @functools.cached_property
    def _B(self) -> np.ndarray:
        import scipy.linalg  # noqa: PLC0415  (scipy ships with scikit-learn)

        A = prefix_workload(self.steps)
        # B = A C^{-1}  <=>  C^T B^T = A^T.
        return scipy.linalg.solve_triangular(self.strategy.T, A.T, lower=False).T

    def noise_matrix(self) -> np.ndarray:
        return self._B.copy()

    def noise_stream(self, sampler: Sampler) -> Iterator[torch.Tensor]:
        return streaming.lower_triangular_inverse_stream(self.strategy, sampler)


def dense(schema: ParticipationSchema) -> DenseMechanism:
    """The optimal dense mechanism for single participation, evaluated under `schema`."""
    X, _, _ = optimize_dense_gram(schema.steps)
    return DenseMechanism(schema=schema, strategy=strategy_from_gram(X))
