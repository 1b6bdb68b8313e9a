# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Closed forms for Gaussian data x0 ~ N(μ, s²) in every coordinate: the exact ε-prediction and the exact
probability-flow map from T_MAX to T_MIN, the oracles the samplers and learned solvers are checked against."""

from __future__ import annotations

import dataclasses

import torch

from loyal.methods.diffusion import schedule


@dataclasses.dataclass(frozen=True)
class GaussianData:
    """x0 ~ N(mu, std²) independently in every coordinate."""

    mu: float
    std: float

    def eps(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """ε̂ = −σ ∇log p_t(x) = σ (x − α μ) / (α² s² + σ²): the exact noise prediction."""
        a, s = schedule.alpha(t), schedule.sigma(t)
        return s * (x - a * self.mu) / (a**2 * self.std**2 + s**2)

    def flow(self, x_t: torch.Tensor) -> torch.Tensor:
        """The probability-flow ODE from T_MAX to T_MIN, which is affine here: the standardised
        coordinate (x − α μ)/√(α² s² + σ²) is constant along it."""
        hi, lo = torch.tensor(schedule.T_MAX, dtype=torch.float64), torch.tensor(schedule.T_MIN, dtype=torch.float64)

        def scale(t: torch.Tensor) -> torch.Tensor:
            return torch.sqrt(schedule.alpha(t) ** 2 * self.std**2 + schedule.sigma(t) ** 2)

        return schedule.alpha(lo) * self.mu + scale(lo) / scale(hi) * (x_t - schedule.alpha(hi) * self.mu)
