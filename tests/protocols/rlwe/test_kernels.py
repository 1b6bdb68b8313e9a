# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The compiled NTT passes against exact integer arithmetic, at the edges of their stated input ranges."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe import kernels

Q = (1073479681, 1072496641, 1071513601)  # 30-bit NTT primes of the parameter sets


def _edge_values(rng: np.random.Generator, size: int, bound: int) -> np.ndarray:
    """Integers in (-bound, bound): random, plus the extremes and the rounding boundaries around 0."""
    v = rng.integers(-bound + 1, bound, size=size, dtype=np.int64)
    v[:8] = [bound - 1, -(bound - 1), 0, 1, -1, bound // 2, -(bound // 2), 2**31]
    return v


@pytest.mark.parametrize("seed", range(3))
def test_mul_mod_split_equals_exact_modular_product(seed: int) -> None:
    rng = np.random.default_rng(seed)  # test data, not secrets
    rr, gg, aa, jj, ta = 2, len(Q), 4, 64, 2
    p = _edge_values(rng, rr * gg * aa * jj, 2**50).reshape(rr, gg, aa, jj)
    q = np.array(Q, dtype=np.int64)
    tw = np.stack([rng.integers(0, qq, size=(ta, jj)) for qq in Q])
    tw[:, 0, :2] = [[qq - 1, 0] for qq in Q]
    out = np.empty((rr, gg, aa, 2 * jj))
    kernels.mul_mod_split(p.astype(np.float64), tw.astype(np.int32), tw / q[:, None, None], q, out)
    lo, hi = out[..., :jj].astype(np.int64), out[..., jj:].astype(np.int64)
    assert ((lo >= 0) & (lo < 2**15)).all()
    res = lo + (hi << 15)
    assert (np.abs(res) < q[None, :, None, None]).all()  # |R| < q, as the next matrix product assumes
    for r in range(rr):
        for g in range(gg):
            for a in range(aa):
                exact = [int(pv) * int(tv) % Q[g] for pv, tv in zip(p[r, g, a], tw[g, a % ta])]
                assert [int(x) % Q[g] for x in res[r, g, a]] == exact


@pytest.mark.parametrize("with_product", [False, True])
def test_finish_reduces_to_canonical_residues(with_product: bool) -> None:
    rng = np.random.default_rng(7)  # test data, not secrets
    rr, gg, nn = 2, len(Q), 257
    q = np.array(Q, dtype=np.int64)
    p = _edge_values(rng, rr * gg * nn, 2**50).reshape(rr, gg, nn)
    uv = np.broadcast_to(rng.integers(0, 2**30, size=(gg, nn)), (rr, gg, nn))
    us = rng.integers(-(2**29), 2**29, size=(rr, gg, nn))
    v_lo, v_hi = rng.integers(0, 2**15, size=(rr, gg, nn)), rng.integers(0, 2**15, size=(rr, gg, nn))
    for dtype in (np.int64, np.uint32):
        out = np.empty((rr, gg, nn), dtype=dtype)
        f = [a.astype(np.float64) for a in (uv, us, v_lo, v_hi)]
        kernels.finish(p.astype(np.float64), q, 1.0 / q, *f, with_product, out)
        for r in range(rr):
            for g in range(gg):
                for i in range(nn):
                    x = int(p[r, g, i]) + (int(uv[r, g, i]) * int(v_lo[r, g, i]) + int(us[r, g, i]) * int(v_hi[r, g, i]) if with_product else 0)
                    assert int(out[r, g, i]) == x % Q[g]


@pytest.mark.parametrize("rows", [1, 7, 34, 200])
def test_sum_products_mod_equals_exact_sum_of_products(rows: int) -> None:
    # Ligero's row combination: residues up to q - 1 (the largest products), against Python integers.
    rng = np.random.default_rng(rows)  # test data, not secrets
    q = np.array(Q + (2**31 - 1,), dtype=np.int64)  # and a prime at the kernel's stated bound
    a = np.stack([rng.integers(0, qq, size=(rows, 16)) for qq in q], axis=1)
    b = np.stack([rng.integers(0, qq, size=(rows, 16)) for qq in q], axis=1)
    a[:, :, 0], b[:, :, 0] = q - 1, q - 1
    b[:, :, 1] = 0
    out = np.empty((len(q), 16), dtype=np.int64)
    kernels.sum_products_mod(a, b, q, out)
    want = [[sum(int(a[r, p, x]) * int(b[r, p, x]) for r in range(rows)) % int(q[p]) for x in range(16)]
            for p in range(len(q))]
    assert out.tolist() == want


@pytest.mark.parametrize("with_c", [False, True])
def test_sub_scaled_mod_equals_exact_arithmetic(with_c: bool) -> None:
    # The AHE proof's constraint vectors: signed integers up to the stated 2^40 bound, against Python integers.
    rng = np.random.default_rng(7 + with_c)  # test data, not secrets
    q = np.array(Q + (2**31 - 1,), dtype=np.int64)
    a = _edge_values(rng, 2 * 64, 2**40).reshape(2, 64)
    b = _edge_values(rng, 2 * 64, 2**40)[::-1].copy().reshape(2, 64)
    d = np.array([rng.integers(0, qq) for qq in q], dtype=np.int64)
    d[0] = q[0] - 1
    c = np.stack([rng.integers(0, qq, size=(2, 64)) for qq in q], axis=1) if with_c else np.empty((0, 0, 0), np.int64)
    out = np.empty((2, len(q), 64), dtype=np.int64)
    kernels.sub_scaled_mod(a, b, c, d, q, out)
    want = [[[(int(a[s, x]) - (int(c[s, p, x]) if with_c else 0) - int(b[s, x]) % int(q[p]) * int(d[p])) % int(q[p])
              for x in range(64)] for p in range(len(q))] for s in range(2)]
    assert out.tolist() == want
