# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Compiled element-wise passes of the small-input NTT (`ntt_small.py`), each one pass over memory.

Why hand-written: numpy runs Shoup's modular multiplication (Harvey 2014, §2) and the 15-bit limb split
as seven separate array passes (multiply, two magic-constant adds, two copies, two int32 products,
shift, mask), each reading and writing buffers larger than a core's L2 cache; between the BLAS matrix
products that is most of an encryption's time. numba (LLVM, no fast-math, so no contraction and no
reassociation) fuses them per element with the same arithmetic, so every value equals numpy's:

* `mul_mod_split`: R = P·T − Q·q with Q = rint(P·fl(T/q)) (|R| < q), computed modulo 2^32 as the numpy
  path does (the low words of P and Q; the true R fits int32), then split R = lo + 2^15·hi.
* `finish`: P (+ U·V_lo + (2^15·U mod q)·V_hi) reduced to [0, q) with Q = rint(P/q).

Inputs are exact integers held in float64 (|P| < 2^51), as `ntt_small.py`'s docstring establishes.
"""

from __future__ import annotations

import numba
import numpy as np

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_MASK32 = (1 << 32) - 1
_HALF32 = 1 << 31
_LIMB_BITS = 15
_LIMB_MASK = (1 << _LIMB_BITS) - 1
#: fl(v + _MAGIC) = _MAGIC + rint(v) for |v| < 2^51, and the low 32 bits of bits(_MAGIC) are zero: the
#: low word of the bit pattern is rint(v) mod 2^32 without a float -> int64 conversion (none in AVX2).
_MAGIC = 1.5 * 2.0**52


@intrinsic
def _bits(typingctx, x):  # noqa: ARG001 (numba's intrinsic signature)
    """The IEEE-754 bit pattern of a float64 as int64 (an LLVM bitcast: free, and vectorizable)."""
    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@numba.njit(inline="always")
def _low_signed(x: int) -> int:
    """x mod 2^32 as a signed 32-bit value (two's complement), for an int64 x."""
    return ((x + _HALF32) & _MASK32) - _HALF32


@numba.njit(cache=True, nogil=True, boundscheck=False)
def mul_mod_split(p: np.ndarray, tw: np.ndarray, tw_q: np.ndarray, q: np.ndarray, out: np.ndarray) -> None:
    """out[r, g, a, j] = lo, out[r, g, a, J + j] = hi of R = p·tw mod± q (R = lo + 2^15·hi, J = p.shape[3]).

    Args:
      p: (R, G, A, J) float64, integers |p| < 2^50.
      tw, tw_q: (G, TA, J) int32 twiddles T in [0, q) and float64 T/q; row a uses tw[:, a % TA].
      q: (G,) int64 moduli.
      out: (R, G, A, 2J) float64 limbs.
    """
    rr, gg, aa, jj = p.shape
    ta = tw.shape[1]
    for r in range(rr):
        for g in range(gg):
            qq = q[g]
            for a in range(aa):
                t_row = a % ta
                for j in range(jj):
                    pv = p[r, g, a, j]
                    quot = _bits(pv * tw_q[g, t_row, j] + _MAGIC)
                    res = _low_signed((_bits(pv + _MAGIC) & _MASK32) * np.int64(tw[g, t_row, j]) - (quot & _MASK32) * qq)
                    hi = res >> _LIMB_BITS
                    out[r, g, a, j] = res - (hi << _LIMB_BITS)
                    out[r, g, a, jj + j] = hi


@numba.njit(cache=True, nogil=True, boundscheck=False)
def finish(p: np.ndarray, q: np.ndarray, q_inv: np.ndarray, uv: np.ndarray, us: np.ndarray, v_lo: np.ndarray,
           v_hi: np.ndarray, with_product: bool, out: np.ndarray) -> None:
    """out = (p + uv·v_lo + us·v_hi if with_product else p) mod q in [0, q), element-wise.

    Args:
      p: (R, G, N) float64, integers |p| < 2^51 (with the product terms added: each term < 2^45).
      q, q_inv: (G,) int64 moduli and float64 1/q.
      uv, us, v_lo, v_hi: (R, G, N) float64 views (broadcast allowed); ignored without a product.
      out: (R, G, N) int64 or uint32 residues.
    """
    rr, gg, nn = p.shape
    for r in range(rr):
        for g in range(gg):
            qq = q[g]
            qi = q_inv[g]
            for i in range(nn):
                pv = p[r, g, i]
                if with_product:
                    pv += uv[r, g, i] * v_lo[r, g, i]
                    pv += us[r, g, i] * v_hi[r, g, i]
                quot = _bits(pv * qi + _MAGIC)
                res = _low_signed((_bits(pv + _MAGIC) & _MASK32) - (quot & _MASK32) * qq)
                out[r, g, i] = res + (qq & (res >> 63))


# ---- the two-limb four-step transform (`ntt_fourstep.py`) -----------------------------------------------
@numba.njit(inline="always")
def _reduce(x: float, q: float, q_inv: float) -> float:
    """x − q·floor(x/q) for an integer |x| < 2^53 in float64: in [−q, 2q) (the quotient is off by <= 1)."""
    return x - q * np.floor(x * q_inv)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def split_input(x: np.ndarray, out: np.ndarray, lo_first: bool) -> None:
    """Limbs of residues x (R, A, J) in [0, 2^31): lo = x mod 2^15, hi = x >> 15 as float64, into
    out (R, 2A, J) (lo rows, then hi rows) or, with `lo_first` False, out (R, A, 2J) (lo columns, then hi)."""
    rr, aa, jj = x.shape
    for r in range(rr):
        for a in range(aa):
            for j in range(jj):
                v = np.int32(x[r, a, j])
                if lo_first:
                    out[r, a, j] = v & _LIMB_MASK
                    out[r, aa + a, j] = v >> _LIMB_BITS
                else:
                    out[r, a, j] = v & _LIMB_MASK
                    out[r, a, jj + j] = v >> _LIMB_BITS


@numba.njit(cache=True, nogil=True, boundscheck=False)
def reduce_twiddle_split(prod: np.ndarray, tw: np.ndarray, tw_q: np.ndarray, q: int, q_inv: float, out: np.ndarray,
                         rows_split: bool) -> None:
    """Limbs of R = (prod mod q)·tw − floor((prod mod q)·tw/q)·q (Shoup; R in [−q, 2q)) for prod (R, A, J)
    float64 integers below 2^53 and twiddles tw (A, J) int64 in [0, q) with tw_q = tw/q: into out (R, 2A, J)
    (lo rows, then hi rows) with `rows_split`, else out (R, A, 2J) (lo columns, then hi columns)."""
    rr, aa, jj = prod.shape
    qf = float(q)
    for r in range(rr):
        for a in range(aa):
            for j in range(jj):
                x = _reduce(prod[r, a, j], qf, q_inv)
                quot = np.floor(x * tw_q[a, j])
                res = _low_signed((_bits(x + _MAGIC) & _MASK32) * tw[a, j] - (_bits(quot + _MAGIC) & _MASK32) * q)
                hi = res >> _LIMB_BITS
                lo = res - (hi << _LIMB_BITS)
                if rows_split:
                    out[r, a, j] = lo
                    out[r, aa + a, j] = hi
                else:
                    out[r, a, j] = lo
                    out[r, a, jj + j] = hi


@numba.njit(cache=True, nogil=True, boundscheck=False)
def reduce_canonical(src: np.ndarray, q: int, q_inv: float, out: np.ndarray) -> None:
    """out (R, N) int64 <- src mod q in [0, q) for float64 integers |src| < 2^53 (R, N)."""
    rr, nn = src.shape
    qf = float(q)
    for r in range(rr):
        for i in range(nn):
            res = _low_signed(_bits(_reduce(src[r, i], qf, q_inv) + _MAGIC) & _MASK32)
            res += q & (res >> 63)
            res -= q & ((q - 1 - res) >> 63)
            out[r, i] = res


# ---- Ligero's row combinations (`zk/ligero.py`) -------------------------------------------------------------
@numba.njit(cache=True, nogil=True, boundscheck=False)
def sum_products_mod(a: np.ndarray, b: np.ndarray, q: np.ndarray, out: np.ndarray) -> None:
    """out (P, X) <- Σ_r a[r]·b[r] mod q for residues a, b (R, P, X) in [0, q), q (P,) < 2^31, R < 2^30.

    Each product (< 2^62) loses Q·q with Q = trunc(fl(fl(a)·fl(b))·fl(1/q)), within one of the true
    quotient (the float quotient is below 2^32 with relative error < 2^-50), so each term lies in (-q, 2q)
    and the int64 sum stays far from overflow; one reduction per output. numpy needed three passes and
    an integer division per product."""
    rr, pp, xx = a.shape
    for p in range(pp):
        qp = q[p]
        q_inv = 1.0 / float(qp)
        for x in range(xx):
            out[p, x] = 0
        for r in range(rr):
            for x in range(xx):
                u, v = a[r, p, x], b[r, p, x]
                out[p, x] += u * v - np.int64(float(u) * float(v) * q_inv) * qp
        for x in range(xx):
            out[p, x] %= qp


@numba.njit(inline="always")
def _mod_small(x: int, q: int, q_inv: float) -> int:
    """x mod q in [0, q) for |x| < 2^52 (float quotient, off by at most one, then corrected)."""
    r = x - np.int64(np.floor(float(x) * q_inv)) * q
    if r < 0:
        r += q
    elif r >= q:
        r -= q
    return r


@numba.njit(cache=True, nogil=True, boundscheck=False)
def sub_scaled_mod(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, q: np.ndarray, out: np.ndarray) -> None:
    """out (S, P, X) <- (a[s, x] - c[s, p, x] - (b[s, x] mod q)·d[p]) mod q[p], in [0, q).

    a, b: integers (S, X) with |a|, |b| < 2^40; c: residues (S, P, X) in [0, q) or an empty array (no c term);
    d: (P,) in [0, q); q < 2^31. The AHE proof's constraint vectors (`zk/ahe._constraints`) in one pass."""
    ss, xx = a.shape
    pp = q.shape[0]
    has_c = c.size > 0
    for s in range(ss):
        for p in range(pp):
            qp, dp = q[p], d[p]
            q_inv = 1.0 / float(qp)
            dq = float(dp) * q_inv
            for x in range(xx):
                bm = _mod_small(b[s, x], qp, q_inv)
                t = bm * dp - np.int64(float(bm) * dq) * qp  # (b mod q)·d mod q, within (-q, 2q)
                v = a[s, x] - t
                if has_c:
                    v -= c[s, p, x]
                out[s, p, x] = _mod_small(v, qp, q_inv)
