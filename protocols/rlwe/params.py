# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Named RLWE parameter sets for SSA (KAHE data layer + threshold AHE key layer), with security claims.

Security: 128-bit classical security for uniform ternary secrets and error standard deviation
3.2, by Table 1 of the HomomorphicEncryption.org standard (Albrecht et al., "Homomorphic Encryption
Standard", 2018, https://homomorphicencryption.org/standard/): log2 Q <= 27 (N=2^10), 54 (2^11),
109 (2^12), 218 (2^13), 438 (2^14), 881 (2^15). Both layers use the same ring degree N; each modulus is
checked against the table separately. Errors are CBD(21) (standard deviation sqrt(21/2) = 3.24, at
least the 3.2 the table assumes). Statistical security of the smudging noise is 40 bits. The
regimes mirror Willow's `willow/src/shell/parameters.rs` (N=2^12 for short inputs, 2^13 for
<= 100K, 2^14 for <= 10M), rebuilt on 30-bit NTT primes so numpy int64 arithmetic stays exact.
The selection logic (which set for which dimension, cohort and release policy) is in `selection.py`.
"""

from __future__ import annotations

import dataclasses
import math

from loyal.protocols.rlwe.ring import RnsRing, ntt_primes

#: HomomorphicEncryption.org Table 1 (ternary secret, classical, 128 bits): N -> max log2 Q.
HE_STANDARD_128_MAX_LOG_Q: dict[int, int] = {
    1 << 10: 27,
    1 << 11: 54,
    1 << 12: 109,
    1 << 13: 218,
    1 << 14: 438,
    1 << 15: 881,
}
#: CBD parameter of every RLWE error (variance eta/2).
ERROR_ETA = 21
#: Statistical security parameter of the smudging noise (bits).
STATISTICAL_SECURITY_BITS = 40


@dataclasses.dataclass(frozen=True)
class RlweParameterSet:
    """One named regime: ring degree and the number of 30-bit primes of each layer.

    Attributes:
      name: identifier written into messages and logs.
      ring_degree: N, shared by both layers.
      kahe_num_moduli: primes of the KAHE (data) modulus q.
      ahe_num_moduli: primes of the AHE (key) modulus Q.
      error_eta: CBD parameter of errors (default 21).
      insecure: True only for test sets below the HE-standard security level.
    """

    name: str
    ring_degree: int
    kahe_num_moduli: int
    ahe_num_moduli: int
    error_eta: int = ERROR_ETA
    insecure: bool = False

    def __post_init__(self) -> None:
        if self.ring_degree not in HE_STANDARD_128_MAX_LOG_Q:
            raise ValueError(f"ring_degree must be a power of two in [2^10, 2^15], got {self.ring_degree}")
        for field in ("kahe_num_moduli", "ahe_num_moduli"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if not self.insecure and self.security_bits < 128:
            raise ValueError(
                f"parameter set {self.name!r}: log2 Q = {max(self.kahe_ring.modulus_bits, self.ahe_ring.modulus_bits):.1f} "
                f"exceeds {HE_STANDARD_128_MAX_LOG_Q[self.ring_degree]} for N={self.ring_degree}; mark it insecure"
            )

    @property
    def kahe_ring(self) -> RnsRing:
        return RnsRing(self.ring_degree, ntt_primes(self.kahe_num_moduli))

    @property
    def ahe_ring(self) -> RnsRing:
        # Disjoint from the KAHE primes is not needed (separate layers); take the next primes anyway
        # so a modulus never appears in both layers.
        primes = ntt_primes(self.kahe_num_moduli + self.ahe_num_moduli)[self.kahe_num_moduli :]
        return RnsRing(self.ring_degree, primes)

    @property
    def security_bits(self) -> int:
        """128 when both moduli fit the HE-standard bound for N, else 0 (no claim)."""
        bound = HE_STANDARD_128_MAX_LOG_Q[self.ring_degree]
        worst = max(self.kahe_ring.modulus_bits, self.ahe_ring.modulus_bits)
        return 128 if worst <= bound else 0

    @property
    def security_margin_bits(self) -> float:
        """How many bits of modulus the set leaves below the HE-standard bound."""
        worst = max(self.kahe_ring.modulus_bits, self.ahe_ring.modulus_bits)
        return HE_STANDARD_128_MAX_LOG_Q[self.ring_degree] - worst

    def num_polys(self, dim: int) -> int:
        """ceil(dim / N): KAHE polynomials per client vector."""
        return max(1, math.ceil(dim / self.ring_degree))

    def bytes_per_client(self, dim: int) -> int:
        """Upload size: KAHE polys + one AHE ciphertext (2 polys), 4 bytes per residue, + framing."""
        kahe = self.num_polys(dim) * self.kahe_num_moduli * self.ring_degree * 4
        ahe = 2 * self.ahe_num_moduli * self.ring_degree * 4
        return kahe + ahe + FRAME_OVERHEAD_BYTES


#: Bytes added by `loyal.protocols.ssa.messages` (frame version 2) to a client contribution: header 36,
#: meta length and array count 8, meta "{}" 2 + padding 2, array headers 16 + 12 + 12, digest 32.
FRAME_OVERHEAD_BYTES = 120

# ---- 128-bit sets (HE-standard table margins in the docstring of each) -----------------------------
#: Short inputs (<= ~10^4) and small cohorts: q 60 bits, Q 90 bits <= 109 (margin 19).
RLWE_N4096 = RlweParameterSet("rlwe-n4096", 1 << 12, kahe_num_moduli=2, ahe_num_moduli=3)
#: Medium inputs/cohorts: q 60 bits, Q 150 bits <= 218 (margin 68).
RLWE_N8192 = RlweParameterSet("rlwe-n8192", 1 << 13, kahe_num_moduli=2, ahe_num_moduli=5)
#: Large cohorts (10^6) or wide release coefficients: q 90 bits, Q 210 bits <= 218 (margin 8).
RLWE_N8192_WIDE = RlweParameterSet("rlwe-n8192-wide", 1 << 13, kahe_num_moduli=3, ahe_num_moduli=7)
#: Very wide plaintexts: q 120 bits, Q 240 bits <= 438 (margin 198).
RLWE_N16384 = RlweParameterSet("rlwe-n16384", 1 << 14, kahe_num_moduli=4, ahe_num_moduli=8)

#: All 128-bit sets, in the order selection tries them (cheapest upload first for long vectors).
SECURE_SETS: tuple[RlweParameterSet, ...] = (RLWE_N4096, RLWE_N8192, RLWE_N8192_WIDE, RLWE_N16384)

#: INSECURE (log2 Q > 27 for N = 2^10): fast unit tests only. Never selected by `selection.py`.
INSECURE_TEST_N1024 = RlweParameterSet("insecure-test-n1024", 1 << 10, 2, 4, insecure=True)

BY_NAME: dict[str, RlweParameterSet] = {p.name: p for p in (*SECURE_SETS, INSECURE_TEST_N1024)}
