# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Shared fixtures: one honest AHE encryption and its proof at the insecure n1024 test set."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loyal.protocols.rlwe.ahe import ThresholdAhe
from loyal.protocols.rlwe.params import INSECURE_TEST_N1024, RlweParameterSet
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.sampling import ternary
from loyal.protocols.zk.ahe import AheStatement, AheWitness, prove_encryption

CONTEXT = b"job=genesis|round=3|sender=17|kind=client"


@dataclasses.dataclass(frozen=True)
class Encryption:
    ahe: ThresholdAhe
    public_key_hat: np.ndarray
    statement: AheStatement
    witness: AheWitness


def make_encryption(params: RlweParameterSet, seed: bytes) -> Encryption:
    """A committee key (2-of-3, one dealer) and one encryption of a fresh ternary KAHE key."""
    prng = AesCtrPrng(seed, b"test/zk")
    ahe = ThresholdAhe(params.ahe_ring, 20, b"\x07" * 32, smudging_bits=40)
    pk = ahe.combine_public_key([ahe.create_keygen_contribution(1, (1, 2, 3), 2, prng)])
    key = ternary(prng, (params.ring_degree,))
    ct, (u, e1, e2, k) = ahe.encrypt_with_witness(pk, key, prng)
    return Encryption(ahe, pk, AheStatement.from_ahe(ahe, pk, ct), AheWitness(u, e1, e2, k))


@pytest.fixture(scope="session")
def encryption() -> Encryption:
    return make_encryption(INSECURE_TEST_N1024, b"\x01" * 32)


@pytest.fixture(scope="session")
def proof(encryption: Encryption) -> bytes:
    return prove_encryption(encryption.statement, encryption.witness, context=CONTEXT, prng=AesCtrPrng(b"\x02" * 32))
