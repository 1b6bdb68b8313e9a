# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Lower-triangular Toeplitz mechanisms and the banded-Toeplitz optimizer (BandMF, arXiv 2306.08153).

A lower-triangular Toeplitz C is given by its first column C[:, 0] = (c_0, c_1, ...). Then C^{-1} and
B = A C^{-1} are Toeplitz too, and the per-step variance is the cumulative sum of the squared
coefficients of B, so errors cost O(n) after one triangular solve. Banded Toeplitz coefficients are
optimized by L-BFGS for mean or max error times sens^2 under (k, b) participation
(Sec. 4 of arXiv 2306.08153; jax_privacy/matrix_factorization/toeplitz.py `optimize_banded_toeplitz`,
learnt from, not copied).
"""

# Paper symbols (A, B, C, n, k, b) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl import sensitivity as sens_lib
from loyal.protocols.dpftrl import streaming
from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema, Sampler

if TYPE_CHECKING:
    from loyal.protocols.dpftrl.workload import LearningWorkload

logger = logging.getLogger(__name__)

REDUCTIONS = ("mean", "max")


def materialize(coef: torch.Tensor, n: int) -> torch.Tensor:
    """The n x n lower-triangular Toeplitz matrix with first column `coef` (zero-padded or cut to n)."""
    c = torch.nn.functional.pad(coef[:n], (0, n - min(coef.shape[0], n)))
    idx = torch.arange(n)
    lag = idx[:, None] - idx[None, :]
    return torch.where(lag >= 0, c[lag.clamp(min=0)], torch.zeros((), dtype=c.dtype))


def _convolve(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    """First n coefficients of the product of two power series, by real FFT (differentiable)."""
    size = 1 << max(a.shape[0] + b.shape[0] - 2, 0).bit_length()
    return torch.fft.irfft(torch.fft.rfft(a, size) * torch.fft.rfft(b, size), size)[:n]


def inverse_coefficients(coef: torch.Tensor, n: int) -> torch.Tensor:
    """First column of C^{-1} (length n): the power series 1 / c(x) mod x^n by Newton iteration
    g <- g (2 - c g), doubling the precision each step; O(n log n) and differentiable in `coef`."""
    c = torch.nn.functional.pad(coef[:n], (0, n - min(coef.shape[0], n)))
    g = (1.0 / c[:1]).reshape(1)
    length = 1
    while length < n:
        length = min(2 * length, n)
        cg = _convolve(c[:length], g, length)
        correction = -cg
        correction = correction + torch.nn.functional.one_hot(torch.tensor(0), length).to(c.dtype) * 2.0
        g = _convolve(g, correction, length)
    return g[:n]


def per_step_variance(coef: torch.Tensor, n: int) -> torch.Tensor:
    """diag(B B^T) for B = A C^{-1}: cumsum of the squared Toeplitz coefficients of B (non-decreasing)."""
    b_coef = torch.cumsum(inverse_coefficients(coef, n), dim=0)
    return torch.cumsum(b_coef**2, dim=0)


def fhu_coefficients(length: int) -> np.ndarray:
    """Coefficients of the square root of A: c_j = binom(2j, j) / 4^j (Fichtenberger, Henzinger, Upadhyay,
    arXiv 2202.11205), optimal for max error under single participation."""
    j = np.arange(length)
    ratios = np.where(j == 0, 1.0, (2 * j - 1) / np.maximum(2 * j, 1))
    return np.cumprod(ratios)


def loss(
    coef: torch.Tensor, n: int, participations: int, min_separation: int, reduction: str,
    workload: LearningWorkload | None = None,
) -> torch.Tensor:
    """Squared mean (or max) error times sens^2 for Toeplitz coefficients (closed-form sensitivity).

    `workload`: the learning workload W (`workload.LearningWorkload`) whose error W C^{-1} is measured;
    None (default) is the prefix-sum workload A.
    """
    if workload is None:
        var = per_step_variance(coef, n)
        err = var.mean() if reduction == "mean" else var[-1]
    else:
        var = workload.per_step_variance(coef)
        err = var.mean() if reduction == "mean" else var.max()
    return err * sens_lib.toeplitz_sensitivity_squared(coef, n, participations, min_separation)


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"optimize must be one of {REDUCTIONS}, got optimize={reduction!r}")


def _check_workload(workload: LearningWorkload | None, n: int) -> None:
    if workload is not None and workload.steps != n:
        raise ValueError(f"workload steps must equal the schema's steps={n}, got {workload.steps}")


def optimize_banded_toeplitz(
    schema: ParticipationSchema, bands: int, *, reduction: str = "mean", max_iterations: int = 250,
    workload: LearningWorkload | None = None,
) -> np.ndarray:
    """L-BFGS over b-banded Toeplitz coefficients for (mean|max error) x sens^2 (arXiv 2306.08153, Sec. 4).

    Args:
      schema: steps n and the (k, b) participation schema the sensitivity is taken under.
      bands: number of non-zero coefficients, in [1, n]. bands <= min_separation makes X = C^T C
        b-banded, so sens^2 = k' ||c||^2 exactly.
      reduction: "mean" (rmse) or "max" (last step, the max for Toeplitz).
      max_iterations: L-BFGS iterations (default 250, jax_privacy's default).
      workload: the learning workload to optimize for (momentum and cooldown folded in, Sec. 5 of
        arXiv 2306.08153); None (default) optimizes for prefix sums. Its steps must equal n.

    Returns:
      The `bands` coefficients with unit L2 norm, starting from the truncated FHU coefficients.
    """
    n = schema.steps
    if not 1 <= bands <= n:
        raise ValueError(f"bands must be in [1, steps], got bands={bands}, steps={n}")
    _check_reduction(reduction)
    _check_workload(workload, n)
    start = torch.tensor(fhu_coefficients(bands), dtype=torch.float64)
    params = start.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [params], lr=1.0, max_iter=max_iterations, history_size=20, line_search_fn="strong_wolfe",
        tolerance_grad=1e-12, tolerance_change=1e-15,
    )
    k, b = schema.participations, schema.min_separation

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = loss(params, n, k, b, reduction, workload)
        value.backward()
        return value

    optimizer.step(closure)
    coef = params.detach()
    if not torch.all(torch.isfinite(coef)):
        logger.warning("banded Toeplitz optimization diverged; keeping the FHU start")
        coef = start
    return (coef / torch.linalg.norm(coef)).numpy()


@dataclasses.dataclass(frozen=True, eq=False)
class ToeplitzMechanism(MatrixMechanism):
    """A lower-triangular Toeplitz strategy C with first column `coefficients` (zero beyond).

    Example (3 coefficients, n = 5):

        [c0 0  0  0  0 ]
        [c1 c0 0  0  0 ]
        [c2 c1 c0 0  0 ]
        [0  c2 c1 c0 0 ]
        [0  0  c2 c1 c0]

    Attributes:
      schema: the participation schema.
      coefficients: c_0 != 0, ..., c_{bands-1}; at most n of them.
      name: reported mechanism name.
    """

    schema: ParticipationSchema
    coefficients: tuple[float, ...]
    name: str = "toeplitz"

    def __post_init__(self) -> None:
        if not 1 <= len(self.coefficients) <= self.steps:
            raise ValueError(
                f"bands must be in [1, steps], got bands={len(self.coefficients)}, steps={self.steps}"
            )
        if self.coefficients[0] == 0 or not np.all(np.isfinite(self.coefficients)):
            raise ValueError("coefficients must be finite with c_0 != 0")

    @property
    def bands(self) -> int:
        """Number of stored coefficients."""
        return len(self.coefficients)

    @functools.cached_property
    def _coef(self) -> torch.Tensor:
        return torch.tensor(self.coefficients, dtype=torch.float64)

    def strategy_matrix(self) -> np.ndarray:
        return materialize(self._coef, self.steps).numpy()

    def noise_matrix(self) -> np.ndarray:
        b_coef = torch.cumsum(inverse_coefficients(self._coef, self.steps), dim=0)
        return materialize(b_coef, self.steps).numpy()

    @functools.cached_property
    def _variance(self) -> np.ndarray:
        return per_step_variance(self._coef, self.steps).numpy()

    def compute_sensitivity(self) -> sens_lib.SensitivityResult:
        k, b = self.schema.participations, self.schema.min_separation
        if sens_lib.is_nonincreasing_nonnegative(np.asarray(self.coefficients)):
            sq = sens_lib.toeplitz_sensitivity_squared(self._coef, self.steps, k, b)
            return sens_lib.SensitivityResult(float(np.sqrt(sq)), True, "toeplitz-closed-form")
        return super().compute_sensitivity()

    def noise_stream(self, sampler: Sampler) -> Iterator[torch.Tensor]:
        return streaming.toeplitz_inverse_stream(self.coefficients, self.steps, sampler)


def banded_toeplitz(
    schema: ParticipationSchema, bands: int | None = None, *, reduction: str = "mean",
    workload: LearningWorkload | None = None,
) -> ToeplitzMechanism:
    """The optimized banded-Toeplitz mechanism; `bands` defaults to min(min_separation, n) for k > 1, else n.

    `workload`: optimize for this learning workload instead of prefix sums (see `optimize_banded_toeplitz`).
    """
    if bands is None:
        bands = schema.min_separation if schema.participations > 1 else schema.steps
    _checks.check_positive_int(bands, "bands")
    coef = optimize_banded_toeplitz(schema, bands, reduction=reduction, workload=workload)
    return ToeplitzMechanism(schema=schema, coefficients=tuple(float(c) for c in coef), name="banded-toeplitz")
