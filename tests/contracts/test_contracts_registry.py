# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""OMLRegistry models, platform hosts and licences through the Python client, on the embedded chain and on a
hardhat node: happy paths, events, and every revert with its exact custom error and arguments. Findings 2, 5, 6
and 7 of issue #20 are scripted as the attacker would run them and must now fail."""

from __future__ import annotations

import pytest

from loyal.contracts import eip712, errors
from loyal.contracts.demo import DEMO_CONFIG as CONFIG
from loyal.contracts.demo import stand_in_fingerprints
from loyal.contracts.eip712 import LicenseOffer
from loyal.contracts.merkle import hash_text
from loyal.contracts.workflow import OwnerCommitment, check_offer, license_host
from loyal.protocols.oml.statistics import to_wad

N, FEE, STAKE, CAP, TERM = 12, 7, 10**16, 10**16, 30 * 86400
P0, FPR = to_wad(0.01), to_wad(1e-6)
MODEL_HASH = b"\x42" * 32
SECRET = b"test-owner-secret-0123456789abcdef"


@pytest.fixture
def setup(env):
    """A registered model (12 fingerprints); the host joined the platform and holds an offer for 0..5."""
    commitment = OwnerCommitment.create(stand_in_fingerprints(N), SECRET, MODEL_HASH)
    model_id, tx = env.registry.register_model(env.owner, MODEL_HASH, commitment.tree.root, N, P0, FPR, CAP, "uri")
    env.registry.join_platform(env.host, hash_text("http://host"), STAKE)
    _, tree = commitment.subset(list(range(6)))
    offer = LicenseOffer(model_id, tree.root, term=TERM, expiry=env.chain.now() + 3600, fee=FEE, nonce=1)
    return env, commitment, model_id, tx, offer


def _sign(env, offer, signer=None, host=None):
    return eip712.sign_license(signer or env.owner, env.registry.domain, offer, (host or env.host).address)


def test_register_model_emits_event_and_stores_model(setup):
    env, commitment, model_id, tx, _ = setup
    assert model_id == 1 and env.registry.model_count() == 1
    (event,) = tx.named("ModelRegistered")
    assert event.args == {"modelId": 1, "owner": env.owner.address, "modelHash": MODEL_HASH,
                          "fingerprintRoot": commitment.tree.root, "numFingerprints": N, "p0": P0, "targetFpr": FPR,
                          "slashCap": CAP, "metadataURI": "uri"}
    model = env.registry.get_model(1)
    assert (model.owner, model.fingerprint_root, model.spent_fingerprints, model.open_challenge) == (
        env.owner.address, commitment.tree.root, 0, 0)
    assert env.registry.model_id_of(env.owner.address, MODEL_HASH) == 1


def test_finding5_squatter_cannot_block_the_owners_registration(env):
    # Prepare: a squatter registers the owner's model hash first (finding 5).
    squatted, _ = env.registry.register_model(env.stranger, MODEL_HASH, b"\x01" * 32, 4, P0, FPR, 0)
    # Execute: the owner registers its model afterwards.
    model_id, _ = env.registry.register_model(env.owner, MODEL_HASH, b"\x02" * 32, 4, P0, FPR, 0)
    # Assert: ids are bound to the registrant; the squatter holds only its own registration.
    assert (squatted, model_id) == (1, 2)
    assert env.registry.model_id_of(env.owner.address, MODEL_HASH) == 2
    assert env.registry.model_id_of(env.stranger.address, MODEL_HASH) == 1
    assert env.registry.get_model(2).owner == env.owner.address


def test_register_model_fails_if_the_same_owner_registers_twice(setup):
    env, commitment, *_ = setup
    with pytest.raises(errors.OMLRegistryModelAlreadyRegistered,
                       match=rf"owner={env.owner.address}, modelHash=0x{MODEL_HASH.hex()}, modelId=1\)"):
        env.registry.register_model(env.owner, MODEL_HASH, commitment.tree.root, N, P0, FPR, CAP)


@pytest.mark.parametrize("root, num, p0, fpr, error, message", [
    (b"\x00" * 32, 4, P0, FPR, errors.OMLRegistryInvalidFingerprintRoot, r"fingerprintRoot=0x0{64}, numFingerprints=4"),
    (b"\x01" * 32, 0, P0, FPR, errors.OMLRegistryInvalidFingerprintRoot, r"numFingerprints=0\)"),
    (b"\x01" * 32, 4, 0, FPR, errors.OMLRegistryInvalidFalseClaimBound, rf"p0=0, targetFpr={FPR}\)"),
    (b"\x01" * 32, 4, to_wad(0.6), FPR, errors.OMLRegistryInvalidFalseClaimBound, rf"p0={to_wad(0.6)}, "),
    (b"\x01" * 32, 4, P0, 10**18, errors.OMLRegistryInvalidFalseClaimBound, r"targetFpr=1000000000000000000\)"),
])
def test_register_model_fails_if_parameters_out_of_range(env, root, num, p0, fpr, error, message):
    with pytest.raises(error, match=message):
        env.registry.register_model(env.owner, b"\x09" * 32, root, num, p0, fpr, 0)


def test_join_platform_bonds_one_stake(setup):
    env, *_ = setup
    host = env.registry.get_host(env.host.address)
    assert (host.stake, host.endpoint_hash, host.exit_at, host.open_claims) == (STAKE, hash_text("http://host"), 0, 0)
    with pytest.raises(errors.OMLRegistryHostAlreadyJoined, match=rf"host={env.host.address}\)"):
        env.registry.join_platform(env.host, hash_text("x"), STAKE)


def test_finding2_one_wei_bond_is_refused(env):
    with pytest.raises(errors.OMLRegistryInsufficientStake,
                       match=rf"host={env.stranger.address}, stake=1, minimum={CONFIG.min_host_stake}\)"):
        env.registry.join_platform(env.stranger, hash_text("x"), 1)


def test_accept_license_records_the_period_and_pays_the_fee(setup):
    env, _, model_id, _, offer = setup
    tx = license_host(env.registry, env.owner, env.host, offer)
    (event,) = tx.named("LicenseAccepted")
    (period,) = env.registry.get_licenses(model_id, env.host.address)
    assert event.args == {"modelId": model_id, "host": env.host.address, "nonce": 1, "start": period.start,
                          "end": period.start + TERM, "fee": FEE, "assignmentRoot": offer.assignment_root}
    assert env.registry.balance_of(env.owner.address) == FEE
    assert env.registry.licensed_during(model_id, env.host.address, period.start, period.start)
    assert not env.registry.licensed_during(model_id, env.host.address, period.end, period.end + 10)
    # A second offer renews: the new period starts where the first ends.
    renewal = LicenseOffer(model_id, offer.assignment_root, 100, offer.expiry, 0, 2)
    license_host(env.registry, env.owner, env.host, renewal)
    assert env.registry.get_licenses(model_id, env.host.address)[1].start == period.end


def test_finding2_used_offer_cannot_relicense_a_terminated_host(setup):
    # Prepare: the host takes the offer; the owner terminates; the grace period passes (finding 2's replay).
    env, _, model_id, _, offer = setup
    signature = _sign(env, offer)
    env.registry.accept_license(env.host, offer, signature)
    tx = env.registry.terminate_license(env.owner, model_id, env.host.address)
    cutoff = tx.named("LicenseTerminated")[0].args["end"]
    assert env.registry.get_licenses(model_id, env.host.address)[0].end == cutoff
    # Execute + Assert: the old signature is refused by the client and by the contract.
    with pytest.raises(ValueError, match=r"licence offer nonce 1 of model 1 is used or revoked"):
        check_offer(env.registry, offer, env.host.address, signature)
    with pytest.raises(errors.OMLRegistryOfferNonceUsed, match=rf"modelId={model_id}, nonce=1\)"):
        env.registry.accept_license(env.host, offer, signature)


def test_finding2_revoked_and_expired_offers_are_refused(setup):
    env, _, model_id, _, offer = setup
    tx = env.registry.revoke_offer(env.owner, model_id, offer.nonce)
    assert tx.named("OfferRevoked")[0].args == {"modelId": model_id, "nonce": 1}
    with pytest.raises(errors.OMLRegistryOfferNonceUsed, match=rf"modelId={model_id}, nonce=1\)"):
        env.registry.accept_license(env.host, offer, _sign(env, offer))
    late = LicenseOffer(model_id, offer.assignment_root, 86400, env.chain.now() - 1, FEE, 2)
    with pytest.raises(errors.OMLRegistryOfferExpired, match=rf"modelId={model_id}, nonce=2, expiry={late.expiry}\)"):
        env.registry.accept_license(env.host, late, _sign(env, late))


@pytest.mark.parametrize("case", ["stranger", "other host", "wrong fee", "zero term", "malleable"])
def test_accept_license_fails_if_offer_or_payment_is_wrong(setup, case):
    env, _, model_id, _, offer = setup
    if case == "stranger":  # signed by someone else
        with pytest.raises(errors.OMLRegistryInvalidLicenseSigner,
                           match=rf"signer={env.stranger.address}, owner={env.owner.address}\)"):
            env.registry.accept_license(env.host, offer, _sign(env, offer, signer=env.stranger))
    elif case == "other host":  # an offer made to another host recovers to a different address
        with pytest.raises(errors.OMLRegistryInvalidLicenseSigner, match=rf"modelId={model_id}, signer=0x"):
            env.registry.accept_license(env.host, offer, _sign(env, offer, host=env.stranger))
    elif case == "wrong fee":
        with pytest.raises(errors.OMLRegistryWrongLicenseFee, match=rf"modelId={model_id}, paid=0, fee={FEE}\)"):
            fn = env.registry.contract.functions.acceptLicense(offer.as_tuple(), _sign(env, offer))
            env.registry._transact(env.host, fn, value=0)
    elif case == "zero term":
        bad = LicenseOffer(model_id, offer.assignment_root, 0, offer.expiry, FEE, 3)
        with pytest.raises(errors.OMLRegistryInvalidOffer, match=r"term=0, assignmentRoot=0x"):
            env.registry.accept_license(env.host, bad, _sign(env, bad))
    else:  # finding 7: the malleated twin (n − s, flipped v) of a valid owner signature
        sig = _sign(env, offer)
        s = int.from_bytes(sig[32:64], "big")
        twin = sig[:32] + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
        with pytest.raises(errors.RegistryRevert, match=rf"ECDSAInvalidSignatureS\(s=0x{(eip712.SECP256K1_N - s):064x}\)"):
            env.registry.accept_license(env.host, offer, twin)


def test_accept_license_fails_for_unjoined_or_exiting_host(setup):
    env, _, _, _, offer = setup
    with pytest.raises(errors.OMLRegistryHostNotJoined, match=rf"host={env.stranger.address}\)"):
        env.registry.accept_license(env.stranger, offer, _sign(env, offer, host=env.stranger))
    tx = env.registry.request_exit(env.host)
    exit_at = tx.named("HostExitRequested")[0].args["exitAt"]
    with pytest.raises(errors.OMLRegistryHostExiting, match=rf"host={env.host.address}, exitAt={exit_at}\)"):
        env.registry.accept_license(env.host, offer, _sign(env, offer))


def test_finding6_stake_is_released_after_the_notice_period(setup):
    env, *_ = setup
    with pytest.raises(errors.OMLRegistryStakeLocked, match=rf"host={env.host.address}, exitAt=0, openClaims=0\)"):
        env.registry.release_stake(env.host)
    exit_at = env.registry.request_exit(env.host).named("HostExitRequested")[0].args["exitAt"]
    assert exit_at == env.registry.get_host(env.host.address).exit_at
    with pytest.raises(errors.OMLRegistryStakeLocked, match=rf"exitAt={exit_at}, openClaims=0\)"):
        env.registry.release_stake(env.host)
    env.chain.advance_time(CONFIG.notice_period + 1)
    tx = env.registry.release_stake(env.host)
    assert tx.named("HostStakeReleased")[0].args == {"host": env.host.address, "stake": STAKE}
    assert env.registry.get_host(env.host.address).endpoint_hash == b"\0" * 32
    before = env.chain.w3.eth.get_balance(env.host.address)
    tx = env.registry.withdraw(env.host)
    assert tx.named("PaymentWithdrawn")[0].args == {"account": env.host.address, "amount": STAKE}
    assert env.chain.w3.eth.get_balance(env.host.address) > before
    with pytest.raises(errors.OMLRegistryNothingToWithdraw, match=rf"account={env.host.address}\)"):
        env.registry.withdraw(env.host)


def test_owner_only_calls_fail_for_non_owner(setup):
    env, _, model_id, _, offer = setup
    with pytest.raises(errors.OMLRegistryUnauthorizedOwner, match=rf"modelId={model_id}, account={env.stranger.address}\)"):
        env.registry.commit_challenge(env.stranger, model_id, 8, b"\x01" * 32)
    with pytest.raises(errors.OMLRegistryUnauthorizedOwner, match=rf"account={env.host.address}\)"):
        env.registry.revoke_offer(env.host, model_id, 5)
    with pytest.raises(errors.OMLRegistryHostNotLicensed, match=rf"modelId={model_id}, host={env.host.address}, "
                                                                r"licenseIndex=0\)"):
        env.registry.terminate_license(env.owner, model_id, env.host.address)
    with pytest.raises(errors.OMLRegistryUnknownModel, match=r"OMLRegistryUnknownModel\(modelId=9\)"):
        env.registry.accept_license(env.host, LicenseOffer(9, b"\x01" * 32, 1, 2**40, 0, 1), b"\0" * 65)


def test_deploy_fails_if_quorum_is_not_a_majority(env):
    from loyal.contracts.client import OMLRegistryClient

    with pytest.raises(errors.OMLRegistryInvalidArbiters, match=r"count=4, quorum=2\)"):
        OMLRegistryClient.deploy(env.chain, env.owner, [a.address for a in env.arbiters] + [env.host.address], 2,
                                 CONFIG)
