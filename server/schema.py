# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The server store's SQLite schema: tables, append-only triggers and the version check (`server.store`)."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 5
#: Why a store of an older schema version is refused.
_OLD_SCHEMAS = {
    4: "schema 4 keeps upload payloads inside SQLite; schema 5 keeps them in segment files",
}

APPEND_ONLY = (
    "submissions", "keygen", "requests", "partials", "releases", "events",
    "handoff_subsets", "handoffs", "refusals", "log_entries", "kahe_snapshots", "compactions", "release_values",
    "participations", "keygen_commitments", "key_signatures", "upload_parts",
)
#: Tables whose rows of compacted rounds may be deleted (the `server.store` module doc).
COMPACTABLE = ("submissions", "kahe_snapshots")

_TABLES = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY CHECK (id = 1), spec TEXT NOT NULL, round_seconds REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token_hash BLOB PRIMARY KEY, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS clients (client_id INTEGER PRIMARY KEY, public_key BLOB NOT NULL UNIQUE,
    enrolled_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS members (member_id INTEGER PRIMARY KEY, signing_key BLOB NOT NULL,
    exchange_key BLOB NOT NULL, joined_at REAL NOT NULL, join_signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keygen_commitments (dealer INTEGER PRIMARY KEY, commitment BLOB NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS key_signatures (member_id INTEGER PRIMARY KEY, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS upload_parts (round INTEGER NOT NULL, kind TEXT NOT NULL, sender INTEGER NOT NULL,
    part BLOB NOT NULL, PRIMARY KEY (round, kind, sender));
CREATE TABLE IF NOT EXISTS keygen (dealer INTEGER PRIMARY KEY, public_part BLOB NOT NULL, shares TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (round INTEGER PRIMARY KEY, stage TEXT NOT NULL, opened_at REAL NOT NULL,
    updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (seq INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL,
    kind TEXT NOT NULL, sender INTEGER NOT NULL, sender_key BLOB NOT NULL, nonce BLOB NOT NULL,
    payload_digest BLOB NOT NULL, payload_offset INTEGER NOT NULL, payload_bytes INTEGER NOT NULL,
    received_at REAL NOT NULL, UNIQUE (round, sender_key, nonce));
CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id BLOB NOT NULL UNIQUE,
    round INTEGER NOT NULL, row_index INTEGER NOT NULL, subset TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partials (request_id BLOB NOT NULL, member_id INTEGER NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (request_id, member_id));
CREATE TABLE IF NOT EXISTS releases (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id BLOB NOT NULL UNIQUE,
    round INTEGER NOT NULL, integer_sha256 BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS handoff_subsets (epoch INTEGER PRIMARY KEY, subset TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS handoffs (epoch INTEGER NOT NULL, dealer INTEGER NOT NULL, subshares TEXT NOT NULL,
    PRIMARY KEY (epoch, dealer));
CREATE TABLE IF NOT EXISTS refusals (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id BLOB NOT NULL,
    member_id INTEGER NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL, UNIQUE (request_id, member_id));
CREATE TABLE IF NOT EXISTS log_entries (round INTEGER PRIMARY KEY, header TEXT NOT NULL, data_ahe BLOB NOT NULL,
    noise_ahe BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS kahe_snapshots (round INTEGER PRIMARY KEY, data_kahe BLOB NOT NULL, noise_kahe BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS compactions (seq INTEGER PRIMARY KEY AUTOINCREMENT, before_round INTEGER NOT NULL,
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS release_values (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id BLOB NOT NULL UNIQUE,
    round INTEGER NOT NULL, meta TEXT NOT NULL, integer_values BLOB NOT NULL, release_values BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS participations (client_id INTEGER NOT NULL, round INTEGER NOT NULL, PRIMARY KEY (client_id, round));
"""


class StoreError(RuntimeError):
    """The database is not a Loyal server store of a supported schema version."""


def check_version(db: sqlite3.Connection, path: str) -> bool:
    """True if `db` holds a store of this SCHEMA_VERSION, False if it holds no store yet.

    Raises:
      StoreError: it holds a store of another version (the reason names what changed).
    """
    if db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone() is None:
        return False
    row = db.execute("SELECT version FROM schema_version").fetchone()
    if row is None or row[0] != SCHEMA_VERSION:
        version = row and row[0]
        why = _OLD_SCHEMAS.get(version, "older stores predate the pinned-job genesis")
        raise StoreError(
            f"store {path} has schema version {version}, this server reads {SCHEMA_VERSION} "
            f"({why}: finish their job with the Loyal that created them)"
        )
    return True


def create(db: sqlite3.Connection) -> None:
    """Creates every table and trigger of a new store (inside the caller's transaction)."""
    for stmt in _TABLES.split(";"):
        if stmt.strip():
            db.execute(stmt)
    for t in APPEND_ONLY:
        for op in ("UPDATE", "DELETE"):
            db.execute(f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} "
                       f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END")
    # Deleting rows of compacted rounds is the one allowed change of these tables.
    for t in COMPACTABLE:
        db.execute(f"DROP TRIGGER IF EXISTS {t}_no_delete")
        db.execute(
            f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
            f"WHEN OLD.round >= (SELECT COALESCE(MAX(before_round), 0) FROM compactions) "
            f"BEGIN SELECT RAISE(ABORT, '{t} is append-only (round not compacted)'); END"
        )
    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
