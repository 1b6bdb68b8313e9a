# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The durable write comes before the in-memory change: a process that dies between the two loses
nothing and double-counts nothing; the server enforces the job's participation schema (k, b) with the
participation ledger, across restarts; and upload payloads in segment files survive crashes (torn
tails cut, damage detected, compaction completed, concurrent writers sharing flushes)."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import threading
import time
import zlib

import blake3
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
from loyal.server import segments
from loyal.server.coordinator import Coordinator, Upload
from loyal.server.segments import HEADER_BYTES, PayloadRef, SegmentError
from loyal.server.store import Store, StoreError
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


# ---- payload segments (server/segments.py): torn tails, damage, compaction, group commit ------------------------


def _payload(i: int, size: int = 3000) -> tuple[bytes, bytes]:
    """A frame-shaped payload (body, then the body's BLAKE3 as trailer) and its digest, as uploads have."""
    body = hashlib.sha256(f"payload/{i}".encode()).digest() * (size // 32 - 1)
    d = blake3.blake3(body).digest()
    return body + d, d


def _store_with_uploads(path: str, rounds: dict[int, int], direct_io: bool | None = None,
                        ) -> tuple[Store, dict[int, list[tuple[PayloadRef, bytes]]]]:
    """A store with `rounds[r]` committed uploads in round r; returns their (ref, payload)."""
    store, out = Store(path, direct_io=direct_io), {}
    for r, count in rounds.items():
        for i in range(count):
            payload, digest = _payload(100 * r + i)
            ref = store.stage_payload(r, payload, digest)
            with store.transaction() as db:
                store.add_submission(db, r, "client", i, bytes([i]) * 32, bytes([r, i]) * 8, digest, ref)
            out.setdefault(r, []).append((ref, payload))
    return store, out


@pytest.mark.parametrize("direct_io", [None, False], ids=["direct-io", "page-cache"])
def test_restart_cuts_torn_segment_tail_and_keeps_acknowledged_uploads(tmp_path, direct_io):
    # Prepare: two acknowledged uploads, one staged whose row never committed, then half a record (the crash).
    path = str(tmp_path / "s.db")
    store, stored = _store_with_uploads(path, {0: 2}, direct_io)
    start = segments.aligned if store.segments.direct else (lambda end: end)  # where the next record goes
    unreferenced = store.stage_payload(0, *_payload(7))
    store.close()
    seg = tmp_path / "s.db.segments" / "round-0.seg"
    half_record = segments.MAGIC + (900).to_bytes(8, "little") + b"\x00" * 40
    with open(seg, "ab") as f:
        f.write(half_record)
    end = stored[0][-1][0].end
    torn = seg.stat().st_size - end
    # Execute
    store = Store(path, direct_io=direct_io)
    # Assert: the tail (padding, unreferenced record, torn one) is cut, the acknowledged uploads read back
    # whole, and the next record lands right after them.
    padding = start(end) - end
    assert store.cut_tails == {0: torn} and torn == padding + store.segments.span(len(_payload(7)[0])) + len(half_record)
    assert unreferenced.offset == start(end) and seg.stat().st_size == end
    assert [p for _, _, p in store.submissions(0)] == [p for _, p in stored[0]]
    nxt = store.stage_payload(0, *_payload(8))
    assert nxt.offset == start(end)
    assert store.segments.read(nxt, _payload(8)[1]) == _payload(8)[0]
    store.close()


@pytest.mark.parametrize(("damage", "error"), [
    ("flip", "does not match its header, digest or stored digest"),
    ("truncate", "holds 3100 bytes, the store references"),
    ("delete", "is missing but the store references"),
])
def test_store_fails_if_referenced_payload_is_damaged(tmp_path, damage, error):
    # Prepare: two acknowledged uploads, then the segment is damaged behind the store's back.
    path = str(tmp_path / "s.db")
    store, _ = _store_with_uploads(path, {0: 2})
    store.close()
    seg = tmp_path / "s.db.segments" / "round-0.seg"
    if damage == "flip":
        raw = bytearray(seg.read_bytes())
        raw[HEADER_BYTES + 5] ^= 1
        seg.write_bytes(bytes(raw))
    elif damage == "truncate":
        os.truncate(seg, 3100)
    else:
        seg.unlink()
    # Execute / Assert
    with pytest.raises(SegmentError, match=error):
        list(Store(path).submissions(0))


def test_records_of_an_earlier_format_are_checked_by_their_crc(tmp_path):
    # Prepare: one upload, its record rewritten as the earlier format wrote it (magic LSG1, CRC-32 of the payload).
    path = str(tmp_path / "s.db")
    store, stored = _store_with_uploads(path, {0: 1})
    store.close()
    seg = tmp_path / "s.db.segments" / "round-0.seg"
    payload = stored[0][0][1]
    raw = bytearray(seg.read_bytes())
    raw[0:4] = segments.LEGACY_MAGIC
    raw[12:16] = zlib.crc32(payload).to_bytes(4, "little")
    seg.write_bytes(bytes(raw))
    # Execute / Assert: it reads back whole; a flipped payload byte then fails its CRC.
    assert [p for _, _, p in Store(path).submissions(0)] == [payload]
    raw[HEADER_BYTES + 5] ^= 1
    seg.write_bytes(bytes(raw))
    with pytest.raises(SegmentError, match="does not match its header, digest or stored digest"):
        list(Store(path).submissions(0))


def test_compaction_drops_segments_after_commit_and_restart_finishes_a_lost_unlink(tmp_path):
    # Prepare
    path = str(tmp_path / "s.db")
    store, stored = _store_with_uploads(path, {0: 1, 1: 1, 2: 1})
    seg_dir = tmp_path / "s.db.segments"
    # Execute: a compaction that rolls back keeps every file; a committed one drops rounds < 2.
    with pytest.raises(RuntimeError, match="rolled back"), store.transaction() as db:
        store.compact(db, 1)
        raise RuntimeError("rolled back")
    kept = sorted(p.name for p in seg_dir.iterdir())
    with store.transaction() as db:
        store.compact(db, 2)
    after_commit = sorted(p.name for p in seg_dir.iterdir())
    store.close()
    (seg_dir / "round-1.seg").write_bytes(b"left by a crash between COMMIT and unlink")
    reopened = Store(path)
    # Assert
    assert kept == ["round-0.seg", "round-1.seg", "round-2.seg"]
    assert after_commit == ["round-2.seg"]
    assert sorted(p.name for p in seg_dir.iterdir()) == ["round-2.seg"]
    assert [p for _, _, p in reopened.submissions(2)] == [stored[2][0][1]]
    reopened.close()


def test_concurrent_stage_payload_shares_flushes(tmp_path, monkeypatch):
    # Prepare: the first fdatasync waits until all 8 threads have written their record.
    store = Store(str(tmp_path / "s.db"))
    real, calls, n = os.fdatasync, [], 8

    def slow_fdatasync(fd):
        calls.append(fd)
        end = time.monotonic() + 10
        while store.segments._appended < n and time.monotonic() < end:
            time.sleep(0.001)
        real(fd)

    monkeypatch.setattr(segments.os, "fdatasync", slow_fdatasync)
    refs: dict[int, PayloadRef] = {}
    # Execute
    threads = [threading.Thread(target=lambda i=i: refs.setdefault(i, store.stage_payload(0, *_payload(i))))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    # Assert: every record durable and whole, at distinct offsets, with at most two flushes for eight records.
    assert len(refs) == n and 1 <= len(calls) <= 2
    assert store.segments._synced == n
    assert len({r.offset for r in refs.values()}) == n
    assert all(store.segments.read(refs[i], _payload(i)[1]) == _payload(i)[0] for i in range(n))
    store.close()


def test_flushed_records_leave_the_page_cache_once_and_still_read_back(tmp_path, monkeypatch):
    # Prepare: record every page-cache drop the segments ask for.
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("no posix_fadvise on this OS")
    store = Store(str(tmp_path / "s.db"), direct_io=False)
    real, dropped = os.posix_fadvise, []

    def fadvise(fd, offset, length, advice):
        dropped.append((offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(segments.os, "posix_fadvise", fadvise)
    # Execute: three durable records, one staged and cut off again, one more.
    refs = [store.stage_payload(0, *_payload(i)) for i in range(3)]
    cut = store.write_payload(0, *_payload(3))
    assert store.discard_payload(cut)
    refs.append(store.stage_payload(0, *_payload(4)))
    # Assert: each flush dropped exactly the bytes written since the last (no range twice, none missed),
    # and every record still reads back whole from disk.
    assert all(advice == os.POSIX_FADV_DONTNEED for _, _, advice in dropped)
    spans = [(o, o + n) for o, n, _ in dropped]
    assert spans == [(0, refs[0].end), (refs[0].end, refs[1].end), (refs[1].end, refs[2].end), (refs[2].end, refs[3].end)]
    assert all(store.segments.read(r, _payload(i)[1]) == _payload(i)[0] for r, i in zip(refs, (0, 1, 2, 4)))
    store.close()


def test_store_fails_if_schema_keeps_payloads_inline(tmp_path):
    path = str(tmp_path / "s.db")
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 4")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="has schema version 4, this server reads 5 .schema 4 keeps upload payloads inside SQLite"):
        Store(path)


def test_stage_payload_fails_after_a_failed_flush(tmp_path, monkeypatch):
    # Prepare: the disk reports an I/O error on the first flush.
    store = Store(str(tmp_path / "s.db"))

    def broken(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(segments.os, "fdatasync", broken)
    with pytest.raises(OSError, match="Input/output error"):
        store.stage_payload(0, *_payload(0))
    monkeypatch.undo()
    # Execute / Assert: no later record is acknowledged on the strength of the page cache.
    with pytest.raises(OSError, match="an earlier flush in .* failed .*restart the server"):
        store.stage_payload(0, *_payload(1))
    store.close()


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
    refs = [store.stage_payload(0, *_payload(i)) for i in range(3)]
    names = _fdatasync_recorder(monkeypatch)
    for i, ref in enumerate(refs):
        with store.transaction(sync=False) as db:
            store.add_submission(db, 0, "client", i, bytes([i]) * 32, bytes([i]) * 16, _payload(i)[1], ref)
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
    ref = store.stage_payload(0, *_payload(0))
    with store.transaction(sync=False) as db:
        store.add_submission(db, 0, "client", 0, b"\x00" * 32, b"\x00" * 16, _payload(0)[1], ref)

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


def test_direct_io_records_are_aligned_padded_and_read_back(tmp_path, monkeypatch):
    # Prepare: a durable store on a file system with direct I/O (skip where the OS or file system has none).
    store = Store(str(tmp_path / "s.db"))
    if not store.segments.direct:
        pytest.skip("no direct I/O here")
    monkeypatch.setattr(segments.os, "posix_fadvise", lambda *a: pytest.fail("direct-I/O records are never cached"))
    # Execute: three records, the second cut off again as a refused upload's, then one more.
    a = store.stage_payload(0, *_payload(0))
    b = store.stage_payload(0, *_payload(1))
    assert store.discard_payload(b)
    c = store.stage_payload(0, *_payload(2, size=9000))
    seg = tmp_path / "s.db.segments" / "round-0.seg"
    # Assert: each record starts at a multiple of ALIGN, right after the last one's padding; the padding is zeros;
    # the file ends at the last record's padding; every record reads back whole.
    assert [r.offset for r in (a, b, c)] == [0, segments.ALIGN, segments.ALIGN]
    raw = seg.read_bytes()
    assert len(raw) == segments.aligned(c.end) and not any(raw[a.end:c.offset]) and not any(raw[c.end:])
    assert store.segments.read(a, _payload(0)[1]) == _payload(0)[0]
    assert store.segments.read(c, _payload(2, size=9000)[1]) == _payload(2, size=9000)[0]
    store.close()


def test_file_system_without_direct_io_falls_back_to_the_page_cache(tmp_path, monkeypatch):
    # Prepare: every O_DIRECT open fails as on tmpfs before Linux 6.6 (EINVAL).
    real = os.open

    def no_direct(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument", path)
        return real(path, flags, *args)

    monkeypatch.setattr(segments.os, "open", no_direct)
    store = Store(str(tmp_path / "s.db"))
    # Execute
    refs = [store.stage_payload(0, *_payload(i)) for i in range(2)]
    # Assert: records are contiguous (no padding) and durable stores still flush them; both read back.
    assert not store.segments.direct and refs[1].offset == refs[0].end and store.segments._synced == 2
    assert all(store.segments.read(r, _payload(i)[1]) == _payload(i)[0] for i, r in enumerate(refs))
    store.close()
