# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Shared helpers of the DP aggregators: clipping, privacy parameters and the ε report."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch

from loyal.protocols.dpftrl import accounting
from loyal.protocols.dpftrl.base import MatrixMechanism
from loyal.protocols.dpftrl.mechanisms import MECHANISMS, build_mechanism


def clip_update(update: torch.Tensor, clip_norm: float) -> torch.Tensor:
    """Scales `update` down to L2 norm `clip_norm` if it is longer (Abadi et al., arXiv 1607.00133, Alg. 1)."""
    norm = float(torch.linalg.vector_norm(update.double()))
    return update * (clip_norm / norm) if norm > clip_norm else update


def clipped_sum(updates: Sequence[torch.Tensor], clip_norm: float) -> torch.Tensor:
    """Σ_i clip(u_i) in float64 (the quantity every DP aggregator adds noise to)."""
    if not updates:
        raise ValueError("a DP round needs at least one update")
    total = torch.zeros(updates[0].numel(), dtype=torch.float64)
    for u in updates:
        total += clip_update(u.reshape(-1).double(), clip_norm)
    return total


@dataclasses.dataclass(frozen=True)
class PrivacyConfig:
    """Privacy parameters shared by dp-fedavg, dpftrl-plaintext and dpftrl-ssa.

    Attributes:
      clip_norm: C > 0, L2 bound of every client update.
      noise_multiplier: z >= 0, the *effective* noise multiplier: the whole release of the mechanism is
        one Gaussian mechanism with std z·C per unit sensitivity (noise on each step is z·sens(C)·C).
        Equal z means equal ε for every mechanism (design note dpftrl.md, "Accounting").
      rounds: n >= 1, steps of the mechanism (the run's rounds).
      expected_clients: m >= 1, the fixed denominator of the average (the cohort size).
      participations: k >= 1, most rounds one client joins (default 1).
      min_separation: b >= 1, rounds between two participations (default n // k, 1 when k = 1).
      mechanism: a name from `loyal.protocols.dpftrl.MECHANISMS` (dp-fedavg always uses identity).
      delta: δ in (0, 1) of the ε report.
    """

    clip_norm: float = 1.0
    noise_multiplier: float = 1.0
    rounds: int = 10
    expected_clients: int = 10
    participations: int = 1
    min_separation: int | None = None
    mechanism: str = "blt"
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise ValueError(f"clip_norm must be finite and > 0, got clip_norm={self.clip_norm}")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0):
            raise ValueError(f"noise_multiplier must be finite and >= 0, got noise_multiplier={self.noise_multiplier}")
        for name in ("rounds", "expected_clients", "participations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {name}={getattr(self, name)}")
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"mechanism must be one of {', '.join(MECHANISMS)}, got mechanism={self.mechanism!r}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got delta={self.delta}")

    def build(self, name: str | None = None) -> MatrixMechanism:
        """The mechanism `name` (default `self.mechanism`) for this schema."""
        return build_mechanism(
            name or self.mechanism, self.rounds, participations=self.participations, min_separation=self.min_separation
        )

    def epsilon(self) -> float:
        """ε at δ of the whole run (PLD accounting of one Gaussian with multiplier z; inf when z = 0)."""
        return accounting.epsilon(self.noise_multiplier, self.delta) if self.noise_multiplier > 0 else math.inf

    def report(self, mechanism: MatrixMechanism) -> dict[str, float | int | str]:
        """ε, δ, ρ-zCDP, the mechanism and its sensitivity (what metrics.json records)."""
        z = self.noise_multiplier
        return {
            "epsilon": self.epsilon(),
            "delta": self.delta,
            "rho_zcdp": accounting.rho(z) if z > 0 else math.inf,
            "noise_multiplier": z,
            "clip_norm": self.clip_norm,
            "mechanism": mechanism.name,
            "sensitivity": mechanism.sensitivity(),
            "participations": self.participations,
            "min_separation": mechanism.schema.min_separation,
        }
