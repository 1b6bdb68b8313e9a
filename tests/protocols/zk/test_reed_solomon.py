# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Reed–Solomon over RNS: NTT evaluation against a direct (Horner) oracle, exact point evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.ring import ntt_primes
from loyal.protocols.rlwe.sampling import uniform_mod
from loyal.protocols.zk.reed_solomon import RnsReedSolomon, point_powers, power_table

MODULI = ntt_primes(3)
CODE = RnsReedSolomon(MODULI, row_len=16, code_len=128, tail_len=12)


def _horner(coeffs: np.ndarray, point: int, q: int) -> int:
    acc = 0
    for c in coeffs[::-1].tolist():
        acc = (acc * point + c) % q
    return acc


def test_evaluate_matches_horner_at_the_code_points() -> None:
    # Prepare
    coeffs = uniform_mod(AesCtrPrng(b"\x03" * 32), MODULI, (2, 28))  # (2, P, 28)
    # Execute
    values = CODE.evaluate(coeffs)
    points = CODE.points(np.arange(CODE.code_len))
    # Assert: every point is a root of X^L + 1 and the values are the polynomial's values.
    for p, q in enumerate(MODULI):
        for j in (0, 1, 77, 127):
            eta = int(points[p, j])
            assert pow(eta, CODE.code_len, q) == q - 1
            assert values[1, p, j] == _horner(coeffs[1, p], eta, q)


LONG = RnsReedSolomon(MODULI, row_len=512, code_len=2048, tail_len=160)


@pytest.mark.parametrize("n", [1, 16, 511, 512, 513, 1184, 2048])
def test_evaluate_at_matches_ntt_columns(n: int) -> None:
    # Closed form (matrix products by chunks of 512) against the NTT, across chunk boundaries.
    coeffs = uniform_mod(AesCtrPrng(b"\x04" * 32), MODULI, (3, n))
    idx = np.array([0, 5, 64, 127, 1000, 2047])
    got = LONG.evaluate_at(coeffs, power_table(LONG, idx, 2048))
    assert np.array_equal(got, LONG.evaluate(coeffs)[..., idx])


def test_evaluate_at_fails_beyond_the_table() -> None:
    table = power_table(LONG, np.array([1, 2]), 512)
    with pytest.raises(ValueError, match="power table covers 1 chunks"):
        LONG.evaluate_at(np.zeros((3, 513), dtype=np.int64), table)


def test_encode_keeps_the_message_as_first_coefficients() -> None:
    rows = uniform_mod(AesCtrPrng(b"\x05" * 32), MODULI, (2, 16))
    tails = uniform_mod(AesCtrPrng(b"\x06" * 32), MODULI, (2, 12))
    coeffs = CODE.encode(rows, tails)
    assert coeffs.shape == (2, 3, CODE.degree_bound) and np.array_equal(coeffs[..., :16], rows)


def test_code_fails_if_tail_does_not_fit() -> None:
    with pytest.raises(ValueError, match="tail_len must be in"):
        RnsReedSolomon(MODULI, row_len=16, code_len=32, tail_len=16)


def test_point_powers_are_the_points_raised_to_d() -> None:
    idx = np.array([0, 5, 17, 2047])
    points = LONG.points(idx)
    for d in (0, 1, 2, 511, 4096, 4097):
        want = [[pow(int(v), d, int(q)) for v in row] for row, q in zip(points, LONG.q[:, 0])]
        assert point_powers(LONG, idx, d).tolist() == want
