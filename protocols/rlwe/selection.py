# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Parameter selection: the cheapest named 128-bit set whose noise and plaintext bounds hold.

Kept apart from the constants in `params.py`, as Willow separates `parameters_generation.rs` from
`parameters.rs`. Bounds (all per coefficient; TAIL_SIGMAS-sigma for sums of independent honest
errors, worst case for data, which a client chooses):

KAHE (release sum_t c_t·B_t over `clients` per round, ||c||_1 <= l1, ||c||_2 <= l2):
  plaintext  M <= l1·clients·value_bound + l1·TAIL·sigma_noise               -> plaintext bits p_k
  error      E <= TAIL·sqrt(eta/2)·l2·sqrt(clients + committee)            -> need E < Δ/2
AHE (key K* = sum_t c_t·K_t, ternary keys):
  plaintext  |K*| <= l1·(clients + committee)                                 -> plaintext bits p_a
  fresh noise variance  var(e·u + e1 + s·e2) = sigma_e^2·(1 + (4/3)·N·m) for a committee of m dealers
  (s and e are sums of m ternary / CBD terms), aggregate  B = TAIL·sigma_fresh·l2·sqrt(clients + committee)
  smudging bits b = ceil(log2 B) + 40 + ceil(log2(N·releases)); need |S|·2^b + B < Δ_a/2. The 40 bits are
  per job, not per coefficient: a union bound over N coefficients of every release the job makes.
"""

from __future__ import annotations

import dataclasses
import math

from loyal.protocols.rlwe.encoding import TAIL_SIGMAS, plaintext_bound
from loyal.protocols.rlwe.params import SECURE_SETS, STATISTICAL_SECURITY_BITS, RlweParameterSet


@dataclasses.dataclass(frozen=True)
class Workload:
    """What the SSA job needs from the parameters.

    Attributes:
      dim: d, the vector length (1 .. 10^8).
      clients: maximum clients per round (1 .. 10^7).
      value_bound: max |encoded coordinate| of one client (floor(C·s) + 1), default 2^15.
      coefficient_l1: max ||c||_1 of a release row after fixed-point scaling (data and noise parts each).
      coefficient_l2: max ||c||_2 of a release row (defaults to coefficient_l1, a safe upper bound).
      committee_size: committee members (noise contributors and decryptors), 1 .. 1000.
      noise_sigma: standard deviation of one round's total DP noise in encoded units (0 = no noise).
      releases: release rows the job decrypts (sizes the smudging for the whole job, default 1).
      proven_uploads: uploads carry zero-knowledge proofs (`loyal.protocols.zk.ahe`): the smudging then
        covers the worst noise the proofs allow (their `ProvenBounds`), not the honest noise.
    """

    dim: int
    clients: int
    value_bound: int = 1 << 15
    coefficient_l1: int = 1 << 10
    coefficient_l2: int | None = None
    committee_size: int = 5
    noise_sigma: float = 0.0
    releases: int = 1
    proven_uploads: bool = False

    def __post_init__(self) -> None:
        checks = (
            ("dim", self.dim, 1, 10**8),
            ("clients", self.clients, 1, 10**7),
            ("value_bound", self.value_bound, 1, 1 << 40),
            ("coefficient_l1", self.coefficient_l1, 1, 1 << 50),
            ("committee_size", self.committee_size, 1, 1000),
            ("releases", self.releases, 1, 1 << 30),
        )
        for name, val, lo, hi in checks:
            if not lo <= val <= hi:
                raise ValueError(f"{name} must be in [{lo}, {hi}], got {val}")
        if not self.noise_sigma >= 0:
            raise ValueError(f"noise_sigma must be >= 0, got {self.noise_sigma}")

    @property
    def l2(self) -> int:
        return self.coefficient_l1 if self.coefficient_l2 is None else self.coefficient_l2


@dataclasses.dataclass(frozen=True)
class Selection:
    """A parameter set with the plaintext widths and smudging size derived for a workload."""

    params: RlweParameterSet
    kahe_plaintext_bits: int
    ahe_plaintext_bits: int
    smudging_bits: int
    kahe_error_bits: float
    ahe_noise_bits: float

    def bytes_per_client(self, dim: int) -> int:
        return self.params.bytes_per_client(dim)

    def expansion(self, dim: int) -> float:
        """Bytes uploaded per client / (4·d) (float32 baseline)."""
        return self.params.bytes_per_client(dim) / (4.0 * dim)


def evaluate(params: RlweParameterSet, work: Workload) -> Selection:
    """Derives plaintext and smudging widths for `params`; raises ValueError if the bounds fail."""
    n = work.clients + work.committee_size
    m = work.committee_size
    sigma_e = math.sqrt(params.error_eta / 2)
    # KAHE
    k_bound = plaintext_bound(
        clients=work.clients,
        value_bound=work.value_bound,
        coefficient_l1=work.coefficient_l1,
        noise_sigma=work.noise_sigma,
    )
    p_k = k_bound.bit_length() + 2  # |M| < 2^(p-2): one spare bit
    e_k = TAIL_SIGMAS * sigma_e * work.l2 * math.sqrt(n)
    q_bits = params.kahe_ring.modulus_bits
    if q_bits - p_k < math.log2(e_k) + 2 or p_k > 62:
        raise ValueError(
            f"{params.name}: KAHE modulus {q_bits:.0f} bits cannot hold plaintext {p_k} bits "
            f"+ error 2^{math.log2(e_k):.1f} (p <= 62 required)"
        )
    # AHE
    p_a = (work.coefficient_l1 * n).bit_length() + 2
    sigma_fresh = sigma_e * math.sqrt(1 + (4 / 3) * params.ring_degree * m)
    b_noise = TAIL_SIGMAS * sigma_fresh * work.l2 * math.sqrt(n)
    if work.proven_uploads:
        b_noise = max(b_noise, work.coefficient_l1 * n * proven_noise_bound(params, m))
    smudging = (math.ceil(math.log2(b_noise)) + STATISTICAL_SECURITY_BITS
                + math.ceil(math.log2(params.ring_degree * work.releases)))
    need = p_a + smudging + math.ceil(math.log2(m)) + 3
    a_bits = params.ahe_ring.modulus_bits
    if need > a_bits:
        raise ValueError(
            f"{params.name}: AHE modulus {a_bits:.0f} bits < needed {need} "
            f"(plaintext {p_a} + smudging {smudging} + committee {m})"
        )
    return Selection(params, p_k, p_a, smudging, math.log2(e_k), math.log2(b_noise))


def proven_noise_bound(params: RlweParameterSet, committee_size: int) -> int:
    """Worst ‖e·u + e1 + s·e2‖∞ of one AHE ciphertext whose proof verified: N·m·η·U + E1 + N·m·E2 with the
    proof's `ProvenBounds` (U, E1, E2) and a committee of m members (‖e‖∞ <= m·η, ‖s‖∞ <= m). The key
    plaintext is sized for honest ternary keys: a larger proven k can only garble a release (as a wrong
    KAHE part can), never leak, so it costs no plaintext bits."""
    from loyal.protocols.zk.ahe import proof_parameters  # zk builds on rlwe; imported when needed

    moduli = params.ahe_ring.moduli
    b = proof_parameters(params.ring_degree, moduli, params.error_eta).bounds(moduli)
    nm = params.ring_degree * committee_size
    return nm * params.error_eta * b.u + b.e1 + nm * b.e2


def select_parameters(work: Workload, candidates: tuple[RlweParameterSet, ...] = SECURE_SETS) -> Selection:
    """The candidate with the smallest upload for `work` whose bounds hold.

    Raises:
      ValueError: "input setting is not supported" when no candidate fits (as Willow's
        `create_shell_configs`), naming the reasons.
    """
    fits, reasons = [], []
    for p in candidates:
        try:
            fits.append(evaluate(p, work))
        except ValueError as e:
            reasons.append(str(e))
    if not fits:
        raise ValueError(f"input setting is not supported: {work}; " + "; ".join(reasons))
    return min(fits, key=lambda s: (s.bytes_per_client(work.dim), s.params.ring_degree))
