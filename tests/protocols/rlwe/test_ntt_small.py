# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The small-input transform (`rlwe/ntt_small.py`, used by encryption) against a reference built from
`RnsRing.ntt` and exact object-integer arithmetic: linear combinations of small polynomials, with and
without the fused product u·v, at extreme and random inputs, short (zero-padded) inputs and chunk sizes."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe import ntt_small
from loyal.protocols.rlwe.ring import RnsRing, ntt_primes


def _reference(ring: RnsRing, terms, product, batch: int) -> np.ndarray:
    res = np.zeros((batch, ring.num_moduli, ring.degree), dtype=object)
    for x, c in terms:
        xp = np.zeros(batch * ring.degree, dtype=np.int64)
        flat = np.asarray(x).reshape(-1)
        xp[: flat.size] = flat
        xp = xp.reshape(batch, ring.degree)
        for level, q in enumerate(ring.moduli):
            res[:, level, :] = (res[:, level, :] + (xp.astype(object) % q) * (c % q)) % q
    out = ring.ntt(res.astype(np.int64))
    if product is not None:
        u, v = product
        out = ring.add(out, ring.mul_ntt(u, v if isinstance(v, np.ndarray) else np.stack(v)))
    return out


@pytest.mark.parametrize("log_degree", [4, 6, 10, 12])
@pytest.mark.parametrize("moduli", [1, 2, 5])
@pytest.mark.parametrize(("batch", "terms"), [(1, 1), (3, 2), (2, 3)])
@pytest.mark.parametrize("extreme", [False, True])
def test_transform_equals_ring_ntt_of_the_combination(log_degree, moduli, batch, terms, extreme) -> None:
    # Prepare
    deg = 1 << log_degree
    if not ntt_small.supports(deg, terms):
        pytest.skip(f"degree {deg} with {terms} terms uses the ring.ntt fallback")
    rng = np.random.default_rng(log_degree * 100 + moduli * 10 + terms)
    ring = RnsRing(deg, ntt_primes(moduli))
    bound = ntt_small.MAX_INPUT
    xs = []
    for j in range(terms):
        x = np.full((batch, deg), bound * (-1) ** j) if extreme else rng.integers(-bound, bound + 1, (batch, deg))
        if j == 1:
            x = x.reshape(-1)[: batch * deg - deg // 3]  # a short input is zero-padded
        xs.append((x, int(rng.integers(0, 2**62)) * (2**40 + 3) if j else -(2**70 + 1)))
    qs = np.array(ring.moduli)[:, None]
    u = (qs - 1).copy() if extreme else np.stack([rng.integers(0, q, deg) for q in ring.moduli])
    v = (qs - 1).copy() if extreme else np.stack([rng.integers(0, q, deg) for q in ring.moduli])
    # Execute
    fused = ntt_small.transform(ring, xs, bound=bound, product=(ntt_small.prepare_multiplier(u, ring.moduli), v))
    plain = ntt_small.transform(ring, xs, bound=bound)
    # Assert: bit-identical to the reference (exact modular arithmetic, no tolerance)
    np.testing.assert_array_equal(fused, _reference(ring, xs, (u, v), batch))
    np.testing.assert_array_equal(plain, _reference(ring, xs, None, batch))
    assert fused.dtype == np.int64
