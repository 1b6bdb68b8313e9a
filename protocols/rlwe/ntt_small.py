# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Forward NTT of integer combinations of small polynomials, the transform every encryption needs.

Encryption only transforms polynomials with small integer coefficients: ternary keys, CBD errors
and encoded messages, combined per modulus as sum_k c_k·x_k (Δ·m + e for KAHE). `forward_combination`
returns NTT(sum_k c_k·x_k) (+ an optional pointwise product U ⊙ V) in [0, q), bit for bit what
`RnsRing.ntt` of the reduced residues returns, but cheaper than the two-limb four-step transform of
`ntt_fourstep.py`: the x_k enter the first matrix product as they are (|x| < 2^15: no reduction,
no limb split, one conversion shared by all moduli, c_k folded into the matrix), and the transform
has three factors, 2·(n1 + m1 + m2) = 128 multiply-adds per residue for N = 2^13 instead of 384.

Notation (as in `ntt_fourstep.py`): N = n1·m1·m2, n2 = m1·m2, input index i = n2·i1 + m2·a + b,
output position k1·n2 + kc·m2 + kd holding the evaluation at ψ^(2j+1) with
j = brv(k1) + n1·brv(kc) + n1·m1·brv(kd) (Longa–Naehrig bit-reversed order). Expanding
ψ^(i(2j+1)) (Bailey's four-step, applied twice; Bailey 1990) gives, with j1 = brv(k1), c = brv(kc),
d = brv(kd):

    W1[k1, i1] = ψ^(n2·i1·(2 j1 + 1))     T1[k1, a, b] = ψ^((m2 a + b)(2 j1 + 1))
    W2[kc, a]  = ψ^(2 n1 m2·a·c)           T2[kc, b]   = ψ^(2 n1·b·c)        W3[b, kd] = ψ^(2 n1 m1·b·d)

    â = W3 · (T2 ⊙ (W2 · (T1 ⊙ (W1 · x))))   (contracting i1, then a, then b)

Exactness: matrices are centred (|w| < 2^29). Step 1 sums K·n1 products with |x| < 2^15, steps 2
and 3 sum 2·m (m <= 32) products with 15-bit limbs (|limb| <= 2^15): every sum is an integer below
2^50, so float64 BLAS computes it exactly in any order. Twiddles and the final reduction never
convert int64 <-> float64 (no AVX2 instruction does): with M = 1.5·2^52, fl(v + M) = M + rint(v)
for |v| < 2^51, and the low 32 bits of its bit pattern are rint(v) mod 2^32 (those of M are zero).
For P < 2^50 and 0 <= T < q, Q = rint(P·fl(T/q)) is within 0.75 of P·T/q (Shoup's precomputed
T/q; Harvey 2014, §2), so R = P·T - Q·q has |R| < q < 2^31 and wrapping int32 arithmetic on the
low words computes it exactly. The product U ⊙ V enters before the last reduction as
U·V_lo + (2^15·U mod q)·V_hi, two exact terms below 2^45 (`prepare_multiplier`). The element-wise
steps between the matrix products (twiddle, reduction, limb split) run as one compiled pass each
(`kernels.py`); the matrix products stay in BLAS.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Sequence

import numpy as np

from loyal.protocols.rlwe import kernels, ntt_fourstep
from loyal.protocols.rlwe.ring import RnsRing

#: Largest |x_k| the fast path accepts (one signed 16-bit "limb" per input).
MAX_INPUT = (1 << 15) - 1
LIMB_BITS = ntt_fourstep.LIMB_BITS  # the limb width its matrices assume
_LIMB_MASK = (1 << LIMB_BITS) - 1
#: fl(v + _MAGIC) = _MAGIC + rint(v) for |v| < 2^51; the low 32 bits of bits(_MAGIC) are zero.
_MAGIC = 1.5 * 2.0**52
#: Bound on every integer a matrix product returns (see module docstring).
_SUM_BOUND = 1 << 50
#: Residues (rows × moduli × degree) per chunk: keeps a chunk's buffers near a core's L2 cache.
_CHUNK_VALUES = 1 << 15
_LOCAL = threading.local()


def _dims(degree: int) -> tuple[int, int, int]:
    """(n1, m1, m2): n1 = 2^floor(log2(N)/3), m1 <= m2 (2^13 -> 16 × 16 × 32, 2^14 -> 16 × 32 × 32)."""
    bits = degree.bit_length() - 1
    b1 = max(1, bits // 3)
    bm1 = (bits - b1) // 2
    return 1 << b1, 1 << bm1, 1 << (bits - b1 - bm1)


# The matrix helpers of the four-step NTT (one definition: bit reversal, centring, 15-bit limb pairs).
_bit_reverse, _centered, _limb_pair = ntt_fourstep._bit_reverse, ntt_fourstep._centered, ntt_fourstep._stack_limbs


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
    q64: np.ndarray  # (L,) int64


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
    arr.update(q=q_arr, q_inv=1.0 / q_arr, q64=np.array(moduli, dtype=np.int64))
    for v in arr.values():
        v.setflags(write=False)
    return _Tables(dims=(n1, m1, m2), **arr)


def supports(degree: int, terms: int) -> bool:
    """True if the fast path transforms `terms` inputs with |x| <= MAX_INPUT at this degree."""
    if not ntt_fourstep.supports(degree):
        return False
    n1, m1, m2 = _dims(degree)
    return terms * n1 * (1 << 29) * MAX_INPUT < _SUM_BOUND and max(m1, m2) * (1 << 45) <= _SUM_BOUND


def _split_limbs(r32: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """lo, hi <- float64 limbs of integers r: r = lo + 2^15·hi, lo in [0, 2^15)."""
    np.right_shift(r32, LIMB_BITS, out=hi, casting="unsafe")
    np.bitwise_and(r32, _LIMB_MASK, out=lo, casting="unsafe")


@dataclasses.dataclass(frozen=True)
class Multiplier:
    """An NTT-form factor U prepared for exact float64 products: U in [0, q) and 2^15·U mod q (centred)."""

    residues: np.ndarray = dataclasses.field(repr=False)
    value: np.ndarray = dataclasses.field(repr=False)
    shifted: np.ndarray = dataclasses.field(repr=False)


def prepare_multiplier(u: np.ndarray, moduli: tuple[int, ...]) -> Multiplier:
    """U ⊙ V = U·V_lo + (2^15·U mod q)·V_hi (mod q), each product below 2^45 for V's 15-bit limbs."""
    q = np.array(moduli, dtype=np.float64)[:, None]
    value = u.astype(np.float64)
    shifted = value * float(1 << LIMB_BITS)
    quot = np.multiply(shifted, 1.0 / q)
    quot += _MAGIC
    quot -= _MAGIC
    quot *= q
    shifted -= quot  # |shifted| <= q/2 + 1
    for a in (value, shifted):
        a.setflags(write=False)
    return Multiplier(u, value, shifted)


def transform(
    ring: RnsRing, terms: Sequence[tuple[np.ndarray, int]], *, bound: int,
    product: tuple[Multiplier, np.ndarray | Sequence[np.ndarray]] | None = None, dtype: type = np.int64,
) -> np.ndarray:
    """NTT(sum_k c_k·x_k) (+ U ⊙ V) in [0, q): `forward_combination` when it applies, else residues + `ring.ntt`.

    Args:
      ring: the ring.
      terms: as in `forward_combination`.
      bound: an upper bound on every |x_k| (the fast path needs bound <= MAX_INPUT).
      product: as in `forward_combination` (V in [0, q): `reduced` brings an untrusted V there).
      dtype: int64 (default) or uint32, as in `forward_combination`.
    """
    if bound <= MAX_INPUT and supports(ring.degree, len(terms)):
        return forward_combination(ring.degree, ring.moduli, ring.psis, terms, product, dtype=dtype)
    n = ring.degree
    flat = [np.asarray(x, dtype=np.int64).reshape(-1) for x, _ in terms]
    polys = max(1, -(-max(f.size for f in flat) // n))
    res = np.zeros((polys, ring.num_moduli, n), dtype=np.int64)
    for f, (_, c) in zip(flat, terms):
        padded = np.zeros(polys * n, dtype=np.int64)
        padded[: f.size] = f
        res = ring.add(res, ring.mul_scalar(ring.from_int(padded.reshape(polys, n)), c))
    out = ring.ntt(res)
    if product is not None:
        v = product[1] if isinstance(product[1], np.ndarray) else np.stack(product[1])
        out = ring.add(out, ring.mul_ntt(product[0].residues, v))
    return out.astype(dtype, copy=False)


def reduced(ring: RnsRing, v: np.ndarray) -> np.ndarray:
    """`v` if all its residues lie in [0, q) (one pass), else v mod q: for factors from outside."""
    v = np.asarray(v)
    return v if v.min() >= 0 and (np.maximum.reduce(v, axis=-1) < ring.q[:, 0]).all() else np.mod(v, ring.q)


def _scratch(x_size: int, size: int, v_size: int) -> tuple[np.ndarray, ...]:
    """This thread's buffers (x; y, limbs; two V limbs), kept between calls and grown on demand: every
    encryption needs the same sizes, and fresh pages cost more than the arithmetic."""
    have = getattr(_LOCAL, "buffers", None)
    sizes = (x_size, size, v_size)
    if have is None or any(n > h for n, h in zip(sizes, have[0])):
        x, y, v = sizes if have is None else tuple(max(n, h) for n, h in zip(sizes, have[0]))
        have = ((x, y, v), (np.empty(x), np.empty(y), np.empty(2 * y), np.empty(v), np.empty(v)))
        _LOCAL.buffers = have
    return have[1]


def forward_combination(
    degree: int, moduli: tuple[int, ...], psis: tuple[int, ...], terms: Sequence[tuple[np.ndarray, int]],
    product: tuple[Multiplier, np.ndarray | Sequence[np.ndarray]] | None = None, *, dtype: type = np.int64,
) -> np.ndarray:
    """NTT(sum_k c_k·x_k) (+ U ⊙ V) per modulus, residues in [0, q), bit-reversed order.

    Args:
      degree, moduli, psis: the ring (see `RnsRing`); `supports(degree, len(terms))` must hold.
      terms: (x_k, c_k): integer arrays with |x_k| <= MAX_INPUT (the caller's bound), read flat as
        B = ceil(max size / N) polynomials and zero-padded; c_k integers of any size (reduced mod q).
      product: optional (U, V): U prepared by `prepare_multiplier` ((B, L, N), one per polynomial, or
        (L, N), shared) and V residues in [0, q) ((L, N), shared, or a sequence of B such arrays),
        both NTT form; U ⊙ V mod q is added.
      dtype: the residues' type, int64 (default, for ring arithmetic) or uint32 (the wire form of
        `messages.py`: half the memory, and the frame uses the array as it is).

    Returns:
      (B, L, N) residues of type `dtype`.
    """
    t = _tables(degree, moduli, psis, tuple(tuple(int(c) % q for _, c in terms) for q in moduli))
    n1, m1, m2 = t.dims
    num, k = len(moduli), len(terms)
    flat = [np.asarray(xk).reshape(-1) for xk, _ in terms]
    batch = max(1, -(-max(f.size for f in flat) // degree))
    if np.dtype(dtype) not in (np.dtype(np.int64), np.dtype(np.uint32)):
        raise ValueError(f"dtype must be int64 or uint32, got {np.dtype(dtype)}")
    out = np.empty((batch, num, degree), dtype=dtype)
    # Chunks of `rows` polynomials × `group` moduli, about _CHUNK_VALUES residues (a polynomial's
    # moduli stay together up to 1.5 chunks: fewer, larger calls).
    group = num if 2 * num * degree <= 3 * _CHUNK_VALUES else max(1, _CHUNK_VALUES // degree)
    rows = max(1, min(batch, _CHUNK_VALUES // (group * degree)))
    shared = product is not None and isinstance(product[1], np.ndarray) and product[1].ndim == 2
    size = rows * group * degree
    x_buf, y_buf, limbs_buf, vlo_buf, vhi_buf = _scratch(
        rows * k * degree, size, num * degree if shared else size)
    x = x_buf[: rows * k * degree].reshape(rows, k, degree)
    if shared:  # V's limbs once for every chunk
        v_lo, v_hi = vlo_buf[: num * degree].reshape(num, degree), vhi_buf[: num * degree].reshape(num, degree)
        _split_limbs(product[1], v_lo, v_hi)
    for b0 in range(0, batch, rows):
        r = min(rows, batch - b0)
        for j, src in enumerate(flat):
            part = src[b0 * degree : (b0 + r) * degree]
            full = part.size // degree
            np.copyto(x[:full, j], part[: full * degree].reshape(full, degree), casting="unsafe")
            if full < r:  # zero-padded tail
                np.copyto(x[full, j, : part.size - full * degree], part[full * degree :], casting="unsafe")
                x[full, j, part.size - full * degree :] = 0
                x[full + 1 : r, j] = 0
        for l0 in range(0, num, group):
            g = min(group, num - l0)
            ls = slice(l0, l0 + g)
            shape5, used = (r, g, n1, m1, m2), r * g * degree
            p, limbs = y_buf[:used].reshape(shape5), limbs_buf[: 2 * used]
            # Step 1: contract i1 (the inputs are shared by all moduli).
            np.matmul(t.left[l0 * n1 : (l0 + g) * n1], x[:r].reshape(r, k * n1, m1 * m2), out=p.reshape(r, g * n1, -1))
            mid_in = limbs.reshape(r, g, n1, 2 * m1, m2)
            kernels.mul_mod_split(p.reshape(r, g, n1, m1 * m2), t.tw1[ls].reshape(g, n1, -1), t.tw1_q[ls].reshape(g, n1, -1),
                                  t.q64[ls], mid_in.reshape(r, g, n1, 2 * m1 * m2))
            # Step 2: contract a (batched over rows, moduli, k1).
            np.matmul(t.mid[ls], mid_in, out=p)
            right_in = limbs.reshape(r, g, n1 * m1, 2 * m2)
            kernels.mul_mod_split(p.reshape(r, g, n1 * m1, m2), t.tw2[ls].reshape(g, m1, m2), t.tw2_q[ls].reshape(g, m1, m2),
                                  t.q64[ls], right_in)
            # Step 3: contract b; the result is in output order.
            np.matmul(right_in, t.right[ls], out=p.reshape(r, g, n1 * m1, m2))
            res = p.reshape(r, g, degree)
            if product is None:
                kernels.finish(res, t.q64[ls], t.q_inv[ls, 0], res, res, res, res, False, out[b0 : b0 + r, ls])
                continue
            u = product[0]
            uv, us = (u.value[ls], u.shifted[ls]) if u.value.ndim == 2 else (u.value[b0 : b0 + r, ls], u.shifted[b0 : b0 + r, ls])
            if shared:
                lo, hi = v_lo[ls], v_hi[ls]
            else:
                lo, hi = vlo_buf[:used].reshape(r, g, degree), vhi_buf[:used].reshape(r, g, degree)
                for i in range(r):
                    _split_limbs(product[1][b0 + i][ls], lo[i], hi[i])
            shape = (r, g, degree)
            kernels.finish(res, t.q64[ls], t.q_inv[ls, 0], *(np.broadcast_to(a, shape) for a in (uv, us, lo, hi)), True,
                           out[b0 : b0 + r, ls])
    return out
