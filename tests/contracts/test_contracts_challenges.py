# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Committed challenges and claims of OMLRegistry, on the embedded chain and on a hardhat node (disputes and the
challenge life cycle: `test_contracts_disputes.py`).

Each finding of issue #20 that concerns slashing is scripted as the attacker would run it and must now fail:
finding 1 (an honest licensed host slashed), 3 (old signatures reused), 4 (cherry-picked evidence) and 7 (bad
signatures, host 0, repeated keys).
"""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from loyal.contracts import eip712, errors
from loyal.contracts.client import ChallengeItem, ChallengeStatus
from loyal.contracts.merkle import Fingerprint, MerkleTree, hash_text
from loyal.contracts.workflow import ChallengePlan, keys_hash
from loyal.protocols.oml.statistics import chain_threshold, to_wad

from loyal.contracts.demo import DEMO_CONFIG as CONFIG
from tests.contracts.challenge_world import CAP, FPR, P0, SALT, STAKE


def test_unlicensed_serving_is_claimed_and_slashed_after_the_dispute_window(world):
    # Prepare: the owner commits to 8 keys before querying the pirate.
    fps = world.commitment.fingerprints[8:16]
    plan, challenge_id, tx = world.commit(world.pirate, fps)
    committed = world.registry.get_challenge(challenge_id)
    assert tx.named("ChallengeCommitted")[0].args == {"challengeId": challenge_id, "modelId": world.model_id,
                                                       "count": 8, "threshold": 4, "deadline": committed.deadline}
    assert committed.host == "0x" + "0" * 40  # the accused host stays hidden until the reveal
    # Execute: the pirate answers 5 of 8 keys with the fingerprint response; the reveal opens all 8.
    answers = [world.sign(world.pirate, fp, None if k < 5 else "other") for k, fp in enumerate(plan.fingerprints)]
    tx = world.reveal(plan, challenge_id, answers)
    # Assert: the contract counted 5 ≥ τ(8) = 4, spent all 8 and opened a claim in its dispute window.
    assert tx.named("ChallengeRevealed")[0].args == {"challengeId": challenge_id, "host": world.pirate.address,
                                                      "matches": 5, "threshold": 4, "status": ChallengeStatus.PENDING}
    claim = world.registry.get_challenge(challenge_id)
    assert (claim.status, claim.matches, claim.slashed) == (ChallengeStatus.PENDING, 5, 0)
    assert claim.keys_hash == keys_hash([fp.key_hash for fp in plan.fingerprints])
    evidence = b"\0" * 32
    for item in world.items(plan, answers):
        evidence = keccak(encode(["bytes32", "bytes32", "bytes32", "uint64"],
                                 [evidence, item.fingerprint.leaf(), item.output_hash, item.timestamp]))
    assert claim.evidence == evidence
    assert all(world.registry.is_spent(world.model_id, fp.index) for fp in fps)
    assert world.registry.get_model(world.model_id).spent_fingerprints == 8
    assert world.registry.get_host(world.pirate.address).open_claims == 1
    with pytest.raises(errors.OMLRegistryWrongTime, match=rf"challengeId={challenge_id}, deadline={claim.deadline}\)"):
        world.registry.finalize_claim(world.env.stranger, challenge_id)
    # Execute: nobody disputes; after the window anyone finalizes.
    world.chain.advance_time(CONFIG.dispute_window + 1)
    tx = world.registry.finalize_claim(world.env.stranger, challenge_id)
    # Assert: the slash is capped at the model's slashCap, paid to the owner (pull).
    assert [e.name for e in tx.events] == ["ClaimResolved", "HostSlashed"]
    assert tx.named("HostSlashed")[0].args == {"modelId": world.model_id, "host": world.pirate.address, "amount": CAP}
    assert world.registry.get_host(world.pirate.address).stake == STAKE - CAP
    assert world.registry.balance_of(world.env.owner.address) == 5 + CAP


def test_finding1_licensed_host_is_never_slashed_for_serving(world):
    # Prepare: the attack of finding 1 — the licensed host honestly answers its assigned keys.
    plan, challenge_id, _ = world.commit(world.host, world.assigned[:6])
    answers = [world.sign(world.host, fp) for fp in plan.fingerprints]
    # Execute + Assert: the reveal is refused because the host held a licence since the commit.
    with pytest.raises(errors.OMLRegistryHostLicensedDuring, match=rf"modelId={world.model_id}, "
                                                                  rf"host={world.host.address}, from="):
        world.reveal(plan, challenge_id, answers)
    assert world.registry.get_host(world.host.address).stake == STAKE
    assert not world.registry.is_spent(world.model_id, world.assigned[0].index)


def test_finding1_repeated_benign_key_cannot_inflate_matches(env):
    # Prepare: an owner registers 8 copies of one benign pair (bypassing the client, which refuses them).
    salt = b"\x01" * 32
    fps = [Fingerprint(i, "Hello, who are you?", "I am a helpful assistant.", salt) for i in range(8)]
    tree = MerkleTree.from_fingerprints(fps)
    model_id, _ = env.registry.register_model(env.owner, b"\x05" * 32, tree.root, 8, P0, FPR, CAP)
    env.registry.join_platform(env.stranger, hash_text("pirate"), STAKE)
    chain_keys = keys_hash([fps[0].key_hash] * 4)
    commitment = keccak(encode(["address", "bytes32", "bytes32"], [env.stranger.address, chain_keys, SALT]))
    challenge_id, _ = env.registry.commit_challenge(env.owner, model_id, 4, commitment)
    out = hash_text("I am a helpful assistant.")
    ts = env.chain.now()
    sig = eip712.sign_response(env.stranger, env.registry.domain, fps[0].key_hash, out, ts, hash_text("pirate"))
    items = [ChallengeItem(fp, tuple(tree.proof(fp.index)), out, ts, sig) for fp in fps[:4]]
    # Execute + Assert: one honest answer reused for four indices is refused (keys must strictly increase).
    with pytest.raises(errors.OMLRegistryKeysNotStrictlyIncreasing,
                       match=rf"position=1, keyHash=0x{fps[0].key_hash.hex()}\)"):
        env.registry.reveal_challenge(env.owner, challenge_id, env.stranger.address, SALT, items)


def test_finding3_answers_signed_during_a_licence_do_not_back_a_later_claim(world):
    # Prepare: the host answers while licensed; then the licence is terminated and the grace period passes.
    fps = world.commitment.fingerprints[8:16]
    old = {fp.index: world.sign(world.host, fp) for fp in fps}
    world.registry.terminate_license(world.env.owner, world.model_id, world.host.address)
    world.chain.advance_time(CONFIG.notice_period + 1)
    # Execute: the owner commits and reveals the old signatures as evidence of unlicensed serving.
    plan, challenge_id, _ = world.commit(world.host, fps)
    world.reveal(plan, challenge_id, [old[fp.index] for fp in plan.fingerprints])
    # Assert: signed before the commit, none counts; the challenge is recorded as failed and nothing is slashed.
    claim = world.registry.get_challenge(challenge_id)
    assert (claim.status, claim.matches) == (ChallengeStatus.FAILED, 0)
    assert world.registry.get_host(world.host.address).stake == STAKE


def test_finding4_reveal_must_open_every_committed_key(world):
    # Prepare: commit 8 keys; the pirate is independent and matches 3 by chance (below τ = 4).
    fps = world.commitment.fingerprints[8:16]
    plan, challenge_id, _ = world.commit(world.pirate, fps)
    answers = [world.sign(world.pirate, fp, None if k < 3 else "no") for k, fp in enumerate(plan.fingerprints)]
    items = world.items(plan, answers)
    # Execute + Assert: revealing only the chance matches is refused ...
    with pytest.raises(errors.OMLRegistryInvalidRevealLength, match=r"count=8, fingerprints=3, proofs=3, responses=3"):
        world.registry.reveal_challenge(world.env.owner, challenge_id, plan.host, SALT, items[:3])
    # ... so is swapping misses for other keys (the commitment binds the key set) ...
    swapped = ChallengePlan.create(world.pirate.address, [*plan.fingerprints[:3], *world.commitment.fingerprints[:5]],
                                   SALT)
    swapped_answers = [world.sign(world.pirate, fp) for fp in swapped.fingerprints]
    with pytest.raises(errors.OMLRegistryCommitmentMismatch, match=rf"challengeId={challenge_id}, commitment="):
        world.reveal(swapped, challenge_id, swapped_answers)
    # ... and a second trial before this one is revealed.
    with pytest.raises(errors.OMLRegistryChallengeOpen, match=rf"modelId={world.model_id}, challengeId={challenge_id}"):
        world.commit(world.pirate, world.commitment.fingerprints[:4])
    # Assert: the honest reveal records the failure and spends the keys.
    world.reveal(plan, challenge_id, answers)
    claim = world.registry.get_challenge(challenge_id)
    assert (claim.status, claim.matches, claim.count) == (ChallengeStatus.FAILED, 3, 8)
    assert world.registry.get_model(world.model_id).spent_fingerprints == 8


def test_finding4_late_reveal_is_recorded_as_failure(world):
    fps = world.commitment.fingerprints[8:12]
    plan, challenge_id, _ = world.commit(world.pirate, fps)
    answers = [world.sign(world.pirate, fp) for fp in plan.fingerprints]
    world.chain.advance_time(CONFIG.reveal_window + 1)
    world.reveal(plan, challenge_id, answers)
    claim = world.registry.get_challenge(challenge_id)
    assert (claim.status, claim.matches) == (ChallengeStatus.FAILED, 0)


@pytest.mark.parametrize("count", [1, 2, 3, 8, 16])
def test_threshold_is_computed_on_chain_like_the_python_mirror(world, count):
    # Golden: τ(n) for p0 = 0.01, FPR = 1e-6 from scipy's exact tail (docs/contracts.md): 2, 3, 3, 4, 5.
    expected = {1: 2, 2: 3, 3: 3, 8: 4, 16: 5}[count]
    assert world.registry.threshold_for(world.model_id, count) == chain_threshold(count, P0, FPR) == expected
    if expected > count:
        with pytest.raises(errors.OMLRegistryInvalidChallengeSize, match=rf"count={count}, threshold={expected}\)"):
            world.registry.commit_challenge(world.env.owner, world.model_id, count, b"\x01" * 32)


def test_finding7_zero_host_and_bad_signatures_never_count(world):
    fps = world.commitment.fingerprints[8:13]
    plan, challenge_id, _ = world.commit(world.pirate, fps)
    good = [world.sign(world.pirate, fp) for fp in plan.fingerprints]
    with pytest.raises(errors.OMLRegistryInvalidHost, match=r"host=0x0{40}\)"):
        world.reveal(plan, challenge_id, good, host="0x" + "0" * 40)
    # Malformed (zeros), high-s (malleated), other endpoint, other signer, future timestamp: all misses.
    out, ts, sig = good[1]
    s = int.from_bytes(sig[32:64], "big")
    malleated = sig[:32] + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    answers = [
        (good[0][0], good[0][1], b"\0" * 65),
        (out, ts, malleated),
        world.sign(world.pirate, plan.fingerprints[2], endpoint="elsewhere"),
        world.sign(world.env.arbiters[0], plan.fingerprints[3]),
        world.sign(world.pirate, plan.fingerprints[4], timestamp=world.chain.now() + 10**6),
    ]
    assert eip712.try_recover(eip712.response_message(world.registry.domain, plan.fingerprints[1].key_hash, out, ts,
                                                      hash_text("pirate")), malleated) is None
    world.reveal(plan, challenge_id, answers)
    assert world.registry.get_challenge(challenge_id).matches == 0


def test_repeated_key_across_challenges_voids_the_later_claim(env):
    # Prepare: a malicious owner hides one key at two indices; challenge A reveals it, B reuses it.
    fps = [Fingerprint(i, f"key {i % 5}", "resp", bytes([i + 1]) * 32) for i in range(6)]  # index 5 repeats key 0
    tree = MerkleTree.from_fingerprints(fps)
    model_id, _ = env.registry.register_model(env.owner, b"\x06" * 32, tree.root, 6, to_wad(0.001), to_wad(0.01), CAP)
    env.registry.join_platform(env.stranger, hash_text("pirate"), STAKE)
    ids, keys = [], []
    for group in ([0, 1], [5, 2]):
        plan = ChallengePlan.create(env.stranger.address, [fps[i] for i in group], SALT)
        challenge_id, _ = env.registry.commit_challenge(env.owner, model_id, 2, plan.commitment)
        items = []
        for fp in plan.fingerprints:
            out, ts = fp.response_hash, env.chain.now()
            sig = eip712.sign_response(env.stranger, env.registry.domain, fp.key_hash, out, ts, hash_text("pirate"))
            items.append(ChallengeItem(fp, tuple(tree.proof(fp.index)), out, ts, sig))
        env.registry.reveal_challenge(env.owner, challenge_id, plan.host, SALT, items)
        ids.append(challenge_id)
        keys.append([fp.key_hash for fp in plan.fingerprints])
    assert env.registry.get_challenge(ids[1]).status == ChallengeStatus.PENDING
    a, b = keys[0].index(fps[0].key_hash), keys[1].index(fps[0].key_hash)
    with pytest.raises(errors.OMLRegistryInvalidRepeatProof, match=rf"challengeId={ids[1]}, earlierId={ids[0]}\)"):
        env.registry.void_repeated_key(env.host, ids[1], ids[0], keys[1], keys[0], b, 1 - a)
    # Execute: anyone proves the repeat. Assert: the later claim is void, nothing is slashed.
    tx = env.registry.void_repeated_key(env.host, ids[1], ids[0], keys[1], keys[0], b, a)
    assert tx.named("ClaimResolved")[0].args == {"challengeId": ids[1], "status": ChallengeStatus.VOIDED, "slashed": 0}
    assert env.registry.get_host(env.stranger.address).stake == STAKE
