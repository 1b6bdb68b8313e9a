# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Threshold additive homomorphic encryption (AHE) of KAHE keys: public-key RLWE with t-of-n Shamir.

Scheme (Regev/BFV-style public-key RLWE, as the AHE of Willow `willow/src/shell/ahe.rs`):
  public key (a, b = -a·s + e); Enc(m) = (c0, c1) = (b·u + e1 + Δ·m, a·u + e2); c0 + c1·s = Δ·m + noise.
Plaintexts are integer polynomials with |m| < 2^(p-1), Δ = floor(Q / 2^p): sums and integer
combinations never wrap, so the recovered key K* = sum_t c_t·K_t is exact as an integer.

Committee key generation has no dealer (Pedersen-style distributed key generation for RLWE, cf.
Asharov et al., EUROCRYPT 2012, §4): member j draws s_j, publishes b_j = -a·s_j + e_j and sends
each member i the Shamir share f_j(i) of s_j (f_j of degree t-1 over Z_Q, coefficient-wise);
s = sum_j s_j, b = sum_j b_j, member i holds s(i) = sum_j f_j(i).

Why t-of-n Shamir and not n-of-n: committee members are ephemeral clients and some will drop out.
With n-of-n a single missing member makes every stored aggregate undecryptable forever; Shamir
tolerates n - t dropouts while t - 1 colluders learn nothing (Shamir 1979).

Partial decryption (threshold decryption with noise flooding, Asharov et al. §4; Boneh et al.,
CRYPTO 2018): the server names a subset S (|S| >= t); member i returns
d_i = λ_i^S·s(i)·c1 + E_i with E_i uniform in [-2^b, 2^b), b = log2(noise bound) + 40, so the
decryption noise is statistically hidden (40 bits). c0 + sum_i d_i = Δ·m + noise + sum E_i.

Hand-off: old members of a subset S re-share λ_i^S·s(i) with fresh degree-(t'-1) polynomials to
n' new members; new member k's share is sum_i g_i(k), a t'-of-n' sharing of the same s
(proactive resharing, Herzberg et al., CRYPTO 1995; Desmedt & Jajodia 1997).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from loyal.protocols.rlwe import ntt_small
from loyal.protocols.rlwe.prng import AesCtrPrng, public_prng
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.rlwe.sampling import centered_binomial, ternary, uniform_mod, uniform_signed_rns


class ThresholdError(ValueError):
    """Too few or inconsistent partial decryptions / shares."""


@dataclasses.dataclass(frozen=True)
class AheCiphertext:
    """(c0, c1) in NTT form, each (L, N) residues: int64, or uint32 in the wire form (`encrypt(dtype=...)`)."""

    c0_hat: np.ndarray = dataclasses.field(repr=False)
    c1_hat: np.ndarray = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class SecretShare:
    """Member `index`'s Shamir share s(index) of the committee secret (NTT form). Never logged."""

    index: int
    share_hat: np.ndarray = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        return f"SecretShare(index={self.index}, share=(OMITTED))"


@dataclasses.dataclass(frozen=True)
class KeyGenContribution:
    """Dealer j's output: its public-key part b_j (NTT) and one private share per member index."""

    dealer: int
    public_part_hat: np.ndarray = dataclasses.field(repr=False)
    shares: dict[int, np.ndarray] = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class ThresholdAhe:
    """Threshold AHE over one ring.

    Attributes:
      ring: Z_Q[X]/(X^N+1).
      plaintext_bits: p; |plaintext coefficients| < 2^(p-1).
      public_seed: 32-byte public seed of the job (a = Expand(seed)).
      smudging_bits: b; each partial decryption adds noise uniform in [-2^b, 2^b).
      error_eta: CBD parameter of errors.
    """

    ring: RnsRing
    plaintext_bits: int
    public_seed: bytes = dataclasses.field(repr=False)
    smudging_bits: int = 60
    error_eta: int = 21

    def __post_init__(self) -> None:
        if not 2 <= self.plaintext_bits <= 200:
            raise ValueError(f"plaintext_bits must be in [2, 200], got {self.plaintext_bits}")
        if self.plaintext_bits + self.smudging_bits + 4 > self.ring.modulus_bits:
            raise ValueError(
                f"plaintext_bits + smudging_bits + 4 must be <= log2 Q = {self.ring.modulus_bits:.1f}, "
                f"got {self.plaintext_bits} + {self.smudging_bits} + 4"
            )

    @property
    def delta(self) -> int:
        return self.ring.modulus >> self.plaintext_bits

    def public_poly(self) -> np.ndarray:
        return _expand_a(self.ring.degree, self.ring.moduli, bytes(self.public_seed))

    # ---- distributed key generation ----------------------------------------------------------
    def create_keygen_contribution(
        self, dealer: int, member_indices: tuple[int, ...], threshold: int, prng: AesCtrPrng
    ) -> KeyGenContribution:
        """Dealer `dealer` draws s_j, e_j and Shamir-shares s_j to `member_indices` (t-of-n)."""
        _check_threshold(member_indices, threshold)
        r = self.ring
        s = r.from_int(ternary(prng, (r.degree,)))
        e = r.from_int(centered_binomial(prng, self.error_eta, (r.degree,)))
        s_hat = r.ntt(s)
        b_hat = r.sub(r.ntt(e), r.mul_ntt(self.public_poly(), s_hat))
        return KeyGenContribution(dealer, b_hat, self._share(s_hat, member_indices, threshold, prng))

    def _share(
        self, secret_hat: np.ndarray, indices: tuple[int, ...], threshold: int, prng: AesCtrPrng
    ) -> dict[int, np.ndarray]:
        """Shamir shares f(i) = secret + sum_k r_k·i^k (coefficient-wise over Z_Q; NTT is linear)."""
        r = self.ring
        coeffs = uniform_mod(prng, r.moduli, (threshold - 1, r.degree)) if threshold > 1 else None
        out = {}
        for i in indices:
            acc = secret_hat.copy()
            for k in range(1, threshold):
                acc = r.add(acc, r.mul_scalar(coeffs[k - 1], pow(i, k)))
            out[i] = acc
        return out

    def combine_public_key(self, contributions: list[KeyGenContribution]) -> np.ndarray:
        """b = sum_j b_j (NTT form)."""
        if not contributions:
            raise ThresholdError("need at least one key-generation contribution, got 0")
        acc = np.zeros_like(contributions[0].public_part_hat)
        for c in contributions:
            acc = self.ring.add(acc, c.public_part_hat)
        return acc

    def combine_secret_share(self, index: int, contributions: list[KeyGenContribution]) -> SecretShare:
        """Member `index`'s share s(index) = sum_j f_j(index)."""
        acc = np.zeros((self.ring.num_moduli, self.ring.degree), dtype=np.int64)
        for c in contributions:
            if index not in c.shares:
                raise ThresholdError(f"dealer {c.dealer} sent no share for member {index}")
            acc = self.ring.add(acc, c.shares[index])
        return SecretShare(index, acc)

    # ---- encryption and homomorphisms ----------------------------------------------------------
    def encrypt(
        self, public_key_hat: np.ndarray, message: np.ndarray, prng: AesCtrPrng, *, dtype: type = np.int64
    ) -> AheCiphertext:
        """Enc(m) for an integer polynomial m (N,) with |m| < 2^(p-1); `dtype` as in `Kahe.encrypt`."""
        return self._encrypt(public_key_hat, message, prng, dtype)[0]

    def encrypt_with_witness(
        self, public_key_hat: np.ndarray, message: np.ndarray, prng: AesCtrPrng, *, dtype: type = np.int64
    ) -> tuple[AheCiphertext, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """`encrypt`, also returning the witness (u, e1, e2, m) it used, int64 (N,) each (for
        `loyal.protocols.zk.ahe.prove_encryption`). Same PRNG stream and ciphertext as `encrypt`."""
        ct, u, e, m = self._encrypt(public_key_hat, message, prng, dtype)
        e64 = e.astype(np.int64)
        return ct, (u.astype(np.int64), e64[0], e64[1], m.copy())

    def _encrypt(
        self, public_key_hat: np.ndarray, message: np.ndarray, prng: AesCtrPrng, dtype: type
    ) -> tuple[AheCiphertext, np.ndarray, np.ndarray, np.ndarray]:
        """(ciphertext, u, (e1, e2) as int8 (2, N), m as int64)."""
        r = self.ring
        m = np.asarray(message, dtype=np.int64)
        if m.shape != (r.degree,):
            raise ValueError(f"message must have shape ({r.degree},), got {m.shape}")
        top = int(np.abs(m).max())
        if top >= 1 << (self.plaintext_bits - 1):
            raise ValueError(f"message must satisfy |m| < 2^{self.plaintext_bits - 1}, got max {top}")
        u = ternary(prng, (r.degree,))
        e = centered_binomial(prng, self.error_eta, (2, r.degree), dtype=np.int8)
        r.check_shape(public_key_hat, "public_key_hat")
        # û = NTT(u), then (c0, c1) = NTT(Δ·m + e1, e2) + (b, a) ⊙ û: one transform of two rows.
        u_hat = ntt_small.prepare_multiplier(ntt_small.transform(r, [(u, 1)], bound=1, dtype=np.uint32)[0], r.moduli)
        messages = np.zeros((2, r.degree), dtype=np.int64)
        messages[0] = m
        factors = (ntt_small.reduced(r, public_key_hat), self.public_poly())
        c = ntt_small.transform(r, [(messages, self.delta), (e, 1)], bound=max(top, self.error_eta),
                                product=(u_hat, factors), dtype=dtype)
        return AheCiphertext(c[0], c[1]), u, e, m

    def add(self, a: AheCiphertext, b: AheCiphertext) -> AheCiphertext:
        return AheCiphertext(self.ring.add(a.c0_hat, b.c0_hat), self.ring.add(a.c1_hat, b.c1_hat))

    def scalar_mul(self, ct: AheCiphertext, scalar: int) -> AheCiphertext:
        """Integer scalar multiplication (noise grows by |scalar|)."""
        return AheCiphertext(self.ring.mul_scalar(ct.c0_hat, scalar), self.ring.mul_scalar(ct.c1_hat, scalar))

    def linear_combination(self, terms: list[tuple[int, AheCiphertext]]) -> AheCiphertext:
        """sum_j c_j·ct_j."""
        if not terms:
            raise ValueError("terms must be non-empty")
        acc = self.scalar_mul(terms[0][1], terms[0][0])
        for c, ct in terms[1:]:
            acc = self.add(acc, self.scalar_mul(ct, c))
        return acc

    # ---- threshold decryption ----------------------------------------------------------------
    def partial_decrypt(
        self, share: SecretShare, ct: AheCiphertext, subset: tuple[int, ...], prng: AesCtrPrng
    ) -> np.ndarray:
        """d_i = λ_i^S·s(i)·c1 + E_i (coefficient form, residues (L, N))."""
        if share.index not in subset:
            raise ThresholdError(f"member {share.index} is not in the decryption subset {subset}")
        r = self.ring
        lam = lagrange_at_zero(share.index, subset, r.moduli)
        prod = r.intt(r.mul_ntt(share.share_hat, ct.c1_hat))
        prod = np.mod(prod * lam, r.q)
        smudge = uniform_signed_rns(prng, self.smudging_bits, r.moduli, (r.degree,))
        return r.add(prod, smudge)

    def combine(self, ct: AheCiphertext, partials: dict[int, np.ndarray], threshold: int) -> np.ndarray:
        """Recovers m (object array of Python ints) from the partials of one subset (|subset| >= t)."""
        if len(partials) < threshold:
            raise ThresholdError(f"need at least threshold={threshold} partial decryptions, got {len(partials)}")
        r = self.ring
        x = r.intt(ct.c0_hat)
        for d in partials.values():
            r.check_shape(d, "partial decryption")
            x = r.add(x, d)
        centered = r.to_centered_bigint(x)
        delta = self.delta
        return (centered + delta // 2) // delta

    # ---- committee hand-off --------------------------------------------------------------------
    def create_reshare(
        self,
        share: SecretShare,
        subset: tuple[int, ...],
        new_indices: tuple[int, ...],
        new_threshold: int,
        prng: AesCtrPrng,
    ) -> dict[int, np.ndarray]:
        """Old member's sub-shares of λ_i^S·s(i) for the new committee (t'-of-n')."""
        if share.index not in subset:
            raise ThresholdError(f"member {share.index} is not in the hand-off subset {subset}")
        _check_threshold(new_indices, new_threshold)
        lam = lagrange_at_zero(share.index, subset, self.ring.moduli)
        weighted = np.mod(share.share_hat * lam, self.ring.q)
        return self._share(weighted, new_indices, new_threshold, prng)

    def combine_reshare(self, index: int, subshares: list[np.ndarray], old_threshold: int) -> SecretShare:
        """New member `index`'s share: sum of the sub-shares from >= t old members of one subset."""
        if len(subshares) < old_threshold:
            raise ThresholdError(f"hand-off needs sub-shares from >= {old_threshold} old members, got {len(subshares)}")
        acc = np.zeros((self.ring.num_moduli, self.ring.degree), dtype=np.int64)
        for s in subshares:
            acc = self.ring.add(acc, s)
        return SecretShare(index, acc)


def _check_threshold(indices: tuple[int, ...], threshold: int) -> None:
    if len(set(indices)) != len(indices) or any(i < 1 for i in indices):
        raise ValueError(f"member indices must be distinct integers >= 1, got {indices}")
    if not 1 <= threshold <= len(indices):
        raise ValueError(f"threshold must be in [1, {len(indices)}] (committee size), got {threshold}")


def lagrange_at_zero(index: int, subset: tuple[int, ...], moduli: tuple[int, ...]) -> np.ndarray:
    """λ_i^S = prod_{j in S, j != i} j / (j - i) mod each q_l, shape (L, 1)."""
    if len(set(subset)) != len(subset):
        raise ThresholdError(f"decryption subset has repeated members: {subset}")
    out = []
    for q in moduli:
        num, den = 1, 1
        for j in subset:
            if j != index:
                num = num * j % q
                den = den * (j - index) % q
        out.append(num * pow(den, -1, q) % q)
    return np.array(out, dtype=np.int64)[:, None]


@functools.lru_cache(maxsize=8)
def _expand_a(degree: int, moduli: tuple[int, ...], seed: bytes) -> np.ndarray:
    a = uniform_mod(public_prng(seed, b"loyal/ahe/a"), moduli, (degree,))
    a.setflags(write=False)
    return a
