# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The learning workload: server SGD with momentum and a learning-rate cooldown as a matrix (arXiv 2306.08153).

With noisy gradients g_1..g_n, heavy-ball momentum m_t = beta m_{t-1} + g_t and the step
theta_t = theta_{t-1} - eta_t m_t, the model after step t is theta_0 - (W g)_t with

    W[t, s] = sum_{r=s}^{t} eta_r beta^(r - s)        (s <= t, else 0),

i.e. W = A diag(eta) M_beta with A the prefix-sum matrix and M_beta the Toeplitz matrix of
(1, beta, beta^2, ...). Choquette-Choo et al. (multi-epoch MF, arXiv 2211.06530, Sec. 6, and BandMF,
arXiv 2306.08153, Sec. 5 "momentum and learning-rate cooldown") optimize the factorization for this W
instead of A; McMahan et al. (BLT, arXiv 2408.08868) do the same for BLTs. A mechanism A = B C also
factorizes W = (W A^{-1} B) C, so its error on the learning workload is the row norms of W A^{-1} B.
For Toeplitz C the noise matrix W C^{-1} = A diag(eta) (M_beta C^{-1}) needs one power-series product
and one cumulative sum, O(n^2) and differentiable, which is what `toeplitz.loss` optimizes.
"""

# Paper symbols (A, B, C, W, n, beta, eta) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl import toeplitz
from loyal.protocols.dpftrl.base import MatrixMechanism


def learning_rate_schedule(steps: int, cooldown_fraction: float = 0.0, final_scale: float = 1.0) -> np.ndarray:
    """eta_1..eta_n: 1 until the cooldown, then linear down to `final_scale` at the last step.

    Args:
      steps: n >= 1.
      cooldown_fraction: in [0, 1) (default 0: constant rate); the last ceil(fraction n) steps cool down.
      final_scale: in (0, 1] (default 1), the multiplier of the last step.

    Example: steps=5, cooldown_fraction=0.4, final_scale=0.2 -> [1, 1, 1, 0.6, 0.2].
    """
    _checks.check_positive_int(steps, "steps")
    if not 0.0 <= cooldown_fraction < 1.0:
        raise ValueError(f"cooldown_fraction must be in [0, 1), got cooldown_fraction={cooldown_fraction}")
    if not 0.0 < final_scale <= 1.0:
        raise ValueError(f"final_scale must be in (0, 1], got final_scale={final_scale}")
    eta = np.ones(steps)
    cool = int(math.ceil(cooldown_fraction * steps))
    if cool > 0:
        eta[steps - cool :] = np.linspace(1.0, final_scale, cool + 1)[1:]
    return eta


@dataclasses.dataclass(frozen=True)
class LearningWorkload:
    """W = A diag(eta) M_beta for server momentum `momentum` and step multipliers `learning_rates`.

    Example (n = 3, beta = 0.5, eta = 1):

        [1    0   0]
        [1.5  1   0]
        [1.75 1.5 1]

    Attributes:
      learning_rates: eta_1..eta_n, each > 0 (the schedule's multipliers; the peak rate is tuned apart,
        it scales W and so every mechanism's error equally).
      momentum: beta in [0, 1) (default 0). beta = 0 and eta = 1 give the prefix-sum workload A.
    """

    learning_rates: tuple[float, ...]
    momentum: float = 0.0

    def __post_init__(self) -> None:
        if not self.learning_rates:
            raise ValueError("learning_rates must hold at least one step")
        if not all(math.isfinite(x) and x > 0 for x in self.learning_rates):
            raise ValueError(f"learning_rates must be finite and > 0, got min={min(self.learning_rates)}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got momentum={self.momentum}")

    @classmethod
    def build(
        cls, steps: int, momentum: float = 0.0, cooldown_fraction: float = 0.0, final_scale: float = 1.0
    ) -> LearningWorkload:
        """The workload of `learning_rate_schedule(steps, cooldown_fraction, final_scale)` with momentum."""
        eta = learning_rate_schedule(steps, cooldown_fraction, final_scale)
        return cls(tuple(float(x) for x in eta), float(momentum))

    @property
    def steps(self) -> int:
        """n, the number of rounds."""
        return len(self.learning_rates)

    @functools.cached_property
    def _eta(self) -> torch.Tensor:
        return torch.tensor(self.learning_rates, dtype=torch.float64)

    def momentum_coefficients(self) -> torch.Tensor:
        """First column of M_beta: (1, beta, beta^2, ...), length n."""
        return self.momentum ** torch.arange(self.steps, dtype=torch.float64)

    def matrix(self) -> np.ndarray:
        """W, n x n lower-triangular: W[t, s] = sum_{r=s}^t eta_r beta^(r-s)."""
        n = self.steps
        M = toeplitz.materialize(self.momentum_coefficients(), n)
        return torch.cumsum(self._eta[:, None] * M, dim=0).numpy()

    def toeplitz_noise_matrix(self, coef: torch.Tensor) -> torch.Tensor:
        """W C^{-1} for lower-triangular Toeplitz C with first column `coef` (differentiable)."""
        n = self.steps
        h = toeplitz._convolve(self.momentum_coefficients(), toeplitz.inverse_coefficients(coef, n), n)
        return torch.cumsum(self._eta[:, None] * toeplitz.materialize(h, n), dim=0)

    def per_step_variance(self, coef: torch.Tensor) -> torch.Tensor:
        """diag(W C^{-1} C^{-T} W^T) for Toeplitz C: per-step error variance at unit noise and sensitivity."""
        B = self.toeplitz_noise_matrix(coef)
        return torch.sum(B * B, dim=1)


def mechanism_noise_matrix(mechanism: MatrixMechanism, workload: LearningWorkload) -> np.ndarray:
    """W A^{-1} B: the decoder of `mechanism` (A = B C) for the learning workload W = (W A^{-1} B) C."""
    if workload.steps != mechanism.steps:
        raise ValueError(f"workload steps={workload.steps} must equal the mechanism's steps={mechanism.steps}")
    B = mechanism.noise_matrix()
    difference = np.diff(B, axis=0, prepend=0.0)  # A^{-1} B: row t minus row t-1
    return workload.matrix() @ difference


def workload_errors(mechanism: MatrixMechanism, workload: LearningWorkload) -> dict[str, float]:
    """RMSE and max error of `mechanism` on `workload`, times sens(C) (unit noise multiplier).

    Returns:
      {"rmse": sqrt(mean_t v_t) sens, "max_error": sqrt(max_t v_t) sens}, v = diag(B_W B_W^T).
    """
    B = mechanism_noise_matrix(mechanism, workload)
    var = np.sum(B * B, axis=1)
    sens = mechanism.sensitivity()
    return {"rmse": float(np.sqrt(var.mean()) * sens), "max_error": float(np.sqrt(var.max()) * sens)}
