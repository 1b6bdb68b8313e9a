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

from loyal.protocols.rlwe import kernels

#: Limb width of the float64 splitting (two limbs cover residues below 2^30; see module docstring).
LIMB_BITS = 15
#: Smallest and largest ring degree handled here (n1, n2 <= 128 keeps sums below 2^53).
MIN_DEGREE, MAX_DEGREE = 1 << 4, 1 << 14
#: Polynomial rows per chunk: keeps the working set of one chunk in a core's L2 cache.
_CHUNK_VALUES = 1 << 15
_LIMB = float(1 << LIMB_BITS)


def supports(degree: int) -> bool:
    """True if this module transforms rings of this degree (a power of two in [2^4, 2^14])."""
    return MIN_DEGREE <= degree <= MAX_DEGREE and degree & (degree - 1) == 0


def _dims(degree: int) -> tuple[int, int]:
    bits = degree.bit_length() - 1
    n1 = 1 << (bits // 2)
    return n1, degree // n1


def _prefix_split(degree: int, m: int) -> int:
    """n2 for a transform of m non-zero leading coefficients: the heavy second step costs ~2N·n2 and the
    first ~2N·⌈m/n2⌉, so the best n2 is near √m, not √N (k = 680 of N = 8,192: n2 = 32, 2.5× fewer
    products than the square split). Bounds: n2, ⌈m/n2⌉ <= 128 keep sums below 2^53; n1 <= 256 keeps the
    left table at most 1 MiB per prime."""
    best = _dims(degree)[1]
    cost = best + -(-m // best)
    n2 = MIN_DEGREE
    while n2 <= min(128, degree):
        rows = -(-m // n2)
        if degree // n2 <= 256 and rows <= 128 and n2 + rows <= cost:  # ties: the larger n2 (fewer, larger products)
            best, cost = n2, n2 + rows
        n2 *= 2
    return best


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
def tables(degree: int, moduli: tuple[int, ...], psis: tuple[int, ...], n2: int | None = None) -> _FourStepTables:
    """Builds (and caches) the matrices for ring degree N with primitive 2N-th roots `psis` (split
    N = n1·n2; default the square split)."""
    n1, n2 = _dims(degree) if n2 is None else (degree // n2, n2)
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


def forward(x: np.ndarray, moduli: tuple[int, ...], psis: tuple[int, ...], degree: int | None = None) -> np.ndarray:
    """Forward negacyclic NTT of int64 (..., L, N) with |x| < 2^31; output in [0, q), bit-reversed order.

    Args:
      degree: the ring degree N when `x` holds only the first m < N coefficients (..., L, m) of
        polynomials whose others are zero (a Reed–Solomon encoding, m = k << N): the first step then
        reads the ⌈m/n2⌉ non-zero rows of the n1 × n2 input, not all of them, and the split N = n1·n2
        is chosen for m (`_prefix_split`), not square (default: x.shape[-1]).
    """
    m = x.shape[-1]
    degree = m if degree is None else degree
    if not m <= degree:
        raise ValueError(f"{m} coefficients for ring degree {degree}")
    split = None if m == degree else _prefix_split(degree, m)  # None: the square split, shared with `inverse`
    n1, n2 = _dims(degree) if split is None else (degree // split, split)
    t = tables(degree, moduli, psis, split)
    num = len(moduli)
    flat = x.reshape((-1, num, m))
    batch = flat.shape[0]
    r = -(-m // n2)  # non-zero rows i1 of a[n2·i1 + i2]
    if m != r * n2:
        flat = np.concatenate([flat, np.zeros((batch, num, r * n2 - m), dtype=flat.dtype)], axis=-1)
    out = np.empty((batch, num, degree), dtype=np.int64)
    chunk = max(1, min(batch, _CHUNK_VALUES // degree))
    s = _Scratch(chunk, n1, n2)
    cols = np.concatenate([np.arange(r), n1 + np.arange(r)])  # the lo and hi limb columns of those rows
    for l, q_int in enumerate(moduli):
        q, q_inv = float(t.q[l]), float(t.q_inv[l])
        left = t.fwd_left[l] if r == n1 else np.ascontiguousarray(t.fwd_left[l][:, cols])
        for b0 in range(0, batch, chunk):
            b1 = min(batch, b0 + chunk)
            rows = b1 - b0
            xs = flat[b0:b1, l].reshape(rows, r, n2)
            left_in = s.left_in[:rows, : 2 * r]
            kernels.split_input(xs, left_in, True)
            prod = s.prod[:rows]
            np.matmul(left, left_in, out=prod)
            right_in = s.right_in[:rows]
            kernels.reduce_twiddle_split(prod, t.fwd_twiddle[l], t.fwd_twiddle_q[l], q_int, q_inv, right_in, False)
            res = s.prod[:rows].reshape(rows * n1, n2)
            np.matmul(right_in.reshape(rows * n1, 2 * n2), t.fwd_right[l], out=res)
            kernels.reduce_canonical(res.reshape(rows, degree), q_int, q_inv, out[b0:b1, l])
    return out.reshape(x.shape[:-1] + (degree,))


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
            kernels.split_input(xs, right_in, False)
            prod = s.prod[:rows]
            np.matmul(right_in.reshape(rows * n1, 2 * n2), t.inv_right[l], out=prod.reshape(rows * n1, n2))
            left_in = s.left_in[:rows]
            kernels.reduce_twiddle_split(prod, t.inv_twiddle[l], t.inv_twiddle_q[l], q_int, q_inv, left_in, True)
            np.matmul(t.inv_left[l], left_in, out=prod)
            kernels.reduce_canonical(prod.reshape(rows, degree), q_int, q_inv, out[b0:b1, l])
    return out.reshape(x.shape)
