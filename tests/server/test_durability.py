# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The durable write comes before the in-memory change: a process that dies between the two loses
nothing and double-counts nothing; and the server enforces the job's participation schema (k, b)
with the participation ledger, across restarts."""

from __future__ import annotations

import os

import grpc
import pytest

from loyal.client.grpc_client import Session
from loyal.client.runner import run_client, wait_for_task
from loyal.client.tls import Identity
from loyal.protocols.dpftrl.ledger import ParticipationError
from loyal.protocols.proto.convert import submit_message
from loyal.protocols.proto.loyal.v1 import client_pb2
from loyal.protocols.ssa.client import SsaClient
from loyal.protocols.ssa.messages import frame_digest
from loyal.server.coordinator import Coordinator, Upload
from loyal.server.store import Store
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens, update_for

CLIENTS = 3


class _Killed(BaseException):
    """Stands for SIGKILL at one exact instruction (a BaseException: nothing in the server catches it)."""


def _signed_upload(job, task, ident: Identity, round_index: int = 0) -> Upload:
    payload = SsaClient(job.config_for_epoch(0)).create_contribution(
        update_for(round_index, 0), round_index=round_index, client_id=ident.client_id, public_key_hat=task.public_key_hat)
    nonce, digest = os.urandom(16), frame_digest(payload)
    sig = ident.sign(submit_message(job.job_id, round_index, nonce, digest, "client"))
    return Upload(round_index, ident.public_key, nonce, digest, sig, payload)


def test_kill_between_store_write_and_memory_loses_nothing_and_double_counts_nothing(tmp_path):
    # Prepare: a served job whose round 0 is open, an enrolled client, then the server stops.
    db, job = str(tmp_path / "s.db"), make_spec(clients=CLIENTS, rounds=1)
    with InProcessServer(db, job, toks=tokens(CLIENTS)) as srv, member_threads(srv.address, 3):
        with Session(srv.address) as s:
            ident = Identity()
            ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(token="tok-0", public_key=ident.public_key)).client_id
            task = wait_for_task(s, 30, insecure=True)
        srv._loop.call_soon_threadsafe(setattr, srv.coord.state, "stage", srv.coord.state.stage.DONE)
    up = _signed_upload(job, task, ident)
    coord = Coordinator.open_job(Store(db), job=None, round_seconds=60.0)

    def killed(*_args):
        raise _Killed()

    coord.driver.include_upload = killed  # the process dies right after the store's commit
    # Execute
    with pytest.raises(_Killed):
        coord.submit_client(up)
    assert coord.state.clients == 0  # memory never saw it
    coord.store.close()
    restarted = Coordinator.open_job(Store(db), job=None, round_seconds=60.0)
    retried = restarted.submit_client(up)  # the client retries with the same nonce
    # Assert: the stored upload is back after the restart, exactly once; the retry is a duplicate.
    assert restarted.state.clients == 1
    assert retried == (True, 1)
    assert restarted.store.db.execute("SELECT COUNT(*) FROM submissions WHERE kind = 'client'").fetchone()[0] == 1
    assert restarted.store.participations() == [(ident.client_id, 0)]
    restarted.store.close()


def test_server_refuses_upload_that_breaks_the_participation_schema(tmp_path):
    # Prepare: k = 2 participations at least b = 2 rounds apart, 4 rounds of 1 client each.
    job = make_spec(clients=1, rounds=4, participations=2, min_separation=2)
    db = str(tmp_path / "s.db")
    ident = Identity()
    with InProcessServer(db, job, toks=tokens(1)) as srv, member_threads(srv.address, 3):
        def submit(r: int) -> dict:
            return run_client(srv.address, lambda t: update_for(r, 0), insecure=True, token="tok-0", round_index=r, identity=ident)

        submit(0)
        # Execute: round 1 is closer than b = 2 to round 0.
        with pytest.raises(grpc.RpcError) as too_close:
            submit(1)
        stored = srv.coord.store.participations()
        srv._loop.call_soon_threadsafe(setattr, srv.coord.state, "stage", srv.coord.state.stage.DONE)  # members exit
    # Assert
    assert too_close.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "round 1 is closer than min_separation=2" in too_close.value.details()
    assert stored == [(ident.client_id, 0)]
    # After a restart the ledger is rebuilt from the store: round 2 is allowed, a third participation is not.
    coord = Coordinator.open_job(Store(db), job=None, round_seconds=60.0)
    coord.state.ledger.check(ident.client_id, 2)
    coord.state.ledger.record(ident.client_id, 2)
    with pytest.raises(ParticipationError, match="already participated in 2 of k=2 rounds"):
        coord.state.ledger.check(ident.client_id, 3)
    coord.store.close()
