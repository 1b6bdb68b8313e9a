# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Test harness: an in-process server on 127.0.0.1 (own event loop in a thread), members in threads,
server subprocesses, and the pure-protocol reference for the same seeds."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import pathlib
import subprocess
import sys
import threading
import time

import blake3
import numpy as np

from loyal.client.committee import CommitteeRunner
from loyal.protocols.proto import policies
from loyal.protocols.ssa.committee import insecure_member_seed, member_prng
from loyal.protocols.ssa.job import Job
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.client import SsaClient, create_noise_contribution
from loyal.protocols.ssa.selftest import setup_job
from loyal.server.app import open_coordinator, serve

DIM = 40


def make_spec(*, clients: int = 4, committee: int = 3, threshold: int = 2, noise: float = 0.0, dim: int = DIM,
              rounds: int = 3, policy_spec: str = "", rotations: tuple = (), **kw) -> Job:
    """A test job on the insecure N=1024 parameters (fixed id and seed)."""
    k, b = policies.policy_schema(policy_spec) or (kw.pop("participations", 1), kw.pop("min_separation", 1))
    return Job(
        job_id=hashlib.sha256(b"test-job").digest()[:16], public_seed=hashlib.sha256(b"test-seed").digest(), dim=dim,
        cohort_size=clients, clip_norm=1.0, scale=1024.0, committee_size=committee, threshold=threshold,
        noise_multiplier=noise, params_name="insecure-test-n1024", rounds=rounds, policy_spec=policy_spec,
        rotations=rotations, participations=k, min_separation=b, **{"prove_uploads": False, **kw},
    )


def payload_record(i: int, size: int = 3000) -> tuple[bytes, bytes]:
    """A frame-shaped payload (body, then the body's BLAKE3 as trailer) and its digest, as uploads have."""
    body = hashlib.sha256(f"payload/{i}".encode()).digest() * (size // 32 - 1)
    d = blake3.blake3(body).digest()
    return body + d, d


def wait_until(cond, timeout: float = 30.0) -> None:
    """Polls `cond` every 50 ms until it holds or `timeout` passes (the caller asserts what it needs)."""
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.05)


def tokens(n: int, prefix: str = "tok") -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


def client_seed(round_index: int, client: int) -> bytes:
    return hashlib.sha256(f"client/{round_index}/{client}".encode()).digest()


def update_for(round_index: int, client: int, dim: int = DIM) -> np.ndarray:
    """Deterministic test update inside the clip ball."""
    u = AesCtrPrng(client_seed(round_index, client), b"update").unit_floats(dim) * 2 - 1
    return u / np.sqrt(dim)


class InProcessServer:
    """Serves a coordinator on a free loopback port in a background thread."""

    def __init__(self, db: str, job: Job | None, *, round_seconds: float = 300.0,
                 toks: list[str] = (), tls_dir: str | None = None, reissue_seconds: float = 60.0, port: int = 0,
                 authority=None) -> None:
        self.port = port
        self.coord = open_coordinator(db, job=job, round_seconds=round_seconds, tokens=list(toks),
                                      reissue_seconds=reissue_seconds, authority=authority)
        self.tls_dir = tls_dir
        self._loop = asyncio.new_event_loop()
        self._ready = asyncio.Event()
        self._stop = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        self._loop.run_until_complete(serve(self.coord, port=self.port, tls_dir=self.tls_dir, ready=self._ready, stop=self._stop))

    def __enter__(self) -> InProcessServer:
        self._thread.start()
        end = time.monotonic() + 10
        while not self._ready.is_set():
            if time.monotonic() > end:
                raise TimeoutError("server did not start")
            time.sleep(0.01)
        self.port = self._ready.port
        self.address = f"127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self.coord.store.close()


@contextlib.contextmanager
def member_threads(address: str, committee: int | list[int], *, ca: str | None = None, seeded: bool = True,
                   runner: type[CommitteeRunner] = CommitteeRunner, **kwargs):
    """Runs members 1..committee (or the listed ids) in threads; yields their result dict (filled when each finishes)."""
    results: dict[int, object] = {}

    def run(m: int) -> None:
        try:
            seed = insecure_member_seed(m) if seeded else None
            results[m] = runner(address, m, ca_file=ca, insecure_seed=seed, **{"insecure": True, **kwargs}).run(timeout_s=120)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            results[m] = e

    ids = list(range(1, committee + 1)) if isinstance(committee, int) else list(committee)
    threads = [threading.Thread(target=run, args=(m,), daemon=True) for m in ids]
    for t in threads:
        t.start()
    try:
        yield results
    finally:
        for t in threads:
            t.join(60)


def start_server_process(db: str, port_file: str, *, spec_args: list[str], tls_dir: str | None = None,
                         tokens_file: str | None = None) -> subprocess.Popen:
    """`loyal server start` as a subprocess on a free port (written to port_file)."""
    if os.path.exists(port_file):
        os.remove(port_file)
    port = [] if "--port" in spec_args else ["--port", "0"]
    cmd = [sys.executable, "-m", "loyal", "server", "start", "--db", db, *port, "--port-file", port_file,
           "--synchronous", "NORMAL", "--insecure", *spec_args]
    if tls_dir:
        cmd += ["--tls-dir", tls_dir]
    if tokens_file:
        cmd += ["--tokens-file", tokens_file]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    log = open(db + ".log", "ab")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
    log.close()
    end = time.monotonic() + 60
    while not os.path.exists(port_file):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {pathlib.Path(db + '.log').read_text()[-2000:]}")
        if time.monotonic() > end:
            proc.kill()
            raise TimeoutError("server process did not start")
        time.sleep(0.05)
    return proc


def read_port(port_file: str) -> int:
    return int(pathlib.Path(port_file).read_text())


def reference_releases(job: Job, rounds: int, clients: int, *, members_seeded: bool = True) -> list[np.ndarray]:
    """Integer releases of the bare in-process roles (no driver, no gRPC) for the same client and member seeds."""
    from loyal.protocols.rlwe.params import BY_NAME
    from loyal.protocols.ssa.selftest import release_all

    roles = setup_job(
        dim=job.dim, clients=job.cohort_size, committee=job.committee_size, threshold=job.threshold,
        noise_multiplier=job.noise_multiplier, params=BY_NAME[job.params_name], rounds=job.rounds,
        prng=AesCtrPrng(hashlib.sha256(b"ref").digest()), policy_spec=job.policy_spec,
    )
    out = []
    st = roles.server_state
    for r in range(rounds):
        for c in range(clients):
            prng = AesCtrPrng(client_seed(r, c), b"loyal/client")
            data = SsaClient(roles.config).create_contribution(
                update_for(r, c, job.dim), round_index=r, client_id=c, public_key_hat=st.public_key_hat, prng=prng)
            roles.server.handle_client_contribution(st, data)
        if job.noise_multiplier > 0:
            # The committee serving round r (after hand-offs: other members, sigma_m over the new threshold).
            cfg = job.config_for_epoch(job.epoch_of_round(r))
            base, roles.server.config = roles.server.config, dataclasses.replace(roles.config, committee=cfg.committee,
                                                                                 threshold=cfg.threshold, honest_members=cfg.honest_members)
            for m in cfg.committee:
                roles.server.handle_noise_contribution(st, create_noise_contribution(
                    roles.server.config, round_index=r, member_index=m, public_key_hat=st.public_key_hat,
                    prng=member_prng(insecure_member_seed(m), m, f"noise/{r}")))
            roles.server.config = base
        roles.server.close_round(st)
        out += [rel.integer_values for rel in release_all(roles, r)]
    return out
