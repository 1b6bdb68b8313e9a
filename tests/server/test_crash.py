# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Crash safety: SIGKILL the server process mid-round, restart it on the same database, finish the
round, and get exactly the releases of an uninterrupted run (the pure protocol, same seeds). The
kill falls in round 1, so the restart rebuilds round 0 from its aggregate snapshot and round 1 from
its stored uploads, read back from the round's payload segment; the kill also left half a record at
that segment's end (an append it interrupted), which the restart cuts off."""

from __future__ import annotations

import pathlib
import signal
import time

import numpy as np

from loyal.client.grpc_client import Session
from loyal.client.runner import run_client
from loyal.protocols.proto.convert import release_from_proto
from loyal.protocols.proto.loyal.v1 import observer_pb2
from loyal.server import segments
from loyal.server.store import Store
from tests.server.harness import (
    client_seed,
    make_spec,
    member_threads,
    read_port,
    reference_releases,
    start_server_process,
    tokens,
    update_for,
)

CLIENTS = 4
ARGS = ["--dim", "40", "--clients-per-round", str(CLIENTS), "--committee-size", "3", "--threshold", "2",
        "--noise-multiplier", "0.5", "--params", "insecure-test-n1024", "--no-prove-uploads", "--rounds", "2"]


def _submit(address: str, c: int, r: int = 1) -> dict:
    return run_client(address, lambda t: update_for(r, c), insecure=True, token=f"tok-{r * CLIENTS + c}", round_index=r,
                      insecure_seed=client_seed(r, c))


def test_sigkill_mid_round_then_restart_gives_the_uninterrupted_release(tmp_path):
    # Prepare
    db, port_file = str(tmp_path / "s.db"), str(tmp_path / "port")
    (tmp_path / "tokens").write_text("\n".join(tokens(2 * CLIENTS)) + "\n")
    proc = start_server_process(db, port_file, spec_args=ARGS, tokens_file=str(tmp_path / "tokens"))
    port = read_port(port_file)
    address = f"127.0.0.1:{port}"
    try:
        with member_threads(address, 3) as results:
            # Execute: round 0 in full, two clients of round 1, then SIGKILL while round 1 is collecting.
            for c in range(CLIENTS):
                _submit(address, c, 0)
            for c in range(2):
                _submit(address, c)
            with Session(address) as s:
                before = s.status()
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            seg = pathlib.Path(db + ".segments") / "round-1.seg"
            acked_bytes = seg.stat().st_size
            with open(seg, "ab") as f:  # the append the kill interrupted: a header and part of a payload
                f.write(segments.MAGIC + (10**6).to_bytes(8, "little") + b"\x01" * 500)
            proc = start_server_process(db, port_file, spec_args=["--port", str(port)] + ARGS)  # CLI flags ignored: job is in the DB
            with Session(address) as s:
                after = s.status()
            for c in range(2, CLIENTS):
                _submit(address, c)
            end = time.monotonic() + 60
            while len(results) < 3 and time.monotonic() < end:
                time.sleep(0.05)
            with Session(address) as s:
                got = [release_from_proto(r) for r in s.observer.ListReleases(observer_pb2.ReleasesRequest()).releases]
    finally:
        proc.kill()
        proc.wait(10)
    store = Store(db, "NORMAL")  # reopened after the run: no tail left, round 1's uploads read back whole
    tail, round1 = store.cut_tails, [p for _, _, p in store.submissions(1)]
    store.close()
    # Assert
    assert acked_bytes > 0 and tail == {} and len(round1) == CLIENTS + 3  # clients and noise shares
    assert (before.round, before.submissions, before.stored_rounds) == (1, 2, 1)
    assert (after.round, after.submissions, after.state) == (before.round, before.submissions, before.state)
    assert all(isinstance(v, dict) for v in results.values()), results
    want = reference_releases(make_spec(clients=CLIENTS, noise=0.5, rounds=2), 2, CLIENTS)
    assert len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.integer_values, w)
