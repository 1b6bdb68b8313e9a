# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Committee hand-off over gRPC: the outgoing committee re-shares its key (proactive resharing,
Herzberg et al. 1995) through the server to an incoming committee of another size and threshold,
retires, and the new committee decrypts a release spanning rounds stored under the old one."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from loyal.client.committee import CommitteeRunner
from loyal.client.constants import Key
from loyal.client.grpc_client import Session
from loyal.protocols.proto.loyal.v1 import committee_pb2
from loyal.server.coordinator import Coordinator
from loyal.protocols.ssa.rounds import RoundStage
from loyal.server.store import Store
from tests.server.harness import InProcessServer, make_spec, member_threads, reference_releases, tokens
from tests.server.test_grpc_server import _releases, _run_rounds

CLIENTS = 3
# Round 0 under members 1..3 (t = 2); after its release members 4..7 (t = 3) take over.
ROTATIONS = ((0, 4, 3),)


def test_rotated_committee_decrypts_release_spanning_old_rounds(tmp_path):
    # Prepare
    spec = make_spec(clients=CLIENTS, noise=0.5, rounds=2, rotations=ROTATIONS)
    db = str(tmp_path / "s.db")
    # Execute: 2 rounds; the prefix-sum release after round 1 needs round 0 (stored under the old key holders).
    with InProcessServer(db, spec, toks=tokens(2 * CLIENTS)) as srv:
        with member_threads(srv.address, 7) as results:
            _run_rounds(srv.address, 2)
        got = _releases(srv.address)
        status = srv.coord.status()
        db_ = srv.coord.store.db
        subset = srv.coord.store.handoff_subset(1)
        round1_partials = {m for (m,) in db_.execute(
            "SELECT member_id FROM partials WHERE request_id IN (SELECT request_id FROM requests WHERE round = 1)")}
        noise1 = {m for (m,) in db_.execute("SELECT sender FROM submissions WHERE round = 1 AND kind = 'noise'")}
    # A restart on the same store comes back in the new epoch with the same releases.
    store = Store(db)
    restarted = Coordinator.open_job(store, job=None, round_seconds=60.0)
    after = (restarted.status(), [r.request_id for r in restarted.releases], restarted.config.committee)
    store.close()
    # Assert: both releases equal the pure protocol (no hand-off there: the key is the same secret).
    assert all(isinstance(v, dict) for v in results.values()), results
    want = reference_releases(spec, 2, CLIENTS)
    assert len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.integer_values, w)
    assert got[1].data == {0: 1, 1: 1}  # the new committee decrypted a row over round 0
    assert status["state"] == RoundStage.DONE and status["epoch"] == 1
    # The old subset re-shared once each and retired; the new committee alone served round 1.
    assert len(subset) == 2 and set(subset) <= {1, 2, 3}
    assert {m: results[m][Key.HANDOFFS] for m in (1, 2, 3)} == {m: int(m in subset) for m in (1, 2, 3)}
    assert round1_partials <= {4, 5, 6, 7} and len(round1_partials) == 3
    assert noise1 == {4, 5, 6, 7}
    assert after[0]["epoch"] == 1 and after[0]["state"] == RoundStage.DONE
    assert after[1] == [g.request_id for g in got] and after[2] == (4, 5, 6, 7)


def test_handoff_rpcs_fail_if_out_of_turn(tmp_path):
    # Prepare: a job still in key generation; member 1 joins (signing key bound), member 4 not.
    spec = make_spec(clients=CLIENTS, rounds=2, rotations=ROTATIONS)
    with InProcessServer(str(tmp_path / "s.db"), spec) as srv, Session(srv.address, max_attempts=1) as s:
        member = CommitteeRunner(srv.address, 1, insecure=True)
        member._join(s, b"\x00" * 32)
        stranger = CommitteeRunner(srv.address, 8, insecure=True)
        signed = committee_pb2.HandOffSubmission(member_id=1, epoch=1, signature=member._sign(
            "handoff", spec.job_id, (1).to_bytes(4, "little"), b""))
        cases = [
            (grpc.StatusCode.UNAUTHENTICATED, "member 4 has not joined",
             lambda: s.call(s.committee.GetHandOff, committee_pb2.MemberRequest(member_id=4))),
            (grpc.StatusCode.PERMISSION_DENIED, "member_id 8 is in no committee", lambda: stranger._join(s, b"\x00" * 32)),
            (grpc.StatusCode.PERMISSION_DENIED, "gets no hand-off",
             lambda: s.call(s.committee.GetHandOff, committee_pb2.MemberRequest(member_id=1))),
            (grpc.StatusCode.UNAUTHENTICATED, "signature",
             lambda: s.call(s.committee.SubmitHandOff, committee_pb2.HandOffSubmission(member_id=1, epoch=1))),
            (grpc.StatusCode.FAILED_PRECONDITION, "no hand-off into epoch 1 is running",
             lambda: s.call(s.committee.SubmitHandOff, signed)),
        ]
        # Execute / Assert
        for code, match, fn in cases:
            with pytest.raises(grpc.RpcError) as info:
                fn()
            assert info.value.code() == code and match in info.value.details(), info.value.details()
