# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The matrix-mechanism interface shared by every DP-FTRL mechanism (A = B C, arXiv 2202.08312)."""

# Paper symbols (A, B, C, n, k, b) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Callable, Iterator

import numpy as np
import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl import sensitivity as sens_lib

#: A source of independent N(0, I) vectors; each call returns a fresh tensor of shape (dim,).
Sampler = Callable[[], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class ParticipationSchema:
    """How often one user may contribute: k participations, consecutive ones >= b steps apart.

    Attributes:
      steps: n >= 1, the number of rounds.
      participations: k >= 1 (default 1, single participation).
      min_separation: b in [1, n] (default 1); (k - 1) b + 1 <= n must hold.
    """

    steps: int
    participations: int = 1
    min_separation: int = 1

    def __post_init__(self) -> None:
        _checks.check_schema(self.steps, self.participations, self.min_separation)


def prefix_workload(n: int) -> np.ndarray:
    """A: the n x n lower-triangular matrix of ones (prefix sums)."""
    return np.tril(np.ones((n, n)))


def gaussian_sampler(
    dim: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
) -> Sampler:
    """A `Sampler` drawing N(0, I_dim) vectors from `generator` (not for cryptographic use)."""
    _checks.check_positive_int(dim, "dim")

    def draw() -> torch.Tensor:
        return torch.randn(dim, generator=generator, dtype=dtype)

    return draw


class MatrixMechanism(abc.ABC):
    """A factorization A = B C of the prefix-sum workload, with its error, sensitivity and noise stream.

    The mechanism releases A x + B z with z ~ N(0, sigma^2 sens(C)^2 I) (design note dpftrl.md);
    `per_step_variance()` is diag(B B^T), the per-step variance with unit noise and unit sensitivity.

    Subclasses set `name`, `schema` and implement `strategy_matrix`, `noise_matrix`, `noise_stream`.
    """

    name: str
    schema: ParticipationSchema

    @property
    def steps(self) -> int:
        """n, the number of rounds."""
        return self.schema.steps

    @abc.abstractmethod
    def strategy_matrix(self) -> np.ndarray:
        """C, shape (m, n): the encoder (m = n except for trees, where rows are tree nodes)."""

    @abc.abstractmethod
    def noise_matrix(self) -> np.ndarray:
        """B, shape (n, m), with B C = A."""

    @abc.abstractmethod
    def noise_stream(self, sampler: Sampler) -> Iterator[torch.Tensor]:
        """Yields, for t = 0..n-1, the correlated noise xi_t of round t with unit noise scale.

        The prefix sums of the yielded vectors are B w, where w stacks the sampler's draws in the order
        they are made (one draw per row of C, rows in order). For square C this is xi = C^{-1} w, the
        noise of the `x_t + (C^{-1} z)_t` form. Multiply by noise_multiplier * sens(C) * clip_norm.
        """

    @functools.cached_property
    def _sensitivity(self) -> sens_lib.SensitivityResult:
        return self.compute_sensitivity()

    def compute_sensitivity(self) -> sens_lib.SensitivityResult:
        """sens(C) under `schema` (overridden where a closed form is known)."""
        return sens_lib.sensitivity(
            self.strategy_matrix(), self.schema.participations, self.schema.min_separation
        )

    def sensitivity(self) -> float:
        """sens(C) under the mechanism's participation schema (see `sensitivity_is_exact`)."""
        return self._sensitivity.value

    def sensitivity_is_exact(self) -> bool:
        """False when `sensitivity()` is only an upper bound."""
        return self._sensitivity.exact

    @functools.cached_property
    def _variance(self) -> np.ndarray:
        B = self.noise_matrix()
        return np.sum(B * B, axis=1)

    def per_step_variance(self) -> np.ndarray:
        """diag(B B^T): per-step error variance with unit noise multiplier and unit sensitivity."""
        return self._variance.copy()

    def per_step_error(self) -> np.ndarray:
        """sqrt(diag(B B^T)) * sens(C): per-step standard deviation with unit noise multiplier."""
        return np.sqrt(self._variance) * self.sensitivity()

    def rmse(self) -> float:
        """sqrt(mean_t (B B^T)_tt) * sens(C)."""
        return float(np.sqrt(np.mean(self._variance)) * self.sensitivity())

    def max_error(self) -> float:
        """sqrt(max_t (B B^T)_tt) * sens(C)."""
        return float(np.sqrt(np.max(self._variance)) * self.sensitivity())

    def summary(self) -> dict[str, object]:
        """The `loyal dpftrl rmse --json` contract: mechanism, steps, rmse, max_error, sensitivity."""
        return {
            "mechanism": self.name,
            "steps": self.steps,
            "rmse": self.rmse(),
            "max_error": self.max_error(),
            "sensitivity": self.sensitivity(),
        }
