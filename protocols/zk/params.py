# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Parameters of the Ligero argument and their soundness, per prime of Q (derivation in docs/zk.md).

Soundness is counted per prime q_l: the RNS argument is one Ligero instance per prime sharing the
column openings, and a cheat modulo one prime suffices for an attacker, so each prime must be sound
on its own; the union bound over the P primes adds log2 P bits. For a committed matrix U* (rows of
degree < k = ℓ + t on a domain of size L) and e < (L - k + 1)/2 (unique decoding), the terms are:

  proximity test, σ_p repetitions   L / q^σ_p           Ben-Sasson, Carmon, Ishai, Kopparty, Saraf,
                                                        "Proximity gaps for Reed–Solomon codes",
                                                        FOCS 2020, Thm 1.6 (affine spaces, unique decoding,
                                                        ε = n/|F|) over F = F_{q^σ_p}: σ_p repetitions with
                                                        independent uniform γ are one test with a uniform
                                                        γ ∈ F_{q^σ_p}^rows, checked coordinate by coordinate
  ... its columns miss the errors   (1 - e/L)^t         Ligero (Ames et al., CCS 2017), Lemma 4.3
  linear test batching, σ_l reps    (2 / q)^σ_l         a non-zero residual vanishes under random α, ρ w.p. <= 2/q
  ... its columns miss a wrong q    ((2ℓ + t - 1 + e) / L)^t   Ligero Lemma 4.5 (q has degree < 2ℓ + t)

Every term is a per-query bound (each challenge is a fresh hash of the transcript), so a prover
making 2^h hash queries gains at most h bits (round-by-round soundness; Canetti et al., STOC 2019).
"""

from __future__ import annotations

import dataclasses
import math

from loyal.protocols.zk.jl import JL_ROWS

#: Soundness target (bits) every parameter choice must meet after the union over primes.
TARGET_SOUNDNESS_BITS = 128


@dataclasses.dataclass(frozen=True)
class LigeroParams:
    """Shape of one Ligero argument.

    Attributes:
      row_len: ℓ, entries per matrix row (power of two, 2 .. 2^14).
      code_len: L, codeword length (power of two, >= 2ℓ + t; every prime needs 2L | q - 1).
      num_opened: t, columns opened (= random tail length of each row).
      linear_reps: σ_l, independent repetitions of the linear test.
      proximity_reps: σ_p, independent repetitions of the proximity test.
    """

    row_len: int
    code_len: int
    num_opened: int
    linear_reps: int
    proximity_reps: int

    def __post_init__(self) -> None:
        for name in ("row_len", "code_len"):
            v = getattr(self, name)
            if v < 2 or v & (v - 1) or v > 1 << 15:
                raise ValueError(f"{name} must be a power of two in [2, 2^15], got {v}")
        if self.num_opened < 1:
            raise ValueError(f"num_opened must be >= 1, got {self.num_opened}")
        if 2 * self.row_len + self.num_opened > self.code_len:
            raise ValueError(
                f"code_len must be >= 2·row_len + num_opened = {2 * self.row_len + self.num_opened}, got {self.code_len}"
            )
        for name in ("linear_reps", "proximity_reps"):
            if not 1 <= getattr(self, name) <= 64:
                raise ValueError(f"{name} must be in [1, 64], got {getattr(self, name)}")

    @property
    def degree_bound(self) -> int:
        """k = ℓ + t."""
        return self.row_len + self.num_opened

    @property
    def linear_poly_len(self) -> int:
        """Coefficients of a linear-test polynomial: 2ℓ + t."""
        return 2 * self.row_len + self.num_opened

    def num_rows(self, witness_len: int) -> int:
        """Witness rows m = ceil(n / ℓ)."""
        return -(-witness_len // self.row_len)

    def total_rows(self, witness_len: int) -> int:
        """Committed rows: m witness rows, 2σ_l linear masks, σ_p proximity masks."""
        return self.num_rows(witness_len) + 2 * self.linear_reps + self.proximity_reps


def soundness_terms(params: LigeroParams, prime: int) -> dict[str, float]:
    """log2 of each soundness term for one prime, with the best decoding radius e (see module docstring)."""
    L, t = params.code_len, params.num_opened
    e = _best_radius(L, params.degree_bound, params.row_len, t)
    return {
        "proximity": math.log2(L) - params.proximity_reps * math.log2(prime),
        "proximity_columns": t * math.log2(1 - e / L),
        "linear": params.linear_reps * math.log2(2 / prime),
        "linear_columns": t * math.log2(min(1.0, (2 * params.row_len + t - 1 + e) / L)),
    }


def _best_radius(L: int, k: int, ell: int, t: int) -> int:
    """The e < (L - k + 1)/2 minimizing max(proximity-column, linear-column) terms (they cross once)."""
    lo, hi = 1, max(1, (L - k) // 2)
    while lo < hi:  # smallest e whose linear-column agreement outweighs the proximity-column miss
        mid = (lo + hi) // 2
        if (2 * ell + t - 1 + mid) / L >= 1 - mid / L:
            hi = mid
        else:
            lo = mid + 1
    candidates = {max(1, lo - 1), lo}
    return min(candidates, key=lambda e: max(math.log2(1 - e / L), math.log2(min(1.0, (2 * ell + t - 1 + e) / L))))


def soundness_bits(params: LigeroParams, moduli: tuple[int, ...], extra_log2_terms: tuple[float, ...] = ()) -> float:
    """-log2 of the total soundness error: union over the primes of Q plus any extra terms (JL, hashing)."""
    total = 0.0
    for q in moduli:
        total += sum(2.0**v for v in soundness_terms(params, q).values())
    total += sum(2.0**v for v in extra_log2_terms)
    return -math.log2(total)


def choose_ligero_params(
    witness_len: int, moduli: tuple[int, ...], *, row_len: int, code_len: int, linear_reps: int = 5
) -> LigeroParams:
    """Smallest σ_p, then smallest t (multiple of 4), reaching TARGET_SOUNDNESS_BITS + 2 for this shape.

    Raises:
      ValueError: if no t reaches the target (choose a longer code).
    """
    del witness_len  # the shape is fixed by the caller; kept for symmetry with the size model
    q = min(moduli)
    reps_p = math.ceil((TARGET_SOUNDNESS_BITS + 2 + math.log2(len(moduli)) + 1 + math.log2(code_len)) / math.log2(q))
    goal = TARGET_SOUNDNESS_BITS + 2
    for t in range(4, code_len, 4):
        if 2 * row_len + t > code_len:
            break
        p = LigeroParams(row_len, code_len, t, linear_reps, reps_p)
        if soundness_bits(p, moduli, (-float(JL_ROWS),) * 4) >= goal:
            return p
    raise ValueError(f"no num_opened reaches {goal} bits with row_len={row_len}, code_len={code_len}")
