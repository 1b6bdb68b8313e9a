# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Release-policy interface: which linear functions of stored rounds the committee may decrypt.

The SSA server stores, per round t, the encrypted aggregate of client updates X_t and the encrypted
committee noise Z_t (design note ssa.md, "Where the DP noise comes from"). A release after round t is one
row over those stored rounds:

    release = sum_j data[j] * X_j + sum_j noise[j] * Z_j

Matrix-factorization DP-FTRL (design note dpftrl.md) releases, after round t, the t-th row of
A x + B z (prefix-sum form) or x_t + (C^-1 z)_t; both are rows of this shape. Real coefficients are
scaled by 2**scale_bits and rounded to integers before they touch ciphertexts (see `quantize`).

Implementations: `PrefixSumPolicy` here (no noise correlation; the simple built-in policy), and the
mechanisms of `loyal.protocols.dpftrl` (`loyal.protocols.dpftrl.policy`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np


@dataclasses.dataclass(frozen=True)
class ReleaseRow:
    """One allowed release: real coefficients over stored data rounds and noise rounds.

    Attributes:
      round_index: the round after which this row may be released (0-based).
      data: mapping round j -> coefficient of X_j; rounds absent have coefficient 0.
      noise: mapping round j -> coefficient of Z_j; rounds absent have coefficient 0.
    """

    round_index: int
    data: dict[int, float]
    noise: dict[int, float]

    def __post_init__(self) -> None:
        if self.round_index < 0:
            raise ValueError(f"round_index must be >= 0, got {self.round_index}")
        for name, coeffs in (("data", self.data), ("noise", self.noise)):
            for j in coeffs:
                if not 0 <= j <= self.round_index:
                    raise ValueError(
                        f"{name} coefficient for round {j} outside [0, {self.round_index}] "
                        f"(a release may only touch rounds already stored)"
                    )

    def rounds(self) -> set[int]:
        """Every stored round this row touches."""
        return set(self.data) | set(self.noise)


def quantize(coefficients: dict[int, float], scale_bits: int) -> dict[int, int]:
    """Scales real coefficients by 2**scale_bits and rounds to the nearest integer.

    The rounding error per coefficient is at most 2**-(scale_bits+1) (in units of the coefficient);
    zero coefficients after rounding are dropped.
    """
    if not 0 <= scale_bits <= 52:
        raise ValueError(f"scale_bits must be in [0, 52], got {scale_bits}")
    out = {}
    for j, c in coefficients.items():
        q = int(np.rint(float(c) * (1 << scale_bits)))
        if q != 0:
            out[j] = q
    return out


@dataclasses.dataclass(frozen=True)
class QuantizedRow:
    """A release row as integers: real coefficients times 2**scale_bits, rounded (`quantize`).

    This is what the server puts in a request and what a member compares it with.
    """

    round_index: int
    data: dict[int, int]
    noise: dict[int, int]

    @property
    def l1(self) -> int:
        """max(||data||_1, ||noise||_1): `encoding.plaintext_bound` bounds the data part and the noise
        part each with this norm, so it is the one `coefficient_l1` of a row."""
        return max(sum(map(abs, self.data.values())), sum(map(abs, self.noise.values())))


def quantized_rows(policy: ReleasePolicy, round_index: int) -> tuple[QuantizedRow, ...]:
    """The integer rows the policy allows after `round_index` (the one place rows are quantized)."""
    sb = policy.scale_bits
    return tuple(QuantizedRow(r.round_index, quantize(r.data, sb), quantize(r.noise, sb)) for r in policy.release_rows(round_index))


def coefficient_l1(policy: ReleasePolicy, rounds: int) -> int:
    """Largest `QuantizedRow.l1` over the rows of rounds 0..rounds-1 (>= 1)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got rounds={rounds}")
    return max(1, max(row.l1 for t in range(rounds) for row in quantized_rows(policy, t)))


def release_count(policy: ReleasePolicy, rounds: int) -> int:
    """Rows released over rounds 0..rounds-1: how many decryptions the job's smudging must cover."""
    return sum(len(quantized_rows(policy, t)) for t in range(rounds))


@runtime_checkable
class ReleasePolicy(Protocol):
    """What a DP-FTRL mechanism publishes to the server, the committee and auditors.

    Attributes:
      policy_id: stable identifier (mechanism name + parameters) committed with the log head.
      scale_bits: fixed-point scale 2**scale_bits for real coefficients.
    """

    policy_id: str
    scale_bits: int

    def release_rows(self, round_index: int) -> tuple[ReleaseRow, ...]:
        """The rows the committee may decrypt after `round_index` is stored."""
        ...

    def window_start(self, round_index: int) -> int:
        """Earliest stored round any release at or after `round_index` still needs.

        Rounds strictly before it may be compacted (dropped or folded into buffers) by the server.
        """
        ...

    def prefix_sum(self, releases: list[np.ndarray]) -> np.ndarray:
        """The noisy prefix sum sum_{j<=t} x_j after round t = len(releases) - 1, from the releases of
        rounds 0..t (what the DP-FTRL learner and the served model consume, whatever the form)."""
        ...


@dataclasses.dataclass(frozen=True)
class PrefixSumPolicy:
    """Releases the prefix sum sum_{j<=t} (X_j + Z_j) after each round t (tree-free baseline).

    Each round's noise is independent, so the prefix sum carries the sum of t+1 noise draws: this is
    the policy of DP-FTRL with the identity factorization C = I, B = A (prefix-sum workload).
    """

    scale_bits: int = 0
    policy_id: str = "prefix-sum/v1"

    def release_rows(self, round_index: int) -> tuple[ReleaseRow, ...]:
        coeffs = {j: 1.0 for j in range(round_index + 1)}
        return (ReleaseRow(round_index=round_index, data=coeffs, noise=dict(coeffs)),)

    def window_start(self, round_index: int) -> int:
        return 0

    def prefix_sum(self, releases: list[np.ndarray]) -> np.ndarray:
        if not releases:
            raise ValueError("prefix_sum needs the release of at least one round")
        return releases[-1]
