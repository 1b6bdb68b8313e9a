# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""OMLRegistry through the Python client, on the embedded chain and on a hardhat node: happy paths, events,
and every revert with its exact custom error and arguments."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from loyal.contracts import eip712, errors
from loyal.contracts.client import ChallengeItem
from loyal.contracts.merkle import Fingerprint, MerkleTree, hash_text
from loyal.contracts.workflow import OwnerCommitment, license_host
from loyal.contracts.demo import stand_in_fingerprints

N, THRESHOLD, FEE, STAKE = 12, 3, 7, 10**15
MODEL_HASH = b"\x42" * 32
SECRET = b"test-owner-secret-0123456789abcdef"


@pytest.fixture
def setup(env):
    """A registered model (12 fingerprints, τ = 3, fee 7 wei); the host holds fingerprints 0..5."""
    commitment = OwnerCommitment.create(stand_in_fingerprints(N), SECRET)
    model_id, tx = env.registry.register_model(env.owner, MODEL_HASH, commitment.tree.root, N, THRESHOLD, FEE, "uri")
    assigned, tree = commitment.subset(list(range(6)))
    return env, commitment, model_id, tx, assigned, tree


def _items(env, signer, model_id, fingerprints, tree, outputs=None):
    items = []
    position = {leaf: i for i, leaf in enumerate(tree.layers[0])}
    for k, fp in enumerate(fingerprints):
        out = hash_text(outputs[k] if outputs else fp.response)
        sig = eip712.sign_response(signer, env.registry.domain, model_id, fp.key_hash, out)
        items.append(ChallengeItem(fp, tuple(tree.proof(position[fp.leaf()])), out, sig))
    return items


def _license(env, model_id, tree):
    return license_host(env.registry, env.owner, env.host, model_id, tree.root, STAKE)


def test_register_model_emits_event_and_stores_model(setup):
    env, commitment, model_id, tx, _, _ = setup
    assert model_id == 1 and env.registry.model_count() == 1
    (event,) = tx.named("ModelRegistered")
    assert event.args == {"modelId": 1, "owner": env.owner.address, "modelHash": MODEL_HASH,
                          "fingerprintRoot": commitment.tree.root, "numFingerprints": N, "threshold": THRESHOLD,
                          "licenseFee": FEE, "metadataURI": "uri"}
    model = env.registry.get_model(1)
    assert (model.owner, model.fingerprint_root, model.spent_fingerprints) == (env.owner.address, commitment.tree.root, 0)
    assert env.registry.model_id_of(MODEL_HASH) == 1


def test_register_model_fails_if_double_registration(setup):
    env, commitment, *_ = setup
    with pytest.raises(errors.OMLRegistryModelAlreadyRegistered,
                       match=rf"OMLRegistryModelAlreadyRegistered\(modelHash=0x{MODEL_HASH.hex()}, modelId=1\)"):
        env.registry.register_model(env.stranger, MODEL_HASH, commitment.tree.root, N, THRESHOLD)


@pytest.mark.parametrize("threshold, num", [(0, 5), (6, 5)])
def test_register_model_fails_if_threshold_out_of_range(env, threshold, num):
    with pytest.raises(errors.OMLRegistryInvalidThreshold,
                       match=rf"OMLRegistryInvalidThreshold\(threshold={threshold}, numFingerprints={num}\)"):
        env.registry.register_model(env.owner, b"\x01" * 32, b"\x02" * 32, num, threshold)


def test_register_model_fails_if_zero_root(env):
    with pytest.raises(errors.OMLRegistryInvalidFingerprintRoot, match=r"fingerprintRoot=0x0{64}\)"):
        env.registry.register_model(env.owner, b"\x01" * 32, b"\x00" * 32, 4, 1)


def test_license_host_bonds_stake_and_pays_fee(setup):
    env, _, model_id, _, _, tree = setup
    tx = _license(env, model_id, tree)
    (event,) = tx.named("HostLicensed")
    assert event.args == {"modelId": model_id, "host": env.host.address, "assignmentRoot": tree.root,
                          "stake": STAKE, "fee": FEE}
    lic = env.registry.get_license(model_id, env.host.address)
    assert (lic.assignment_root, lic.stake, lic.active) == (tree.root, STAKE, True)
    assert env.registry.balance_of(env.owner.address) == FEE


def test_license_host_fails_if_zero_stake(setup):
    env, _, model_id, _, _, tree = setup
    sig = eip712.sign_license(env.owner, env.registry.domain, model_id, env.host.address, tree.root)
    with pytest.raises(errors.OMLRegistryZeroStake, match=rf"OMLRegistryZeroStake\(modelId={model_id}, paid={FEE}, fee={FEE}\)"):
        env.registry.license_host(env.host, model_id, tree.root, sig, value=FEE)


def test_license_host_fails_if_offer_not_signed_by_owner(setup):
    env, _, model_id, _, _, tree = setup
    sig = eip712.sign_license(env.stranger, env.registry.domain, model_id, env.host.address, tree.root)
    with pytest.raises(errors.OMLRegistryInvalidLicenseSigner,
                       match=rf"signer={env.stranger.address}, owner={env.owner.address}\)"):
        env.registry.license_host(env.host, model_id, tree.root, sig, value=FEE + STAKE)


def test_license_host_fails_if_already_licensed_or_unknown_model(setup):
    env, _, model_id, _, _, tree = setup
    _license(env, model_id, tree)
    with pytest.raises(errors.OMLRegistryHostAlreadyLicensed, match=rf"modelId={model_id}, host={env.host.address}\)"):
        _license(env, model_id, tree)
    with pytest.raises(errors.OMLRegistryUnknownModel, match=r"OMLRegistryUnknownModel\(modelId=9\)"):
        env.registry.license_host(env.host, 9, tree.root, b"\x00" * 65, value=1)


def test_challenge_licensed_host_spends_fingerprints_and_slashes(setup):
    env, _, model_id, _, assigned, tree = setup
    _license(env, model_id, tree)
    revealed = assigned[:4]
    items = _items(env, env.host, model_id, revealed, tree, outputs=[fp.response for fp in revealed[:3]] + ["wrong"])
    claim_id, tx = env.registry.challenge(env.owner, model_id, env.host.address, items)
    # Assert: events in order with their args, after the state changes.
    assert [e.name for e in tx.events] == ["FingerprintSpent"] * 4 + ["OwnershipClaimed", "HostSlashed"]
    assert [e.args["index"] for e in tx.named("FingerprintSpent")] == [fp.index for fp in revealed]
    evidence = b"\x00" * 32
    for item in items:
        evidence = keccak(encode(["bytes32", "bytes32", "bytes32"], [evidence, item.fingerprint.leaf(), item.output_hash]))
    assert tx.named("OwnershipClaimed")[0].args == {"claimId": claim_id, "modelId": model_id, "host": env.host.address,
                                                     "evidenceRoot": evidence, "matches": 3, "revealed": 4}
    assert tx.named("HostSlashed")[0].args == {"modelId": model_id, "host": env.host.address, "amount": STAKE}
    claim = env.registry.get_claim(claim_id)
    assert (claim.matches, claim.revealed, claim.slashed, claim.evidence_root) == (3, 4, STAKE, evidence)
    assert all(env.registry.is_spent(model_id, fp.index) for fp in revealed)
    assert not env.registry.is_spent(model_id, assigned[4].index)
    assert env.registry.get_model(model_id).spent_fingerprints == 4
    assert env.registry.get_license(model_id, env.host.address).active is False
    assert env.registry.balance_of(env.owner.address) == FEE + STAKE
    # Payout: pull, once.
    before = env.chain.w3.eth.get_balance(env.owner.address)
    tx = env.registry.withdraw(env.owner)
    assert tx.named("PaymentWithdrawn")[0].args == {"account": env.owner.address, "amount": FEE + STAKE}
    assert env.registry.balance_of(env.owner.address) == 0
    assert env.chain.w3.eth.get_balance(env.owner.address) > before  # stake ≫ gas cost
    with pytest.raises(errors.OMLRegistryNothingToWithdraw, match=rf"account={env.owner.address}\)"):
        env.registry.withdraw(env.owner)


def test_challenge_unlicensed_host_records_claim_without_slash(setup):
    env, commitment, model_id, *_ = setup
    revealed = commitment.fingerprints[6:9]
    claim_id, tx = env.registry.challenge(env.owner, model_id, env.stranger.address,
                                          _items(env, env.stranger, model_id, revealed, commitment.tree))
    assert not tx.named("HostSlashed")
    claim = env.registry.get_claim(claim_id)
    assert (claim.host, claim.matches, claim.slashed) == (env.stranger.address, 3, 0)


def test_challenge_fails_if_forged_proof(setup):
    env, _, model_id, _, assigned, tree = setup
    _license(env, model_id, tree)
    items = _items(env, env.host, model_id, assigned[:3], tree)
    forged_fp = Fingerprint(assigned[1].index, assigned[1].key, "forged", assigned[1].salt)
    items[1] = ChallengeItem(forged_fp, items[1].proof, hash_text("forged"), eip712.sign_response(
        env.host, env.registry.domain, model_id, forged_fp.key_hash, hash_text("forged")))
    with pytest.raises(errors.OMLRegistryInvalidProof,
                       match=rf"index={forged_fp.index}, leaf=0x{forged_fp.leaf().hex()}, root=0x{tree.root.hex()}\)"):
        env.registry.challenge(env.owner, model_id, env.host.address, items)
    assert not env.registry.is_spent(model_id, assigned[0].index)  # the revert spent nothing


def test_challenge_fails_if_wrong_signer(setup):
    env, _, model_id, _, assigned, tree = setup
    _license(env, model_id, tree)
    items = _items(env, env.stranger, model_id, assigned[:3], tree)
    with pytest.raises(errors.OMLRegistryInvalidResponseSigner,
                       match=rf"index={assigned[0].index}, signer={env.stranger.address}, host={env.host.address}\)"):
        env.registry.challenge(env.owner, model_id, env.host.address, items)


def test_challenge_fails_if_fingerprint_reused(setup):
    env, commitment, model_id, *_ = setup
    fps = commitment.fingerprints
    env.registry.challenge(env.owner, model_id, env.stranger.address, _items(env, env.stranger, model_id, fps[:3], commitment.tree))
    again = _items(env, env.stranger, model_id, fps[2:5], commitment.tree)
    with pytest.raises(errors.OMLRegistryFingerprintAlreadySpent, match=rf"modelId={model_id}, index=2\)"):
        env.registry.challenge(env.owner, model_id, env.stranger.address, again)
    twice = _items(env, env.stranger, model_id, [fps[5], fps[6], fps[5]], commitment.tree)
    with pytest.raises(errors.OMLRegistryFingerprintAlreadySpent, match=rf"modelId={model_id}, index=5\)"):
        env.registry.challenge(env.owner, model_id, env.stranger.address, twice)


def test_challenge_fails_if_below_threshold(setup):
    env, _, model_id, _, assigned, tree = setup
    _license(env, model_id, tree)
    items = _items(env, env.host, model_id, assigned[:4], tree, outputs=[assigned[0].response, "a", "b", assigned[3].response])
    with pytest.raises(errors.OMLRegistryBelowThreshold, match=rf"OMLRegistryBelowThreshold\(matches=2, threshold={THRESHOLD}\)"):
        env.registry.challenge(env.owner, model_id, env.host.address, items)
    assert env.registry.get_license(model_id, env.host.address).stake == STAKE


def test_owner_only_calls_fail_for_non_owner(setup):
    env, commitment, model_id, _, _, tree = setup
    items = _items(env, env.host, model_id, commitment.fingerprints[:3], commitment.tree)
    with pytest.raises(errors.OMLRegistryUnauthorizedOwner, match=rf"modelId={model_id}, account={env.stranger.address}\)"):
        env.registry.challenge(env.stranger, model_id, env.host.address, items)
    _license(env, model_id, tree)
    with pytest.raises(errors.OMLRegistryUnauthorizedOwner, match=rf"account={env.host.address}\)"):
        env.registry.terminate_license(env.host, model_id, env.host.address)


def test_challenge_fails_if_lengths_differ_or_index_out_of_range(setup):
    env, commitment, model_id, *_ = setup
    items = _items(env, env.stranger, model_id, commitment.fingerprints[:3], commitment.tree)
    fn = env.registry.contract.functions.challenge(model_id, env.stranger.address,
                                                   [i.fingerprint.as_tuple() for i in items],
                                                   [list(i.proof) for i in items[:2]],
                                                   [(i.output_hash, i.signature) for i in items])
    with pytest.raises(errors.OMLRegistryInvalidChallengeLength, match=r"fingerprints=3, proofs=2, responses=3\)"):
        env.registry._transact(env.owner, fn)
    outside = Fingerprint(N, "k", "r", b"\x01" * 32)
    tree = MerkleTree.from_fingerprints([outside])
    with pytest.raises(errors.OMLRegistryFingerprintOutOfRange, match=rf"index={N}, numFingerprints={N}\)"):
        env.registry.challenge(env.owner, model_id, env.stranger.address, _items(env, env.stranger, model_id, [outside], tree))


def test_terminate_license_releases_stake_to_host(setup):
    env, _, model_id, _, _, tree = setup
    _license(env, model_id, tree)
    tx = env.registry.terminate_license(env.owner, model_id, env.host.address)
    assert tx.named("LicenseTerminated")[0].args == {"modelId": model_id, "host": env.host.address, "stake": STAKE}
    assert env.registry.balance_of(env.host.address) == STAKE
    with pytest.raises(errors.OMLRegistryHostNotLicensed, match=rf"host={env.host.address}\)"):
        env.registry.terminate_license(env.owner, model_id, env.host.address)
