# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The durable write comes before the in-memory change: a process that dies between the two loses
nothing and double-counts nothing; the server enforces the job's participation schema (k, b) with the
participation ledger, across restarts; and an upload is answered only after its payload, then its row,
reach the disk. The segment files' own tests: `test_segments.py`."""

from __future__ import annotations

import os
import threading

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
from tests.server.harness import InProcessServer, make_spec, member_threads, payload_record, tokens, update_for

CLIENTS = 3


class _Killed(BaseException):
    """Stands for SIGKILL at one exact instruction (a BaseException: nothing in the server catches it)."""


def _signed_upload(job, task, ident: Identity, round_index: int = 0) -> Upload:
    payload = SsaClient(job.config_for_epoch(0)).create_contribution(
        update_for(round_index, 0), round_index=round_index, client_id=ident.client_id, public_key_hat=task.public_key_hat)
    nonce, digest = os.urandom(16), frame_digest(payload)
    sig = ident.sign(submit_message(job.job_id, round_index, nonce, digest, "client"))
    return Upload(round_index, ident.public_key, nonce, digest, sig, payload)


def _stopped_with_open_round(db: str, job) -> Upload:
    """Serves `job` until round 0 is open and a client has enrolled, stops the server, and returns that
    client's signed upload for round 0."""
    with InProcessServer(db, job, toks=tokens(CLIENTS)) as srv, member_threads(srv.address, 3):
        with Session(srv.address) as s:
            ident = Identity()
            ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(token="tok-0", public_key=ident.public_key)).client_id
            task = wait_for_task(s, 30, insecure=True)
        srv._loop.call_soon_threadsafe(setattr, srv.coord.state, "stage", srv.coord.state.stage.DONE)
    return _signed_upload(job, task, ident)


@pytest.mark.parametrize(("killed_at", "want"), [
    # dies after the row's commit, before memory: the restart replays it, the retry is a duplicate
    ("include_upload", {"retried": (True, 1), "cut": {}}),
    # dies after the payload's flush, before its row: the restart cuts the record off, the retry stores it
    ("add_submission", {"retried": (False, 1), "cut": "record"}),
])
def test_kill_between_store_write_and_memory_loses_nothing_and_double_counts_nothing(tmp_path, killed_at, want):
    # Prepare: a served job whose round 0 is open, an enrolled client, then the server stops.
    db, job = str(tmp_path / "s.db"), make_spec(clients=CLIENTS, rounds=1)
    up = _stopped_with_open_round(db, job)
    coord = Coordinator.open_job(Store(db), job=None, round_seconds=60.0)

    def killed(*_args):
        raise _Killed()

    target = coord.driver if killed_at == "include_upload" else coord.store
    setattr(target, killed_at, killed)  # the process dies right there
    # Execute
    with pytest.raises(_Killed):
        coord.submit_upload(up, "client")
    assert coord.state.clients == 0  # memory never saw it
    coord.store.close()
    restarted = Coordinator.open_job(Store(db), job=None, round_seconds=60.0)
    cut = restarted.store.cut_tails
    retried = restarted.submit_upload(up, "client")  # the client retries with the same nonce
    # Assert: the upload is stored and counted exactly once; an unreferenced payload was cut off on restart.
    assert retried == want["retried"] and restarted.state.clients == 1
    assert cut == ({0: restarted.store.segments.span(len(up.payload))} if want["cut"] == "record" else want["cut"])
    assert restarted.store.db.execute("SELECT COUNT(*) FROM submissions WHERE kind = 'client'").fetchone()[0] == 1
    assert [p for _, _, p in restarted.store.submissions(0)] == [up.payload]
    assert restarted.store.participations() == [(restarted.store.client_id(up.public_key), 0)]
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


def test_an_upload_before_the_committee_key_is_refused_as_not_accepting(tmp_path):
    """The threaded pre-parse needs the committee key; before key generation it defers to `submit`'s checks,
    which refuse the upload as a round that does not accept contributions (FAILED_PRECONDITION), never INTERNAL."""
    from loyal.server.errors import WrongRoundError

    coord = Coordinator.open_job(Store(str(tmp_path / "s.db")), job=make_spec(clients=CLIENTS, rounds=1), round_seconds=60.0)
    assert coord.state.core is None
    up = Upload(0, b"\x01" * 32, b"\x02" * 16, b"\x03" * 32, b"\x04" * 64, b"\x00" * 100)
    assert coord.parse(up, "client")() is None
    with pytest.raises(WrongRoundError, match="upload for round 0, but round 0 is"):
        coord.submit(up, "client", 0)


def test_an_upload_whose_round_closed_while_it_streamed_is_refused_as_wrong_round(tmp_path):
    """The header's round is checked when the stream opens and again at submit: a round that closed while
    the payload streamed and was parsed gives FAILED_PRECONDITION (wrong round), not a replay."""
    from loyal.server.errors import WrongRoundError

    db, job = str(tmp_path / "s.db"), make_spec(clients=CLIENTS, rounds=2)
    up = _stopped_with_open_round(db, job)
    coord = Coordinator.open_job(Store(db), job=None, round_seconds=60.0)
    sender = coord.authenticate_upload("client", up.round_index, len(up.payload), up.public_key, up.nonce,
                                       up.payload_digest, up.signature)
    coord.state.round_index += 1  # the round moved on while the payload streamed
    with pytest.raises(WrongRoundError, match="upload for round 0, but round 1"):
        coord.submit(up, "client", sender)


# ---- the upload path's flushes: payload, then row, then the answer (group commit off the event loop) ---------


def _fdatasync_recorder(monkeypatch) -> list[str]:
    """Records the file name of every fdatasync (os is one module: segments and store both use it)."""
    real, names = os.fdatasync, []

    def recording(fd):
        names.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fdatasync", recording)
    return names


def test_deferred_rows_reach_disk_with_one_shared_wal_flush(tmp_path, monkeypatch):
    # Prepare: three upload rows committed with sync=False (a FULL store).
    store = Store(str(tmp_path / "s.db"))
    refs = [store.stage_payload(0, *payload_record(i)) for i in range(3)]
    names = _fdatasync_recorder(monkeypatch)
    for i, ref in enumerate(refs):
        with store.transaction(sync=False) as db:
            store.add_submission(db, 0, "client", i, bytes([i]) * 32, bytes([i]) * 16, payload_record(i)[1], ref)
    before = list(names)
    # Execute: four uploads waiting for their answers flush at once.
    threads = [threading.Thread(target=store.flush_rows) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # Assert: no flush before the answers asked, then one WAL flush for all three rows; the connection is
    # back at synchronous=FULL for every other transaction.
    assert before == [] and names == ["s.db-wal"]
    assert store.wal.synced == 3
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2
    store.close()


def test_a_failed_wal_flush_stops_the_store(tmp_path, monkeypatch):
    store = Store(str(tmp_path / "s.db"))
    ref = store.stage_payload(0, *payload_record(0))
    with store.transaction(sync=False) as db:
        store.add_submission(db, 0, "client", 0, b"\x00" * 32, b"\x00" * 16, payload_record(0)[1], ref)

    def broken(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(OSError, match="Input/output error"):
        store.flush_rows()
    monkeypatch.undo()
    # No later row is committed, nor any upload acknowledged, on the strength of the page cache.
    with pytest.raises(OSError, match="earlier flush of .*-wal failed .*restart the server"):
        with store.transaction():
            pass
    with pytest.raises(OSError, match="earlier flush of .*-wal failed .*restart the server"):
        store.flush_rows()
    store.close()


def test_an_upload_is_answered_only_after_its_payload_then_its_row_reach_disk(tmp_path, monkeypatch):
    # Prepare: a served job (FULL store) whose round 0 is open; every fdatasync and the row's commit recorded.
    db, job = str(tmp_path / "s.db"), make_spec(clients=CLIENTS, rounds=1)
    events: list[str] = []
    with InProcessServer(db, job, toks=tokens(CLIENTS)) as srv, member_threads(srv.address, 3):
        with Session(srv.address) as s:
            ident = Identity()
            ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(token="tok-0", public_key=ident.public_key)).client_id
            task = wait_for_task(s, 30, insecure=True)
            up = _signed_upload(job, task, ident)
            names = _fdatasync_recorder(monkeypatch)
            real_add = srv.coord.store.add_submission

            def add_submission(*args):
                events.extend(names)
                names.clear()
                events.append("row")
                real_add(*args)

            monkeypatch.setattr(srv.coord.store, "add_submission", add_submission)
            # Execute
            answer = s.upload(s.client.Submit, round_index=0, payload=up.payload, identity=ident, kind="client",
                              job_id=job.job_id)
            events.extend(names)
            events.append("answer")
        srv._loop.call_soon_threadsafe(setattr, srv.coord.state, "stage", srv.coord.state.stage.DONE)
    # Assert: the payload's segment was flushed before its row was written, the WAL after, and only then the answer.
    assert answer.accepted == 1 and not answer.duplicate
    assert events == ["round-0.seg", "row", "s.db-wal", "answer"]
