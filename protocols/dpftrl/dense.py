# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The optimal dense factorization for single participation: Anderson-accelerated dual fixed point.

Minimize tr(G X^{-1}), G = A^T A, subject to diag(X) = 1, X = C^T C (arXiv 2202.08312, Thm. 3.2). With
multipliers v (V = diag(v)) the minimizer is X(v) = V^{-1/2} M^{1/2} V^{-1/2}, M = V^{1/2} G V^{1/2}, and
the dual value 2 tr(M^{1/2}) - sum(v) lower-bounds the primal; d(dual)/dv_i = X(v)_ii - 1. Denisov et
al.'s fixed point is v <- v * diag(X(v)). We take the step v <- v * diag(X(v))^2 in u = log v (X_ii
scales like v_i^{-1/2}) and accelerate it with Anderson mixing (Walker & Ni, SIAM J. Numer. Anal. 49,
2011, "type II"), falling back to the plain step when a mixed step makes things worse.

The cost per iteration is O(n^2), not an O(n^3) dense eigendecomposition: for the prefix workload A^{-1}
is bidiagonal, so G^{-1} = A^{-1} A^{-T} is tridiagonal (1, 2, ..., 2 on the diagonal, -1 beside it) and
M^{1/2} = T^{-1/2} with the tridiagonal T = V^{-1/2} G^{-1} V^{-1/2}. One tridiagonal eigensolve
(LAPACK stemr, MRRR) gives T = P diag(lam) P^T; then diag(M^{1/2}) = (P*P) lam^{-1/2}, tr M^{1/2} =
sum lam^{-1/2}, and the primal of the unit-diagonal normalization of X(v) is ||A F P lam^{1/4}||_F^2 with
F = diag(sqrt(diag M^{1/2})) (A applied as a cumulative sum). Every iterate normalized to a unit diagonal
is feasible, so the returned X is feasible whatever the gap; we stop on the relative duality gap
(primal - dual) / primal. jax_privacy's `matrix_factorization/dense.py` instead runs L-BFGS on X with a
Cholesky-based loss and a projected-gradient stop (|grad| <= 1e-3); we learnt from it (and its
`strategy_from_X`), our code is our own.
"""

# Paper symbols (A, B, C, G, X, V, T, P) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator

import numpy as np
import scipy.linalg  # scipy ships with scikit-learn (a pinned dependency)
import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl import streaming
from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema, Sampler, prefix_workload

logger = logging.getLogger(__name__)

#: Anderson memory (number of past differences mixed); 5 is the usual choice.
_ANDERSON_MEMORY = 5


@dataclasses.dataclass(frozen=True)
class _DualPoint:
    """One evaluation of the dual at u = log v: the eigenpairs of T and the values derived from them."""

    u: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    root_diag: np.ndarray  # diag(M^{1/2})
    primal: float
    dual: float

    @property
    def gap(self) -> float:
        """Relative duality gap (primal - dual) / primal (NaN-safe: inf when not finite)."""
        gap = (self.primal - self.dual) / self.primal
        return gap if np.isfinite(gap) else float("inf")

    @property
    def residual(self) -> np.ndarray:
        """The fixed-point residual 2 log diag(X(v)); the plain step is u <- u + residual."""
        return 2.0 * (np.log(self.root_diag) - self.u)


def _evaluate(u: np.ndarray) -> _DualPoint:
    """Dual and primal values at v = exp(u) in O(n^2) plus one tridiagonal eigensolve."""
    n = u.shape[0]
    g_inv_diag = np.full(n, 2.0)
    g_inv_diag[0] = 1.0
    inv_sqrt_v = np.exp(-0.5 * u)
    lam, P = scipy.linalg.eigh_tridiagonal(
        g_inv_diag * inv_sqrt_v**2, -inv_sqrt_v[:-1] * inv_sqrt_v[1:], lapack_driver="stemr"
    )
    lam = np.maximum(lam, np.finfo(np.float64).tiny)
    root_diag = (P * P) @ lam**-0.5  # diag(M^{1/2}) = diag(T^{-1/2})
    dual = 2.0 * float(np.sum(lam**-0.5)) - float(np.sum(np.exp(u)))
    # Primal at the unit-diagonal X~ = D^{-1} M^{1/2} D^{-1}, D = diag(sqrt(root_diag)) (V cancels):
    # tr(G X~^{-1}) = ||A D T^{1/2}_half||_F^2 with T^{1/2} = (P lam^{1/4})(P lam^{1/4})^T.
    half = np.cumsum(np.sqrt(root_diag)[:, None] * P * lam[None, :] ** 0.25, axis=0)
    primal = float(np.sum(half * half))
    return _DualPoint(u, lam, P, root_diag, primal, dual)


def _gram_from_point(point: _DualPoint) -> np.ndarray:
    """The unit-diagonal X~ = D^{-1} M^{1/2} D^{-1} of a dual point."""
    P, lam = point.eigenvectors, point.eigenvalues
    root = (P * lam**-0.5) @ P.T
    d = 1.0 / np.sqrt(point.root_diag)
    X = root * d[:, None] * d[None, :]
    X = 0.5 * (X + X.T)
    np.fill_diagonal(X, 1.0)
    return X


def optimize_dense_gram(
    n: int, *, max_iterations: int = 200, tolerance: float = 1e-9
) -> tuple[np.ndarray, int, float]:
    """The optimal unit-diagonal Gram matrix X for the prefix workload (single participation).

    Args:
      n: steps, >= 1 (n = 1,024 takes a few seconds, n = 2,048 ~10 s; memory O(n^2)).
      max_iterations: iteration cap, >= 1 (default 200; ~15 iterations reach a 1e-9 gap for n <= 2048).
      tolerance: stop when the relative duality gap (primal - dual) / primal <= tolerance, in (0, 1)
        (default 1e-9; the rmse is then within tolerance / 2 of the optimum, relatively).

    Returns:
      (X with unit diagonal, iterations used, relative duality gap of X). X is the best iterate seen, so
      it is feasible even when the cap stops the iteration early.

    Raises:
      ValueError: n < 1, max_iterations < 1 or tolerance outside (0, 1).
    """
    _checks.check_positive_int(n, "steps")
    _checks.check_positive_int(max_iterations, "max_iterations")
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be in (0, 1), got tolerance={tolerance!r}")
    if n == 1:
        return np.ones((1, 1)), 1, 0.0
    # Start: v = sqrt(diag G) (the old fixed point's start), u = log v.
    u = 0.5 * np.log(n - np.arange(n, dtype=np.float64))
    best = point = _evaluate(u)
    history_u: list[np.ndarray] = []
    history_f: list[np.ndarray] = []
    iterations = 1
    while best.gap > tolerance and iterations < max_iterations:
        f = point.residual
        history_u.append(point.u)
        history_f.append(f)
        del history_u[: -(_ANDERSON_MEMORY + 1)], history_f[: -(_ANDERSON_MEMORY + 1)]
        u = point.u + f
        if len(history_u) > 1:  # Anderson type II: mix the last steps to cancel their residuals.
            dF = np.diff(np.stack(history_f, axis=1), axis=1)
            dU = np.diff(np.stack(history_u, axis=1), axis=1)
            gamma = np.linalg.lstsq(dF, f, rcond=None)[0]
            u = u - (dU + dF) @ gamma
        candidate = _evaluate(u)
        iterations += 1
        if not np.all(np.isfinite(candidate.root_diag)) or candidate.gap > 10.0 * best.gap:
            # Safeguard: restart the mixing from the best point with a plain step.
            history_u.clear()
            history_f.clear()
            candidate = _evaluate(best.u + best.residual)
            iterations += 1
        point = candidate
        if point.gap < best.gap:
            best = point
    logger.debug("dense optimum: n=%d iterations=%d gap=%.2e", n, iterations, best.gap)
    return _gram_from_point(best), iterations, best.gap


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
