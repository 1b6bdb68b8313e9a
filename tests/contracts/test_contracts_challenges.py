# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Committed challenges, claims and disputes of OMLRegistry, on the embedded chain and on a hardhat node.

Each finding of issue #20 that concerns slashing is scripted as the attacker would run it and must now fail:
finding 1 (an honest licensed host slashed), 3 (old signatures reused), 4 (cherry-picked evidence) and 7 (bad
signatures, host 0, repeated keys).
"""

from __future__ import annotations

import socket

import pytest
from eth_abi import encode
from eth_utils import keccak

from loyal.contracts import eip712, errors
from loyal.contracts.client import ChallengeItem, ChallengeStatus
from loyal.contracts.demo import stand_in_fingerprints
from loyal.contracts.eip712 import LicenseOffer
from loyal.contracts.merkle import Fingerprint, MerkleTree, hash_text
from loyal.contracts.host import HostServer, SignedOutput
from loyal.contracts.workflow import (
    ChallengePlan, OwnerCommitment, StandInModel, build_reveal, challenge_host, keys_hash, license_host,
)
from loyal.protocols.oml.statistics import chain_threshold, to_wad

from loyal.contracts.demo import DEMO_CONFIG as CONFIG

N, STAKE, CAP = 16, 10**18, 6 * 10**17
P0, FPR = to_wad(0.01), to_wad(1e-6)  # τ(8) = 4
MODEL_HASH = b"\x42" * 32
SALT = b"\x07" * 32


class World:
    """A registered model; `pirate` joined the platform unlicensed, `host` joined and is licensed on 0..7."""

    def __init__(self, env):
        self.env, self.registry, self.chain = env, env.registry, env.chain
        self.commitment = OwnerCommitment.create(stand_in_fingerprints(N), b"owner-secret-0123456789", MODEL_HASH)
        self.model_id, _ = env.registry.register_model(env.owner, MODEL_HASH, self.commitment.tree.root, N, P0, FPR,
                                                       CAP, "uri")
        self.pirate, self.host = env.stranger, env.host
        for account, endpoint in ((self.pirate, "pirate"), (self.host, "host")):
            env.registry.join_platform(account, hash_text(endpoint), STAKE)
        self.assigned, self.assignment = self.commitment.subset(list(range(8)))
        offer = LicenseOffer(self.model_id, self.assignment.root, 30 * 86400, env.chain.now() + 3600, 5, 1)
        license_host(env.registry, env.owner, self.host, offer)

    def sign(self, account, fp, output=None, timestamp=None, endpoint=None):
        """`account`'s signed answer to `fp` (default: the committed response, now, its own endpoint)."""
        out = hash_text(fp.response if output is None else output)
        ts = self.chain.now() if timestamp is None else timestamp
        name = {self.pirate.address: "pirate", self.host.address: "host"}.get(account.address, "other")
        endpoint_hash = hash_text(name if endpoint is None else endpoint)
        return out, ts, eip712.sign_response(account, self.registry.domain, fp.key_hash, out, ts, endpoint_hash)

    def commit(self, account, fps):
        plan = ChallengePlan.create(account.address, fps, SALT)
        challenge_id, tx = self.registry.commit_challenge(self.env.owner, self.model_id, len(fps), plan.commitment)
        return plan, challenge_id, tx

    def items(self, plan, answers):
        """Reveal items in plan order; `answers[i]` = (output_hash, timestamp, signature)."""
        return [ChallengeItem(fp, self.commitment.proof(fp), *answer) for fp, answer in zip(plan.fingerprints, answers)]

    def reveal(self, plan, challenge_id, answers, host=None):
        return self.registry.reveal_challenge(self.env.owner, challenge_id, host or plan.host, plan.salt,
                                              self.items(plan, answers))


@pytest.fixture
def world(env):
    return World(env)


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


@pytest.fixture
def pending(world):
    """A pending serving claim against the pirate (8 of 8 matches)."""
    plan, challenge_id, _ = world.commit(world.pirate, world.commitment.fingerprints[8:16])
    world.reveal(plan, challenge_id, [world.sign(world.pirate, fp) for fp in plan.fingerprints])
    return world, challenge_id


def test_disputed_claim_is_decided_by_the_arbiter_quorum_not_the_owner(pending):
    world, challenge_id = pending
    arbiters = world.env.arbiters
    with pytest.raises(errors.OMLRegistryNotAccusedHost, match=rf"account={world.env.owner.address}\)"):
        world.registry.dispute_claim(world.env.owner, challenge_id, b"\x01" * 32)
    tx = world.registry.dispute_claim(world.pirate, challenge_id, b"\xaa" * 32)
    deadline = world.registry.get_challenge(challenge_id).deadline
    assert tx.named("ClaimDisputed")[0].args == {"challengeId": challenge_id, "answerHash": b"\xaa" * 32,
                                                  "votingDeadline": deadline}
    with pytest.raises(errors.OMLRegistryNotArbiter, match=rf"account={world.env.owner.address}\)"):
        world.registry.vote_on_claim(world.env.owner, challenge_id, True)
    world.registry.vote_on_claim(arbiters[0], challenge_id, False)
    with pytest.raises(errors.OMLRegistryArbiterCannotVote, match=rf"arbiter={arbiters[0].address}\)"):
        world.registry.vote_on_claim(arbiters[0], challenge_id, False)
    tx = world.registry.vote_on_claim(arbiters[1], challenge_id, False)
    assert tx.named("ClaimResolved")[0].args == {"challengeId": challenge_id, "status": ChallengeStatus.REJECTED,
                                                  "slashed": 0}
    assert world.registry.get_host(world.pirate.address).stake == STAKE


def test_disputed_claim_without_quorum_is_rejected_and_an_upheld_one_slashes(pending):
    world, challenge_id = pending
    world.registry.dispute_claim(world.pirate, challenge_id, b"\xaa" * 32)
    world.registry.vote_on_claim(world.env.arbiters[0], challenge_id, True)
    world.chain.advance_time(CONFIG.voting_window + 1)
    tx = world.registry.finalize_claim(world.env.owner, challenge_id)
    assert tx.named("ClaimResolved")[0].args["status"] == ChallengeStatus.REJECTED
    assert world.registry.get_host(world.pirate.address).open_claims == 0


def test_leak_of_a_licensed_hosts_assignment_goes_through_dispute_and_is_capped(world):
    # Prepare: 6 of the host's assigned fingerprints were answered by an unlicensed deployment (off-chain evidence).
    fps = sorted(world.assigned[:6], key=lambda fp: fp.key_hash)
    position = {world.assignment.leaf(i): i for i in range(world.assignment.size)}
    model_proofs = [world.commitment.proof(fp) for fp in fps]
    assignment_proofs = [world.assignment.proof(position[fp.leaf()]) for fp in fps]
    args = (world.env.owner, world.model_id, world.host.address, 0)
    with pytest.raises(errors.OMLRegistryBelowThreshold, match=r"matches=3, threshold=4\)"):
        world.registry.report_leak(*args, 3, b"\xee" * 32, fps, model_proofs, assignment_proofs)
    outside = world.commitment.fingerprints[8]  # not in the host's assignment
    bad = sorted([outside, *fps[1:]], key=lambda fp: fp.key_hash)
    with pytest.raises(errors.OMLRegistryInvalidProof, match=rf"index=8, .*root=0x{world.assignment.root.hex()}\)"):
        world.registry.report_leak(*args, 4, b"\xee" * 32, bad, [world.commitment.proof(fp) for fp in bad],
                                   [world.assignment.proof(position.get(fp.leaf(), 0)) for fp in bad])
    challenge_id, tx = world.registry.report_leak(*args, 6, b"\xee" * 32, fps, model_proofs, assignment_proofs)
    assert tx.named("LeakReported")[0].args == {"challengeId": challenge_id, "modelId": world.model_id,
                                                 "host": world.host.address, "count": 6, "matches": 6,
                                                 "evidenceHash": b"\xee" * 32}
    # The host answers; two arbiters uphold: the slash is the cap, not the whole stake.
    world.registry.dispute_claim(world.host, challenge_id, b"\xab" * 32)
    world.registry.vote_on_claim(world.env.arbiters[1], challenge_id, True)
    tx = world.registry.vote_on_claim(world.env.arbiters[2], challenge_id, True)
    assert tx.named("HostSlashed")[0].args["amount"] == CAP
    assert world.registry.get_host(world.host.address).stake == STAKE - CAP


@pytest.mark.parametrize("p0, fpr", [(0.0625, 1e-9), (1e-4, 1e-2), (0.5, 1e-6)])
def test_threshold_on_chain_equals_the_mirror_at_the_edges(env, p0, fpr):
    # The contract's τ(n) is the Python mirror's bit for bit, up to MAX_CHALLENGE_SIZE = 1024 (golden: scipy's
    # exact thresholds, e.g. τ(1024) = 116 at p0 = 1/16, FPR = 1e-9).
    model_id, _ = env.registry.register_model(env.owner, b"\x0a" * 32, b"\x01" * 32, 4, to_wad(p0), to_wad(fpr), 0)
    for n in (1, 3, 100, 1000, 1024):
        assert env.registry.threshold_for(model_id, n) == chain_threshold(n, to_wad(p0), to_wad(fpr))
    if p0 == 0.0625:
        assert env.registry.threshold_for(model_id, 1024) == 116
    with pytest.raises(errors.OMLRegistryInvalidChallengeSize, match=r"count=1025, threshold=0\)"):
        env.registry.threshold_for(model_id, 1025)


def test_client_counts_matches_like_the_contract(world):
    # Finding 7 (client side): the owner checks every answer before revealing and predicts the contract's count.
    fps = world.commitment.fingerprints[8:12]
    plan, challenge_id, _ = world.commit(world.pirate, fps)
    committed_at = world.registry.get_challenge(challenge_id).committed_at
    outputs = []
    for k, fp in enumerate(plan.fingerprints):
        signer = world.env.arbiters[0] if k == 1 else world.pirate
        ts = committed_at - 1 if k == 2 else world.chain.now()  # k = 2: signed before the commit
        _, _, sig = world.sign(signer, fp, timestamp=ts, endpoint="pirate")
        if k == 3:  # malleated twin of a valid signature
            s = int.from_bytes(sig[32:64], "big")
            sig = sig[:32] + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
        outputs.append(SignedOutput(fp.key, fp.response, ts, hash_text("pirate"), world.pirate.address, sig))
    items, expected = build_reveal(plan, world.commitment, outputs, world.registry.domain, hash_text("pirate"),
                                   committed_at, world.chain.now() + 1)
    assert expected == 1
    world.registry.reveal_challenge(world.env.owner, challenge_id, plan.host, plan.salt, items)
    assert world.registry.get_challenge(challenge_id).matches == expected
    with pytest.raises(ValueError, match=r"output for fingerprint \d+ answers a different prompt"):
        build_reveal(plan, world.commitment, outputs[::-1], world.registry.domain, hash_text("pirate"), 0, 2**40)


# Challenge life cycle: every call against every state it must refuse (all pairs minus the valid ones).
_VALID = {"reveal": {ChallengeStatus.COMMITTED}, "dispute": {ChallengeStatus.PENDING},
          "vote": {ChallengeStatus.DISPUTED}, "finalize": {ChallengeStatus.PENDING, ChallengeStatus.DISPUTED}}


def _reach(world, status):
    """A challenge id in `status` (Committed, Failed, Pending, Disputed, Upheld or Rejected)."""
    plan, challenge_id, _ = world.commit(world.pirate, [world.commitment.fingerprints[8 + world.used]])
    world.used += 1
    if status == ChallengeStatus.COMMITTED:
        return challenge_id, plan
    answer = world.sign(world.pirate, plan.fingerprints[0], None if status != ChallengeStatus.FAILED else "no")
    world.reveal(plan, challenge_id, [answer])
    if status in (ChallengeStatus.DISPUTED, ChallengeStatus.REJECTED):
        world.registry.dispute_claim(world.pirate, challenge_id, b"\x01" * 32)
    if status == ChallengeStatus.REJECTED:
        for arbiter in world.env.arbiters[:2]:
            world.registry.vote_on_claim(arbiter, challenge_id, False)
    if status == ChallengeStatus.UPHELD:
        world.chain.advance_time(CONFIG.dispute_window + 1)
        world.registry.finalize_claim(world.env.owner, challenge_id)
    return challenge_id, plan


def test_challenge_state_machine_refuses_every_invalid_transition(env):
    world = World(env)
    world.used = 0
    # p0 = 0.01 gives τ(1) = 2 > 1: a model with p0 = 1e-7 lets one key make a claim.
    world.model_id, _ = env.registry.register_model(env.owner, b"\x0b" * 32, world.commitment.tree.root, N,
                                                    to_wad(1e-7), FPR, CAP)
    for status in (ChallengeStatus.COMMITTED, ChallengeStatus.FAILED, ChallengeStatus.PENDING,
                   ChallengeStatus.DISPUTED, ChallengeStatus.UPHELD, ChallengeStatus.REJECTED):
        challenge_id, plan = _reach(world, status)
        assert world.registry.get_challenge(challenge_id).status == status
        calls = {
            "reveal": lambda: world.reveal(plan, challenge_id, [world.sign(world.pirate, plan.fingerprints[0])]),
            "dispute": lambda: world.registry.dispute_claim(world.pirate, challenge_id, b"\x02" * 32),
            "vote": lambda: world.registry.vote_on_claim(env.arbiters[2], challenge_id, True),
            "finalize": lambda: world.registry.finalize_claim(env.owner, challenge_id),
        }
        for name, call in calls.items():
            if status in _VALID[name]:
                continue
            with pytest.raises(errors.OMLRegistryInvalidChallengeStatus,
                               match=rf"challengeId={challenge_id}, status={int(status)}\)"):
                call()
        if status == ChallengeStatus.COMMITTED:  # close it so the next commit is allowed
            world.reveal(plan, challenge_id, [world.sign(world.pirate, plan.fingerprints[0], "no")])
    # An open claim keeps the stake: the exit waits for it.
    env.chain.advance_time(1)
    exit_at = env.registry.request_exit(world.pirate).named("HostExitRequested")[0].args["exitAt"]
    env.chain.advance_time(CONFIG.notice_period + 1)
    open_claims = env.registry.get_host(world.pirate.address).open_claims
    assert open_claims == 2  # the Pending and the Disputed one
    with pytest.raises(errors.OMLRegistryStakeLocked, match=rf"exitAt={exit_at}, openClaims=2\)"):
        env.registry.release_stake(world.pirate)


def test_challenge_resumes_after_the_owner_died_between_commit_and_reveal(world):
    # Prepare: the first run commits, then cannot reach the host (nothing listens on the URL).
    secret = b"owner-secret-0123456789"
    with socket.socket() as s:  # a free port nobody serves
        s.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(OSError):
        challenge_host(world.registry, world.env.owner, world.model_id, world.commitment, world.pirate.address,
                       dead_url, 4, secret, clock=world.chain.now)
    open_id = world.registry.get_model(world.model_id).open_challenge
    assert world.registry.get_challenge(open_id).status == ChallengeStatus.COMMITTED
    # Execute: a second run with the same secret recomputes the salt and resumes the open commit.
    pairs = stand_in_fingerprints(N)
    with HostServer(StandInModel(pairs), world.pirate, world.registry.domain, "pirate", clock=world.chain.now) as srv:
        with pytest.raises(ValueError, match=rf"model {world.model_id} has the open challenge {open_id} of another"):
            challenge_host(world.registry, world.env.owner, world.model_id, world.commitment, world.pirate.address,
                           srv.url, 5, secret, clock=world.chain.now)
        result = challenge_host(world.registry, world.env.owner, world.model_id, world.commitment,
                                world.pirate.address, srv.url, 4, secret, clock=world.chain.now)
    # Assert: same challenge, no second commit, 4 of 4 matches, pending.
    assert (result["challenge_id"], result["matches"], result["status"]) == (open_id, 4, "pending")
    assert list(result["gas"]) == ["revealChallenge"]
