# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""SIGKILL while the server verifies upload proofs (issue 14): every acknowledged upload survives the
restart, the upload in flight is either stored whole or not at all, and its client's retry (same bytes
and nonce) completes the round with one release."""

from __future__ import annotations

import signal
import threading
import time

from loyal.client.grpc_client import Session
from loyal.client.runner import run_client
from loyal.client.tls import Identity
from tests.server.harness import client_seed, member_threads, read_port, start_server_process, tokens, update_for

CLIENTS = 4
ARGS = ["--dim", "40", "--clients-per-round", str(CLIENTS), "--committee-size", "3", "--threshold", "2",
        "--noise-multiplier", "0.5", "--params", "insecure-test-n1024", "--rounds", "1"]  # proofs on


IDENTITIES = [Identity() for _ in range(CLIENTS)]  # enrolled on first use; a retry keeps the key


def _submit(address: str, c: int) -> dict:
    return run_client(address, lambda t: update_for(0, c), identity=IDENTITIES[c], insecure=True, token=f"tok-{c}",
                      round_index=0, insecure_seed=client_seed(0, c), timeout_s=60)


def test_sigkill_during_proof_verification_loses_no_acknowledged_upload(tmp_path):
    db, port_file = str(tmp_path / "s.db"), str(tmp_path / "port")
    (tmp_path / "tokens").write_text("\n".join(tokens(CLIENTS)) + "\n")
    proc = start_server_process(db, port_file, spec_args=ARGS, tokens_file=str(tmp_path / "tokens"))
    port = read_port(port_file)
    address = f"127.0.0.1:{port}"
    try:
        with member_threads(address, 3) as results:
            acked = [_submit(address, c) for c in range(2)]
            inflight: dict = {}
            t = threading.Thread(target=lambda: inflight.update(r=_try_submit(address, 2)), daemon=True)
            t.start()
            time.sleep(0.15)  # the upload is streaming or being verified (~0.2-0.5 s at N = 1024)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start_server_process(db, port_file, spec_args=["--port", str(port)] + ARGS)
            t.join(90)  # the interrupted client retries (same bytes and nonce) and may land after the restart
            with Session(address) as s:
                after = s.status()
            retried = _submit(address, 2)  # same seed: same bytes and nonce, stored once whether or not it landed
            last = _submit(address, 3)
            end = time.monotonic() + 90
            while len(results) < 3 and time.monotonic() < end:
                time.sleep(0.05)
            with Session(address) as s:
                final = s.status()
    finally:
        proc.kill()
        proc.wait(10)
    assert all(not a["duplicate"] for a in acked)
    assert after.submissions in (2, 3)  # both acknowledged uploads survived; the in-flight one whole or absent
    assert retried["duplicate"] == (after.submissions == 3) and not last["duplicate"]
    assert all(isinstance(v, dict) for v in results.values()), results
    assert final.stored_rounds == 1


def _try_submit(address: str, c: int):
    try:
        return _submit(address, c)
    except Exception as e:  # noqa: BLE001 - the server died under it
        return e
