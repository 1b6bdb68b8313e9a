# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Store invariants (append-only tables, schema version), the deadline close, and the CLI contracts
(`loyal server status --json`, `loyal server certs`, `loyal client run` with local digits training)."""

from __future__ import annotations

import dataclasses

import json
import sqlite3

import pytest
from cryptography import x509

from loyal.app import main
from loyal.client.runner import run_client
from loyal.server.coordinator import Coordinator
from loyal.protocols.ssa.rounds import RoundStage
from loyal.server.store import SCHEMA_VERSION, Store, StoreError
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens, update_for


def _one_row_everywhere(store: Store) -> None:
    """Row triggers fire only on existing rows: give every append-only table one row."""
    with store.transaction() as db:
        db.execute("INSERT INTO submissions (round, kind, sender, sender_key, nonce, payload_digest, payload_offset, "
                   "payload_bytes, received_at) VALUES (0, 'client', 0, x'00', x'00', x'00', 0, 1, 0)")
        db.execute("INSERT INTO keygen VALUES (1, x'00', '{}')")
        db.execute("INSERT INTO requests (request_id, round, row_index, subset) VALUES (x'00', 0, 0, '[]')")
        db.execute("INSERT INTO partials VALUES (x'00', 1, x'00')")
        db.execute("INSERT INTO releases (request_id, round, integer_sha256) VALUES (x'00', 0, x'00')")
        db.execute("INSERT INTO events (round, kind, detail, at) VALUES (0, 'x', 'y', 0)")


@pytest.mark.parametrize("table", ["submissions", "keygen", "requests", "partials", "releases", "events"])
@pytest.mark.parametrize("op", ["UPDATE {t} SET rowid = rowid", "DELETE FROM {t}"])
def test_store_fails_if_append_only_table_is_changed(tmp_path, table, op):
    store = Store(str(tmp_path / "s.db"))
    _one_row_everywhere(store)
    with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
        store.db.execute(op.format(t=table))
    assert store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 1
    store.close()


def test_store_fails_if_schema_version_is_unknown(tmp_path):
    path = str(tmp_path / "s.db")
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"has schema version {SCHEMA_VERSION + 1}, this server reads {SCHEMA_VERSION}"):
        Store(path)


def test_round_closes_at_deadline_with_min_cohort(tmp_path):
    # Prepare: 5 clients per round but the round may close at its deadline with >= 1.
    spec = make_spec(clients=5, rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), spec, round_seconds=0.5, toks=tokens(5)) as srv:
        with member_threads(srv.address, 3) as results:
            # Execute
            run_client(srv.address, lambda t: update_for(0, 0), insecure=True, token="tok-0", round_index=0)
        status = srv.coord.status()
    # Assert
    assert all(isinstance(v, dict) for v in results.values()), results
    assert status["state"] == RoundStage.DONE and status["stored_rounds"] == 1 and status["releases"] == 1


def test_open_job_fails_if_store_is_empty_and_no_spec(tmp_path):
    with pytest.raises(ValueError, match="holds no job and no job was given"):
        Coordinator.open_job(Store(str(tmp_path / "s.db")), job=None, round_seconds=1.0)


def test_cli_status_json_and_certs(tmp_path, capsys):
    # Prepare
    assert main(["server", "certs", "--out", str(tmp_path / "tls")]) == 0
    capsys.readouterr()
    cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    spec = make_spec(clients=2, rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(2), tls_dir=str(tmp_path / "tls")) as srv:
        # Execute
        assert main(["server", "status", "--port", str(srv.port), "--tls-dir", str(tmp_path / "tls"), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
    # Assert
    assert out == {"round": 0, "state": "keygen", "stored_rounds": 0, "submissions": 0}


def test_cli_client_run_trains_digits_and_submits(tmp_path, capsys):
    # Prepare: a job over the digits MLP's parameters (d = 9610).
    spec = make_spec(clients=1, rounds=1, dim=9610)
    spec = dataclasses.replace(spec, model_name="digits-mlp")
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(1)) as srv:
        with member_threads(srv.address, 3) as results:
            # Execute
            code = main(["client", "run", "--server", srv.address, "--token", "tok-0", "--key", str(tmp_path / "key.json"),
                         "--local-steps", "2", "--insecure", "--json"])
        out = json.loads(capsys.readouterr().out)
        rel = srv.coord.releases
    # Assert
    assert code == 0 and out["client_id"] == 0 and out["duplicate"] is False
    assert json.loads((tmp_path / "key.json").read_text())["client_id"] == 0
    assert all(isinstance(v, dict) for v in results.values()), results
    assert len(rel) == 1 and rel[0].values.shape == (9610,) and abs(rel[0].values).max() > 0
