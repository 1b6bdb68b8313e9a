# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Release policies for the SSA server built from any matrix mechanism (interface: protocols/ssa/policy.py).

Noise convention: the committee stores, per round j, Z_j ~ N(0, (noise_multiplier * clip_norm)^2 I),
independent across rounds (design note ssa.md). A mechanism needs z ~ N(0, sigma^2 sens(C)^2 I), so every
noise coefficient below carries the factor sens(C); the release is then one Gaussian mechanism with
effective noise multiplier `noise_multiplier` (see `accounting.epsilon(noise_multiplier, delta)`).

Forms (row t released after round t is stored):
  * "prefix":  data = row t of A (all rounds <= t), noise = sens * row t of L, where L = B for square
    lower-triangular B and L = chol(B B^T) for trees (same joint distribution of the n releases with one
    noise vector per round). window_start = 0 (prefix sums touch every round).
  * "encoded": data = row t of C, noise = sens * e_t (the release C x + z; the learner applies B, which is
    post-processing). Square C only. window_start(t) = earliest round any row >= t touches: t - b + 1 for
    b-banded C, t for the identity, 0 for BLT / dense.
  * "gradient": data = e_t, noise = sens * row t of C^{-1} (x_t + (C^{-1} z)_t, what `optimizer.py`
    consumes). Square C only; window 0 unless C^{-1} is banded (the identity: window t).
"""

# Paper symbols (A, B, C, L) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from loyal.protocols.dpftrl.base import MatrixMechanism, prefix_workload
from loyal.protocols.ssa.policy import ReleaseRow

FORMS = ("prefix", "encoded", "gradient")


@dataclasses.dataclass(frozen=True, eq=False)
class MatrixMechanismPolicy:
    """A `ReleasePolicy` (protocols/ssa/policy.py) for a matrix mechanism.

    Attributes:
      mechanism: any mechanism of this package.
      form: "prefix" (default), "encoded" or "gradient" (see the module docstring).
      scale_bits: fixed-point scale 2**scale_bits in [0, 52] (default 24): coefficients are rounded to
        multiples of 2**-scale_bits by `ssa.policy.quantize`, an error of at most 2**-(scale_bits+1) each.
      tolerance: coefficients with |value| <= tolerance are dropped (exact zeros of the factorization).
    """

    mechanism: MatrixMechanism
    form: str = "prefix"
    scale_bits: int = 24
    tolerance: float = 1e-12

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got form={self.form!r}")
        if not 0 <= self.scale_bits <= 52:
            raise ValueError(f"scale_bits must be in [0, 52], got scale_bits={self.scale_bits}")
        m, n = self.mechanism.strategy_matrix().shape
        if self.form != "prefix" and m != n:
            raise ValueError(
                f"form={self.form!r} needs a square strategy matrix; {self.mechanism.name} has {m} rows "
                f"for {n} rounds (use form='prefix')"
            )

    @property
    def policy_id(self) -> str:
        """Mechanism name, form, schema and scale, e.g. 'banded-toeplitz/encoded/n=64/k=2/b=32/f=24'."""
        s = self.mechanism.schema
        return (
            f"{self.mechanism.name}/{self.form}/n={s.steps}/k={s.participations}/"
            f"b={s.min_separation}/f={self.scale_bits}"
        )

    @functools.cached_property
    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(data coefficients, noise coefficients), each n x n lower-triangular."""
        mech = self.mechanism
        n = mech.steps
        sens = mech.sensitivity()
        if self.form == "prefix":
            B = mech.noise_matrix()
            L = B if B.shape == (n, n) else np.linalg.cholesky(B @ B.T)
            return prefix_workload(n), sens * L
        C = mech.strategy_matrix()
        if self.form == "encoded":
            return C, sens * np.eye(n)
        return np.eye(n), sens * np.linalg.solve(C, np.eye(n))

    def _row(self, matrix: np.ndarray, t: int) -> dict[int, float]:
        return {int(j): float(matrix[t, j]) for j in np.flatnonzero(np.abs(matrix[t, : t + 1]) > self.tolerance)}

    def _check_round(self, round_index: int) -> None:
        if not 0 <= round_index < self.mechanism.steps:
            raise ValueError(
                f"round_index must be in [0, {self.mechanism.steps - 1}], got round_index={round_index}"
            )

    def release_rows(self, round_index: int) -> tuple[ReleaseRow, ...]:
        """The single row the committee may decrypt after `round_index` is stored."""
        self._check_round(round_index)
        data, noise = self._rows
        return (ReleaseRow(round_index, self._row(data, round_index), self._row(noise, round_index)),)

    @functools.cached_property
    def _window(self) -> np.ndarray:
        data, noise = self._rows
        touched = (np.abs(data) > self.tolerance) | (np.abs(noise) > self.tolerance)
        first = np.argmax(touched, axis=1)  # every row touches its own round at least
        return np.minimum.accumulate(first[::-1])[::-1]

    def window_start(self, round_index: int) -> int:
        """Earliest stored round any release at or after `round_index` needs."""
        self._check_round(round_index)
        return int(self._window[round_index])

    def prefix_sum(self, releases: list[np.ndarray]) -> np.ndarray:
        """The noisy prefix sum after round t = len(releases) - 1 from the releases of rounds 0..t.

        prefix form: the release itself; gradient form (x_j + sens·(C^-1 z)_j): their sum; encoded
        form (C x + sens·z): sum_j B_tj r_j with B = A C^-1, the factorization's decoder (arXiv 2202.08312).
        """
        if not releases:
            raise ValueError("prefix_sum needs the release of at least one round")
        t = len(releases) - 1
        self._check_round(t)
        if self.form == "prefix":
            return np.asarray(releases[-1], dtype=np.float64)
        if self.form == "gradient":
            return np.sum(np.asarray(releases, dtype=np.float64), axis=0)
        return self._decoder[t, : t + 1] @ np.asarray(releases, dtype=np.float64)

    @functools.cached_property
    def _decoder(self) -> np.ndarray:
        return self.mechanism.noise_matrix()
