# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Parameters of the Ligero argument and their soundness, per prime of Q (derivation in docs/zk.md).

Soundness is counted per prime q_l: the RNS argument is one Ligero instance per prime sharing the
column openings, and a cheat modulo one prime suffices for an attacker, so each prime must be sound
on its own; the union bound over the P primes adds log2 P bits. The words the proximity test combines
are the committed rows (witness, linear masks, the linear-test rows A_s of the second commitment) and
the virtual rows V_s the verifier computes from them column by column (`ligero.py`). For e <
(L - k + 1)/2 (unique decoding, k = ℓ + t) with L - e >= 2k, the terms are:

  proximity test, σ_p repetitions   L / q^σ_p           Ben-Sasson, Carmon, Ishai, Kopparty, Saraf,
                                                        "Proximity gaps for Reed–Solomon codes",
                                                        FOCS 2020, Thm 1.6 (affine spaces, unique decoding,
                                                        ε = n/|F|) over F = F_{q^σ_p}: σ_p repetitions with
                                                        independent uniform γ are one test with a uniform
                                                        γ ∈ F_{q^σ_p}^rows, checked coordinate by coordinate
  ... its columns miss the errors   (1 - e/L)^t         Ligero (Ames et al., CCS 2017), Lemma 4.3
  ... a wrong u_s passes            ((k - 1 + e) / L)^t  u_s ≠ the combination of the decoded rows agrees with
                                                        it on < k points, plus <= e corrupted columns
  message coefficient check         q^-σ_p              coefficient ℓ - 1 of u_s: a non-zero deviation of the
                                                        decoded rows survives a uniform γ w.p. 1/q per repetition
  linear test batching, σ_l reps    (2 / q)^σ_l         a non-zero residual vanishes under random α, ρ w.p. <= 2/q

The linear test itself adds no column term: the decoded rows satisfy its polynomial identity (degree
< 2k) on the >= L - e >= 2k columns where every word agrees with its decoding, so identically.

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
      row_len: ℓ, coefficients per message row: ℓ - 1 witness entries and a zero at coefficient ℓ - 1
        (the one the linear test reads; power of two, 4 .. 2^15).
      code_len: L, codeword length (power of two, >= 2(ℓ + t); every prime needs 2L | q - 1).
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
        for name, low in (("row_len", 4), ("code_len", 2)):
            v = getattr(self, name)
            if v < low or v & (v - 1) or v > 1 << 15:
                raise ValueError(f"{name} must be a power of two in [{low}, 2^15], got {v}")
        if self.num_opened < 1:
            raise ValueError(f"num_opened must be >= 1, got {self.num_opened}")
        if 2 * self.degree_bound > self.code_len:
            raise ValueError(
                f"code_len must be >= 2·(row_len + num_opened) = {2 * self.degree_bound}, got {self.code_len}"
            )
        for name in ("linear_reps", "proximity_reps"):
            if not 1 <= getattr(self, name) <= 64:
                raise ValueError(f"{name} must be in [1, 64], got {getattr(self, name)}")

    @property
    def degree_bound(self) -> int:
        """k = ℓ + t."""
        return self.row_len + self.num_opened

    @property
    def row_entries(self) -> int:
        """Witness entries per row: ℓ - 1 (coefficient ℓ - 1 of every committed row is zero, but A_s's)."""
        return self.row_len - 1

    def num_rows(self, witness_len: int) -> int:
        """Witness rows m = ceil(n / (ℓ - 1))."""
        return -(-witness_len // self.row_entries)

    def total_rows(self, witness_len: int) -> int:
        """Rows of the first commitment: m witness rows, 2σ_l linear masks, σ_p proximity masks."""
        return self.num_rows(witness_len) + 2 * self.linear_reps + self.proximity_reps

    @property
    def linear_rows(self) -> int:
        """Rows of the second commitment: the σ_l linear-test rows A_s."""
        return self.linear_reps

    def combined_rows(self, witness_len: int) -> int:
        """Words the proximity test combines: witness rows, linear masks, A_s and the virtual V_s."""
        return self.num_rows(witness_len) + 4 * self.linear_reps


def soundness_terms(params: LigeroParams, prime: int) -> dict[str, float]:
    """log2 of each soundness term for one prime, with the best decoding radius e (see module docstring)."""
    L, t, k = params.code_len, params.num_opened, params.degree_bound
    e = _best_radius(L, k)
    return {
        "proximity": math.log2(L) - params.proximity_reps * math.log2(prime),
        "proximity_columns": t * math.log2(1 - e / L),
        "consistency_columns": t * math.log2((k - 1 + e) / L),
        "coefficient": -params.proximity_reps * math.log2(prime),
        "linear": params.linear_reps * math.log2(2 / prime),
    }


def _best_radius(L: int, k: int) -> int:
    """The e < (L - k + 1)/2 with L - e >= 2k minimizing max(1 - e/L, (k - 1 + e)/L): the largest."""
    e = min((L - k) // 2, L - 2 * k)
    if e < 1:
        raise ValueError(f"no decoding radius for L={L}, k={k}")
    return e


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
        if 2 * (row_len + t) > code_len:
            break
        p = LigeroParams(row_len, code_len, t, linear_reps, reps_p)
        if soundness_bits(p, moduli, (-float(JL_ROWS),) * 4) >= goal:
            return p
    raise ValueError(f"no num_opened reaches {goal} bits with row_len={row_len}, code_len={code_len}")
