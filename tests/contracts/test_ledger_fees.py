# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Issue 19, item 4, the money path end to end on both chains: a host pays a licence fee in the OML registry,
the model's owner (the community job's server) withdraws it and deposits it into the job's contributor ledger,
and each contributor's payee pulls exactly its pro-rata share."""

from __future__ import annotations

import hashlib

from loyal.contracts.anchor import AnchorClient
from loyal.contracts.chain import insecure_dev_account
from loyal.contracts.demo import stand_in_fingerprints
from loyal.contracts.eip712 import LicenseOffer
from loyal.contracts.ledger import LedgerClient, LedgerCommitment
from loyal.contracts.merkle import hash_text
from loyal.contracts.workflow import OwnerCommitment, license_host
from loyal.protocols.governance.ledger import ContributorEntry, ContributorLedger
from loyal.protocols.oml.statistics import to_wad

FEE = 3 * 10**15 + 1  # odd: the 2:1 split has a remainder


def test_a_licence_fee_paid_in_the_registry_reaches_the_contributors(env):
    # Prepare: a registered model and a host that joined; the job (anchored by the owner as its server)
    # had two contributors with 2 and 1 rounds.
    commitment = OwnerCommitment.create(stand_in_fingerprints(8), b"fees-owner-secret-0123456789abcdef", b"\x07" * 32)
    model_id, _ = env.registry.register_model(env.owner, b"\x07" * 32, commitment.tree.root, 8, to_wad(0.01),
                                              to_wad(1e-6), 10**16, "uri")
    env.registry.join_platform(env.host, hash_text("http://host"), 10**16)
    genesis = hashlib.sha256(b"fees-job-%d" % model_id + env.registry.address.encode()).digest()
    anchor = AnchorClient.deploy(env.chain, env.owner)
    anchor.anchor(genesis, 0, hashlib.sha256(genesis).digest(), 2, 1)
    ledger = LedgerClient.deploy(env.chain, env.owner, anchor.address)
    payees = (insecure_dev_account("fees-payee-0"), insecure_dev_account("fees-payee-1"))
    for p in payees:
        env.chain.ensure_funded(p.address, 10**18)
    entries = tuple(ContributorEntry(hashlib.sha256(b"fees-contributor-%d" % i).digest(), tuple(range(w)),
                                     bytes.fromhex(payees[i].address[2:])) for i, w in enumerate((2, 1)))
    book = LedgerCommitment.of(ContributorLedger(1, entries))
    ledger.commit(env.owner, genesis, book)
    # Execute: the host takes a licence (pays FEE to the registry), the owner withdraws and deposits it.
    _, tree = commitment.subset(list(range(4)))
    offer = LicenseOffer(model_id, tree.root, term=30 * 86400, expiry=env.chain.now() + 3600, fee=FEE, nonce=1)
    license_host(env.registry, env.owner, env.host, offer)
    (paid,) = env.registry.withdraw(env.owner).named("PaymentWithdrawn")
    ledger.deposit(env.owner, genesis, paid.args["amount"])
    claims = []
    for i, payee in enumerate(payees):
        entry, proof = book.proof(entries[i].contributor)
        (event,) = ledger.claim(payee, genesis, entry.contributor, entry.weight, proof).named("Claimed")
        claims.append(event.args["amount"])
    # Assert: the whole fee went into the ledger; each payee got floor(D·w/W); less than one wei per contributor stays.
    assert paid.args["amount"] == FEE
    assert claims == [FEE * 2 // 3, FEE // 3]
    assert 0 <= FEE - sum(claims) < len(entries)
    assert ledger.ledger_of(genesis).paid == sum(claims)
