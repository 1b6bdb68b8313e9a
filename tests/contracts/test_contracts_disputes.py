# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Disputed claims of OMLRegistry (the arbiter quorum decides, not the owner), a licensed host's leaked
assignment, on-chain thresholds at the edges, and the challenge life cycle refusing every invalid transition."""

from __future__ import annotations

import socket

import pytest

from loyal.contracts import eip712, errors
from loyal.contracts.client import ChallengeStatus
from loyal.contracts.demo import stand_in_fingerprints
from loyal.contracts.merkle import hash_text
from loyal.contracts.host import HostServer, SignedOutput
from loyal.contracts.workflow import StandInModel, build_reveal, challenge_host
from loyal.protocols.oml.statistics import chain_threshold, to_wad

from loyal.contracts.demo import DEMO_CONFIG as CONFIG
from tests.contracts.challenge_world import CAP, FPR, N, STAKE, World


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
