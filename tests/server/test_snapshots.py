# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Aggregate snapshots: a restart rebuilds closed rounds from one hash-checked snapshot each
(O(rounds)), never from their uploads, and refuses a snapshot that does not match the log."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.server.coordinator import Coordinator
from loyal.server.store import Store
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens
from tests.server.test_grpc_server import _releases, _run_rounds

CLIENTS = 3


@pytest.fixture(name="finished_db")
def _finished_db(tmp_path):
    """A store holding a finished 2-round job, and its releases."""
    db = str(tmp_path / "s.db")
    with InProcessServer(db, make_spec(clients=CLIENTS, noise=0.5, rounds=2), toks=tokens(2 * CLIENTS)) as srv:
        with member_threads(srv.address, 3):
            _run_rounds(srv.address, 2)
        releases = _releases(srv.address)
    return db, releases


class _CountingStore(Store):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.upload_rounds: list[int] = []

    def submissions(self, round_index: int):
        self.upload_rounds.append(round_index)
        return super().submissions(round_index)


def test_restart_reads_snapshots_not_uploads(finished_db):
    # Prepare
    db, releases = finished_db
    store = _CountingStore(db)
    # Execute
    coord = Coordinator.open_job(store, job=None, round_seconds=60.0)
    # Assert: no upload was read, the chain head and the published releases are back.
    assert store.upload_rounds == []
    assert coord.status()["stored_rounds"] == 2 and coord.status()["state"] == "done"
    assert [r.request_id for r in coord.releases] == [r.request_id for r in releases]
    for got, want in zip(coord.releases, releases):
        np.testing.assert_array_equal(got.integer_values, want.integer_values)
    assert coord.state.core.log[1].header.prev_hash == coord.state.core.log[0].header.entry_hash
    store.close()


@pytest.mark.parametrize(("table", "column"), [("kahe_snapshots", "noise_kahe"), ("log_entries", "data_ahe")])
def test_restart_fails_if_snapshot_does_not_match_the_log(finished_db, table, column):
    # Prepare: flip one byte of round 1's stored sum (bypassing the append-only trigger).
    db, _ = finished_db
    store = Store(db)
    store.db.execute(f"DROP TRIGGER {table}_no_update")
    blob = bytearray(store.db.execute(f"SELECT {column} FROM {table} WHERE round = 1").fetchone()[0])
    blob[0] ^= 1
    store.db.execute(f"UPDATE {table} SET {column} = ? WHERE round = 1", (bytes(blob),))
    # Execute / Assert
    with pytest.raises(LogIntegrityError, match="of round 1 does not match its log digest"):
        Coordinator.open_job(store, job=None, round_seconds=60.0)
    store.close()
