# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Modular JL projection: exact products against a dense oracle, distribution, rejection bounds."""

from __future__ import annotations

import numpy as np

from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.ring import ntt_primes
from loyal.protocols.rlwe.sampling import uniform_mod
from loyal.protocols.zk import jl

MODULI = ntt_primes(2)


def test_projection_entries_have_the_lemma_distribution() -> None:
    r = jl.Projection(b"\x01" * 32, 1, 1024).dense()
    values, counts = np.unique(r, return_counts=True)
    assert values.tolist() == [-1.0, 0.0, 1.0]
    assert np.allclose(counts / r.size, [0.25, 0.5, 0.25], atol=0.005)


def test_projection_blocks_are_distinct_and_reproducible() -> None:
    r = jl.Projection(b"\x02" * 32, 2, 64).dense()
    assert np.array_equal(r, jl.Projection(b"\x02" * 32, 2, 64).dense())
    assert not np.array_equal(r[0], r[1])


def test_project_and_transpose_apply_match_dense_integer_products() -> None:
    # Prepare
    prng = AesCtrPrng(b"\x02" * 32)
    proj = jl.Projection(b"\x03" * 32, 2, 64)
    dense = proj.dense().astype(np.int64)
    w = np.array(jl.uniform_signed(prng, 21, (2, 64)))
    rho = uniform_mod(prng, (MODULI[0],), (3, 2 * jl.JL_ROWS))[:, 0].reshape(3, 2, jl.JL_ROWS)
    big = w.copy()
    big[1, 3] = 2**30  # cheating-size block: the int64 path
    # Execute / Assert
    assert np.array_equal(proj.project(w), np.einsum("brn,bn->br", dense, w))
    assert np.array_equal(proj.project(big), np.einsum("brn,bn->br", dense, big))
    got = proj.transpose_apply(rho)
    assert np.array_equal(got, np.einsum("brn,sbr->sbn", dense, rho))


def test_uniform_signed_covers_the_range() -> None:
    v = jl.uniform_signed(AesCtrPrng(b"\x03" * 32), 3, (10000,))
    assert set(v.tolist()) == set(range(-3, 4))


def test_honest_projection_bound_and_proven_bound() -> None:
    beta = jl.honest_projection_bound(8192)
    assert 600 < beta < 800
    assert jl.honest_error_l2_squared(8192, 21) == 12 * 8192
    assert jl.proven_bound(beta) == 2 * (beta * 2**jl.REJECTION_BITS - beta)
