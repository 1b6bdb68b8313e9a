# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Server benchmark: sustained SSA submissions per second on loopback at d = 10^5, as a ratio to a
no-op gRPC service receiving the same bytes in the same chunks; and server memory per stored round.

Run with `loyal bench server --json [--dim D] [--submissions N]`. Both servers run in this process
(own event loop in a thread), one client thread uploads sequentially; encryption happens before the
clock starts (it is the client's cost, measured by `loyal bench ssa`). The store uses
synchronous=FULL (an fsync per accepted upload), as `loyal server start` does by default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import threading
import time

import grpc

from loyal.client.committee import CommitteeRunner
from loyal.client.grpc_client import Session
from loyal.client.tls import Identity
from loyal.protocols.ssa.job import Job
from loyal.protocols.proto.loyal.v1 import client_pb2, common_pb2
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.client import SsaClient
from loyal.server import limits


class _Loop:
    """Runs a coroutine factory's server in a background event loop."""

    def __init__(self, start) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = None
        self._start = start
        self._stop = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._ready.wait(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._stop = asyncio.Event()
        self.loop.run_until_complete(self._start(self))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


async def _noop_server(h: _Loop) -> None:
    async def submit(request_iterator, context):
        n = 0
        async for chunk in request_iterator:
            n += len(chunk.data)
        return common_pb2.SubmitResponse(accepted=n)

    server = grpc.aio.server(options=limits.server_options())
    handler = grpc.method_handlers_generic_handler("loyal.v1.ClientService", {
        "Submit": grpc.stream_unary_rpc_method_handler(
            submit, request_deserializer=common_pb2.SubmitChunk.FromString,
            response_serializer=common_pb2.SubmitResponse.SerializeToString),
    })
    server.add_generic_rpc_handlers((handler,))
    h.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    h._ready.set()
    await h._stop.wait()
    await server.stop(0)


def run(args: argparse.Namespace) -> dict:
    from loyal.server.app import open_coordinator, serve

    n, dim = args.submissions, args.dim
    job = Job(
        job_id=os.urandom(16), public_seed=os.urandom(32), dim=dim, cohort_size=n, clip_norm=1.0, scale=1024.0,
        committee_size=3, threshold=2, noise_multiplier=0.0, params_name="rlwe-n4096", rounds=1,
    )
    tmp = tempfile.mkdtemp(prefix="loyal-bench-server-")
    coord = open_coordinator(os.path.join(tmp, "s.db"), job=job, round_seconds=3600, tokens=[f"t{i}" for i in range(n)])

    async def start_real(h: _Loop) -> None:
        ready = asyncio.Event()
        task = asyncio.ensure_future(serve(coord, port=0, ready=ready, stop=h._stop))
        await ready.wait()
        h.port = ready.port
        h._ready.set()
        await task

    real = _Loop(start_real)
    address = f"127.0.0.1:{real.port}"
    members: dict[int, object] = {}

    def member(m: int) -> None:
        members[m] = CommitteeRunner(address, m, insecure=True).run(timeout_s=600)

    for m in (1, 2, 3):
        threading.Thread(target=member, args=(m,), daemon=True).start()
    with Session(address) as s:
        idents = []
        for i in range(n):
            ident = Identity()
            ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(token=f"t{i}", public_key=ident.public_key)).client_id
            idents.append(ident)
        while coord.state.core is None:
            time.sleep(0.05)
        config = job.config_for_epoch(0)
        prng = AesCtrPrng.from_os(b"bench")
        update = (prng.unit_floats(dim) * 2 - 1) / dim**0.5
        payloads = [
            SsaClient(config).create_contribution(update, round_index=0, client_id=i.client_id,
                                                  public_key_hat=coord.state.core.public_key_hat, prng=prng)
            for i in idents
        ]
        noop = _Loop(_noop_server)
        with Session(f"127.0.0.1:{noop.port}") as ns:
            t0 = time.perf_counter()
            for ident, p in zip(idents, payloads):
                ns.upload(ns.client.Submit, round_index=0, payload=p, identity=ident, kind="client", job_id=config.job_id)
            noop_s = time.perf_counter() - t0
        noop.stop()
        t0 = time.perf_counter()
        for ident, p in zip(idents, payloads[:-1]):
            s.upload(s.client.Submit, round_index=0, payload=p, identity=ident, kind="client", job_id=config.job_id)
        real_s = time.perf_counter() - t0
        s.upload(s.client.Submit, round_index=0, payload=payloads[-1], identity=idents[-1], kind="client", job_id=config.job_id)
        end = time.monotonic() + 60
        while len(members) < 3 and time.monotonic() < end:
            time.sleep(0.05)
    log = coord.state.core.log[0]
    round_bytes = sum(a.nbytes for a in (log.data_kahe.b_hat, log.noise_kahe.b_hat, log.data_ahe.c0_hat,
                                          log.data_ahe.c1_hat, log.noise_ahe.c0_hat, log.noise_ahe.c1_hat))
    db_bytes = os.path.getsize(os.path.join(tmp, "s.db")) + (os.path.getsize(os.path.join(tmp, "s.db-wal")) if os.path.exists(os.path.join(tmp, "s.db-wal")) else 0)
    real.stop()
    coord.store.close()
    upload = len(payloads[0])
    m = n - 1
    return {
        "dim": dim, "submissions": n, "parameter_set": config.selection.params.name, "upload_bytes": upload,
        "server_submissions_per_s": m / real_s, "noop_submissions_per_s": n / noop_s,
        "ratio_vs_noop": (m / real_s) / (n / noop_s),
        "server_memory_per_stored_round_bytes": round_bytes,
        "memory_per_round_vs_upload": round_bytes / upload,
        "store_bytes_per_upload": db_bytes / n,
        "releases": len(coord.releases),
        "machine": f"{platform.machine()} {platform.python_version()} {os.cpu_count()} cpus (shared)",
    }


def markdown(r: dict) -> str:
    return "\n".join([
        f"# Server benchmark (d={r['dim']}, {r['submissions']} uploads of {r['upload_bytes']} B, set {r['parameter_set']})",
        "",
        "| measure | SSA server | no-op gRPC service | ratio |",
        "|---|---|---|---|",
        f"| submissions/s on loopback | {r['server_submissions_per_s']:.1f} | {r['noop_submissions_per_s']:.1f} | {r['ratio_vs_noop']:.2f} |",
        f"| server memory per stored round (bytes) | {r['server_memory_per_stored_round_bytes']} | — | {r['memory_per_round_vs_upload']:.2f}× one upload |",
        f"| SQLite bytes per accepted upload | {r['store_bytes_per_upload']:.0f} | — | — |",
        "",
        f"Machine: {r['machine']}.",
        "",
    ])
