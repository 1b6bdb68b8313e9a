# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Negacyclic RNS polynomial ring Z_Q[X]/(X^N + 1) with a vectorized number-theoretic transform.

A polynomial is stored as an int64 array of shape (..., L, N): L residues modulo the 30-bit primes
q_1..q_L (Q = prod q_l, each q_l ≡ 1 mod 2N), N coefficients, any leading batch dimensions. With
q_l < 2^30 every product of two residues, and of a residue with a lazily reduced value below 2^33,
fits in int64 exactly, so numpy does the arithmetic without overflow.

For degrees 2^4..2^14 the transforms run as a four-step NTT of exact float64 matrix products
(`ntt_fourstep.py`, BLAS dgemm); other degrees use the radix-2 butterflies below, and both give
identical outputs. The radix-2 NTT is the negacyclic Cooley–Tukey / Gentleman–Sande pair with psi powers in bit-reversed order
(Longa & Naehrig, "Speeding up the Number Theoretic Transform for Faster Ideal Lattice-Based
Cryptography", CANS 2016, Alg. 1 and 2), with lazy reduction between stages (Harvey, "Faster
arithmetic for number-theoretic transforms", J. Symb. Comp. 2014, adapted to int64 headroom).
Evaluation order is bit-reversed; only pointwise products use it, so no permutation is needed.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from loyal.protocols.rlwe import ntt_fourstep

#: Largest residue bit width: q_l < 2^30 keeps (value < 2^33) * (twiddle < 2^30) < 2^63.
PRIME_BITS = 30
#: Lazily reduced values stay below this multiple of the largest prime before a reduction.
_LAZY_BOUND = 8
#: Ring degrees this module supports (HomomorphicEncryption.org tables cover 2^10..2^15).
SUPPORTED_DEGREES = tuple(1 << k for k in range(10, 16))


def _is_prime(n: int) -> bool:
    """Deterministic Miller–Rabin for n < 3.3e24 (bases of Sorenson & Webster 2015)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for p in small:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@functools.lru_cache(maxsize=None)
def ntt_primes(count: int, bits: int = PRIME_BITS, max_degree: int = 1 << 15) -> tuple[int, ...]:
    """The `count` largest primes below 2^bits that are ≡ 1 (mod 2·max_degree), descending.

    Every prime returned supports the negacyclic NTT for all ring degrees up to `max_degree`.

    Raises:
      ValueError: if count < 1 or bits is outside [20, 30].
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not 20 <= bits <= PRIME_BITS:
        raise ValueError(f"bits must be in [20, {PRIME_BITS}], got {bits}")
    step = 2 * max_degree
    out: list[int] = []
    candidate = ((1 << bits) - 1) // step * step + 1
    while len(out) < count:
        if candidate < step:
            raise ValueError(f"only {len(out)} NTT primes below 2^{bits} for degree {max_degree}")
        if candidate < (1 << bits) and _is_prime(candidate):
            out.append(candidate)
        candidate -= step
    return tuple(out)


def _primitive_root_2n(q: int, degree: int) -> int:
    """Smallest psi with psi^N ≡ -1 (mod q): a primitive 2N-th root of unity (deterministic)."""
    factors = []
    m, p = q - 1, 2
    while p * p <= m:
        if m % p == 0:
            factors.append(p)
            while m % p == 0:
                m //= p
        p += 1
    if m > 1:
        factors.append(m)
    for g in range(2, q):
        if all(pow(g, (q - 1) // f, q) != 1 for f in factors):
            break
    psi = pow(g, (q - 1) // (2 * degree), q)
    # Smallest among the primitive 2N-th roots (odd powers of psi) so tables are canonical.
    best, cur, sq = psi, psi, psi * psi % q
    for _ in range(degree - 1):
        cur = cur * sq % q
        best = min(best, cur)
    return best


def _bit_reverse(k: int, bits: int) -> int:
    return int(format(k, f"0{bits}b")[::-1], 2) if bits else 0


@functools.lru_cache(maxsize=32)
def _psis(degree: int, moduli: tuple[int, ...]) -> tuple[int, ...]:
    """The canonical primitive 2N-th root of unity of each modulus (shared by both NTT paths)."""
    return tuple(_primitive_root_2n(q, degree) for q in moduli)


@dataclasses.dataclass(frozen=True)
class _Tables:
    """Per-ring NTT tables, shape (L, N) twiddles and (L, 1) moduli."""

    q: np.ndarray
    psi_rev: np.ndarray
    psi_inv_rev: np.ndarray
    n_inv: np.ndarray


@functools.lru_cache(maxsize=32)
def _tables(degree: int, moduli: tuple[int, ...]) -> _Tables:
    bits = degree.bit_length() - 1
    rev = np.array([_bit_reverse(i, bits) for i in range(degree)], dtype=np.int64)
    psi_rev = np.empty((len(moduli), degree), dtype=np.int64)
    psi_inv_rev = np.empty_like(psi_rev)
    n_inv = np.empty((len(moduli), 1), dtype=np.int64)
    for l, (q, psi) in enumerate(zip(moduli, _psis(degree, moduli))):
        psi_inv = pow(psi, q - 2, q)
        powers = np.empty(degree, dtype=np.int64)
        inv_powers = np.empty(degree, dtype=np.int64)
        p, pi = 1, 1
        for i in range(degree):
            powers[i], inv_powers[i] = p, pi
            p, pi = p * psi % q, pi * psi_inv % q
        psi_rev[l] = powers[rev]
        psi_inv_rev[l] = inv_powers[rev]
        n_inv[l, 0] = pow(degree, q - 2, q)
    q_arr = np.array(moduli, dtype=np.int64)[:, None]
    for arr in (psi_rev, psi_inv_rev, n_inv, q_arr):
        arr.setflags(write=False)
    return _Tables(q=q_arr, psi_rev=psi_rev, psi_inv_rev=psi_inv_rev, n_inv=n_inv)


@dataclasses.dataclass(frozen=True)
class RnsRing:
    """The ring Z_Q[X]/(X^N + 1) in residue-number-system form.

    Attributes:
      degree: N, a power of two in [2^10, 2^15] (smaller powers of two ≥ 2 are accepted for tests).
      moduli: distinct primes q_l < 2^30 with q_l ≡ 1 (mod 2N).
    """

    degree: int
    moduli: tuple[int, ...]

    def __post_init__(self) -> None:
        n = self.degree
        if n < 2 or n & (n - 1) or n > SUPPORTED_DEGREES[-1]:
            raise ValueError(f"degree must be a power of two in [2, 2^15], got degree={n}")
        if not self.moduli:
            raise ValueError("moduli must be non-empty, got ()")
        if len(set(self.moduli)) != len(self.moduli):
            raise ValueError(f"moduli must be distinct, got {self.moduli}")
        for q in self.moduli:
            if not 2 < q < (1 << PRIME_BITS) or (q - 1) % (2 * n) or not _is_prime(q):
                raise ValueError(f"each modulus must be a prime < 2^{PRIME_BITS} with q ≡ 1 (mod 2n), got q={q}, n={n}")

    # ---- basic facts -------------------------------------------------------------------------
    @property
    def num_moduli(self) -> int:
        return len(self.moduli)

    @property
    def modulus(self) -> int:
        """Q = prod q_l as a Python integer."""
        return functools.reduce(lambda a, b: a * b, self.moduli, 1)

    @property
    def modulus_bits(self) -> float:
        return float(np.log2(float(self.modulus)))

    @property
    def psis(self) -> tuple[int, ...]:
        """The canonical primitive 2N-th root of unity of each modulus (every NTT path uses them)."""
        return _psis(self.degree, self.moduli)

    @property
    def q(self) -> np.ndarray:
        """Moduli as an (L, 1) int64 array, broadcastable against (..., L, N)."""
        return _tables(self.degree, self.moduli).q

    def check_shape(self, poly: np.ndarray, name: str = "poly") -> None:
        """Raises ValueError unless `poly` has trailing shape (L, N) and dtype int64."""
        if poly.dtype != np.int64 or poly.shape[-2:] != (self.num_moduli, self.degree):
            raise ValueError(
                f"{name} must be int64 with trailing shape (L, N)=({self.num_moduli}, {self.degree}), "
                f"got dtype={poly.dtype}, shape={poly.shape}"
            )

    # ---- conversion --------------------------------------------------------------------------
    def from_int(self, values: np.ndarray) -> np.ndarray:
        """Maps integer coefficients of shape (..., N) (|v| < 2^62) to residues (..., L, N)."""
        v = np.asarray(values, dtype=np.int64)
        return np.mod(v[..., None, :], self.q)

    def from_bigint(self, values: np.ndarray) -> np.ndarray:
        """Maps arbitrary Python-integer coefficients (object array (..., N)) to residues."""
        v = np.asarray(values, dtype=object)
        out = np.empty(v.shape[:-1] + (self.num_moduli, self.degree), dtype=np.int64)
        for l, q in enumerate(self.moduli):
            out[..., l, :] = (v % q).astype(np.int64)
        return out

    def to_centered_bigint(self, poly: np.ndarray) -> np.ndarray:
        """CRT-reconstructs residues (..., L, N) to centred integers in (-Q/2, Q/2] (object array)."""
        self.check_shape(poly)
        big_q = self.modulus
        acc = np.zeros(poly.shape[:-2] + (self.degree,), dtype=object)
        for l, q in enumerate(self.moduli):
            m = big_q // q
            coef = m * pow(m, -1, q)
            acc = acc + poly[..., l, :].astype(object) * coef
        acc = acc % big_q
        return np.where(acc > big_q // 2, acc - big_q, acc)

    # ---- arithmetic --------------------------------------------------------------------------
    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.mod(a + b, self.q)

    def sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.mod(a - b, self.q)

    def neg(self, a: np.ndarray) -> np.ndarray:
        return np.mod(-a, self.q)

    def mul_scalar(self, a: np.ndarray, scalar: int) -> np.ndarray:
        """Multiplies by an integer of any size (reduced per modulus first)."""
        s = np.array([int(scalar) % q for q in self.moduli], dtype=np.int64)[:, None]
        return np.mod(a * s, self.q)

    def mul_ntt(self, a_hat: np.ndarray, b_hat: np.ndarray) -> np.ndarray:
        """Pointwise product of two polynomials in evaluation (NTT) form."""
        return np.mod(a_hat * b_hat, self.q)

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Negacyclic product of two polynomials in coefficient form."""
        return self.intt(self.mul_ntt(self.ntt(a), self.ntt(b)))

    def ntt(self, a: np.ndarray, input_bound: int = 1) -> np.ndarray:
        """Forward negacyclic NTT (Longa–Naehrig Alg. 1); returns a new array of residues in [0, q).

        Args:
          a: int64 (..., L, N) with |a| < input_bound·q (signed inputs are allowed).
          input_bound: bound on |a| in multiples of q, in [1, 8] (default 1: residues in [0, q)).
        """
        self.check_shape(a, "a")
        if not 1 <= input_bound <= _LAZY_BOUND:
            raise ValueError(f"input_bound must be in [1, {_LAZY_BOUND}], got {input_bound}")
        if ntt_fourstep.supports(self.degree):
            if input_bound > 2:  # the four-step path needs |a| < 2^31
                a = np.fmod(a, self.q)
            return ntt_fourstep.forward(a, self.moduli, self.psis)
        return self._ntt_radix2(a, input_bound)

    def _ntt_radix2(self, a: np.ndarray, input_bound: int = 1) -> np.ndarray:
        """Radix-2 forward NTT (any degree); `ntt` uses it where the four-step path does not apply."""
        t = _tables(self.degree, self.moduli)
        n, num, batch = self.degree, self.num_moduli, a.shape[:-2]
        blk = min(n, _BLOCK)
        x = np.array(a, dtype=np.int64, copy=True)
        q3 = t.q[:, :, None]
        bound, m = input_bound, 1
        # Stages whose butterflies span whole blocks: contiguous inner axis of length >= _BLOCK.
        while n // (2 * m) >= blk:
            half = n // (2 * m)
            xr = x.reshape(batch + (num, m, 2, half))
            bound = _ct_butterfly(xr[..., 0, :], xr[..., 1, :], t.psi_rev[:, m : 2 * m, None], q3, bound)
            m *= 2
        # Remaining stages work inside blocks of `blk` coefficients: transpose so blocks are inner.
        if m < n:
            nb = n // blk
            y = np.ascontiguousarray(np.swapaxes(x.reshape(batch + (num, nb, blk)), -1, -2))
            q4 = t.q[:, :, None, None]
            while m < n:
                half = n // (2 * m)
                groups = blk // (2 * half)
                yr = y.reshape(batch + (num, groups, 2, half, nb))
                w = _block_twiddles(self.degree, self.moduli, m, False)
                bound = _ct_butterfly(yr[..., 0, :, :], yr[..., 1, :, :], w, q4, bound)
                m *= 2
            x = np.ascontiguousarray(np.swapaxes(y, -1, -2)).reshape(batch + (num, n))
        _reduce(x, t.q)
        return x

    def intt(self, a_hat: np.ndarray) -> np.ndarray:
        """Inverse negacyclic NTT (Longa–Naehrig Alg. 2) of residues in [0, q); returns a new array."""
        self.check_shape(a_hat, "a_hat")
        if ntt_fourstep.supports(self.degree):
            return ntt_fourstep.inverse(a_hat, self.moduli, self.psis)
        return self._intt_radix2(a_hat)

    def _intt_radix2(self, a_hat: np.ndarray) -> np.ndarray:
        """Radix-2 inverse NTT (any degree); `intt` uses it where the four-step path does not apply."""
        t = _tables(self.degree, self.moduli)
        n, num, batch = self.degree, self.num_moduli, a_hat.shape[:-2]
        blk = min(n, _BLOCK)
        nb = n // blk
        x = np.array(a_hat, dtype=np.int64, copy=True)
        bound, m = 1, n
        # First stages (small butterflies) inside blocks, with blocks as the inner axis.
        y = np.ascontiguousarray(np.swapaxes(x.reshape(batch + (num, nb, blk)), -1, -2))
        q4 = t.q[:, :, None, None]
        while m > 1 and n // m < blk:
            h = m // 2
            half = n // m
            groups = blk // (2 * half)
            yr = y.reshape(batch + (num, groups, 2, half, nb))
            w = _block_twiddles(self.degree, self.moduli, h, True)
            bound = _gs_butterfly(yr[..., 0, :, :], yr[..., 1, :, :], w, q4, bound)
            m = h
        x = np.ascontiguousarray(np.swapaxes(y, -1, -2)).reshape(batch + (num, n))
        q3 = t.q[:, :, None]
        while m > 1:
            h = m // 2
            half = n // m
            xr = x.reshape(batch + (num, h, 2, half))
            bound = _gs_butterfly(xr[..., 0, :], xr[..., 1, :], t.psi_inv_rev[:, h:m, None], q3, bound)
            m = h
        np.fmod(x, t.q, out=x)
        x *= t.n_inv
        _reduce(x, t.q)
        return x


#: Block size below which butterflies run on a transposed layout (long contiguous inner axis).
_BLOCK = 32


@functools.lru_cache(maxsize=256)
def _block_twiddles(degree: int, moduli: tuple[int, ...], m: int, inverse: bool) -> np.ndarray:
    """Twiddles for a stage with m groups in the block-transposed layout, shape (L, groups, 1, nb)."""
    t = _tables(degree, moduli)
    blk = min(degree, _BLOCK)
    nb = degree // blk
    half = degree // (2 * m)
    groups = blk // (2 * half)
    idx = m + np.arange(nb)[None, :] * groups + np.arange(groups)[:, None]
    table = t.psi_inv_rev if inverse else t.psi_rev
    w = np.ascontiguousarray(table[:, idx][:, :, None, :])
    w.setflags(write=False)
    return w


def _reduce(x: np.ndarray, q: np.ndarray) -> None:
    """In place x <- x mod q in [0, q) for signed |x| < 2^63 (fmod is ~2x faster than floor mod)."""
    np.fmod(x, q, out=x)
    x += (x >> 63) & q


def _ct_butterfly(u: np.ndarray, v: np.ndarray, w: np.ndarray, q: np.ndarray, bound: int) -> int:
    """In place (u, v) <- (u + v·w, u - v·w) with signed lazy reduction; returns the new bound.

    Values are signed with |value| < bound·q (fmod keeps the sign); v·w stays below 2^63 while bound <= _LAZY_BOUND.
    """
    if bound + 1 > _LAZY_BOUND:
        np.fmod(u, q, out=u)
        np.fmod(v, q, out=v)
        bound = 1
    v *= w
    np.fmod(v, q, out=v)
    np.subtract(u, v, out=v)  # v <- u - vw
    u += u
    u -= v  # u <- 2u - (u - vw) = u + vw
    return bound + 1


def _gs_butterfly(u: np.ndarray, v: np.ndarray, w: np.ndarray, q: np.ndarray, bound: int) -> int:
    """In place (u, v) <- (u + v, (u - v)·w mod q); |u - v| < 2·bound·q must stay below 2^33."""
    if 2 * bound > _LAZY_BOUND:
        np.fmod(u, q, out=u)
        np.fmod(v, q, out=v)
        bound = 1
    diff = u - v
    u += v
    np.multiply(diff, w, out=v)
    np.fmod(v, q, out=v)
    return 2 * bound
