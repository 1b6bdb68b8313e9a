# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A client fleet: N ephemeral clients against a real server, as local processes or Ray tasks.

Each client is `runner.run_client` (enroll with its one-time token, fetch the task, train the job's model
on its shard, encrypt, submit, exit); the fleet keeps only each client's enrolled key between rounds, as a
phone keeps its key between check-ins. Refusals the server is right to make (a participation the job's
(k, b) schema forbids, a round that closed) are counted, not raised. On Ray, `runtime_env` ships Loyal
to the nodes (the `loyal` folder of a wheel in `py_modules`, `ray_module`), so a node needs only Python and
the pinned dependencies (docs/server.md, "Run a server and a fleet").
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: Outcome of one client's submission.
ACCEPTED, REFUSED, FAILED = "accepted", "refused", "failed"


@dataclasses.dataclass(frozen=True)
class FleetConfig:
    """What the fleet runs.

    Attributes:
      server: HOST:PORT of the server.
      tokens: one enrollment token per client (the fleet has len(tokens) clients).
      data: "digits" or "shakespeare" (client i trains on shard i).
      rounds: rounds each client is offered (the server's schema decides which it may join).
      workers: clients running at once (local processes, or Ray tasks in flight).
      local_steps: local training steps per submission.
      ca: CA certificate for TLS (None: plaintext, loopback only unless `insecure`).
      genesis: the job's published genesis (None only with `insecure`).
      insecure: TESTS ONLY (see `run_client`).
      timeout_s: per-client wait for its round.
      ray_address: None for local processes; "auto" or HOST:PORT for a Ray cluster ("local" starts one).
      runtime_env: Ray runtime_env for the client tasks (e.g. {"py_modules": [ray_module("loyal_ai-….whl")]}).
    """

    server: str
    tokens: tuple[str, ...]
    data: str = "digits"
    rounds: int = 1
    workers: int = 2
    local_steps: int = 5
    ca: str | None = None
    genesis: bytes | None = None
    insecure: bool = False
    timeout_s: float = 120.0
    ray_address: str | None = None
    runtime_env: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        from loyal.client.runner import DATASETS

        if not self.tokens:
            raise ValueError("a fleet needs at least one enrollment token (one per client)")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("enrollment tokens must be distinct (each enrolls one client)")
        if self.data not in DATASETS:
            raise ValueError(f"data must be one of {sorted(DATASETS)}, got {self.data!r}")
        for name in ("rounds", "workers", "local_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.genesis is None and not self.insecure:
            raise ValueError("a fleet needs the job's published genesis (--genesis), or --insecure")


def client_life(config: FleetConfig, index: int, round_index: int, key: str | None) -> dict[str, Any]:
    """One submission of client `index` for `round_index`: enroll with its token (no `key` yet) or sign
    with its enrolled `key` (hex Ed25519 + client id, as `Identity.save` writes); never raises."""
    import json

    import grpc
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from loyal.client.runner import RoundClosed, run_client, trainer
    from loyal.client.tls import Identity, raw_private

    identity = None
    if key is not None:
        d = json.loads(key)
        identity = Identity(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(d["ed25519"])), d["client_id"])
    fresh = identity or Identity()
    t0 = time.perf_counter()
    try:
        out = run_client(config.server, trainer(config.data, index, local_steps=config.local_steps), identity=fresh,
                         token=None if identity else config.tokens[index], ca_file=config.ca, round_index=round_index,
                         timeout_s=config.timeout_s, genesis=config.genesis, insecure=config.insecure)
        status, detail = ACCEPTED, ""
    except grpc.RpcError as e:  # FAILED_PRECONDITION: schema or closed round; the server said why
        refused = e.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED)
        out, status, detail = {}, REFUSED if refused else FAILED, f"{e.code().name}: {e.details()}"
    except RoundClosed as e:  # the round filled up before this client: the fleet's clients outnumber a cohort
        out, status, detail = {}, REFUSED, str(e)
    except (TimeoutError, ValueError, OSError) as e:
        out, status, detail = {}, FAILED, f"{type(e).__name__}: {e}"
    saved = None if fresh.client_id is None else json.dumps({"ed25519": raw_private(fresh.key).hex(), "client_id": fresh.client_id})
    return {"index": index, "round": round_index, "status": status, "detail": detail, "key": saved,
            "bytes": int(out.get("bytes", 0)), "seconds": time.perf_counter() - t0, **_where()}


def _where() -> dict[str, str]:
    """Where this client ran: the Ray node and the folder Loyal was imported from (a runtime_env's copy on Ray)."""
    import loyal

    where = {"loyal": str(loyal.__file__)}
    try:
        import ray

        if ray.is_initialized():
            where["node"] = ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    return where


def current_round(config: FleetConfig) -> int:
    """The round the server is on (its task), so the fleet can offer the next `rounds` rounds."""
    from loyal.client.grpc_client import Session

    with Session(config.server, config.ca) as s:
        return int(s.task().round)


def run_fleet(config: FleetConfig, on_result: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Runs every client for `config.rounds` rounds from the server's current one; returns a summary
    (per-round accepted/refused/failed, clients/s) and every client's result (keys dropped)."""
    first = current_round(config)
    keys: dict[int, str | None] = {i: None for i in range(len(config.tokens))}
    results: list[dict[str, Any]] = []
    start = time.perf_counter()
    submit = _ray_submit(config) if config.ray_address else None
    # spawn, not fork: the caller may hold gRPC and torch threads, which a forked child inherits half-held.
    pool = None if submit else concurrent.futures.ProcessPoolExecutor(
        max_workers=config.workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        for r in range(first, first + config.rounds):
            jobs = [(i, keys[i]) for i in keys]
            outs = submit(jobs, r) if submit else pool.map(client_life, *zip(*[(config, i, r, k) for i, k in jobs]))
            for out in outs:
                key = out.pop("key")
                keys[out["index"]] = key or keys[out["index"]]  # enrolled (even if the upload then failed)
                results.append(out)
                logger.info("client %d round %d: %s %s", out["index"], r, out["status"], out["detail"])
                if on_result:
                    on_result(out)
    finally:
        if pool:
            pool.shutdown()
    wall = time.perf_counter() - start
    per_round = {r: {s: sum(1 for x in results if x["round"] == r and x["status"] == s) for s in (ACCEPTED, REFUSED, FAILED)}
                 for r in range(first, first + config.rounds)}
    accepted = sum(v[ACCEPTED] for v in per_round.values())
    return {"clients": len(config.tokens), "rounds": per_round, "accepted": accepted, "wall_s": wall,
            "accepted_per_s": accepted / wall if wall > 0 else 0.0, "results": results}


def ray_module(wheel: str) -> str:
    """The `loyal` package folder of a loyal-ai wheel, unpacked into a temporary folder, for `runtime_env`
    `py_modules`. Ray would `pip install` a .whl given there with every dependency (torch, flwr, …) into each
    node's runtime env; a folder is uploaded as it is, so nodes need only their pinned dependencies.

    Raises:
      ValueError: not a readable wheel holding the `loyal` package.
    """
    import tempfile
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as z:
            if "loyal/__init__.py" not in z.namelist():
                raise ValueError(f"--ray-wheel {wheel}: not a loyal-ai wheel (no loyal/__init__.py)")
            folder = tempfile.mkdtemp(prefix="loyal-ray-")
            z.extractall(folder, members=[n for n in z.namelist() if n.startswith("loyal/")])
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"--ray-wheel {wheel}: {e}") from None
    return f"{folder}/loyal"


def _ray_submit(config: FleetConfig) -> Callable[[list[tuple[int, str | None]], int], list[dict[str, Any]]]:
    """Client lives as Ray tasks (fractional CPUs, at most `workers` in flight), with `runtime_env`."""
    import ray

    if not ray.is_initialized():
        ray.init(address=None if config.ray_address == "local" else config.ray_address,
                 runtime_env=config.runtime_env, log_to_driver=False, include_dashboard=False)
    remote = ray.remote(num_cpus=0.5)(client_life)
    options = {"scheduling_strategy": "SPREAD", **({"runtime_env": config.runtime_env} if config.runtime_env else {})}

    def submit(jobs: list[tuple[int, str | None]], round_index: int) -> list[dict[str, Any]]:
        out, pending = [], []
        for i, key in jobs:
            if len(pending) >= config.workers:
                done, pending = ray.wait(pending, num_returns=1)
                out += ray.get(done)
            pending.append(remote.options(**options).remote(config, i, round_index, key))
        return out + ray.get(pending)

    return submit
