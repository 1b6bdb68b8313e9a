# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Server wiring: the grpc.aio server, TLS, servicers, the deadline ticker and shutdown
(kept apart from the servicers, as Flower's `serverappio_grpc.py`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import signal
import time

import grpc

from loyal.protocols.ssa.job import Job
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from loyal.rpc import client_pb2_grpc, committee_pb2_grpc, observer_pb2_grpc
from loyal.server import limits
from loyal.protocols.ssa.log import LogAuthority
from loyal.server.coordinator import Coordinator
from loyal.server.process import write_port_file
from loyal.server.servicer import ClientServicer, CommitteeServicer, ObserverServicer
from loyal.server.store import Store

logger = logging.getLogger(__name__)

#: Services the health service reports SERVING while the coordinator runs ("" = the whole server).
HEALTH_SERVICES = ("", "loyal.v1.ClientService", "loyal.v1.CommitteeService", "loyal.v1.ObserverService")
#: Services server reflection lists (`grpcio-reflection`): Loyal's, the health service and reflection itself.
REFLECTED_SERVICES = (*HEALTH_SERVICES[1:], health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                      reflection.SERVICE_NAME)
#: Seconds between deadline checks.
TICK_SECONDS = 0.25


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the structured `extra` fields."""

    _STD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {"t": round(record.created, 3), "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in self._STD and isinstance(v, str | int | float | bool)})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure_json_logs(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("loyal")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def server_credentials(tls_dir: str | pathlib.Path) -> grpc.ServerCredentials:
    d = pathlib.Path(tls_dir)
    return grpc.ssl_server_credentials([((d / "server.key").read_bytes(), (d / "server.crt").read_bytes())])


async def serve(
    coord: Coordinator, *, host: str = "127.0.0.1", port: int = 0, tls_dir: str | None = None,
    ready: asyncio.Event | None = None, stop: asyncio.Event | None = None, port_file: str | None = None,
    insecure: bool = False,
) -> None:
    """Serves `coord` until `stop` is set (or SIGTERM/SIGINT in the main thread).

    Args:
      port: TCP port on `host` (0 picks a free one; it is written to `port_file` if given).
      tls_dir: folder with server.crt/server.key from `loyal server certs` (None: plaintext, loopback only).
      insecure: allow plaintext on a non-loopback `host` (`limits.check_transport`).
    """
    limits.check_transport(host, tls_dir is not None, insecure)
    if tls_dir is None:
        logger.warning("serving plaintext gRPC on %s (loopback only; give --tls-dir for anything else)", host,
                       extra={"event": "plaintext"})
    server = grpc.aio.server(options=limits.server_options())
    client_pb2_grpc.add_ClientServiceServicer_to_server(ClientServicer(coord), server)
    committee_pb2_grpc.add_CommitteeServiceServicer_to_server(CommitteeServicer(coord), server)
    observer_pb2_grpc.add_ObserverServiceServicer_to_server(ObserverServicer(coord), server)
    health = health_aio.HealthServicer()  # the stock grpc.health.v1 service (grpcio-health-checking)
    for name in HEALTH_SERVICES:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(REFLECTED_SERVICES, server)  # the stock grpc.reflection.v1alpha service
    address = f"{host}:{port}"
    bound = server.add_secure_port(address, server_credentials(tls_dir)) if tls_dir else server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"could not bind {address}")
    await server.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (RuntimeError, ValueError):  # not the main thread
            pass
    if port_file:
        write_port_file(port_file, bound)
    logger.info("serving on %s:%d (tls=%s)", host, bound, bool(tls_dir), extra={"event": "serving", "port": bound})
    if ready is not None:
        ready.port = bound  # type: ignore[attr-defined]
        ready.set()
    try:
        while not stop.is_set():
            try:
                coord.advance(time.time())
            except Exception:  # noqa: BLE001 - log and keep serving; the store is the source of truth
                logger.exception("advance failed")
            try:
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
            except TimeoutError:
                pass
    finally:
        await server.stop(grace=1.0)
        logger.info("stopped", extra={"event": "stopped"})


def open_coordinator(
    db: str, *, job: Job | None, round_seconds: float, tokens: list[str] = (),
    synchronous: str = "FULL", reissue_seconds: float = 60.0, authority: LogAuthority | None = None,
) -> Coordinator:
    if job is not None and not os.path.exists(db):  # a new store for a job it would refuse: no file is left behind
        limits.check_release_requests(job)
    return Coordinator.open_job(Store(db, synchronous), job=job, round_seconds=round_seconds,
                                tokens=tokens, reissue_seconds=reissue_seconds, authority=authority)
