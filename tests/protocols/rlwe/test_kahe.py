# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tests of KAHE key additivity and the fixed-point encoding / wrap-around check."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.encoding import FixedPointEncoder, check_no_wraparound, pack, plaintext_bound, unpack
from loyal.protocols.rlwe.kahe import Kahe
from loyal.protocols.rlwe.params import INSECURE_TEST_N1024
from loyal.protocols.rlwe.testing import InsecureFakePrng


@pytest.fixture(name="kahe")
def _kahe() -> Kahe:
    return Kahe(INSECURE_TEST_N1024.kahe_ring, plaintext_bits=30, public_seed=b"\x11" * 32)


def test_encrypt_decrypt_roundtrip(kahe: Kahe) -> None:
    prng = InsecureFakePrng(1)
    values = np.arange(2500, dtype=np.int64) * 37 % 20001 - 10000
    _, key = kahe.create_key(prng)
    ct = kahe.encrypt(key, values, prng)
    assert ct.num_polys == 3  # ceil(2500 / 1024)
    assert np.array_equal(kahe.decrypt(key, ct, 2500), values)


def test_key_additivity_thousand_clients(kahe: Kahe) -> None:
    # sum_i Enc_{k_i}(m_i) decrypts under sum_i k_i to sum_i m_i (design note ssa.md, "Two layers").
    prng = InsecureFakePrng(2)
    dim, clients = 40, 1000
    msgs = ((np.arange(clients)[:, None] * 7 + np.arange(dim)[None, :] * 13) % 201 - 100).astype(np.int64)
    key_sum = np.zeros(kahe.ring.degree, dtype=np.int64)
    acc = None
    for i in range(clients):
        k, key = kahe.create_key(prng)
        key_sum += k
        ct = kahe.encrypt(key, msgs[i], prng)
        acc = ct if acc is None else kahe.add(acc, ct)
    out = kahe.decrypt(kahe.key_from_integers(key_sum), acc, dim)
    assert np.array_equal(out, msgs.sum(axis=0))
    # A wrong key (missing one client's key) does not decrypt.
    k0, _ = kahe.create_key(prng)
    wrong = kahe.decrypt(kahe.key_from_integers(key_sum + k0), acc, dim)
    assert not np.array_equal(wrong, msgs.sum(axis=0))


def test_linear_combination_with_negative_and_large_coefficients(kahe: Kahe) -> None:
    prng = InsecureFakePrng(3)
    m = [np.full(10, v, dtype=np.int64) for v in (5, -7, 11)]
    keys, cts = [], []
    for v in m:
        k, key = kahe.create_key(prng)
        keys.append(k)
        cts.append(kahe.encrypt(key, v, prng))
    coeffs = [3, -2, 1000]
    ct = kahe.linear_combination(list(zip(coeffs, cts)))
    key = kahe.key_from_integers(np.array(sum(c * k.astype(object) for c, k in zip(coeffs, keys)), dtype=object))
    assert np.array_equal(kahe.decrypt(key, ct, 10), sum(c * v for c, v in zip(coeffs, m)))


def test_encrypt_fails_if_value_exceeds_plaintext(kahe: Kahe) -> None:
    _, key = kahe.create_key(InsecureFakePrng(4))
    with pytest.raises(ValueError, match=r"\|v\| < 2\^29"):
        kahe.encrypt(key, np.array([2**29]), InsecureFakePrng(4))


def test_fixed_point_encoding_is_unbiased_and_bounded() -> None:
    enc = FixedPointEncoder(clip_norm=1.0, scale=2**8)
    prng = InsecureFakePrng(5)
    x = np.full(20000, 0.3 / np.sqrt(20000))
    m = enc.encode(x, prng)
    assert np.abs(m).max() <= enc.value_bound
    # Randomized rounding is unbiased: mean error well below one quantization step.
    assert abs(enc.decode(m).mean() - x.mean()) < 0.05 * enc.quantization_step
    # Clipping: a long vector is scaled to norm C before rounding.
    big = np.full(100, 10.0)
    assert abs(np.linalg.norm(enc.decode(enc.encode(big, prng))) - 1.0) < 10 * enc.quantization_step


def test_pack_unpack_roundtrip() -> None:
    v = np.arange(2049)
    p = pack(v, 1024)
    assert p.shape == (3, 1024) and np.array_equal(unpack(p, 2049), v)


def test_check_no_wraparound_refuses_overflowing_parameters() -> None:
    bound = plaintext_bound(clients=10**6, value_bound=2**16, coefficient_l1=1, noise_sigma=100.0)
    check_no_wraparound(bound, plaintext_bits=40)  # 2^36 + tail < 2^39: accepted
    with pytest.raises(ValueError, match=r"plaintext space too small: .* must be < 2\^35 \(plaintext_bits=36\)"):
        check_no_wraparound(bound, plaintext_bits=36)


def test_encoder_fails_if_clip_invalid() -> None:
    with pytest.raises(ValueError, match="clip_norm must be finite and > 0, got 0.0"):
        FixedPointEncoder(clip_norm=0.0, scale=1.0)
