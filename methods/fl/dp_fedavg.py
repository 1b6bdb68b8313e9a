# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FedAvg with independent Gaussian noise per round (McMahan et al., arXiv 1710.06963, Alg. 1, fixed denominator)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from loyal.methods.fl.dp_common import PrivacyConfig, clipped_sum


class DPFedAvg:
    """θ ← θ + η_s · (Σ_i clip(Δ_i) + N(0, (z·sens·C)² I)) / m: the identity mechanism of DP-FTRL.

    The noise of each round is independent (the identity factorization C = I, sens = √k for k
    participations), so with the same effective noise multiplier z it has the same ε as every
    correlated-noise mechanism of `dpftrl-plaintext` / `dpftrl-ssa` (one Gaussian, multiplier z).

    Args:
      privacy: clip norm, effective noise multiplier, rounds, cohort m, participation schema, δ.
      server_learning_rate: η_s > 0 (default 1).
      seed: seeds the noise generator (simulation noise, not a cryptographic source).
    """

    name = "dp-fedavg"

    def __init__(self, privacy: PrivacyConfig, server_learning_rate: float = 1.0, seed: int = 0) -> None:
        if not server_learning_rate > 0:
            raise ValueError(f"server_learning_rate must be > 0, got server_learning_rate={server_learning_rate}")
        self.privacy = privacy
        self.mechanism = privacy.build("identity")
        self.server_learning_rate = server_learning_rate
        self._generator = torch.Generator().manual_seed(seed)
        self._noise_std = privacy.noise_multiplier * self.mechanism.sensitivity() * privacy.clip_norm

    def apply(self, params: torch.Tensor, updates: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """New parameters after one round (weights are ignored: DP needs the fixed denominator m)."""
        total = clipped_sum(updates, self.privacy.clip_norm)
        noise = torch.randn(total.numel(), generator=self._generator, dtype=torch.float64) * self._noise_std
        step = (total + noise) / self.privacy.expected_clients
        return params + (self.server_learning_rate * step).to(params.dtype).reshape(params.shape)

    def privacy_report(self) -> dict:
        return self.privacy.report(self.mechanism)
