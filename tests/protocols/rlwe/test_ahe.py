# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the threshold AHE: DKG, homomorphisms, t-of-n decryption, smudging, hand-off."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loyal.protocols.rlwe.ahe import SecretShare, ThresholdAhe, ThresholdError
from loyal.protocols.rlwe.params import INSECURE_TEST_N1024
from loyal.protocols.rlwe.testing import InsecureFakePrng

MEMBERS = (1, 2, 3, 4, 5)
THRESHOLD = 3


@dataclasses.dataclass
class Committee:
    ahe: ThresholdAhe
    public_key: np.ndarray
    shares: dict[int, SecretShare]


@pytest.fixture(name="committee")
def _committee() -> Committee:
    ahe = ThresholdAhe(INSECURE_TEST_N1024.ahe_ring, plaintext_bits=24, public_seed=b"\x22" * 32, smudging_bits=50)
    prng = InsecureFakePrng(10)
    contribs = [ahe.create_keygen_contribution(j, MEMBERS, THRESHOLD, prng) for j in MEMBERS]
    return Committee(
        ahe, ahe.combine_public_key(contribs), {i: ahe.combine_secret_share(i, contribs) for i in MEMBERS}
    )


def _message(ahe: ThresholdAhe, seed: int) -> np.ndarray:
    return (np.arange(ahe.ring.degree) * (seed + 3)) % 2001 - 1000


@pytest.mark.parametrize("subset", [(1, 2, 3), (2, 4, 5), (1, 2, 3, 4, 5)])
def test_threshold_decryption_of_linear_combination(committee: Committee, subset: tuple[int, ...]) -> None:
    # Prepare
    ahe, prng = committee.ahe, InsecureFakePrng(11)
    m1, m2 = _message(ahe, 1), _message(ahe, 2)
    c1, c2 = ahe.encrypt(committee.public_key, m1, prng), ahe.encrypt(committee.public_key, m2, prng)
    ct = ahe.linear_combination([(7, c1), (-3, c2)])
    # Execute
    parts = {i: ahe.partial_decrypt(committee.shares[i], ct, subset, prng) for i in subset}
    # Assert
    assert (ahe.combine(ct, parts, THRESHOLD) == 7 * m1 - 3 * m2).all()


def test_combine_fails_if_fewer_than_threshold(committee: Committee) -> None:
    ahe, prng = committee.ahe, InsecureFakePrng(12)
    ct = ahe.encrypt(committee.public_key, _message(ahe, 3), prng)
    parts = {i: ahe.partial_decrypt(committee.shares[i], ct, (1, 2), prng) for i in (1, 2)}
    with pytest.raises(ThresholdError, match="need at least threshold=3 partial decryptions, got 2"):
        ahe.combine(ct, parts, THRESHOLD)
    # Two shares combined anyway (as a cheating server would) yield garbage, not the message.
    assert not (ahe.combine(ct, parts, 2) == _message(ahe, 3)).all()


def test_partial_decryptions_are_smudged(committee: Committee) -> None:
    # Two partial decryptions of the same ciphertext by the same member differ by fresh smudging noise.
    ahe, prng = committee.ahe, InsecureFakePrng(13)
    ct = ahe.encrypt(committee.public_key, _message(ahe, 4), prng)
    d1 = ahe.partial_decrypt(committee.shares[1], ct, (1, 2, 3), prng)
    d2 = ahe.partial_decrypt(committee.shares[1], ct, (1, 2, 3), prng)
    diff = ahe.ring.to_centered_bigint(ahe.ring.sub(d1, d2))
    assert np.abs(diff.astype(float)).max() > 2**48 and np.abs(diff.astype(float)).max() <= 2**51


@pytest.mark.parametrize(("new_members", "new_threshold"), [((1, 2, 3), 2), ((1, 2, 3, 4, 5, 6, 7), 4)])
def test_committee_handoff_to_other_size(
    committee: Committee, new_members: tuple[int, ...], new_threshold: int
) -> None:
    ahe, prng = committee.ahe, InsecureFakePrng(14)
    m = _message(ahe, 5)
    ct = ahe.encrypt(committee.public_key, m, prng)  # encrypted for the old committee
    old_subset = (2, 3, 5)
    subs = {i: ahe.create_reshare(committee.shares[i], old_subset, new_members, new_threshold, prng) for i in old_subset}
    new_shares = {k: ahe.combine_reshare(k, [subs[i][k] for i in old_subset], THRESHOLD) for k in new_members}
    subset = new_members[-new_threshold:]
    parts = {k: ahe.partial_decrypt(new_shares[k], ct, subset, prng) for k in subset}
    assert (ahe.combine(ct, parts, new_threshold) == m).all()


def test_partial_decrypt_fails_if_member_not_in_subset(committee: Committee) -> None:
    ahe = committee.ahe
    ct = ahe.encrypt(committee.public_key, _message(ahe, 6), InsecureFakePrng(15))
    with pytest.raises(ThresholdError, match=r"member 4 is not in the decryption subset \(1, 2, 3\)"):
        ahe.partial_decrypt(committee.shares[4], ct, (1, 2, 3), InsecureFakePrng(15))


def test_keygen_fails_if_threshold_invalid(committee: Committee) -> None:
    with pytest.raises(ValueError, match=r"threshold must be in \[1, 5\] \(committee size\), got 6"):
        committee.ahe.create_keygen_contribution(1, MEMBERS, 6, InsecureFakePrng(16))
