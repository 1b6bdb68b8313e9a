# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Upload payloads in segment files (`server/segments.py`) survive crashes: torn tails cut, damage detected,
compaction completed, concurrent writers sharing flushes, direct I/O aligned and padded (page cache as
fallback), flushed page-cache records dropped from it, and no record acknowledged after a failed flush."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
import zlib

import pytest

from loyal.server import segments
from loyal.server.segments import HEADER_BYTES, PayloadRef, SegmentError
from loyal.server.store import Store, StoreError
from tests.server.harness import payload_record


def _store_with_uploads(path: str, rounds: dict[int, int], direct_io: bool | None = None,
                        ) -> tuple[Store, dict[int, list[tuple[PayloadRef, bytes]]]]:
    """A store with `rounds[r]` committed uploads in round r; returns their (ref, payload)."""
    store, out = Store(path, direct_io=direct_io), {}
    for r, count in rounds.items():
        for i in range(count):
            payload, digest = payload_record(100 * r + i)
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
    unreferenced = store.stage_payload(0, *payload_record(7))
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
    assert store.cut_tails == {0: torn} and torn == padding + store.segments.span(len(payload_record(7)[0])) + len(half_record)
    assert unreferenced.offset == start(end) and seg.stat().st_size == end
    assert [p for _, _, p in store.submissions(0)] == [p for _, p in stored[0]]
    nxt = store.stage_payload(0, *payload_record(8))
    assert nxt.offset == start(end)
    assert store.segments.read(nxt, payload_record(8)[1]) == payload_record(8)[0]
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
    threads = [threading.Thread(target=lambda i=i: refs.setdefault(i, store.stage_payload(0, *payload_record(i))))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    # Assert: every record durable and whole, at distinct offsets, with at most two flushes for eight records.
    assert len(refs) == n and 1 <= len(calls) <= 2
    assert store.segments._synced == n
    assert len({r.offset for r in refs.values()}) == n
    assert all(store.segments.read(refs[i], payload_record(i)[1]) == payload_record(i)[0] for i in range(n))
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
    refs = [store.stage_payload(0, *payload_record(i)) for i in range(3)]
    cut = store.write_payload(0, *payload_record(3))
    assert store.discard_payload(cut)
    refs.append(store.stage_payload(0, *payload_record(4)))
    # Assert: each flush dropped exactly the bytes written since the last (no range twice, none missed),
    # and every record still reads back whole from disk.
    assert all(advice == os.POSIX_FADV_DONTNEED for _, _, advice in dropped)
    spans = [(o, o + n) for o, n, _ in dropped]
    assert spans == [(0, refs[0].end), (refs[0].end, refs[1].end), (refs[1].end, refs[2].end), (refs[2].end, refs[3].end)]
    assert all(store.segments.read(r, payload_record(i)[1]) == payload_record(i)[0] for r, i in zip(refs, (0, 1, 2, 4)))
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
        store.stage_payload(0, *payload_record(0))
    monkeypatch.undo()
    # Execute / Assert: no later record is acknowledged on the strength of the page cache.
    with pytest.raises(OSError, match="an earlier flush in .* failed .*restart the server"):
        store.stage_payload(0, *payload_record(1))
    store.close()


def test_direct_io_records_are_aligned_padded_and_read_back(tmp_path, monkeypatch):
    # Prepare: a durable store on a file system with direct I/O (skip where the OS or file system has none).
    store = Store(str(tmp_path / "s.db"))
    if not store.segments.direct:
        pytest.skip("no direct I/O here")
    monkeypatch.setattr(segments.os, "posix_fadvise", lambda *a: pytest.fail("direct-I/O records are never cached"))
    # Execute: three records, the second cut off again as a refused upload's, then one more.
    a = store.stage_payload(0, *payload_record(0))
    b = store.stage_payload(0, *payload_record(1))
    assert store.discard_payload(b)
    c = store.stage_payload(0, *payload_record(2, size=9000))
    seg = tmp_path / "s.db.segments" / "round-0.seg"
    # Assert: each record starts at a multiple of ALIGN, right after the last one's padding; the padding is zeros;
    # the file ends at the last record's padding; every record reads back whole.
    assert [r.offset for r in (a, b, c)] == [0, segments.ALIGN, segments.ALIGN]
    raw = seg.read_bytes()
    assert len(raw) == segments.aligned(c.end) and not any(raw[a.end:c.offset]) and not any(raw[c.end:])
    assert store.segments.read(a, payload_record(0)[1]) == payload_record(0)[0]
    assert store.segments.read(c, payload_record(2, size=9000)[1]) == payload_record(2, size=9000)[0]
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
    refs = [store.stage_payload(0, *payload_record(i)) for i in range(2)]
    # Assert: records are contiguous (no padding) and durable stores still flush them; both read back.
    assert not store.segments.direct and refs[1].offset == refs[0].end and store.segments._synced == 2
    assert all(store.segments.read(r, payload_record(i)[1]) == payload_record(i)[0] for i, r in enumerate(refs))
    store.close()


def test_file_system_refusing_direct_writes_falls_back_to_the_page_cache(tmp_path, monkeypatch):
    # Prepare: O_DIRECT opens, but the first direct write fails with EINVAL (as on some network file systems).
    store = Store(str(tmp_path / "s.db"))
    if not store.segments.direct:
        pytest.skip("no direct I/O here")
    calls = []

    def refusing(fd, data, offset):
        calls.append(offset)
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(segments.os, "pwrite", refusing)
    # Execute
    refs = [store.stage_payload(0, *payload_record(i)) for i in range(2)]
    # Assert: one refused direct write, then both records through the page cache, contiguous and durable.
    assert calls == [0] and not store.segments.direct and refs[1].offset == refs[0].end
    assert store.segments._synced == 2
    assert all(store.segments.read(r, payload_record(i)[1]) == payload_record(i)[0] for i, r in enumerate(refs))
    store.close()
