# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Four-step negacyclic NTT as exact float64 matrix products (BLAS dgemm), for N = 2^4 .. 2^14.

Same transform, same bit-reversed evaluation order as the radix-2 NTT in `ring.py` (Longa–Naehrig
Alg. 1/2), computed differently: Bailey's four-step FFT (Bailey, "FFTs in external or hierarchical
memory", J. Supercomputing 1990; for NTTs e.g. Dai & Sunar, "cuHE", 2015) writes the length-N
transform as N = n1·n2, i = n2·i1 + i2, j = j1 + n1·j2:

    â[j1 + n1·j2] = Σ_{i2} ω^{n1·i2·j2} · T[j1, i2] · Σ_{i1} W1[j1, i1] · a[n2·i1 + i2]

with ω = ψ², W1[j1, i1] = ω^{n2·i1·j1}·ψ^{n2·i1} (the negacyclic ψ^i weight, row part) and
T[j1, i2] = ψ^{i2·(2·j1 + 1)} (the four-step twiddle times the column part of ψ^i). Bit reversal
of k = k_hi·n2 + k_lo is (brv(k_hi), brv(k_lo)), so the output order is a row permutation of W1 and
a column permutation of the right matrix: no gather pass.

Exactness in float64: a residue x (|x| < 2^31) is split into 15-bit limbs x = lo + 2^15·hi, and
each matrix M (entries centred in (-q/2, q/2)) is stacked with M·2^15 mod q, so one product
[M | M·2^15] @ [lo; hi] sums 2n products of magnitude < 2^29·2^16 = 2^45; with n <= 128 every
partial sum is an integer below 2^53 and BLAS computes it exactly in any order. Reductions mod q use
a float quotient floor(x·(1/q)) (off by at most one, corrected in integers) and the twiddle product
uses Shoup's precomputed w/q (Shoup, NTL; Harvey 2014, §2) with an int64 multiply-subtract.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

#: Limb width of the float64 splitting (two limbs cover residues below 2^30; see module docstring).
LIMB_BITS = 15
#: Smallest and largest ring degree handled here (n1, n2 <= 128 keeps sums below 2^53).
MIN_DEGREE, MAX_DEGREE = 1 << 4, 1 << 14
#: Polynomial rows per chunk: keeps the working set of one chunk in a core's L2 cache.
_CHUNK_VALUES = 1 << 15
_LIMB = float(1 << LIMB_BITS)
_LIMB_MASK = (1 << LIMB_BITS) - 1


def supports(degree: int) -> bool:
    """True if this module transforms rings of this degree (a power of two in [2^4, 2^14])."""
    return MIN_DEGREE <= degree <= MAX_DEGREE and degree & (degree - 1) == 0


def _dims(degree: int) -> tuple[int, int]:
    bits = degree.bit_length() - 1
    n1 = 1 << (bits // 2)
    return n1, degree // n1


def _bit_reverse(values: np.ndarray, bits: int) -> np.ndarray:
    out = np.zeros_like(values)
    for b in range(bits):
        out |= ((values >> b) & 1) << (bits - 1 - b)
    return out


def _centered(m: np.ndarray, q: int) -> np.ndarray:
    m = m % q
    return np.where(m > q // 2, m - q, m).astype(np.float64)


def _stack_limbs(m: np.ndarray, q: int, axis: int) -> np.ndarray:
    """[M, M·2^15 mod q] along `axis`, centred, as float64 (the limb-weighted matrix)."""
    return np.concatenate([_centered(m, q), _centered(m * (1 << LIMB_BITS) % q, q)], axis=axis)


@dataclasses.dataclass(frozen=True)
class _FourStepTables:
    """Per-ring matrices, shapes (L, n1, 2n1) left, (L, 2n2, n2) right, (L, n1, n2) twiddles."""

    q: np.ndarray  # (L,) float64
    q_inv: np.ndarray  # (L,) float64
    fwd_left: np.ndarray
    fwd_right: np.ndarray
    fwd_twiddle: np.ndarray  # int64
    fwd_twiddle_q: np.ndarray  # float64, twiddle / q
    inv_left: np.ndarray
    inv_right: np.ndarray
    inv_twiddle: np.ndarray
    inv_twiddle_q: np.ndarray


@functools.lru_cache(maxsize=32)
def tables(degree: int, moduli: tuple[int, ...], psis: tuple[int, ...]) -> _FourStepTables:
    """Builds (and caches) the matrices for ring degree N with primitive 2N-th roots `psis`."""
    n1, n2 = _dims(degree)
    b1, b2 = n1.bit_length() - 1, n2.bit_length() - 1
    two_n = 2 * degree
    r1 = _bit_reverse(np.arange(n1, dtype=np.int64), b1)  # output row k_hi holds j1 = brv(k_hi)
    r2 = _bit_reverse(np.arange(n2, dtype=np.int64), b2)  # output column k_lo holds j2 = brv(k_lo)
    i1, i2 = np.arange(n1, dtype=np.int64), np.arange(n2, dtype=np.int64)
    # Exponents of psi (mod 2N). Forward:
    e_left = (2 * n2 * np.outer(r1, i1) + n2 * i1[None, :]) % two_n  # [k_hi, i1]
    e_twid = (np.outer(2 * r1 + 1, i2)) % two_n  # [k_hi, i2]
    e_right = (2 * n1 * np.outer(i2, r2)) % two_n  # [i2, k_lo]
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("fl", "fr", "ft", "ftq", "il", "ir", "it", "itq")}
    for q, psi in zip(moduli, psis):
        powers = np.empty(two_n, dtype=np.int64)
        inv_powers = np.empty(two_n, dtype=np.int64)
        psi_inv = pow(psi, q - 2, q)
        p, pi = 1, 1
        for k in range(two_n):
            powers[k], inv_powers[k] = p, pi
            p, pi = p * psi % q, pi * psi_inv % q
        n_inv = pow(degree, q - 2, q)
        out["fl"].append(_stack_limbs(powers[e_left], q, axis=1))
        out["fr"].append(_stack_limbs(powers[e_right], q, axis=0))
        tw = powers[e_twid]
        out["ft"].append(tw)
        out["ftq"].append(tw / q)
        # Inverse (input rows k_hi, columns k_lo in bit-reversed order): right step over j2, then
        # twiddle psi^{-i2(2 j1 + 1)}, then left step over j1 with N^{-1} psi^{-n2 i1} folded in.
        out["ir"].append(_stack_limbs(inv_powers[e_right.T], q, axis=0))  # [k_lo, i2]
        itw = inv_powers[e_twid]
        out["it"].append(itw)
        out["itq"].append(itw / q)
        left = inv_powers[e_left.T.copy()] * n_inv % q  # [i1, k_hi]
        out["il"].append(_stack_limbs(left, q, axis=1))
    arrays = {k: np.ascontiguousarray(np.stack(v)) for k, v in out.items()}
    for a in arrays.values():
        a.setflags(write=False)
    q_arr = np.array(moduli, dtype=np.float64)
    return _FourStepTables(
        q=q_arr, q_inv=1.0 / q_arr,
        fwd_left=arrays["fl"], fwd_right=arrays["fr"], fwd_twiddle=arrays["ft"], fwd_twiddle_q=arrays["ftq"],
        inv_left=arrays["il"], inv_right=arrays["ir"], inv_twiddle=arrays["it"], inv_twiddle_q=arrays["itq"],
    )


class _Scratch:
    """Buffers of one chunk of `rows` polynomials, reused for every modulus and chunk of a call."""

    def __init__(self, rows: int, n1: int, n2: int) -> None:
        self.left_in = np.empty((rows, 2 * n1, n2))
        self.right_in = np.empty((rows, n1, 2 * n2))
        self.prod = np.empty((rows, n1, n2))
        self.quot = np.empty((rows, n1, n2))
        self.prod_i = np.empty((rows, n1, n2), dtype=np.int64)
        self.quot_i = np.empty((rows, n1, n2), dtype=np.int64)


def _reduce_float(x: np.ndarray, tmp: np.ndarray, q: float, q_inv: float) -> None:
    """x <- x - q·floor(x/q) in place for integers |x| < 2^53: result in [-q, 2q) (usually [0, q])."""
    np.multiply(x, q_inv, out=tmp)
    np.floor(tmp, out=tmp)
    tmp *= q
    x -= tmp


def _twiddle_split(s: _Scratch, rows: int, tw: np.ndarray, tw_q: np.ndarray, q: float, q_int: int,
                   dest_lo: np.ndarray, dest_hi: np.ndarray) -> None:
    """dest <- limbs of prod·tw mod q (Shoup: quotient from tw/q in float, remainder in int64).

    prod holds reduced values in [0, q]; the remainder lands in [-q, 2q) (quotient off by <= 1), whose
    limbs satisfy |hi| <= 2^16, inside the 2^53 bound of the next product.
    """
    prod, quot = s.prod[:rows], s.quot[:rows]
    prod_i, quot_i = s.prod_i[:rows], s.quot_i[:rows]
    np.multiply(prod, tw_q, out=quot)
    np.floor(quot, out=quot)
    np.copyto(prod_i, prod, casting="unsafe")
    np.copyto(quot_i, quot, casting="unsafe")
    prod_i *= tw
    quot_i *= q_int
    prod_i -= quot_i
    np.right_shift(prod_i, LIMB_BITS, out=dest_hi, casting="unsafe")
    np.bitwise_and(prod_i, _LIMB_MASK, out=dest_lo, casting="unsafe")


def _finish(dest: np.ndarray, src: np.ndarray, tmp: np.ndarray, q: float, q_int: int) -> None:
    """dest (int64 view) <- src mod q in [0, q), for integers |src| < 2^53 in float64."""
    tmp = tmp.reshape(src.shape)
    _reduce_float(src, tmp, q, 1.0 / q)
    np.copyto(dest, src, casting="unsafe")
    u = dest.view(np.uint64)
    t = tmp.view(np.uint64)
    # r in [-q, 2q): min(u, u + q) lifts negatives (as uint64 they are huge), min(u, u - q) lowers >= q.
    np.add(u, np.uint64(q_int), out=t)
    np.minimum(u, t, out=u)
    np.subtract(u, np.uint64(q_int), out=t)
    np.minimum(u, t, out=u)


def forward(x: np.ndarray, moduli: tuple[int, ...], psis: tuple[int, ...]) -> np.ndarray:
    """Forward negacyclic NTT of int64 (..., L, N) with |x| < 2^31; output in [0, q), bit-reversed order."""
    degree = x.shape[-1]
    n1, n2 = _dims(degree)
    t = tables(degree, moduli, psis)
    num = len(moduli)
    flat = x.reshape((-1, num, degree))
    batch = flat.shape[0]
    out = np.empty((batch, num, degree), dtype=np.int64)
    chunk = max(1, min(batch, _CHUNK_VALUES // degree))
    s = _Scratch(chunk, n1, n2)
    for l, q_int in enumerate(moduli):
        q, q_inv = float(t.q[l]), float(t.q_inv[l])
        for b0 in range(0, batch, chunk):
            b1 = min(batch, b0 + chunk)
            rows = b1 - b0
            xs = flat[b0:b1, l].reshape(rows, n1, n2)
            left_in = s.left_in[:rows]
            np.right_shift(xs, LIMB_BITS, out=left_in[:, n1:], casting="unsafe")
            np.bitwise_and(xs, _LIMB_MASK, out=left_in[:, :n1], casting="unsafe")
            prod = s.prod[:rows]
            np.matmul(t.fwd_left[l], left_in, out=prod)
            _reduce_float(prod, s.quot[:rows], q, q_inv)
            right_in = s.right_in[:rows]
            _twiddle_split(s, rows, t.fwd_twiddle[l], t.fwd_twiddle_q[l], q, q_int,
                           right_in[..., :n2], right_in[..., n2:])
            res = s.prod[:rows].reshape(rows * n1, n2)
            np.matmul(right_in.reshape(rows * n1, 2 * n2), t.fwd_right[l], out=res)
            _finish(out[b0:b1, l], res.reshape(rows, degree), s.quot[:rows], q, q_int)
    return out.reshape(x.shape)


def inverse(x: np.ndarray, moduli: tuple[int, ...], psis: tuple[int, ...]) -> np.ndarray:
    """Inverse negacyclic NTT of residues (..., L, N) in [0, q) (bit-reversed order); output in [0, q)."""
    degree = x.shape[-1]
    n1, n2 = _dims(degree)
    t = tables(degree, moduli, psis)
    num = len(moduli)
    flat = x.reshape((-1, num, degree))
    batch = flat.shape[0]
    out = np.empty((batch, num, degree), dtype=np.int64)
    chunk = max(1, min(batch, _CHUNK_VALUES // degree))
    s = _Scratch(chunk, n1, n2)
    for l, q_int in enumerate(moduli):
        q, q_inv = float(t.q[l]), float(t.q_inv[l])
        for b0 in range(0, batch, chunk):
            b1 = min(batch, b0 + chunk)
            rows = b1 - b0
            xs = flat[b0:b1, l].reshape(rows, n1, n2)
            right_in = s.right_in[:rows]
            np.right_shift(xs, LIMB_BITS, out=right_in[..., n2:], casting="unsafe")
            np.bitwise_and(xs, _LIMB_MASK, out=right_in[..., :n2], casting="unsafe")
            prod = s.prod[:rows]
            np.matmul(right_in.reshape(rows * n1, 2 * n2), t.inv_right[l], out=prod.reshape(rows * n1, n2))
            _reduce_float(prod, s.quot[:rows], q, q_inv)
            left_in = s.left_in[:rows]
            _twiddle_split(s, rows, t.inv_twiddle[l], t.inv_twiddle_q[l], q, q_int,
                           left_in[:, :n1], left_in[:, n1:])
            np.matmul(t.inv_left[l], left_in, out=prod)
            _finish(out[b0:b1, l], prod.reshape(rows, degree), s.quot[:rows], q, q_int)
    return out.reshape(x.shape)
