# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The server's public release log (`loyal.protocols.governance.release_log`), read from its store.

Opens the SQLite store read-only (a serving server keeps writing; WAL lets us read a consistent snapshot inside one
transaction) and takes, from its append-only tables: the pinned job, every stored round's log header, every
published release's row and integer digest (never its values), and the participation log with each client id
replaced by its contributor id (SHA-256 of the enrolled key; `governance.ledger.contributor_id`). Upload payloads,
ciphertexts, partials and tokens are never read.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from loyal.protocols.governance.ledger import contributor_id
from loyal.protocols.governance.release_log import PublishedRelease, ReleaseLog
from loyal.protocols.ssa.job import Job
from loyal.server import schema
from loyal.server.snapshots import header_from_json


def release_log(db_path: str | Path) -> ReleaseLog:
    """The public release log of the store at `db_path`.

    Raises:
      FileNotFoundError: no file at `db_path`.
      StoreError: not a store of this schema version.
      ValueError: the store holds no job yet.
    """
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"no server store at {path}")
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        if not schema.check_version(db, str(path)):
            raise ValueError(f"{path} is not a server store (no schema version)")
        db.execute("BEGIN")  # one snapshot for every read below
        row = db.execute("SELECT spec FROM job").fetchone()
        if row is None:
            raise ValueError(f"the store {path} holds no job yet")
        job = Job.from_json(json.loads(row[0]))
        headers = tuple(header_from_json(h) for (h,) in db.execute("SELECT header FROM log_entries ORDER BY round"))
        digests = dict(db.execute("SELECT request_id, integer_sha256 FROM releases"))
        releases = []
        for rid, round_index, meta in db.execute("SELECT request_id, round, meta FROM release_values ORDER BY seq"):
            m = json.loads(meta)
            releases.append(PublishedRelease(round_index, rid, m["policy_id"], dict(map(tuple, m["data"])),
                                             dict(map(tuple, m["noise"])), digests[rid]))
        participations = tuple((contributor_id(key), r) for key, r in db.execute(
            "SELECT c.public_key, p.round FROM participations p JOIN clients c ON c.client_id = p.client_id "
            "ORDER BY p.round, c.public_key"))
        db.execute("COMMIT")
    return ReleaseLog(job, headers, tuple(releases), participations)


__all__ = ["release_log"]
