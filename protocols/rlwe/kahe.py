# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Key-additive homomorphic encryption (KAHE): symmetric RLWE with one public polynomial per slot.

Client i encrypts its packed vector m_i (P = ceil(d/N) polynomials) under a fresh ternary key k_i:

    b_{i,p} = a_p · k_i + e_{i,p} + Δ·m_{i,p}   (mod q),   p = 1..P,   Δ = floor(q / 2^plaintext_bits)

(design note ssa.md, "Two layers"; Willow `willow/src/shell/kahe.rs`, which also shares one secret
across the packed polynomials and expands a_p from a public seed). Hence sum_i b_i decrypts under
sum_i k_i to sum_i m_i, and sum_t c_t·B_t under sum_t c_t·K_t to sum_t c_t·M_t, as long as the plaintext
stays in (-2^(p-1), 2^(p-1)) and the error below Δ/2.

The a_p are expanded from the *job's* public seed, identical in every round: a round-specific a_t
would make the key of a multi-round release sum_t c_t·a_t·K_t, which the additive AHE layer cannot form.
Ciphertexts are kept in NTT (evaluation) form; only decryption transforms back.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from loyal.protocols.rlwe import ntt_small
from loyal.protocols.rlwe.encoding import unpack
from loyal.protocols.rlwe.prng import AesCtrPrng, public_prng
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.rlwe.sampling import centered_binomial, ternary, uniform_mod


@dataclasses.dataclass(frozen=True)
class KaheCiphertext:
    """b (NTT form), (P, L, N) residues: int64, or uint32 in the wire form (`encrypt(dtype=...)`, parsed uploads)."""

    b_hat: np.ndarray = dataclasses.field(repr=False)

    @property
    def num_polys(self) -> int:
        return int(self.b_hat.shape[0])


@dataclasses.dataclass(frozen=True)
class KaheKey:
    """A KAHE secret key (or a sum / linear combination of keys) as residues in NTT form, (L, N)."""

    k_hat: np.ndarray = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        return "KaheKey(OMITTED)"


@dataclasses.dataclass(frozen=True)
class Kahe:
    """The KAHE scheme for one job.

    Attributes:
      ring: the ring Z_q[X]/(X^N+1).
      plaintext_bits: p; plaintexts are integers in (-2^(p-1), 2^(p-1)), Δ = floor(q / 2^p).
      public_seed: 32-byte public seed of the job; a_p = Expand(seed, p).
      error_eta: CBD parameter of the errors.
    """

    ring: RnsRing
    plaintext_bits: int
    public_seed: bytes = dataclasses.field(repr=False)
    error_eta: int = 21

    def __post_init__(self) -> None:
        if not 2 <= self.plaintext_bits <= 62 or self.plaintext_bits >= self.ring.modulus_bits - 8:
            raise ValueError(
                f"plaintext_bits must be in [2, 62] and < log2 q - 8 = {self.ring.modulus_bits - 8:.1f}, "
                f"got {self.plaintext_bits}"
            )
        if len(self.public_seed) != 32:
            raise ValueError(f"public_seed must be 32 bytes, got {len(self.public_seed)}")

    @property
    def delta(self) -> int:
        return self.ring.modulus >> self.plaintext_bits

    @property
    def max_error(self) -> int:
        """Largest error |E| decryption tolerates: floor((Δ - 1) / 2)."""
        return (self.delta - 1) // 2

    def public_polys(self, num_polys: int) -> np.ndarray:
        """a_1..a_P in NTT form (uniform in NTT form is uniform), expanded from the public seed."""
        return _expand_public(self.ring, self.public_seed, num_polys)

    # ---- KaheKeyGen ----------------------------------------------------------------------------
    def create_key(self, prng: AesCtrPrng) -> tuple[np.ndarray, KaheKey]:
        """A fresh ternary key: (integer coefficients (N,), NTT-form key)."""
        k = ternary(prng, (self.ring.degree,))
        return k, KaheKey(ntt_small.transform(self.ring, [(k, 1)], bound=1)[0])

    def key_from_integers(self, coefficients: np.ndarray) -> KaheKey:
        """A key from integer coefficients of any size (e.g. a recovered K* = sum_t c_t K_t)."""
        c = np.asarray(coefficients)
        if c.shape != (self.ring.degree,):
            raise ValueError(f"key coefficients must have shape ({self.ring.degree},), got {c.shape}")
        res = self.ring.from_bigint(c) if c.dtype == object else self.ring.from_int(c)
        return KaheKey(self.ring.ntt(res))

    # ---- KaheEncrypt ---------------------------------------------------------------------------
    def encrypt(
        self, key: KaheKey, values: np.ndarray, prng: AesCtrPrng, *, dtype: type = np.int64
    ) -> KaheCiphertext:
        """Encrypts a length-d integer vector (|v| < 2^(p-1)) into ceil(d/N) polynomials.

        One transform of the small inputs (m, e) with weights (Δ, 1) that also adds a_p ⊙ k
        (`ntt_small.transform`); m is zero-padded to whole polynomials without a copy.

        Args:
          dtype: residue type of the ciphertext: int64 (default) or uint32 (the wire form; what a
            client that only frames the ciphertext wants: half the memory, no conversion).
        """
        m = np.asarray(values, dtype=np.int64)
        if m.ndim != 1 or m.size == 0:
            raise ValueError(f"values must be a non-empty 1-D vector, got shape {m.shape}")
        top = max(-int(m.min()), int(m.max()))
        if top >= 1 << (self.plaintext_bits - 1):
            raise ValueError(f"values must satisfy |v| < 2^{self.plaintext_bits - 1}, got max {top}")
        polys = -(-m.size // self.ring.degree)
        e = centered_binomial(prng, self.error_eta, (polys, self.ring.degree), dtype=np.int8)
        a = _public_multiplier(self.ring, self.public_seed, polys)
        b_hat = ntt_small.transform(
            self.ring, [(m, self.delta), (e, 1)], bound=max(top, self.error_eta), product=(a, key.k_hat), dtype=dtype
        )
        return KaheCiphertext(b_hat)

    # ---- AddInPlace / linear combinations ------------------------------------------------------
    def add(self, a: KaheCiphertext, b: KaheCiphertext) -> KaheCiphertext:
        _check_same(a, b)
        return KaheCiphertext(self.ring.add(a.b_hat, b.b_hat))

    def linear_combination(self, terms: list[tuple[int, KaheCiphertext]]) -> KaheCiphertext:
        """sum_j c_j·B_j for integer coefficients c_j (any size, negative allowed)."""
        if not terms:
            raise ValueError("terms must be non-empty")
        acc = np.zeros_like(terms[0][1].b_hat)
        for c, ct in terms:
            _check_same(terms[0][1], ct)
            acc = self.ring.add(acc, self.ring.mul_scalar(ct.b_hat, c))
        return KaheCiphertext(acc)

    # ---- KaheDecrypt ---------------------------------------------------------------------------
    def decrypt(self, key: KaheKey, ciphertext: KaheCiphertext, dim: int) -> np.ndarray:
        """Returns the integer plaintext (int64, length dim): round((b - a·k) / Δ), centred."""
        polys = ciphertext.num_polys
        x = self.ring.sub(ciphertext.b_hat, self.ring.mul_ntt(self.public_polys(polys), key.k_hat[None]))
        centered = self.ring.to_centered_bigint(self.ring.intt(x))
        delta = self.delta
        m = (centered + delta // 2) // delta
        return unpack(m, dim).astype(np.int64)


def _check_same(a: KaheCiphertext, b: KaheCiphertext) -> None:
    if a.b_hat.shape != b.b_hat.shape:
        raise ValueError(f"ciphertext shapes differ: {a.b_hat.shape} vs {b.b_hat.shape}")


@functools.lru_cache(maxsize=8)
def _expand_public_cached(degree: int, moduli: tuple[int, ...], seed: bytes, num_polys: int) -> np.ndarray:
    prng = public_prng(seed, b"loyal/kahe/a")
    a = uniform_mod(prng, moduli, (num_polys, degree))
    a.setflags(write=False)
    return a


def _expand_public(ring: RnsRing, seed: bytes, num_polys: int) -> np.ndarray:
    return _expand_public_cached(ring.degree, ring.moduli, bytes(seed), num_polys)


@functools.lru_cache(maxsize=4)
def _public_multiplier_cached(degree: int, moduli: tuple[int, ...], seed: bytes, num_polys: int) -> ntt_small.Multiplier:
    return ntt_small.prepare_multiplier(_expand_public_cached(degree, moduli, seed, num_polys), moduli)


def _public_multiplier(ring: RnsRing, seed: bytes, num_polys: int) -> ntt_small.Multiplier:
    """a_1..a_P prepared for the exact products a_p ⊙ k of `encrypt` (cached with the polynomials)."""
    return _public_multiplier_cached(ring.degree, ring.moduli, bytes(seed), num_polys)
