# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The four-step float64 matrix NTT equals the radix-2 NTT (Longa–Naehrig Alg. 1/2) bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.protocols.rlwe import ntt_fourstep
from loyal.protocols.rlwe.ring import RnsRing, ntt_primes


def _signed_poly(ring: RnsRing, seed: int, batch: tuple[int, ...], bound: int) -> np.ndarray:
    # Test-only randomness: numpy's generator with a fixed seed (never used in protocols/).
    rng = np.random.default_rng(seed)
    return np.stack(
        [rng.integers(-bound * q + 1, bound * q, batch + (ring.degree,)) for q in ring.moduli], axis=-2
    ).astype(np.int64)


@pytest.mark.parametrize("degree", [1 << k for k in range(4, 15)])
def test_fourstep_equals_radix2_on_signed_inputs(degree: int) -> None:
    # Prepare: lazily reduced signed inputs |a| < 2q, as KAHE encryption passes them.
    ring = RnsRing(degree, ntt_primes(3))
    assert ntt_fourstep.supports(degree)
    a = _signed_poly(ring, degree, (3,), 2)
    # Execute
    fast = ring.ntt(a, input_bound=2)
    slow = ring._ntt_radix2(a, input_bound=2)
    # Assert: identical residues in [0, q), and both inverses return a mod q.
    assert np.array_equal(fast, slow)
    assert fast.min() >= 0 and (fast < ring.q).all()
    assert np.array_equal(ring.intt(fast), np.mod(a, ring.q))
    assert np.array_equal(ring._intt_radix2(fast), ring.intt(fast))


@pytest.mark.parametrize("fill", ["zero", "q_minus_1", "minus_2q_plus_1", "two_q_minus_1"])
def test_fourstep_extreme_inputs(fill: str) -> None:
    # The float64 bound (every partial sum < 2^53) is tightest for the extreme residues.
    ring = RnsRing(1 << 14, ntt_primes(2))
    q = ring.q
    value = {"zero": 0 * q, "q_minus_1": q - 1, "minus_2q_plus_1": -2 * q + 1, "two_q_minus_1": 2 * q - 1}[fill]
    a = np.broadcast_to(value, (2, ring.num_moduli, ring.degree)).astype(np.int64)
    fast = ring.ntt(a, input_bound=2)
    assert np.array_equal(fast, ring._ntt_radix2(a, input_bound=2))
    reduced = np.mod(a, q)
    assert np.array_equal(ring.intt(reduced), ring._intt_radix2(reduced))


def test_large_input_bound_and_unsupported_degrees() -> None:
    # input_bound 8 is reduced first; degree 2^15 and degree 8 stay on the radix-2 path.
    ring = RnsRing(1 << 10, ntt_primes(2))
    a = _signed_poly(ring, 5, (), 8)
    assert np.array_equal(ring.ntt(a, input_bound=8), ring._ntt_radix2(a, input_bound=8))
    assert not ntt_fourstep.supports(1 << 15) and not ntt_fourstep.supports(8)


@given(seed=st.integers(0, 2**32 - 1), log_degree=st.integers(4, 13), rows=st.integers(1, 6))
def test_fourstep_batches_and_chunks(seed: int, log_degree: int, rows: int) -> None:
    # Batches larger than one chunk and odd batch shapes give the per-polynomial transform.
    ring = RnsRing(1 << log_degree, ntt_primes(2))
    a = _signed_poly(ring, seed, (rows, 1), 1)
    got = ring.ntt(a)
    for r in range(rows):
        assert np.array_equal(got[r, 0], ring._ntt_radix2(a[r, 0]))


@given(seed=st.integers(0, 2**32 - 1), log_degree=st.integers(4, 14), fraction=st.floats(0.0, 1.0), rows=st.integers(1, 5))
def test_fourstep_of_leading_coefficients_equals_the_padded_transform(seed: int, log_degree: int, fraction: float,
                                                                      rows: int) -> None:
    # The Reed–Solomon encoding passes only the m leading coefficients (the rest are zero): skipping the zero
    # rows of the first step gives the transform of the zero-padded polynomial, for every m in [1, N].
    ring = RnsRing(1 << log_degree, ntt_primes(3))
    m = max(1, round(fraction * ring.degree))
    a = np.mod(_signed_poly(ring, seed, (rows,), 1), ring.q)
    a[..., m:] = 0
    got = ntt_fourstep.forward(np.ascontiguousarray(a[..., :m]), ring.moduli, ring.psis, degree=ring.degree)
    assert np.array_equal(got, ring._ntt_radix2(a))
    with pytest.raises(ValueError, match="coefficients for ring degree"):
        ntt_fourstep.forward(a, ring.moduli, ring.psis, degree=ring.degree // 2)
