# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FTRL with a trusted server (Kairouz et al., arXiv 2103.00039, Alg. 1): correlated noise in plaintext.

The server sees every clipped round sum x_t, draws the round noise Z_t ~ N(0, (z·C)² I) itself and
releases the prefix-form row t of the matrix mechanism (`MatrixMechanismPolicy(form="prefix")`):

    s_t = Σ_j A_tj x_j + Σ_j sens·L_tj Z_j,

exactly the linear function `dpftrl-ssa` decrypts from encrypted aggregates. The learner is the
`DPFTRL` optimizer fed with the pseudo-gradient prefix sums −s_t / m.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from loyal.methods.fl.dp_common import PrivacyConfig, clipped_sum
from loyal.protocols.dpftrl.optimizer import DPFTRL
from loyal.protocols.dpftrl.policy import MatrixMechanismPolicy

#: Round index -> that round's noise Z_t (length d, clip-norm units, std z·C).
NoiseSource = Callable[[int, int], np.ndarray]


def gaussian_noise_source(std: float, seed: int) -> NoiseSource:
    """Independent N(0, std² I) per round from numpy (simulation noise, not a cryptographic source)."""
    rng = np.random.default_rng(seed)

    def draw(round_index: int, dim: int) -> np.ndarray:
        return rng.normal(0.0, std, size=dim) if std > 0 else np.zeros(dim)

    return draw


class LearnerState:
    """The DP-FTRL learner shared by the plaintext and SSA aggregators: θ and the optimizer's momentum."""

    def __init__(self, server_learning_rate: float, momentum: float) -> None:
        if not server_learning_rate > 0:
            raise ValueError(f"server_learning_rate must be > 0, got server_learning_rate={server_learning_rate}")
        self.server_learning_rate = server_learning_rate
        self.momentum = momentum
        self._theta: torch.Tensor | None = None
        self._optimizer: DPFTRL | None = None

    def step(self, params: torch.Tensor, prefix_sum: np.ndarray, expected_clients: int) -> torch.Tensor:
        """θ from the released prefix sum of clipped updates (sign flipped: updates are −gradients)."""
        if self._theta is None:
            self._theta = params.detach().reshape(-1).double().clone()
            self._optimizer = DPFTRL([self._theta], lr=self.server_learning_rate, momentum=self.momentum)
        else:
            self._theta.copy_(params.detach().reshape(-1).double())
        released = -torch.as_tensor(prefix_sum, dtype=torch.float64) / expected_clients
        self._optimizer.step(prefix_sums=[released])
        return self._theta.to(params.dtype).reshape(params.shape).clone()

    def state_dict(self) -> dict:
        return {"theta": self._theta, "optimizer": None if self._optimizer is None else self._optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if state["theta"] is None:
            return
        self._theta = state["theta"].clone()
        self._optimizer = DPFTRL([self._theta], lr=self.server_learning_rate, momentum=self.momentum)
        self._optimizer.load_state_dict(state["optimizer"])


class DPFTRLPlaintext:
    """`Aggregator` for DP-FTRL with a trusted server (the reference `dpftrl-ssa` must match).

    Args:
      privacy: clip norm, effective noise multiplier z, rounds, cohort m, schema, mechanism name, δ.
      server_learning_rate: η > 0 of the DP-FTRL optimizer (default 1).
      momentum: in [0, 1) (default 0; DP-FTRLM uses 0.9).
      seed: seeds the default noise source.
      noise_source: overrides the round noise (tests replay the committee's noise through it).
    """

    name = "dpftrl-plaintext"

    def __init__(
        self, privacy: PrivacyConfig, server_learning_rate: float = 1.0, momentum: float = 0.0, seed: int = 0,
        noise_source: NoiseSource | None = None,
    ) -> None:
        self.privacy = privacy
        self.mechanism = privacy.build()
        self.policy = MatrixMechanismPolicy(self.mechanism, form="prefix")
        self.noise_source = noise_source or gaussian_noise_source(privacy.noise_multiplier * privacy.clip_norm, seed)
        self.learner = LearnerState(server_learning_rate, momentum)
        self._data: list[np.ndarray] = []
        self._noise: list[np.ndarray] = []

    def apply(self, params: torch.Tensor, updates: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """New parameters after one round (weights ignored: DP uses the fixed denominator m)."""
        t = len(self._data)
        if t >= self.privacy.rounds:
            raise ValueError(f"the mechanism covers rounds={self.privacy.rounds}; round {t + 1} is beyond it")
        x = clipped_sum(updates, self.privacy.clip_norm).numpy()
        self._data.append(x)
        self._noise.append(np.asarray(self.noise_source(t, x.size), dtype=np.float64))
        (row,) = self.policy.release_rows(t)
        release = sum(c * self._data[j] for j, c in row.data.items())
        release = release + sum((c * self._noise[j] for j, c in row.noise.items()), np.zeros_like(x))
        return self.learner.step(params, release, self.privacy.expected_clients)

    def privacy_report(self) -> dict:
        return self.privacy.report(self.mechanism)
