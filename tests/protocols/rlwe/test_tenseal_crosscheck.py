# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Cross-check: the same packed vectors aggregated by TenSEAL BFV (single key) and by our KAHE."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.kahe import Kahe
from loyal.protocols.rlwe.params import RLWE_N4096
from loyal.protocols.rlwe.testing import InsecureFakePrng

ts = pytest.importorskip("tenseal")

CLIENTS, DIM, SLOTS = 12, 5000, 4096


def test_kahe_sum_matches_tenseal_bfv_sum() -> None:
    # Prepare: deterministic client vectors (test data), packed into ceil(d/4096) = 2 chunks by both.
    vectors = ((np.arange(CLIENTS)[:, None] * 31 + np.arange(DIM)[None, :] * 7) % 401 - 200).astype(np.int64)
    ctx = ts.context(ts.SCHEME_TYPE.BFV, poly_modulus_degree=SLOTS, plain_modulus=1032193)
    kahe = Kahe(RLWE_N4096.kahe_ring, plaintext_bits=30, public_seed=b"\x33" * 32)
    prng = InsecureFakePrng(20)
    # Execute: TenSEAL sums ciphertexts under one key; ours sums under per-client keys.
    ts_acc = None
    our_acc, key_sum = None, np.zeros(kahe.ring.degree, dtype=np.int64)
    for v in vectors:
        chunks = [ts.bfv_vector(ctx, v[i : i + SLOTS].tolist()) for i in range(0, DIM, SLOTS)]
        ts_acc = chunks if ts_acc is None else [a + c for a, c in zip(ts_acc, chunks)]
        k, key = kahe.create_key(prng)
        key_sum += k
        ct = kahe.encrypt(key, v, prng)
        our_acc = ct if our_acc is None else kahe.add(our_acc, ct)
    ts_sum = np.concatenate([np.array(c.decrypt(), dtype=np.int64) for c in ts_acc])[:DIM]
    ours = kahe.decrypt(kahe.key_from_integers(key_sum), our_acc, DIM)
    # Assert: both equal the plaintext sum (no wrap: |sum| <= 12·200 << both plaintext moduli).
    assert our_acc.num_polys == len(ts_acc) == 2
    assert np.array_equal(ts_sum, vectors.sum(axis=0))
    assert np.array_equal(ours, ts_sum)
