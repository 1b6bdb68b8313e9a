# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Server benchmark: sustained SSA submissions per second on loopback at d = 10^5, as a ratio to a
no-op gRPC service receiving the same bytes in the same chunks; and server memory per stored round.

Run with `loyal bench server --json [--dim D] [--submissions N]`. Each server runs in its own process,
as deployed: the SSA server is `loyal server start` (plaintext on loopback, `server.process`), the
no-op service `python -m loyal.benchmarks.server`; the clients and the committee members run in this
process. (In one process the clients' threads hold the GIL whenever the server's thread comes back
from a system call, so every write or flush cost the server up to a 5 ms switch interval.) Two loads, each timed on both servers with the same uploads:
*sequential* (one client, each upload waits for the previous answer: latency-bound) and *concurrent*
(STREAMS clients, each with its own channel, N uploads in all: the server's throughput). The loads are
interleaved noop/server REPEATS times and the median of each is reported, so load drift on a shared
machine hits both servers alike. Encryption happens before the clock starts (the client's cost,
measured by `loyal bench ssa`); uploads carry no proofs (`Job.prove_uploads` off: a proof's
verification, ~40–60 ms per upload, is timed by the proof rows of `loyal bench ssa` and
would bound any server at ~20 uploads/s per core). The store uses synchronous=FULL, as `loyal server start`
does by default: every acknowledged upload's payload and then its row are flushed (fdatasync, group
commit shared by concurrent uploads) before the answer. After the run the round is read back from the
store as a restart would (`open_coordinator`) to report its memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc

from loyal.client.committee import CommitteeRunner
from loyal.client.grpc_client import Session
from loyal.client.tls import Identity
from loyal.protocols.proto import convert
from loyal.protocols.ssa.job import Job
from loyal.protocols.proto.loyal.v1 import client_pb2, common_pb2
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.client import SsaClient
from loyal.rpc import client_pb2_grpc
from loyal.server import limits
from loyal.server.process import wait_for_port_file, write_port_file

#: Concurrent clients of the concurrent load.
STREAMS = 4
#: The services timed on the same uploads: the stock no-op, the no-op with the server's process settings, the server.
ARMS = ("noop", "tuned", "server")
#: Interleaved noop/server repetitions of both loads (medians reported).
REPEATS = 5


async def _noop_server(port_file: str) -> None:
    """A gRPC service with the SSA server's Submit signature and limits that only counts the bytes."""
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
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    write_port_file(port_file, port)
    await server.wait_for_termination()


class _NoopProcess:
    """The no-op service in its own process (`python -m loyal.benchmarks.server PORT_FILE [tuned]`), like the
    server; `tuned`: with the server's allocator and collector settings (`server.runtime`)."""

    def __init__(self, folder: str, tuned: bool = False) -> None:
        port_file = pathlib.Path(folder) / ("noop-tuned.port" if tuned else "noop.port")
        self.proc = subprocess.Popen([sys.executable, "-m", "loyal.benchmarks.server", str(port_file), *(["tuned"] if tuned else [])],
                                     env=dict(os.environ, OMP_NUM_THREADS="1"))
        self.address = f"127.0.0.1:{wait_for_port_file(self.proc, port_file)}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def _upload_all(address: str, jobs: list[tuple[object, bytes]], job_id: bytes, streams: int) -> float:
    """Uploads `jobs` [(identity, payload)] over `streams` clients (own channel each); wall seconds."""
    sessions = [Session(address) for _ in range(streams)]
    for s in sessions:  # one TCP connection per client, as distinct client machines have
        s.channel.close()
        s.channel = grpc.insecure_channel(address, options=limits.channel_options() + [("grpc.use_local_subchannel_pool", 1)])
        s.client = client_pb2_grpc.ClientServiceStub(s.channel)
        grpc.channel_ready_future(s.channel).result(timeout=30)  # connect before the clock starts
    start = threading.Barrier(streams + 1)
    errors: list[BaseException] = []

    def client(k: int) -> None:
        s = sessions[k]
        start.wait()
        try:
            for ident, p in jobs[k::streams]:
                s.upload(s.client.Submit, round_index=0, payload=p, identity=ident, kind="client", job_id=job_id)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(streams)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for s in sessions:
        s.close()
    if errors:
        raise errors[0]
    return elapsed


def run(args: argparse.Namespace) -> dict:
    from loyal.server.app import open_coordinator
    from loyal.server.process import ServerProcess

    n, dim = args.submissions, args.dim
    total = 2 * REPEATS * n + 1  # every timed upload is a distinct client; the last one closes the round
    load_before = os.getloadavg()
    job = Job(
        job_id=os.urandom(16), public_seed=os.urandom(32), dim=dim, cohort_size=total, clip_norm=1.0, scale=1024.0,
        committee_size=3, threshold=2, noise_multiplier=0.0, params_name="rlwe-n4096", rounds=1, prove_uploads=False,
    )
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="loyal-bench-server-"))
    synchronous = getattr(args, "synchronous", "FULL")
    real = ServerProcess(job, tmp, [f"t{i}" for i in range(total)], round_seconds=3600, reissue_seconds=60,
                         tls=False, synchronous=synchronous)
    noop, noop_tuned = _NoopProcess(str(tmp)), _NoopProcess(str(tmp), tuned=True)
    try:
        members: dict[int, object] = {}

        def member(m: int) -> None:
            members[m] = CommitteeRunner(real.address, m, insecure=True).run(timeout_s=600)

        for m in (1, 2, 3):
            threading.Thread(target=member, args=(m,), daemon=True).start()
        config = job.config_for_epoch(0)
        with Session(real.address) as s:
            idents = []
            for i in range(total):
                ident = Identity()
                ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(token=f"t{i}", public_key=ident.public_key)).client_id
                idents.append(ident)
            end = time.monotonic() + 120
            while not (key := s.task().public_key_hat):
                if time.monotonic() > end:
                    raise RuntimeError("the committee did not publish its key within 120 s")
                time.sleep(0.05)
        public_key_hat = convert.residues_from_bytes(key, config.selection.params.ahe_ring, "public_key_hat")
        prng = AesCtrPrng.from_os(b"bench")
        update = (prng.unit_floats(dim) * 2 - 1) / dim**0.5
        uploads = [
            (i, SsaClient(config).create_contribution(update, round_index=0, client_id=i.client_id,
                                                      public_key_hat=public_key_hat, prng=prng))
            for i in idents
        ]
        times: dict[str, list[float]] = {f"{who}_{load}": [] for who in ARMS for load in ("seq", "conc")}
        os.sync()  # no dirty pages left by earlier work: past ~1.5 GB of them every write here cost 2 ms, not 0.3
        batches = iter(uploads[i * n:(i + 1) * n] for i in range(2 * REPEATS))
        for _ in range(REPEATS):
            for load, streams in (("seq", 1), ("conc", STREAMS)):
                batch = next(batches)
                times[f"noop_{load}"].append(_upload_all(noop.address, batch, config.job_id, streams))
                times[f"tuned_{load}"].append(_upload_all(noop_tuned.address, batch, config.job_id, streams))
                times[f"server_{load}"].append(_upload_all(real.address, batch, config.job_id, streams))
        _upload_all(real.address, uploads[-1:], config.job_id, 1)
        end = time.monotonic() + 60
        while len(members) < 3 and time.monotonic() < end:
            time.sleep(0.05)
        load_after = os.getloadavg()
    finally:
        noop.stop()
        noop_tuned.stop()
        real.stop()
    coord = open_coordinator(str(real.db), job=None, round_seconds=3600)  # the stored round, as a restart reads it
    log = coord.state.core.log[0]
    round_bytes = sum(a.nbytes for a in (log.data_kahe.b_hat, log.noise_kahe.b_hat, log.data_ahe.c0_hat,
                                          log.data_ahe.c1_hat, log.noise_ahe.c0_hat, log.noise_ahe.c1_hat))
    releases = len(coord.releases)
    coord.store.close()
    segment_dir = tmp / "server.db.segments"
    segment_bytes = sum(f.stat().st_size for f in segment_dir.iterdir()) if segment_dir.is_dir() else 0
    sqlite_bytes = sum(f.stat().st_size for f in tmp.iterdir() if f.name.startswith("server.db") and f.is_file())
    shutil.rmtree(tmp, ignore_errors=True)
    upload = len(uploads[0][1])
    rate = {k: statistics.median(n / t for t in v) for k, v in times.items()}
    ratio = {(base, load): statistics.median(b / t for b, t in zip(times[f"{base}_{load}"], times[f"server_{load}"]))
             for base in ("noop", "tuned") for load in ("seq", "conc")}
    return {
        "dim": dim, "submissions": n, "streams": STREAMS, "repeats": REPEATS, "synchronous": synchronous,
        "parameter_set": config.selection.params.name, "upload_bytes": upload, "prove_uploads": job.prove_uploads,
        "server_submissions_per_s": rate["server_conc"], "noop_submissions_per_s": rate["noop_conc"],
        "ratio_vs_noop": ratio["noop", "conc"],
        "tuned_noop_submissions_per_s": rate["tuned_conc"], "ratio_vs_tuned_noop": ratio["tuned", "conc"],
        "sequential_server_submissions_per_s": rate["server_seq"], "sequential_noop_submissions_per_s": rate["noop_seq"],
        "sequential_ratio_vs_noop": ratio["noop", "seq"],
        "sequential_tuned_noop_submissions_per_s": rate["tuned_seq"], "sequential_ratio_vs_tuned_noop": ratio["tuned", "seq"],
        "times_s": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "server_memory_per_stored_round_bytes": round_bytes,
        "memory_per_round_vs_upload": round_bytes / upload,
        "sqlite_bytes_per_upload": sqlite_bytes / total, "segment_bytes_per_upload": segment_bytes / total,
        "releases": releases,
        "targets": {"ratio_vs_noop>=0.8": ratio["noop", "conc"] >= 0.8},
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "machine": f"{platform.machine()} {platform.python_version()} {os.cpu_count()} cpus (shared)",
    }


def markdown(r: dict) -> str:
    return "\n".join([
        f"# Server benchmark (d={r['dim']}, {r['submissions']} uploads of {r['upload_bytes']} B per load, set {r['parameter_set']})",
        "",
        f"Median of {r['repeats']} interleaved repetitions; "
        + ("synchronous=FULL (payload fdatasync'd and row committed before each answer)."
           if r.get("synchronous", "FULL") == "FULL" else
           "synchronous=NORMAL (no fsync before an answer: survives a killed process, not a power loss)."),
        "",
        "| measure | SSA server | no-op gRPC service | ratio (target ≥ 0.8) | no-op with the server's process settings | ratio |",
        "|---|---|---|---|---|---|",
        f"| submissions/s, {r['streams']} concurrent clients | {r['server_submissions_per_s']:.1f} | {r['noop_submissions_per_s']:.1f} | {r['ratio_vs_noop']:.2f} "
        f"| {r['tuned_noop_submissions_per_s']:.1f} | {r['ratio_vs_tuned_noop']:.2f} |",
        f"| submissions/s, 1 sequential client | {r['sequential_server_submissions_per_s']:.1f} | {r['sequential_noop_submissions_per_s']:.1f} | {r['sequential_ratio_vs_noop']:.2f} "
        f"| {r['sequential_tuned_noop_submissions_per_s']:.1f} | {r['sequential_ratio_vs_tuned_noop']:.2f} |",
        f"| server memory per stored round (bytes) | {r['server_memory_per_stored_round_bytes']} | — | {r['memory_per_round_vs_upload']:.2f}× one upload | | |",
        f"| bytes per accepted upload: SQLite (db + WAL), payload segments | {r['sqlite_bytes_per_upload']:.0f}, {r['segment_bytes_per_upload']:.0f} | — | — | | |",
        "",
        "The server runs with `server.runtime`'s settings (glibc mmap/trim thresholds pinned, long-lived objects "
        "frozen out of the collector), as `loyal server start` applies them; the last two columns give the same "
        "settings to the no-op, so the ratio there is the server's own work.",
        "",
        f"Machine: {r['machine']}; 1-minute load average {r['load_average_before_after'][0]} before, {r['load_average_before_after'][1]} after.",
        "",
    ])


if __name__ == "__main__":  # the no-op service's process (`_NoopProcess`)
    if sys.argv[2:] == ["tuned"]:
        from loyal.server import runtime

        runtime.tune_allocator()
        runtime.freeze_long_lived()
    asyncio.run(_noop_server(sys.argv[1]))
