# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The identity mechanism C = I, B = A: independent noise per round (DP-SGD / DP-FedAvg baseline)."""

# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import torch

from loyal.protocols.dpftrl import sensitivity as sens_lib
from loyal.protocols.dpftrl import streaming
from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema, Sampler, prefix_workload


@dataclasses.dataclass(frozen=True, eq=False)
class IdentityMechanism(MatrixMechanism):
    """C = I: each round's sum gets fresh noise; the prefix sum at t carries t + 1 draws.

    Single participation: rmse = sqrt((n + 1) / 2), max_error = sqrt(n); with k participations
    sens = sqrt(k') where k' = min(k, ceil(n / b)).

    Attributes:
      schema: the participation schema.
    """

    schema: ParticipationSchema
    name: str = "identity"

    def strategy_matrix(self) -> np.ndarray:
        return np.eye(self.steps)

    def noise_matrix(self) -> np.ndarray:
        return prefix_workload(self.steps)

    def compute_sensitivity(self) -> sens_lib.SensitivityResult:
        k = sens_lib.true_max_participations(
            self.steps, self.schema.participations, self.schema.min_separation
        )
        return sens_lib.SensitivityResult(float(np.sqrt(k)), True, "banded-dp")

    def noise_stream(self, sampler: Sampler) -> Iterator[torch.Tensor]:
        return streaming.identity_stream(self.steps, sampler)
