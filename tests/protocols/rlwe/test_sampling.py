# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the CSPRNG samplers: ranges, moments and tails against exact distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loyal.protocols.rlwe import sampling
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.ring import ntt_primes
from loyal.protocols.rlwe.testing import InsecureFakePrng


def _exact_dgauss_moments(sigma: float) -> tuple[float, float]:
    """Variance and P(|X| >= 3 sigma) of N_Z(0, sigma^2) by direct summation of the pmf."""
    ks = np.arange(-int(40 * sigma) - 5, int(40 * sigma) + 6)
    w = np.exp(-(ks.astype(float) ** 2) / (2 * sigma * sigma))
    w /= w.sum()
    return float((w * ks**2).sum()), float(w[np.abs(ks) >= 3 * sigma].sum())


@pytest.mark.parametrize("sigma", [0.5, 3.0, 40.0])
def test_discrete_gaussian_variance_and_tail(sigma: float) -> None:
    # CKS20 (arXiv 2004.00010) Alg. 3 samples exactly N_Z(0, sigma^2); compare with the exact pmf.
    n = 200_000
    x = sampling.discrete_gaussian(InsecureFakePrng(7), sigma, (n,))
    var, tail = _exact_dgauss_moments(sigma)
    assert x.dtype == np.int64
    assert abs(x.mean()) < 5 * math.sqrt(var / n)
    # Sample variance: standard error sqrt(2/n)·var (plus kurtosis slack).
    assert abs(x.var() - var) < 6 * math.sqrt(2.0 / n) * var
    emp_tail = float((np.abs(x) >= 3 * sigma).mean())
    assert abs(emp_tail - tail) < 6 * math.sqrt(tail / n) + 1e-4


def test_discrete_gaussian_zero_sigma_and_invalid() -> None:
    assert (sampling.discrete_gaussian(InsecureFakePrng(1), 0.0, (5,)) == 0).all()
    with pytest.raises(ValueError, match="sigma must be finite and >= 0, got -1.0"):
        sampling.discrete_gaussian(InsecureFakePrng(1), -1.0, (5,))


def test_centered_binomial_moments() -> None:
    x = sampling.centered_binomial(InsecureFakePrng(2), 21, (100_000,))
    assert np.abs(x).max() <= 21
    assert abs(x.var() - 10.5) < 0.2
    with pytest.raises(ValueError, match=r"eta must be in \[1, 32\], got 40"):
        sampling.centered_binomial(InsecureFakePrng(2), 40, (3,))


def test_ternary_is_uniform() -> None:
    x = sampling.ternary(InsecureFakePrng(3), (90_000,))
    counts = np.bincount(x + 1, minlength=3)
    assert set(np.unique(x)) == {-1, 0, 1}
    assert np.abs(counts - 30_000).max() < 600


def test_uniform_mod_range_and_public_determinism() -> None:
    moduli = ntt_primes(3)
    seed = b"\x05" * 32
    a = sampling.uniform_mod(AesCtrPrng(seed, b"x"), moduli, (4, 256))
    b = sampling.uniform_mod(AesCtrPrng(seed, b"x"), moduli, (4, 256))
    c = sampling.uniform_mod(AesCtrPrng(seed, b"y"), moduli, (4, 256))
    assert a.shape == (4, 3, 256)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a >= 0).all() and (a < np.array(moduli)[:, None]).all()
    # Mean of uniform residues is (q-1)/2 within 6 standard errors.
    for l, q in enumerate(moduli):
        assert abs(a[:, l].mean() - (q - 1) / 2) < 6 * q / math.sqrt(12 * 1024)


def test_uniform_signed_rns_range() -> None:
    moduli = ntt_primes(4)
    big_q = math.prod(moduli)
    res = sampling.uniform_signed_rns(InsecureFakePrng(4), 70, moduli, (2000,))
    # CRT back to integers: all in [-2^70, 2^70), and the top bit is used.
    vals = np.zeros(2000, dtype=object)
    for l, q in enumerate(moduli):
        m = big_q // q
        vals = vals + res[l].astype(object) * (m * pow(m, -1, q))
    vals = vals % big_q
    vals = np.where(vals > big_q // 2, vals - big_q, vals)
    assert vals.min() >= -(2**70) and vals.max() < 2**70
    assert (np.abs(vals) > 2**69).mean() > 0.4


def test_prng_fails_if_seed_wrong_length() -> None:
    with pytest.raises(ValueError, match="seed must be 32 bytes, got 5"):
        AesCtrPrng(b"short")
    assert "OMITTED" in repr(AesCtrPrng.from_os())
