# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Federated averaging (McMahan et al., arXiv 1602.05629, Alg. 1): the no-DP baseline aggregation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch


def weighted_mean(updates: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Σ_i w_i u_i / Σ_i w_i over client updates (FedAvg weights clients by sample count).

    Raises:
      ValueError: no updates, mismatched lengths, negative or all-zero weights, or mismatched shapes.
    """
    if not updates:
        raise ValueError("weighted_mean needs at least one update")
    if len(updates) != len(weights):
        raise ValueError(f"got {len(updates)} updates but {len(weights)} weights")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    shape = updates[0].shape
    total = torch.zeros_like(updates[0], dtype=torch.float64)
    for u, w in zip(updates, weights):
        if u.shape != shape:
            raise ValueError(f"update shapes differ: {tuple(u.shape)} vs {tuple(shape)}")
        total += float(w) * u.double()
    return (total / float(sum(weights))).to(updates[0].dtype)


@dataclasses.dataclass(frozen=True)
class FedAvg:
    """Server step θ ← θ + η_s · mean_i(Δ_i) (η_s = 1 is plain FedAvg; Reddi et al. arXiv 2003.00295).

    Attributes:
      server_learning_rate: η_s > 0.
    """

    server_learning_rate: float = 1.0
    name: str = "fedavg"

    def __post_init__(self) -> None:
        if not self.server_learning_rate > 0:
            raise ValueError(f"server_learning_rate must be > 0, got {self.server_learning_rate}")

    def apply(self, params: torch.Tensor, updates: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """Returns the new global parameters after one round."""
        return params + self.server_learning_rate * weighted_mean(updates, weights)
