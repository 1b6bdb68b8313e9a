# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Forward NTT of integer combinations of small polynomials, the transform every encryption needs.

Encryption only transforms polynomials with small integer coefficients: ternary keys, CBD errors
and encoded messages, combined per modulus as sum_k c_k·x_k (Δ·m + e for KAHE). `forward_combination`
returns NTT(sum_k c_k·x_k) (+ an optional pointwise product U ⊙ V) in [0, q), bit for bit what
`RnsRing.ntt` of the reduced residues returns, but cheaper than the two-limb four-step transform of
`ntt_fourstep.py`: the x_k enter the first matrix product as they are (|x| < 2^15, no limb split,
shared by all moduli, c_k folded into the matrix), and the rest of the transform has three factors.

Notation (the README-style symbols of `ntt_fourstep.py`): N = n1·m1·m2, n2 = m1·m2, input index
i = n2·i1 + m2·a + b, output position k1·n2 + kc·m2 + kd holding the evaluation at ψ^(2j+1) with
j = brv(k1) + n1·brv(kc) + n1·m1·brv(kd) (Longa–Naehrig bit-reversed order). Expanding
ψ^(i(2j+1)) (Bailey's four-step, applied twice; Bailey 1990) gives, with j1 = brv(k1), c = brv(kc),
d = brv(kd):

    W1[k1, i1] = ψ^(n2·i1·(2 j1 + 1))     T1[k1, a, b] = ψ^((m2 a + b)(2 j1 + 1))
    W2[kc, a]  = ψ^(2 n1 m2·a·c)           T2[kc, b]   = ψ^(2 n1·b·c)        W3[b, kd] = ψ^(2 n1 m1·b·d)

    â = W3 · (T2 ⊙ (W2 · (T1 ⊙ (W1 · x))))   (contracting i1, then a, then b)

Exactness: matrices are centred (|w| < 2^29). Step 1 sums K·n1 products with |x| < 2^15, steps 2
and 3 sum 2·m products of 15-bit limbs; every sum is an integer below 2^50 and float64 BLAS
computes it exactly. Twiddles and the final reduction never convert int64 <-> float64 (slow without
AVX-512): with M = 1.5·2^52, fl(v + M) = M + rint(v) for |v| < 2^51, and the low 32 bits of its bit
pattern are rint(v) mod 2^32 (those of M are zero). So for P < 2^50 and 0 <= T < q, the quotient
Q = rint(P·(T/q)) is within 0.75 of P·T/q (Shoup's precomputed T/q; Harvey 2014, §2) and
R = P·T - Q·q, |R| < q < 2^31, is computed exactly in wrapping int32 arithmetic.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from loyal.protocols.rlwe import ntt_fourstep

#: Largest |x_k| the fast path accepts (one signed 16-bit "limb" per input).
MAX_INPUT = (1 << 15) - 1
LIMB_BITS = 15
_LIMB_MASK = (1 << LIMB_BITS) - 1
#: fl(v + _MAGIC) = _MAGIC + rint(v) for |v| < 2^51; the low 32 bits of bits(_MAGIC) are zero.
_MAGIC = 1.5 * 2.0**52
#: Bound on every integer a matrix product returns (see module docstring).
_SUM_BOUND = 1 << 50
#: Residues (rows × moduli × degree) per chunk: keeps a chunk's buffers near a core's L2 cache.
_CHUNK_VALUES = 1 << 15


def _dims(degree: int) -> tuple[int, int, int]:
    bits = degree.bit_length() - 1
    b1 = max(1, bits // 3)
    bm1 = (bits - b1) // 2
    return 1 << b1, 1 << bm1, 1 << (bits - b1 - bm1)


def _bit_reverse(values: np.ndarray, bits: int) -> np.ndarray:
    out = np.zeros_like(values)
    for b in range(bits):
        out |= ((values >> b) & 1) << (bits - 1 - b)
    return out


def _centered(m: np.ndarray, q: int) -> np.ndarray:
    m = m % q
    return np.where(m > q // 2, m - q, m).astype(np.float64)


def _limb_pair(m: np.ndarray, q: int, axis: int) -> np.ndarray:
    """[M, M·2^15 mod q] along `axis`, centred float64 (the matrix for 15-bit limb inputs)."""
    return np.concatenate([_centered(m, q), _centered(m * (1 << LIMB_BITS) % q, q)], axis=axis)


@dataclasses.dataclass(frozen=True)
class _Tables:
    """Matrices of one (ring, weights) pair; shapes for L moduli, K inputs."""

    dims: tuple[int, int, int]
    left: np.ndarray  # (L·n1, K·n1) float64: [c_1 W1 | ... | c_K W1] per modulus, stacked
    tw1: np.ndarray  # (L, n1, m1, m2) int32
    tw1_q: np.ndarray  # (L, n1, m1, m2) float64, T1 / q
    mid: np.ndarray  # (L, 1, m1, 2·m1) float64, [W2 | 2^15 W2]
    tw2: np.ndarray  # (L, 1, m1, m2) int32
    tw2_q: np.ndarray  # (L, 1, m1, m2) float64
    right: np.ndarray  # (L, 2·m2, m2) float64, [W3 ; 2^15 W3]
    q: np.ndarray  # (L, 1) float64
    q_inv: np.ndarray  # (L, 1) float64
    q32: np.ndarray  # (L, 1) int32


@functools.lru_cache(maxsize=32)
def _tables(degree: int, moduli: tuple[int, ...], psis: tuple[int, ...], weights: tuple[tuple[int, ...], ...]) -> _Tables:
    n1, m1, m2 = _dims(degree)
    n2, two_n = m1 * m2, 2 * degree
    k1 = _bit_reverse(np.arange(n1, dtype=np.int64), n1.bit_length() - 1)  # j1 of output row k1
    kc = _bit_reverse(np.arange(m1, dtype=np.int64), m1.bit_length() - 1)
    kd = _bit_reverse(np.arange(m2, dtype=np.int64), m2.bit_length() - 1)
    i1, i2, a, b = (np.arange(n, dtype=np.int64) for n in (n1, n2, m1, m2))
    e_w1 = n2 * np.outer(2 * k1 + 1, i1) % two_n
    e_t1 = np.outer(2 * k1 + 1, i2) % two_n
    e_w2 = 2 * n1 * m2 * np.outer(kc, a) % two_n
    e_t2 = 2 * n1 * np.outer(kc, b) % two_n
    e_w3 = 2 * n1 * m1 * np.outer(b, kd) % two_n
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("left", "tw1", "tw1_q", "mid", "tw2", "tw2_q", "right")}
    for q, psi, w in zip(moduli, psis, weights):
        powers = np.empty(two_n, dtype=np.int64)
        p = 1
        for e in range(two_n):
            powers[e] = p
            p = p * psi % q
        w1 = powers[e_w1]
        out["left"].append(np.concatenate([_centered(w1 * c % q, q) for c in w], axis=1))
        t1, t2 = powers[e_t1], powers[e_t2]
        out["tw1"].append(t1.reshape(n1, m1, m2))
        out["tw1_q"].append((t1 / q).reshape(n1, m1, m2))
        out["mid"].append(_limb_pair(powers[e_w2], q, axis=1)[None])
        out["tw2"].append(t2[None])
        out["tw2_q"].append((t2 / q)[None])
        out["right"].append(_limb_pair(powers[e_w3], q, axis=0))
    arr = {k: np.ascontiguousarray(np.concatenate(v) if k == "left" else np.stack(v)) for k, v in out.items()}
    arr["tw1"], arr["tw2"] = arr["tw1"].astype(np.int32), arr["tw2"].astype(np.int32)
    q_arr = np.array(moduli, dtype=np.float64)[:, None]
    arr.update(q=q_arr, q_inv=1.0 / q_arr, q32=q_arr.astype(np.int32))
    for v in arr.values():
        v.setflags(write=False)
    return _Tables(dims=(n1, m1, m2), **arr)


def supports(degree: int, terms: int) -> bool:
    """True if the fast path transforms `terms` inputs with |x| <= MAX_INPUT at this degree."""
    if not ntt_fourstep.supports(degree):
        return False
    n1, m1, m2 = _dims(degree)
    return terms * n1 * (1 << 29) * MAX_INPUT < _SUM_BOUND and max(m1, m2) * (1 << 45) <= _SUM_BOUND


def _limbs_mod(r32: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """lo, hi <- float64 limbs of int32 r: r = lo + 2^15·hi, lo in [0, 2^15)."""
    np.right_shift(r32, LIMB_BITS, out=hi, casting="unsafe")
    np.bitwise_and(r32, _LIMB_MASK, out=lo, casting="unsafe")


def _mul_mod(p: np.ndarray, t: np.ndarray, t_q: np.ndarray, q32: np.ndarray, f: np.ndarray,
             r32: np.ndarray, s32: np.ndarray) -> None:
    """r32 <- p·t - rint(p·t/q)·q (|r| < q) for integers |p| < 2^50 in float64; p is overwritten."""
    np.multiply(p, t_q, out=f)
    f += _MAGIC
    p += _MAGIC
    np.copyto(r32, p.view(np.int64), casting="unsafe")  # p mod 2^32 (int64 -> int32 keeps the low bits)
    np.copyto(s32, f.view(np.int64), casting="unsafe")  # rint(p·t/q) mod 2^32
    r32 *= t
    s32 *= q32
    r32 -= s32


def _product_terms(product: tuple[np.ndarray, np.ndarray], t: _Tables) -> tuple[np.ndarray, ...]:
    """U ⊙ V as float64 terms U·V_lo + (2^15·U mod q)·V_hi (each < 2^45), for adding before reduction."""
    u, v = product
    uf = u.astype(np.float64)
    u2 = uf * float(1 << LIMB_BITS)
    quot = u2 * t.q_inv + _MAGIC
    quot -= _MAGIC
    quot *= t.q
    u2 -= quot  # centred: |u2| <= q/2 + 1
    v = np.asarray(v, dtype=np.int64)
    return uf, u2, (v & _LIMB_MASK).astype(np.float64), (v >> LIMB_BITS).astype(np.float64)


def forward_combination(
    degree: int, moduli: tuple[int, ...], psis: tuple[int, ...], terms: Sequence[tuple[np.ndarray, int]],
    product: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """NTT(sum_k c_k·x_k) (+ U ⊙ V) per modulus, residues in [0, q), bit-reversed order.

    Args:
      degree, moduli, psis: the ring (see `RnsRing`); `supports(degree, len(terms))` must hold.
      terms: (x_k, c_k): integer arrays (B, N) with |x_k| <= MAX_INPUT (the caller's bound), and
        integer scalars of any size (reduced per modulus).
      product: optional (U, V): residues in [0, q) in NTT form, U (B, L, N) or (L, N), V (L, N);
        U ⊙ V mod q is added to the result.

    Returns:
      int64 (B, L, N).
    """
    weights = tuple(tuple(int(c) % q for _, c in terms) for q in moduli)
    t = _tables(degree, moduli, psis, weights)
    n1, m1, m2 = t.dims
    n2, num, k = m1 * m2, len(moduli), len(terms)
    batch = terms[0][0].shape[0]
    out = np.empty((batch, num, degree), dtype=np.int64)
    extra = None if product is None else _product_terms(product, t)
    rows = max(1, min(batch, _CHUNK_VALUES // (num * degree)))
    x = np.empty((rows, k, degree))
    y = np.empty((rows, num * n1, n2))
    f = np.empty((rows, num, degree))
    r32, s32 = np.empty((rows, num, degree), dtype=np.int32), np.empty((rows, num, degree), dtype=np.int32)
    limbs = np.empty((rows, num, 2 * degree))
    for b0 in range(0, batch, rows):
        r = min(rows, batch - b0)
        for j, (xk, _) in enumerate(terms):
            np.copyto(x[:r, j], xk[b0 : b0 + r], casting="unsafe")
        # Step 1: contract i1 for all moduli at once (the inputs are shared).
        np.matmul(t.left, x[:r].reshape(r, k * n1, n2), out=y[:r])
        p, fr = y[:r].reshape(r, num, n1, m1, m2), f[:r].reshape(r, num, n1, m1, m2)
        rr, sr = r32[:r].reshape(r, num, n1, m1, m2), s32[:r].reshape(r, num, n1, m1, m2)
        _mul_mod(p, t.tw1, t.tw1_q, t.q32[:, :, None, None], fr, rr, sr)
        mid_in = limbs[:r].reshape(r, num, n1, 2 * m1, m2)
        _limbs_mod(rr, mid_in[:, :, :, :m1], mid_in[:, :, :, m1:])
        # Step 2: contract a (batched over rows, moduli, k1).
        np.matmul(t.mid, mid_in, out=p)
        _mul_mod(p, t.tw2, t.tw2_q, t.q32[:, :, None, None], fr, rr, sr)
        right_in = limbs[:r].reshape(r, num, n1, m1, 2 * m2)
        _limbs_mod(rr, right_in[..., :m2], right_in[..., m2:])
        # Step 3: contract b; the result is in output order.
        res = y[:r].reshape(r, num, n1 * m1, m2)
        np.matmul(right_in.reshape(r, num, n1 * m1, 2 * m2), t.right, out=res)
        res = y[:r].reshape(r, num, degree)
        if extra is not None:
            uf, u2, v_lo, v_hi = extra
            ufr, u2r = (uf, u2) if uf.ndim == 2 else (uf[b0 : b0 + r], u2[b0 : b0 + r])
            np.multiply(ufr, v_lo, out=f[:r])
            res += f[:r]
            np.multiply(u2r, v_hi, out=f[:r])
            res += f[:r]
        _finish(res, t, f[:r], r32[:r], s32[:r], out[b0 : b0 + r])
    return out


def _finish(p: np.ndarray, t: _Tables, f: np.ndarray, r32: np.ndarray, s32: np.ndarray, out: np.ndarray) -> None:
    """out <- p mod q in [0, q) for integers |p| < 2^51 in float64 (rint quotient: |p - Q·q| < q/2 + 2)."""
    np.multiply(p, t.q_inv, out=f)
    f += _MAGIC
    p += _MAGIC
    np.copyto(r32, p.view(np.int64), casting="unsafe")
    np.copyto(s32, f.view(np.int64), casting="unsafe")
    s32 *= t.q32
    r32 -= s32
    np.right_shift(r32, 31, out=s32)  # -1 where negative
    s32 &= t.q32
    r32 += s32
    np.copyto(out, r32)
