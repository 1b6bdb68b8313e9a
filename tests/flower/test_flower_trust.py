# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Trust on the Flower path: nodes pin the committee (member keys), members authenticate each other's
exchange keys and sign the committee key, and clients encrypt only under a key t pinned members signed.
Each attack is the ServerApp's (it relays every message) and each must fail."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, RecordDict

from loyal.client.tls import Identity, raw_public
from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dpftrl_ssa import SsaSettings, ssa_job
from loyal.methods.fl.ticket import ticket_from_bytes, ticket_to_bytes
from loyal.protocols.ssa import enrollment
from loyal.sim.flower_constants import COMMITTEE_KEY, COMMITTEE_MESSAGE_TYPE, SSA_KEY, Key, Stage
from loyal.sim.flower_strategy import SsaDpftrl
from tests.flower.inmemory import InProcessGrid
from tests.flower.test_flower_strategy import _synthetic_app

DIM = 64


def _committee(tmp_path, n: int = 3) -> tuple[dict[int, dict], str, list[Identity]]:
    """n member identities saved as their nodes' identity files: (node configs, pinned keys, identities)."""
    ids = [Identity() for _ in range(n)]
    configs = {}
    for i, ident in enumerate(ids):
        ident.save(tmp_path / f"member-{i + 1}.json")
        configs[i] = {"member-key": str(tmp_path / f"member-{i + 1}.json")}
    return configs, ",".join(i.public_key.hex() for i in ids), ids


def _pinned_run(tmp_path, *, insecure: bool, settings: SsaSettings, nodes: int = 5, noise: float = 0.0):
    """A grid whose nodes pin the committee (run config) and whose members hold their identity files, and a
    strategy whose job pins the same keys; round 1 configured (key generation done)."""
    configs, keys, _ = _committee(tmp_path)
    grid = InProcessGrid(_synthetic_app(), nodes, {"member-keys": keys, "insecure": insecure}, configs)
    strategy = SsaDpftrl(1, noise, committee_size=3, threshold=2, settings=dataclasses.replace(
        settings, member_keys=tuple(keys.split(","))))
    arrays = ArrayRecord({"w": Array(np.zeros(DIM, np.float32))})
    return grid, strategy, arrays, list(strategy.configure_train(1, arrays, ConfigRecord(), grid))


def _errors(replies) -> list[str]:
    return [r.error.reason for r in replies if r.has_error()]


def test_pinned_secure_job_runs_with_proofs_and_noise(tmp_path) -> None:
    # Prepare: a job with no security issue (128-bit set, noise, proofs, pinned members), nodes not insecure.
    grid, strategy, arrays, msgs = _pinned_run(tmp_path, insecure=False, noise=1.0,
                                               settings=SsaSettings(scale=2.0**12, prove_uploads=True, min_cohort=2))
    assert strategy.aggregator.job.security_issues() == ()
    # Execute
    replies = grid.send_and_receive(msgs)
    out, metrics = strategy.aggregate_train(1, replies)
    # Assert: both training nodes' proven uploads accepted and the round released; the ticket carried the
    # three members' signatures of the key, each valid under its pinned key.
    assert _errors(replies) == [] and metrics["loyal-accepted"] == 2 and out is not None
    ticket = ticket_from_bytes(bytes(msgs[0].content.config_records[SSA_KEY][Key.TICKET]))
    assert enrollment.verify_committee_key(ticket.job, ticket.public_key_hat, ticket.key_signatures) == (1, 2, 3)
    # ... and every member that decrypted audited round 0's proven parts first (its state keeps the entry hash).
    head = strategy.aggregator.last_release
    audited = [list(grid.contexts[1000 + i].state.config_records[COMMITTEE_KEY]["audited"]) for i in range(3)]
    assert head.round_index == 0 and sum(len(a) == 1 for a in audited) >= 2


def test_members_refuse_a_round_the_server_let_an_unproven_upload_into(tmp_path, monkeypatch) -> None:
    # Prepare: a proven job; one client's proof is bound to another round (a malicious client), and the
    # ServerApp skips its own verification (it colludes), so the upload enters round 0's sums.
    import loyal.protocols.ssa.client as ssa_client
    import loyal.protocols.ssa.server as ssa_server

    grid, strategy, arrays, msgs = _pinned_run(tmp_path, insecure=True,
                                               settings=SsaSettings(params="insecure-test-n1024", prove_uploads=True))
    real = ssa_client.proof_context
    monkeypatch.setattr(ssa_client, "proof_context", lambda cfg, kind, r, sender: real(cfg, kind, r + 7 * (sender == 0), sender))
    monkeypatch.setattr(ssa_server, "verify_part", lambda *args: None)
    replies = grid.send_and_receive(msgs)
    # Execute / Assert: the server accepts both uploads, but no member decrypts a round holding an unproven part.
    with pytest.raises(Exception, match="threshold|did not answer|live committee"):
        strategy.aggregate_train(1, replies)
    reasons = list(strategy.committee.errors.values())
    assert strategy.aggregator.state.core.log[0].header.num_clients == 2
    assert len(reasons) == 3 and all("client_contribution part of sender 0 is not proven well formed" in r for r in reasons)


def test_client_refuses_a_committee_key_the_server_swapped(tmp_path) -> None:
    # Prepare: the pinned committee generated its key; the ServerApp replaces it in the tickets by another
    # valid key (one whose secret it would hold) and keeps the members' signatures.
    grid, strategy, arrays, msgs = _pinned_run(tmp_path, insecure=True, settings=SsaSettings(params="insecure-test-n1024"))
    for msg in msgs:
        rec = msg.content.config_records[SSA_KEY]
        ticket = ticket_from_bytes(bytes(rec[Key.TICKET]))
        swapped = dataclasses.replace(ticket, public_key_hat=np.roll(ticket.public_key_hat, 1, axis=-1))
        rec[Key.TICKET.value] = ticket_to_bytes(swapped)
    # Execute
    replies = grid.send_and_receive(msgs)
    # Assert: every client refuses to encrypt; no upload leaves a node.
    assert len(_errors(replies)) == len(msgs) == 2
    assert all("AuthenticationError" in e and "0 valid member signatures, needs t=2" in e for e in _errors(replies))


def test_client_refuses_a_job_of_another_committee(tmp_path) -> None:
    # Prepare: the ServerApp makes up a job pinning keys of its own and runs key generation with members it
    # controls (here: nodes holding its identities), then sends that job's tickets to clients that pin the real committee.
    real, fake_dir = tmp_path / "real", tmp_path / "fake"
    real.mkdir()
    fake_dir.mkdir()
    _, real_keys, _ = _committee(real)
    grid, strategy, arrays, msgs = _pinned_run(fake_dir, insecure=True, settings=SsaSettings(params="insecure-test-n1024"))
    for ctx in grid.contexts.values():
        ctx.run_config["member-keys"] = real_keys  # what the clients actually pin
    # Execute
    replies = grid.send_and_receive(msgs)
    # Assert
    assert len(_errors(replies)) == 2
    assert all("AuthenticationError" in e and "refusing a job of another committee" in e for e in _errors(replies))


def test_member_refuses_a_peer_exchange_key_the_server_substituted(tmp_path) -> None:
    # Prepare: three pinned members commit; the ServerApp swaps member 2's exchange key for its own and signs
    # the swap with a key of its own (it has no member's key), relaying that as member 2's signing key.
    configs, keys, _ = _committee(tmp_path)
    grid = InProcessGrid(_synthetic_app(), 3, {"member-keys": keys, "insecure": True}, configs)
    settings = SsaSettings(params="insecure-test-n1024", committee_size=3, threshold=2, member_keys=tuple(keys.split(",")))
    job = ssa_job(PrivacyConfig(expected_clients=1, rounds=1, participations=1), 10, settings, 2)
    commits = {}
    for m in (1, 2, 3):
        body = {"stage": Stage.COMMIT.value, "job": json.dumps(job.to_json()), "member-id": m}
        (r,) = grid.send_and_receive([Message(RecordDict({COMMITTEE_KEY: ConfigRecord(body)}), dst_node_id=999 + m,
                                              message_type=COMMITTEE_MESSAGE_TYPE)])
        commits[m] = r.content.config_records[COMMITTEE_KEY]
    mallory = Identity()
    fake = raw_public(X25519PrivateKey.generate())
    roster = {"stage": "reveal", "members": [1, 2, 3]}
    for many, one in (("exchange-keys", "exchange-key"), ("commitments", "commitment"), ("signing-keys", "signing-key"),
                      ("join-signatures", "join-signature"), ("commitment-signatures", "commitment-signature")):
        roster[many] = [bytes(commits[m][one]) for m in (1, 2, 3)]
    roster["exchange-keys"][1] = fake
    roster["signing-keys"][1] = mallory.public_key
    roster["join-signatures"][1] = mallory.sign(enrollment.join_message(job, 2, fake))
    # Execute: member 1 is asked to seal its shares to the roster.
    (reply,) = grid.send_and_receive([Message(RecordDict({COMMITTEE_KEY: ConfigRecord(roster)}), dst_node_id=1000,
                                              message_type=COMMITTEE_MESSAGE_TYPE)])
    # Assert: it refuses (member 2 is pinned to another key) and seals nothing.
    assert reply.has_error() and "AuthenticationError" in reply.error.reason and "member 2 is pinned to key" in reply.error.reason


@pytest.mark.parametrize(("run_config", "node_key", "error"), [
    ({}, True, "InsecureJobError: this node pins no committee"),  # no pin, not insecure
    ({"insecure": False}, True, "InsecureJobError: this node pins no committee"),
    ("pinned", False, "AuthenticationError: member 1 is pinned to key"),  # the node's identity is not the pinned one
    ("pinned-secure", True, "InsecureJobError: refusing an insecure job"),  # pinned, but the job has security issues
])
def test_member_refuses_to_serve_without_a_trusted_job(tmp_path, run_config, node_key, error) -> None:
    configs, keys, _ = _committee(tmp_path, 1)
    if isinstance(run_config, str):
        run_config = {"member-keys": keys, "insecure": run_config == "pinned"}
    if not node_key:
        Identity().save(tmp_path / "other.json")
        configs = {0: {"member-key": str(tmp_path / "other.json")}}
    grid = InProcessGrid(_synthetic_app(), 1, run_config, configs)
    settings = SsaSettings(params="insecure-test-n1024", committee_size=1, threshold=1, member_keys=(keys,))
    job = ssa_job(PrivacyConfig(expected_clients=1, rounds=1, participations=1), 10, settings, 2)
    body = {"stage": Stage.COMMIT.value, "job": json.dumps(job.to_json()), "member-id": 1}
    (reply,) = grid.send_and_receive([Message(RecordDict({COMMITTEE_KEY: ConfigRecord(body)}), dst_node_id=1000,
                                              message_type=COMMITTEE_MESSAGE_TYPE)])
    assert reply.has_error() and error in reply.error.reason, reply.error.reason
    assert COMMITTEE_KEY not in grid.contexts[1000].state.config_records  # nothing kept
