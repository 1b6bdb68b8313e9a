# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Buffered linear Toeplitz (BLT) mechanisms: m-buffer streaming, optimized for mean or max error.

C is lower-triangular Toeplitz with c_0 = 1 and c_t = sum_i theta_i omega_i^(t-1) for t >= 1
(Dvijotham, McMahan, Pillutla, Steinke, Thakurta, arXiv 2404.16706; McMahan et al., arXiv 2408.08868).
We constrain 0 < omega_i < 1, theta_i > 0 and sum_i theta_i < 1, so the coefficients are positive and
non-increasing: the Toeplitz closed-form sensitivity (Thm. 2 of arXiv 2405.13763) is then exact under
any (k, b) schema. Parameters are fitted by L-BFGS on (mean|max error) x sens^2, as jax_privacy's
`buffered_toeplitz.py` does (learnt from, not copied).
"""

# Paper symbols (C, theta, omega, m, n, k, b) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl import streaming
from loyal.protocols.dpftrl import toeplitz
from loyal.protocols.dpftrl.base import ParticipationSchema, Sampler

if TYPE_CHECKING:
    from loyal.protocols.dpftrl.workload import LearningWorkload

logger = logging.getLogger(__name__)


def blt_coefficients(output_scale: torch.Tensor, decay: torch.Tensor, n: int) -> torch.Tensor:
    """C[:, 0] of length n: (1, sum theta, sum theta omega, sum theta omega^2, ...)."""
    t = torch.arange(n - 1, dtype=decay.dtype)
    tail = (output_scale[:, None] * decay[:, None] ** t[None, :]).sum(dim=0)
    return torch.cat([torch.ones(1, dtype=decay.dtype), tail])


def _unpack(params: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unconstrained params -> (theta, omega) with theta > 0, sum theta < 1, 0 < omega < 1."""
    omega = torch.sigmoid(params[:m])
    theta = torch.sigmoid(params[m]) * torch.softmax(params[m + 1 :], dim=0)
    return theta, omega


def optimize_blt(
    schema: ParticipationSchema, buffers: int, *, reduction: str = "mean", max_iterations: int = 200,
    workload: LearningWorkload | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fits (theta, omega) of an m-buffer BLT for (mean|max error) x sens^2 under `schema`.

    Args:
      schema: steps n and the (k, b) participation schema.
      buffers: m in [1, 32]; memory of the noise stream is m vectors.
      reduction: "mean" or "max" (the last step's error, the max for Toeplitz).
      max_iterations: L-BFGS iterations.
      workload: the learning workload to optimize for (momentum and cooldown folded in, as McMahan et al.,
        arXiv 2408.08868, do); None (default) optimizes for prefix sums. Its steps must equal n.

    Returns:
      (theta, omega), each of length m.
    """
    _checks.check_positive_int(buffers, "buffers")
    if buffers > 32:
        raise ValueError(f"buffers must be in [1, 32], got buffers={buffers}")
    if reduction not in toeplitz.REDUCTIONS:
        raise ValueError(f"optimize must be one of {toeplitz.REDUCTIONS}, got optimize={reduction!r}")
    n, m = schema.steps, buffers
    k, b = schema.participations, schema.min_separation
    toeplitz._check_workload(workload, n)
    # Start: decays spread log-uniformly between 1/2 and 1 - 1/n, half of the mass on c_1.
    gaps = np.logspace(math.log10(0.5), math.log10(1.0 / max(n, 4)), m)
    omega0 = torch.tensor(1.0 - gaps, dtype=torch.float64)
    init = torch.cat([torch.logit(omega0), torch.zeros(1 + m, dtype=torch.float64)])
    params = init.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [params], lr=1.0, max_iter=max_iterations, history_size=20, line_search_fn="strong_wolfe",
        tolerance_grad=1e-12, tolerance_change=1e-15,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        theta, omega = _unpack(params, m)
        value = toeplitz.loss(blt_coefficients(theta, omega, n), n, k, b, reduction, workload)
        value.backward()
        return value

    optimizer.step(closure)
    final = params.detach()
    if not torch.all(torch.isfinite(final)):
        logger.warning("BLT optimization diverged; keeping the start point")
        final = init
    theta, omega = _unpack(final, m)
    return theta.numpy(), omega.numpy()


@dataclasses.dataclass(frozen=True, eq=False)
class BltMechanism(toeplitz.ToeplitzMechanism):
    """A BLT strategy: Toeplitz with c_0 = 1, c_t = sum_i theta_i omega_i^(t-1); streams with m buffers.

    Attributes:
      output_scale: theta, m positive values with sum < 1.
      decay: omega, m values in (0, 1).
    """

    output_scale: tuple[float, ...] = ()
    decay: tuple[float, ...] = ()
    name: str = "blt"

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.output_scale) != len(self.decay) or not self.decay:
            raise ValueError(
                f"output_scale and decay must have the same length >= 1, got "
                f"{len(self.output_scale)} and {len(self.decay)}"
            )

    @property
    def buffers(self) -> int:
        """m, the number of buffers."""
        return len(self.decay)

    def noise_stream(self, sampler: Sampler) -> Iterator[torch.Tensor]:
        return streaming.blt_inverse_stream(self.output_scale, self.decay, self.steps, sampler)

    def noise_generator(
        self, dim: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
    ) -> streaming.BltNoiseGenerator:
        """The allocation-free streaming generator of this mechanism's noise for d = `dim` (see
        `streaming.BltNoiseGenerator`: one RNG call per round, (m + 1) d numbers of memory)."""
        return streaming.BltNoiseGenerator(
            self.output_scale, self.decay, dim, generator=generator, dtype=dtype
        )


def blt(
    schema: ParticipationSchema, buffers: int = 4, *, reduction: str = "mean", workload: LearningWorkload | None = None
) -> BltMechanism:
    """The optimized m-buffer BLT mechanism for `schema` (for `workload` instead of prefix sums when given)."""
    theta, omega = optimize_blt(schema, buffers, reduction=reduction, workload=workload)
    coef = blt_coefficients(torch.tensor(theta), torch.tensor(omega), schema.steps).numpy()
    return BltMechanism(
        schema=schema,
        coefficients=tuple(float(c) for c in coef),
        output_scale=tuple(float(x) for x in theta),
        decay=tuple(float(x) for x in omega),
    )
