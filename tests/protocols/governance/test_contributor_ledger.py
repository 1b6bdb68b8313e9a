# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The contributor ledger (pure): derivation from a participation log, payee statements, JSON, and the pull-payment
split against exact rational shares."""

from __future__ import annotations

import doctest
from fractions import Fraction

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given
from hypothesis import strategies as st

from loyal.client.tls import raw_public
from loyal.protocols.governance import ledger as ledger_lib
from loyal.protocols.governance.ledger import (
    ContributorLedger, PayeeStatement, contributor_id, derive_ledger, entitlement, payee_message,
)
from loyal.protocols.ssa.errors import AuthenticationError

JOB = b"\x05" * 16
KEYS = [Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(3)]
IDS = [contributor_id(raw_public(k)) for k in KEYS]


def _statement(i: int, payee: bytes = b"\xaa" * 20, job: bytes = JOB) -> PayeeStatement:
    public = raw_public(KEYS[i])
    return PayeeStatement(public, payee, KEYS[i].sign(payee_message(job, public, payee)))


def test_module_doctests():
    assert doctest.testmod(ledger_lib).failed == 0


def test_derive_ledger_groups_rounds_and_attaches_verified_payees():
    # Prepare: a log in store order; round 3 is past the ledger's 3 rounds (not yet anchored).
    log = [(IDS[1], 2), (IDS[0], 0), (IDS[1], 0), (IDS[2], 1), (IDS[0], 3)]
    # Execute
    ledger = derive_ledger(job_id=JOB, rounds=3, participations=log, payees=[_statement(1, b"\x01" * 20)])
    # Assert: sorted by id, rounds sorted, round 3 left out, one payable entry of weight 2.
    by_id = {e.contributor: e for e in ledger.entries}
    assert [e.contributor for e in ledger.entries] == sorted(IDS)
    assert (by_id[IDS[0]].rounds, by_id[IDS[1]].rounds, by_id[IDS[2]].rounds) == ((0,), (0, 2), (1,))
    assert [(e.contributor, e.payee) for e in ledger.payable] == [(IDS[1], b"\x01" * 20)]
    assert ledger.total_weight == 2
    assert ContributorLedger.from_json(ledger.to_json()) == ledger


@pytest.mark.parametrize("log, payees, error, message", [
    ([(IDS[0], 0), (IDS[0], 0)], [], ValueError, "is listed twice in round 0"),
    ([(b"\x01" * 31, 0)], [], ValueError, r"a participation is \(32-byte contributor id, round >= 0\)"),
    ([(IDS[0], 0)], [(1,)], ValueError, "took part in no round < 2"),
    ([(IDS[0], 0)], [(0,), (0,)], ValueError, "has two payee statements"),
])
def test_derive_ledger_fails_if_the_log_or_payees_are_inconsistent(log, payees, error, message):
    with pytest.raises(error, match=message):
        derive_ledger(job_id=JOB, rounds=2, participations=log, payees=[_statement(*p) for p in payees])


def test_derive_ledger_fails_if_a_payee_statement_is_forged_or_of_another_job():
    forged = PayeeStatement(raw_public(KEYS[0]), b"\xbb" * 20, _statement(0).signature)  # signature of another payee
    for statement in (forged, _statement(0, job=b"\x06" * 16)):
        with pytest.raises(AuthenticationError, match="signature does not verify"):
            derive_ledger(job_id=JOB, rounds=1, participations=[(IDS[0], 0)], payees=[statement])


def test_contributor_id_is_a_domain_separated_digest_of_the_key():
    import hashlib

    public = raw_public(KEYS[0])
    assert IDS[0] == hashlib.sha256(b"loyal/contributor/v1" + public).digest() != hashlib.sha256(public).digest()
    with pytest.raises(ValueError, match="public_key must be a 32-byte Ed25519 key, got 31 bytes"):
        contributor_id(public[:31])


@given(weights=st.lists(st.integers(1, 50), min_size=1, max_size=12),
       deposits=st.lists(st.tuples(st.integers(1, 10**6), st.sets(st.integers(0, 11))), min_size=1, max_size=6))
@example(weights=[1, 1, 1], deposits=[(1, {0}), (1, {1}), (1, {0, 1, 2})])
def test_pull_payments_pay_exact_floors_whatever_the_claim_times(weights, deposits):
    # Execute: the contract's rule (cumulative floor share minus what was withdrawn), claims at random times.
    W = sum(weights)  # noqa: N806 - the paper's symbol
    paid, total = [0] * len(weights), 0
    for amount, claimers in deposits:
        total += amount
        for i in sorted(c for c in claimers if c < len(weights)):
            paid[i] += entitlement(deposited=total, weight=weights[i], total_weight=W) - paid[i]
            assert sum(paid) <= total  # never pays out more than was deposited, at any time
    for i in range(len(weights)):  # everyone claims at the end
        paid[i] += entitlement(deposited=total, weight=weights[i], total_weight=W) - paid[i]
    # Assert: exactly floor(D w_i / W) each; the remainder is less than one wei per contributor.
    assert paid == [int(Fraction(total * w, W)) for w in weights]
    assert 0 <= total - sum(paid) < len(weights)


def test_entitlement_fails_on_a_weight_outside_the_total():
    with pytest.raises(ValueError, match="0 <= weight <= total_weight >= 1, got 5, 3, 2"):
        entitlement(deposited=5, weight=3, total_weight=2)
