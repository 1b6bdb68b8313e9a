# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""End to end on 127.0.0.1: a server process, 3 committee processes and 50 clients over 3 rounds
(releases equal the pure protocol for the same seeds); and 2,000 malformed requests that leave the
server SERVING and its SQLite files byte-for-byte unchanged."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pathlib
import random
import sqlite3
import subprocess
import sys
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from loyal.client.grpc_client import Session
from loyal.client.runner import run_client
from loyal.protocols.proto.convert import release_from_proto
from loyal.protocols.proto.loyal.v1 import common_pb2, observer_pb2
from tests.server.harness import (
    InProcessServer,
    client_seed,
    make_spec,
    member_threads,
    read_port,
    reference_releases,
    start_server_process,
    tokens,
    update_for,
    wait_until,
)

pytestmark = pytest.mark.slow

CLIENTS, ROUNDS, COMMITTEE = 50, 3, 3
ARGS = ["--dim", "40", "--clients-per-round", str(CLIENTS), "--committee-size", str(COMMITTEE), "--threshold", "2",
        "--noise-multiplier", "0.5", "--params", "insecure-test-n1024", "--no-prove-uploads", "--rounds", str(ROUNDS)]


def test_server_three_committee_processes_fifty_clients_three_rounds(tmp_path):
    # Prepare: server and committee processes.
    start = time.monotonic()
    (tmp_path / "tokens").write_text("\n".join(tokens(CLIENTS * ROUNDS)) + "\n")
    server = start_server_process(str(tmp_path / "s.db"), str(tmp_path / "port"), spec_args=ARGS,
                                  tokens_file=str(tmp_path / "tokens"))
    address = f"127.0.0.1:{read_port(str(tmp_path / 'port'))}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    members = [
        subprocess.Popen([sys.executable, "-m", "loyal.cli.committee", "run", "--server", address, "--member-id", str(m),
                          "--insecure-seed", str(m), "--insecure", "--timeout", "120", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        for m in range(1, COMMITTEE + 1)
    ]
    try:
        # Execute: 50 ephemeral clients per round.
        for r in range(ROUNDS):
            for c in range(CLIENTS):
                run_client(address, lambda t, r=r, c=c: update_for(r, c), insecure=True, token=f"tok-{r * CLIENTS + c}",
                           round_index=r, insecure_seed=client_seed(r, c))
        outs = [p.communicate(timeout=60)[0] for p in members]
        with Session(address) as s:
            got = [release_from_proto(x) for x in s.observer.ListReleases(observer_pb2.ReleasesRequest()).releases]
            status = s.status()
    finally:
        for p in [*members, server]:
            p.kill()
            p.wait(10)
    # Assert
    assert all(p.returncode is not None for p in members)
    assert all(b'"partials"' in o for o in outs), outs
    assert status.state == common_pb2.ROUND_STATE_DONE and status.stored_rounds == ROUNDS
    want = reference_releases(make_spec(clients=CLIENTS, noise=0.5, rounds=ROUNDS), ROUNDS, CLIENTS)
    assert len(got) == ROUNDS
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.integer_values, w)
    assert time.monotonic() - start < 60


# ---- robustness ----------------------------------------------------------------------------------------
UNARY = [
    "/loyal.v1.ClientService/Enroll", "/loyal.v1.ClientService/GetTask", "/loyal.v1.CommitteeService/Join",
    "/loyal.v1.CommitteeService/SubmitKeyGen", "/loyal.v1.CommitteeService/GetWork",
    "/loyal.v1.CommitteeService/SubmitPartial", "/loyal.v1.CommitteeService/GetKeyShares",
    "/loyal.v1.ObserverService/GetStatus", "/loyal.v1.ObserverService/ListReleases", "/grpc.health.v1.Health/Check",
    "/loyal.v1.CommitteeService/SubmitHandOff", "/loyal.v1.CommitteeService/GetHandOff", "/loyal.v1.CommitteeService/Refuse",
]
STREAM = ["/loyal.v1.ClientService/Submit", "/loyal.v1.CommitteeService/SubmitNoise"]
WRITES = {"/loyal.v1.ClientService/Enroll", "/loyal.v1.CommitteeService/Join", "/loyal.v1.CommitteeService/SubmitKeyGen",
          "/loyal.v1.CommitteeService/SubmitPartial", "/loyal.v1.CommitteeService/SubmitHandOff",
          "/loyal.v1.CommitteeService/Refuse", *STREAM}
COUNT = 2000


def _checkpoint(srv: InProcessServer) -> None:
    """Copies the whole WAL into the database on the server's own loop (between its transactions), retrying
    while SQLite reports the checkpoint incomplete: from another thread it could run inside one of the loop's
    transactions, leave frames behind, and a later checkpoint would change the file with no new write."""
    for _ in range(50):
        done = asyncio.run_coroutine_threadsafe(_run_checkpoint(srv.coord.store.db), srv._loop).result(10)
        if done:
            return
        time.sleep(0.05)
    raise AssertionError("the WAL checkpoint stayed incomplete")


async def _run_checkpoint(db) -> bool:
    busy, log, moved = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0 and log == moved


def _rows(db: str) -> dict[str, list]:
    """Every table's rows (a separate read-only connection): names what changed when the file hashes differ."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t}").fetchall()
                for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def _files(db: str) -> dict[str, str]:
    return {p: hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest() for p in (db, db + "-wal") if os.path.exists(p)}


def _malformed(rng: random.Random, valid: bytes) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(1, 300))
    if kind == 1:  # truncated protobuf
        return valid[: rng.randrange(1, len(valid))]
    if kind == 2:  # absurd length prefix on a length-delimited field
        return bytes([(rng.randrange(1, 16) << 3) | 2]) + b"\xff" * 9 + b"\x01" + rng.randbytes(8)
    if kind == 3:  # wrong types: varint where bytes are expected, and vice versa
        return b"\x0a\x05hello\x12\x96\x01" + bytes([0x08 | 2, 3]) + b"abc"
    return common_pb2.SubmitChunk(data=rng.randbytes(64)).SerializeToString()  # a valid message of another type


def test_two_thousand_malformed_requests_leave_server_serving_and_store_unchanged(tmp_path):
    # Prepare: a running job with stored submissions.
    db = str(tmp_path / "s.db")
    spec = make_spec(clients=5, rounds=1)
    with InProcessServer(db, spec, toks=tokens(5)) as srv, member_threads(srv.address, 3):
        for c in range(2):
            run_client(srv.address, lambda t, c=c: update_for(0, c), insecure=True, token=f"tok-{c}", round_index=0)
        with Session(srv.address) as s:
            s.status()
        # Clients encrypt once t = 2 members signed the committee key; the third may sign later, a write of
        # its own: wait for it, so the store is quiet when the requests start.
        wait_until(lambda: len(srv.coord.key_signatures) == 3)
        assert len(srv.coord.key_signatures) == 3
        _checkpoint(srv)
        before, rows_before = _files(db), _rows(db)
        rng = random.Random(0)  # test data only
        valid = common_pb2.SubmitHeader(round=0, public_key=b"k" * 32, nonce=b"n" * 16, total_bytes=10,
                                        payload_digest=b"s" * 32, signature=b"g" * 64).SerializeToString()
        channel = grpc.insecure_channel(srv.address)
        codes: dict[str, int] = {}
        t0 = time.monotonic()
        # Execute
        for i in range(COUNT):
            if i % 4 == 3:
                method = STREAM[i % 2]
                call = channel.stream_unary(method, request_serializer=None, response_deserializer=None)
                chunks = [_malformed(rng, valid) for _ in range(rng.randrange(1, 4))]
                if i % 8 == 3:  # a valid header claiming an absurd size
                    chunks = [common_pb2.SubmitChunk(header=common_pb2.SubmitHeader(round=0, total_bytes=2**63)).SerializeToString()]
                fn = lambda: call(iter(chunks), timeout=5)  # noqa: E731
            else:
                method = UNARY[i % len(UNARY)]
                call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
                payload = _malformed(rng, valid)
                fn = lambda: call(payload, timeout=5)  # noqa: E731
            try:
                fn()
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                code = e.code()
            assert not (method in WRITES and code == grpc.StatusCode.OK), f"write {method} accepted malformed bytes"
            assert code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), (method, code)
            codes[code.name] = codes.get(code.name, 0) + 1
        elapsed = time.monotonic() - t0
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        channel.close()
        _checkpoint(srv)
        after, rows_after = _files(db), _rows(db)
        status = srv.coord.status()
        # finish the round so the members stop
        for c in range(2, 5):
            run_client(srv.address, lambda t, c=c: update_for(0, c), insecure=True, token=f"tok-{c}", round_index=0)
    # Assert
    assert sum(codes.values()) == COUNT and elapsed < 60, (codes, elapsed)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    changed = {t: [r for r in rows if r not in rows_before.get(t, [])][:3] for t, rows in rows_after.items()
               if rows != rows_before.get(t)}
    assert after == before, f"the store changed; new rows by table: {changed}"
    assert (status["round"], status["submissions"]) == (0, 2)
