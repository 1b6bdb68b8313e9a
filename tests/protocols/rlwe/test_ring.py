# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the RNS negacyclic ring and its NTT: schoolbook oracle and algebraic identities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.protocols.rlwe.ring import RnsRing, ntt_primes


def _schoolbook(a: list[int], b: list[int], q: int) -> list[int]:
    """Dense negacyclic product: X^N = -1 (the definition of Z_q[X]/(X^N+1))."""
    n = len(a)
    c = [0] * n
    for i in range(n):
        for j in range(n):
            k = i + j
            if k < n:
                c[k] += a[i] * b[j]
            else:
                c[k - n] -= a[i] * b[j]
    return [x % q for x in c]


def _random_poly(ring: RnsRing, seed: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    # Test-only randomness: numpy's generator with a fixed seed (never used in protocols/).
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, q, batch + (ring.degree,)) for q in ring.moduli], axis=-2).astype(np.int64)


@pytest.mark.parametrize("degree", [2, 8, 32, 64, 128])
@pytest.mark.parametrize("num_moduli", [1, 3])
def test_mul_matches_schoolbook(degree: int, num_moduli: int) -> None:
    # Prepare
    ring = RnsRing(degree, ntt_primes(num_moduli))
    a, b = _random_poly(ring, 1), _random_poly(ring, 2)
    # Execute
    c = ring.mul(a, b)
    # Assert
    for l, q in enumerate(ring.moduli):
        assert c[l].tolist() == _schoolbook(a[l].tolist(), b[l].tolist(), q)


@pytest.mark.parametrize("degree", [1 << 10, 1 << 12, 1 << 15])
def test_ntt_roundtrip_and_batching(degree: int) -> None:
    ring = RnsRing(degree, ntt_primes(2))
    x = _random_poly(ring, 3, batch=(3,))
    y = ring.ntt(x)
    assert np.array_equal(ring.intt(y), x)
    # Batched transform equals the per-polynomial transform.
    assert np.array_equal(y[1], ring.ntt(x[1]))
    assert y.min() >= 0 and (y < ring.q).all()


def test_x_to_the_n_is_minus_one() -> None:
    ring = RnsRing(1 << 10, ntt_primes(2))
    x_half = np.zeros((2, ring.degree), dtype=np.int64)
    x_half[:, ring.degree // 2] = 1  # X^{N/2}; (X^{N/2})^2 = X^N = -1
    sq = ring.mul(x_half, x_half)
    expected = np.zeros_like(sq)
    expected[:, 0] = ring.q[:, 0] - 1
    assert np.array_equal(sq, expected)


@given(seed=st.integers(0, 2**32 - 1), scalar=st.integers(-(2**70), 2**70))
def test_ring_identities(seed: int, scalar: int) -> None:
    ring = RnsRing(1 << 11, ntt_primes(3))
    a, b, c = (_random_poly(ring, seed + i) for i in range(3))
    # Distributivity, commutativity, and scalar multiplication against big-integer CRT.
    assert np.array_equal(ring.mul(a, ring.add(b, c)), ring.add(ring.mul(a, b), ring.mul(a, c)))
    assert np.array_equal(ring.mul(a, b), ring.mul(b, a))
    lhs = ring.to_centered_bigint(ring.mul_scalar(a, scalar))
    big_q = ring.modulus
    rhs = (ring.to_centered_bigint(a) * scalar) % big_q
    rhs = np.where(rhs > big_q // 2, rhs - big_q, rhs)
    assert (lhs == rhs).all()


def test_crt_roundtrip_of_signed_integers() -> None:
    ring = RnsRing(16, ntt_primes(4))
    values = np.array([-(2**100), -1, 0, 1, 2**100, 7, -7, 3, 0, 0, 1, 2, 3, 4, 5, -(2**118)], dtype=object)
    assert (ring.to_centered_bigint(ring.from_bigint(values)) == values).all()


def test_ntt_primes_are_ntt_friendly() -> None:
    primes = ntt_primes(14)
    assert len(set(primes)) == 14
    assert all(p < 2**30 and (p - 1) % (1 << 16) == 0 for p in primes)


@pytest.mark.parametrize(
    ("degree", "moduli", "match"),
    [
        (1000, (1073479681,), "power of two"),
        (1 << 16, (1073479681,), "power of two"),
        (1024, (), "non-empty"),
        (1024, (1073479681, 1073479681), "distinct"),
        (1024, (97,), r"q ≡ 1 \(mod 2n\), got q=97"),
    ],
)
def test_ring_fails_if_parameters_invalid(degree: int, moduli: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RnsRing(degree, moduli)


def test_ntt_fails_if_shape_wrong() -> None:
    ring = RnsRing(64, ntt_primes(2))
    with pytest.raises(ValueError, match=r"trailing shape \(L, N\)=\(2, 64\)"):
        ring.ntt(np.zeros((3, 64), dtype=np.int64))


def test_ntt_accepts_signed_lazy_input() -> None:
    ring = RnsRing(1 << 10, ntt_primes(2))
    x = _random_poly(ring, 9)
    signed = x - ring.q * (np.arange(ring.degree) % 2)  # values in (-q, q)
    assert np.array_equal(ring.ntt(signed, input_bound=2), ring.ntt(x))
    with pytest.raises(ValueError, match=r"input_bound must be in \[1, 8\], got 9"):
        ring.ntt(x, input_bound=9)
