# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Durable SQLite (WAL) store of the SSA server: the job, enrolled keys, committee key generation,
append-only ciphertext tables, release requests, partial decryptions and releases.

Everything the round driver holds can be rebuilt from these tables (`server.coordinator.Coordinator.restore`
feeds them to `RoundDriver.replay`): each closed round has an aggregate snapshot (`log_entries`: header +
AHE sums; `kahe_snapshots`: KAHE sums), the open round's uploads are replayed through the same core calls
in the same order (exact modular addition, so the rebuilt state equals the lost one), and
`participations` (client, round) rebuilds the participation ledger after compaction dropped uploads.

Upload payloads (~1 MB frames) live in append-only segment files beside the database
(`server.segments`, `<db>.segments/round-<r>.seg`); a `submissions` row holds the payload's digest,
offset and length. `stage_payload` makes the payload durable (group commit, any thread) before the
transaction that references it commits, so a committed row always points at a whole record; on open,
records past a segment's last referenced one (unacknowledged, possibly torn by a crash) are cut off.
The payload of an upload refused after staging is cut off at once if it is still its segment's tail
(`discard_payload`), else it stays unreferenced (never read) until its round is compacted.

Ciphertext tables are append-only: SQLite triggers abort any UPDATE or DELETE. The one exception
is compaction: rows of `submissions` and `kahe_snapshots` for rounds before the latest
`compactions.before_round` (the policy's window start) may be deleted, and with them the segment files
of those rounds (after the deleting transaction commits; `recover` finishes a deletion a crash cut
short); headers and AHE sums stay. Only `rounds` (stage bookkeeping) and `tokens.used` change in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from loyal.protocols.ssa import frame
from loyal.server import schema
from loyal.server.schema import SCHEMA_VERSION, StoreError  # noqa: F401 - part of this module's API
from loyal.server.segments import HEADER_BYTES, PayloadRef, Segments
from loyal.server.wal import WalFlush


def token_hash(token: str) -> bytes:
    return hashlib.sha256(b"loyal/enroll/v1" + token.encode()).digest()


class Store:
    """One SQLite database in WAL mode (one writer: the server's event loop) and its payload segments.

    Args:
      path: database file (created if missing); payloads go to the folder `path + ".segments"`.
      synchronous: SQLite `synchronous` pragma: "FULL" (default; a commit survives power loss; each
        payload is flushed with `fdatasync` before its row commits) or "NORMAL" (survives a process
        crash, e.g. SIGKILL, but not power loss; payloads are not flushed).
      direct_io: FULL only: write payloads with direct I/O where the file system has it (None, default) or
        through the page cache (False); `server.segments`.
    """

    def __init__(self, path: str, synchronous: str = "FULL", *, direct_io: bool | None = None) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.path = path
        self.durable = synchronous == "FULL"
        self.wal = WalFlush(path + "-wal")
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self._drop_segments_before = 0  # set by `compact`, carried out after its transaction commits
        self._migrate()
        self.segments = Segments(path + ".segments", durable=self.durable, digest_of=frame.body_digest,
                                 direct=direct_io)
        ends = {r: end + HEADER_BYTES for r, end in self.db.execute(
            "SELECT round, MAX(payload_offset + payload_bytes) FROM submissions GROUP BY round")}
        self.cut_tails = self.segments.recover(ends, drop_before=self.compacted_before())

    def close(self) -> None:
        self.segments.close()
        self.db.close()

    def _migrate(self) -> None:
        if not schema.check_version(self.db, self.path):
            with self.transaction() as db:
                schema.create(db)

    @contextlib.contextmanager
    def transaction(self, sync: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT (durable on exit), or ROLLBACK on any exception.

        `sync=False` (an upload's row): the COMMIT reaches the WAL in the page cache (a killed process
        keeps it) but is flushed to disk only by `flush_rows`, which its caller awaits before answering;
        any later durable COMMIT flushes it too (the WAL is written in order)."""
        self.wal.check()
        deferred = self.durable and not sync
        if deferred:
            self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self._drop_segments_before = 0
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        finally:
            if deferred:
                self.db.execute("PRAGMA synchronous=FULL")
        if deferred:
            self.wal.written()
        if self._drop_segments_before:  # the rows are gone for good: now their payloads may go
            before, self._drop_segments_before = self._drop_segments_before, 0
            self.segments.drop_before(before)

    # ---- job ---------------------------------------------------------------------------------------
    def load_job(self) -> tuple[dict[str, Any], float] | None:
        """(pinned job, round_seconds), or None for a new store."""
        row = self.db.execute("SELECT spec, round_seconds FROM job").fetchone()
        return None if row is None else (json.loads(row[0]), row[1])

    def save_job(self, spec: dict[str, Any], round_seconds: float, tokens: list[str]) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO job VALUES (1, ?, ?)", (json.dumps(spec, sort_keys=True), round_seconds))
            db.executemany("INSERT OR IGNORE INTO tokens (token_hash) VALUES (?)", [(token_hash(t),) for t in tokens])

    def add_tokens(self, tokens: list[str]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO tokens (token_hash) VALUES (?)", [(token_hash(t),) for t in tokens])

    # ---- clients -----------------------------------------------------------------------------------
    def client_id(self, public_key: bytes) -> int | None:
        row = self.db.execute("SELECT client_id FROM clients WHERE public_key = ?", (public_key,)).fetchone()
        return None if row is None else row[0]

    def enroll(self, token: str, public_key: bytes) -> int | None:
        """Spends a one-time token on `public_key`; returns the new client id, or None if the token is invalid."""
        with self.transaction() as db:
            cur = db.execute("UPDATE tokens SET used = 1 WHERE token_hash = ? AND used = 0", (token_hash(token),))
            if cur.rowcount != 1:
                return None
            cid = db.execute("SELECT COALESCE(MAX(client_id) + 1, 0) FROM clients").fetchone()[0]
            db.execute("INSERT INTO clients VALUES (?, ?, ?)", (cid, public_key, time.time()))
            return int(cid)

    # ---- committee ---------------------------------------------------------------------------------
    def members(self) -> dict[int, tuple[bytes, bytes]]:
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT member_id, signing_key, exchange_key FROM members")}

    def join_signatures(self) -> dict[int, bytes]:
        return {r[0]: r[1] for r in self.db.execute("SELECT member_id, join_signature FROM members")}

    def add_member(self, member_id: int, signing_key: bytes, exchange_key: bytes, join_signature: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO members VALUES (?, ?, ?, ?, ?)",
                       (member_id, signing_key, exchange_key, time.time(), join_signature))

    def commitments(self) -> dict[int, tuple[bytes, bytes]]:
        """Dealer -> (commitment to its public-key part, its signature)."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT dealer, commitment, signature FROM keygen_commitments")}

    def add_commitment(self, dealer: int, digest: bytes, signature: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO keygen_commitments VALUES (?, ?, ?)", (dealer, digest, signature))

    def key_signatures(self) -> dict[int, bytes]:
        return {r[0]: r[1] for r in self.db.execute("SELECT member_id, signature FROM key_signatures")}

    def add_key_signature(self, member_id: int, signature: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO key_signatures VALUES (?, ?)", (member_id, signature))

    def keygen(self) -> dict[int, tuple[bytes, dict[int, bytes]]]:
        out = {}
        for dealer, public_part, shares in self.db.execute("SELECT dealer, public_part, shares FROM keygen"):
            out[dealer] = (public_part, {int(k): bytes.fromhex(v) for k, v in json.loads(shares).items()})
        return out

    def add_keygen(self, dealer: int, public_part: bytes, shares: dict[int, bytes]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO keygen VALUES (?, ?, ?)",
                (dealer, public_part, json.dumps({str(k): v.hex() for k, v in shares.items()})),
            )

    # ---- rounds and submissions --------------------------------------------------------------------
    def rounds(self) -> list[tuple[int, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT round, stage FROM rounds ORDER BY round")]

    def set_stage(self, db: sqlite3.Connection, round_index: int, stage: str) -> None:
        now = time.time()
        db.execute(
            "INSERT INTO rounds VALUES (?, ?, ?, ?) ON CONFLICT(round) DO UPDATE SET stage = excluded.stage, "
            "updated_at = excluded.updated_at",
            (round_index, stage, now, now),
        )
        db.execute("INSERT INTO events (round, kind, detail, at) VALUES (?, 'stage', ?, ?)", (round_index, stage, now))

    def opened_at(self, round_index: int) -> float | None:
        row = self.db.execute("SELECT opened_at FROM rounds WHERE round = ?", (round_index,)).fetchone()
        return None if row is None else row[0]

    def find_submission(self, round_index: int, sender_key: bytes, nonce: bytes) -> bytes | None:
        row = self.db.execute(
            "SELECT payload_digest FROM submissions WHERE round = ? AND sender_key = ? AND nonce = ?",
            (round_index, sender_key, nonce),
        ).fetchone()
        return None if row is None else row[0]

    def stage_payload(self, round_index: int, payload: bytes, payload_digest: bytes) -> PayloadRef:
        """Makes an upload's payload durable in its round's segment, before any row references it
        (`write_payload`, then `flush_payloads`).

        Safe to call from several threads at once (no SQLite access; concurrent calls share one flush).
        A staged payload that no committed row references is never read, and a restart cuts it off
        if it is a segment's tail; one whose flush failed is cut off at once when it is the tail.
        """
        ref = self.segments.write(round_index, payload, payload_digest)
        try:
            self.segments.flush()
        except BaseException:  # not on disk: nothing stays staged
            self.segments.discard(ref)
            raise
        return ref

    def write_payload(self, round_index: int, payload: bytes, payload_digest: bytes) -> PayloadRef:
        """Writes an upload's payload to its round's segment (page cache); `flush_payloads` makes it
        durable, and must return before a row references it."""
        return self.segments.write(round_index, payload, payload_digest)

    def flush_payloads(self) -> None:
        """Returns once every payload written before the call is on disk (group commit; any thread)."""
        self.segments.flush()

    def flush_rows(self) -> None:
        """Returns once every `transaction(sync=False)` committed before the call is on disk: one
        `fdatasync` of the WAL covers all of them (group commit, `server.wal`; any thread; no-op with NORMAL)."""
        if self.durable:
            self.wal.flush()

    def discard_payload(self, payload: PayloadRef) -> bool:
        """Drops a staged payload of a refused upload if no row references it and it is its segment's tail."""
        row = self.db.execute("SELECT 1 FROM submissions WHERE round = ? AND payload_offset = ?",
                              (payload.round_index, payload.offset)).fetchone()
        return row is None and self.segments.discard(payload)

    def add_submission(
        self, db: sqlite3.Connection, round_index: int, kind: str, sender: int, sender_key: bytes, nonce: bytes,
        payload_digest: bytes, payload: PayloadRef,
    ) -> None:
        """Records a staged payload (`stage_payload`) as the upload (round, sender_key, nonce)."""
        if payload.round_index != round_index:
            raise ValueError(f"payload staged for round {payload.round_index}, submission is for round {round_index}")
        db.execute(
            "INSERT INTO submissions (round, kind, sender, sender_key, nonce, payload_digest, payload_offset, "
            "payload_bytes, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (round_index, kind, sender, sender_key, nonce, payload_digest, payload.offset, payload.length, time.time()),
        )

    def add_part(self, db: sqlite3.Connection, round_index: int, kind: str, sender: int, part: bytes) -> None:
        """An upload's AHE key ciphertext and proof, kept for members after compaction (`protocols.ssa.audit`)."""
        db.execute("INSERT INTO upload_parts VALUES (?, ?, ?, ?)", (round_index, kind, sender, part))

    def parts(self, round_index: int, start: int = 0, max_bytes: int | None = None) -> tuple[list[tuple[str, int, bytes]], int]:
        """(kind, sender, part) of a round from index `start` in the order (kind, sender), up to `max_bytes` of
        parts (at least one), and the round's number of parts."""
        total = self.db.execute("SELECT COUNT(*) FROM upload_parts WHERE round = ?", (round_index,)).fetchone()[0]
        rows, size = [], 0
        for kind, sender, part in self.db.execute(
                "SELECT kind, sender, part FROM upload_parts WHERE round = ? ORDER BY kind, sender LIMIT -1 OFFSET ?",
                (round_index, start)):
            if rows and max_bytes is not None and size + len(part) > max_bytes:
                break
            rows.append((kind, sender, part))
            size += len(part)
        return rows, total

    def submissions(self, round_index: int) -> Iterator[tuple[str, int, bytes]]:
        """(kind, sender, payload) of a round's uploads in arrival order, read back from its segment.

        Raises:
          SegmentError: a payload is missing or does not match its stored digest.
        """
        rows = self.db.execute(
            "SELECT kind, sender, payload_digest, payload_offset, payload_bytes FROM submissions WHERE round = ? "
            "ORDER BY seq", (round_index,)).fetchall()
        for kind, sender, digest, offset, length in rows:
            yield kind, sender, self.segments.read(PayloadRef(round_index, offset, length), digest)

    def add_participation(self, db: sqlite3.Connection, client_id: int, round_index: int) -> None:
        db.execute("INSERT INTO participations VALUES (?, ?)", (client_id, round_index))

    def participations(self) -> list[tuple[int, int]]:
        """(client id, round) of every accepted client upload (kept through compaction)."""
        return list(self.db.execute("SELECT client_id, round FROM participations ORDER BY round, client_id"))

    def count_submissions(self, round_index: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM submissions WHERE round = ?", (round_index,)).fetchone()[0]

    # ---- releases ----------------------------------------------------------------------------------
    def add_request(self, db: sqlite3.Connection, request_id: bytes, round_index: int, row_index: int, subset: tuple[int, ...]) -> None:
        db.execute(
            "INSERT INTO requests (request_id, round, row_index, subset) VALUES (?, ?, ?, ?)",
            (request_id, round_index, row_index, json.dumps(list(subset))),
        )

    def requests(self, round_index: int) -> list[tuple[bytes, int, tuple[int, ...]]]:
        return [
            (r[0], r[1], tuple(json.loads(r[2])))
            for r in self.db.execute("SELECT request_id, row_index, subset FROM requests WHERE round = ? ORDER BY seq", (round_index,))
        ]

    def add_partial(self, db: sqlite3.Connection, request_id: bytes, member_id: int, payload: bytes) -> None:
        db.execute("INSERT INTO partials VALUES (?, ?, ?)", (request_id, member_id, payload))

    def partials(self, request_id: bytes) -> list[tuple[int, bytes]]:
        return list(self.db.execute("SELECT member_id, payload FROM partials WHERE request_id = ? ORDER BY member_id", (request_id,)))

    def add_release(self, db: sqlite3.Connection, request_id: bytes, round_index: int, integer_sha256: bytes) -> None:
        db.execute("INSERT INTO releases (request_id, round, integer_sha256) VALUES (?, ?, ?)", (request_id, round_index, integer_sha256))

    def add_release_values(self, db: sqlite3.Connection, request_id: bytes, round_index: int, meta: str,
                           integer_values: bytes, values: bytes) -> None:
        db.execute("INSERT INTO release_values (request_id, round, meta, integer_values, release_values) VALUES (?, ?, ?, ?, ?)",
                   (request_id, round_index, meta, integer_values, values))

    def release_values(self, round_index: int) -> list[tuple[bytes, str, bytes, bytes]]:
        """(request id, meta JSON, int64 values, float64 values) of a round's published releases."""
        return list(self.db.execute(
            "SELECT request_id, meta, integer_values, release_values FROM release_values WHERE round = ? ORDER BY seq",
            (round_index,)))

    def release_digests(self) -> dict[bytes, bytes]:
        return {r[0]: r[1] for r in self.db.execute("SELECT request_id, integer_sha256 FROM releases")}

    def events(self, after_seq: int, limit: int = 1000) -> list[tuple[int, int, str, str, float]]:
        return list(self.db.execute(
            "SELECT seq, round, kind, detail, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ))

    def add_event(self, db: sqlite3.Connection, round_index: int, kind: str, detail: str) -> None:
        db.execute("INSERT INTO events (round, kind, detail, at) VALUES (?, ?, ?, ?)", (round_index, kind, detail, time.time()))

    # ---- committee hand-off ------------------------------------------------------------------------
    def handoff_subset(self, epoch: int) -> tuple[int, ...] | None:
        row = self.db.execute("SELECT subset FROM handoff_subsets WHERE epoch = ?", (epoch,)).fetchone()
        return None if row is None else tuple(json.loads(row[0]))

    def set_handoff_subset(self, db: sqlite3.Connection, epoch: int, subset: tuple[int, ...]) -> None:
        db.execute("INSERT INTO handoff_subsets VALUES (?, ?)", (epoch, json.dumps(list(subset))))

    def handoffs(self, epoch: int) -> dict[int, dict[int, bytes]]:
        """dealer -> {recipient: sealed sub-share} for the hand-off into `epoch`."""
        return {
            dealer: {int(k): bytes.fromhex(v) for k, v in json.loads(subs).items()}
            for dealer, subs in self.db.execute("SELECT dealer, subshares FROM handoffs WHERE epoch = ?", (epoch,))
        }

    def add_handoff(self, db: sqlite3.Connection, epoch: int, dealer: int, subshares: dict[int, bytes]) -> None:
        db.execute("INSERT INTO handoffs VALUES (?, ?, ?)",
                   (epoch, dealer, json.dumps({str(k): v.hex() for k, v in subshares.items()})))

    # ---- refusals ----------------------------------------------------------------------------------
    def add_refusal(self, db: sqlite3.Connection, request_id: bytes, member_id: int, reason: str) -> bool:
        """Records a member's refusal; False if it was already recorded."""
        cur = db.execute("INSERT OR IGNORE INTO refusals (request_id, member_id, reason, at) VALUES (?, ?, ?, ?)",
                         (request_id, member_id, reason, time.time()))
        return cur.rowcount == 1

    def refusals(self) -> list[tuple[bytes, int, str]]:
        return list(self.db.execute("SELECT request_id, member_id, reason FROM refusals ORDER BY seq"))

    # ---- aggregate snapshots and compaction --------------------------------------------------------
    def add_snapshot(self, db: sqlite3.Connection, round_index: int, header: str, data_ahe: bytes, noise_ahe: bytes,
                     data_kahe: bytes, noise_kahe: bytes) -> None:
        db.execute("INSERT INTO log_entries VALUES (?, ?, ?, ?)", (round_index, header, data_ahe, noise_ahe))
        db.execute("INSERT INTO kahe_snapshots VALUES (?, ?, ?)", (round_index, data_kahe, noise_kahe))

    def snapshot(self, round_index: int) -> tuple[str, bytes, bytes, bytes | None, bytes | None] | None:
        """(header JSON, data AHE, noise AHE, data KAHE, noise KAHE) of a closed round (KAHE None once compacted)."""
        row = self.db.execute("SELECT header, data_ahe, noise_ahe FROM log_entries WHERE round = ?", (round_index,)).fetchone()
        if row is None:
            return None
        k = self.db.execute("SELECT data_kahe, noise_kahe FROM kahe_snapshots WHERE round = ?", (round_index,)).fetchone()
        return (row[0], row[1], row[2], *(k if k is not None else (None, None)))

    def compacted_before(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(before_round), 0) FROM compactions").fetchone()[0]

    def compact(self, db: sqlite3.Connection, before_round: int) -> int:
        """Deletes uploads and KAHE snapshots of rounds < before_round; returns rows deleted (0 if nothing new).

        The segment files of those rounds are deleted once `db`'s transaction commits.
        """
        if before_round <= self.compacted_before():
            return 0
        db.execute("INSERT INTO compactions (before_round, at) VALUES (?, ?)", (before_round, time.time()))
        n = db.execute("DELETE FROM submissions WHERE round < ?", (before_round,)).rowcount
        n += db.execute("DELETE FROM kahe_snapshots WHERE round < ?", (before_round,)).rowcount
        self._drop_segments_before = max(self._drop_segments_before, before_round)
        return n
