# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The gRPC server on 127.0.0.1: releases equal the pure protocol, and every bad upload is answered
with a status and a reason and never stored."""

from __future__ import annotations

import hashlib
import os

import grpc
import numpy as np
import pytest

from loyal.client.grpc_client import Session
from loyal.client.runner import run_client, wait_for_task
from loyal.client.tls import Identity
from loyal.protocols.proto.convert import release_from_proto, submit_message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from loyal.protocols.proto.loyal.v1 import client_pb2, common_pb2, observer_pb2
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.client import SsaClient
from loyal.server.certs import create_certificates
from tests.server.harness import (
    InProcessServer,
    client_seed,
    make_spec,
    member_threads,
    reference_releases,
    tokens,
    update_for,
)

CLIENTS = 3


def _run_rounds(address: str, rounds: int, clients: int = CLIENTS, ca: str | None = None) -> None:
    for r in range(rounds):
        for c in range(clients):
            run_client(address, lambda task, r=r, c=c: update_for(r, c), insecure=True, token=f"tok-{r * clients + c}",
                       round_index=r, insecure_seed=client_seed(r, c), ca_file=ca)


def _releases(address: str, ca: str | None = None) -> list:
    with Session(address, ca) as s:
        return [release_from_proto(x) for x in s.observer.ListReleases(observer_pb2.ReleasesRequest()).releases]


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_releases_equal_pure_protocol(tmp_path, noise):
    # Prepare
    spec = make_spec(clients=CLIENTS, noise=noise, rounds=2)
    # Execute
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(2 * CLIENTS)) as srv:
        with member_threads(srv.address, 3) as results:
            _run_rounds(srv.address, 2)
        got = _releases(srv.address)
        status = srv.coord.status()
    # Assert
    assert all(isinstance(v, dict) for v in results.values()), results
    want = reference_releases(spec, 2, CLIENTS)
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.integer_values, w)
    assert status["state"] == "done" and status["stored_rounds"] == 2


@pytest.fixture(name="served")
def _served(tmp_path):
    """A server whose round 0 is open (committee ran key generation), plus an enrolled identity."""
    spec = make_spec(clients=CLIENTS, rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(10)) as srv:
        with member_threads(srv.address, 3):
            with Session(srv.address, max_attempts=3) as s:
                ident = Identity()
                ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(token="tok-9", public_key=ident.public_key)).client_id
                task = wait_for_task(s, 30, insecure=True)
                yield srv, s, ident, task
            # let the members finish: fill the round
            for c in range(CLIENTS - srv.coord.state.clients):
                run_client(srv.address, lambda t, c=c: update_for(0, c), insecure=True, token=f"tok-{c}", round_index=0)


def _payload(task, client_id: int, round_index: int = 0) -> bytes:
    return SsaClient(task.job.config_for_epoch(0)).create_contribution(
        update_for(0, 99, task.job.dim), round_index=round_index, client_id=client_id,
        public_key_hat=task.public_key_hat, prng=AesCtrPrng(client_seed(0, 99)),
    )


def _snapshot(srv) -> tuple[int, bytes]:
    db = srv.coord.store.db
    n = db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    rows = db.execute("SELECT payload_digest FROM submissions ORDER BY seq").fetchall()
    return n, hashlib.sha256(b"".join(r[0] for r in rows)).digest()


def _expect(code: grpc.StatusCode, match: str, fn) -> None:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    assert info.value.code() == code, info.value.details()
    assert match in info.value.details()


def test_bad_uploads_are_rejected_with_reason_and_never_stored(served):
    srv, s, ident, task = served
    job = task.job.job_id
    good = _payload(task, ident.client_id)
    before = _snapshot(srv)
    stranger = Identity()
    stranger.client_id = ident.client_id
    cases = [
        ("unauthenticated", grpc.StatusCode.UNAUTHENTICATED, "not enrolled",
         lambda: s.upload(s.client.Submit, round_index=0, payload=good, identity=stranger, kind="client", job_id=job)),
        ("wrong signature domain", grpc.StatusCode.UNAUTHENTICATED, "signature",
         lambda: s.upload(s.client.Submit, round_index=0, payload=good, identity=ident, kind="noise", job_id=job)),
        ("oversized", grpc.StatusCode.RESOURCE_EXHAUSTED, "outside (0,",
         lambda: s.upload(s.client.Submit, round_index=0, payload=good + b"\x00" * 10_000, identity=ident, kind="client", job_id=job)),
        ("malformed", grpc.StatusCode.INVALID_ARGUMENT, "MessageFormatError",
         lambda: s.upload(s.client.Submit, round_index=0, payload=good[:-1] + bytes([good[-1] ^ 1]), identity=ident, kind="client", job_id=job)),
        ("truncated", grpc.StatusCode.INVALID_ARGUMENT, "truncated",
         lambda: s.upload(s.client.Submit, round_index=0, payload=good[:1000], identity=ident, kind="client", job_id=job)),
        ("wrong round", grpc.StatusCode.FAILED_PRECONDITION, "upload for round 5",
         lambda: s.upload(s.client.Submit, round_index=5, payload=good, identity=ident, kind="client", job_id=job)),
        ("other client's id", grpc.StatusCode.UNAUTHENTICATED, "names sender",
         lambda: s.upload(s.client.Submit, round_index=0, payload=_payload(task, ident.client_id + 1), identity=ident, kind="client", job_id=job)),
        ("spent token", grpc.StatusCode.UNAUTHENTICATED, "invalid or already used",
         lambda: s.call(s.client.Enroll, client_pb2.EnrollRequest(token="tok-9", public_key=Identity().public_key))),
    ]
    for name, code, match, fn in cases:
        _expect(code, match, fn)
    assert _snapshot(srv) == before
    # Idempotent retry, then replays.
    nonce = os.urandom(16)
    first = s.upload(s.client.Submit, round_index=0, payload=good, identity=ident, kind="client", job_id=job, nonce=nonce)
    again = s.upload(s.client.Submit, round_index=0, payload=good, identity=ident, kind="client", job_id=job, nonce=nonce)
    assert (first.duplicate, again.duplicate, again.accepted) == (False, True, 1)
    after = _snapshot(srv)
    assert after[0] == before[0] + 1
    _expect(grpc.StatusCode.ALREADY_EXISTS, "different bytes",
            lambda: s.upload(s.client.Submit, round_index=0, payload=good[:-1] + bytes([good[-1] ^ 1]), identity=ident,
                             kind="client", job_id=job, nonce=nonce))
    _expect(grpc.StatusCode.ALREADY_EXISTS, "already",
            lambda: s.upload(s.client.Submit, round_index=0, payload=good, identity=ident, kind="client", job_id=job))
    assert _snapshot(srv) == after


def test_health_reports_serving(served):
    """The stock grpcio-health-checking client (what load balancers and grpc_health_probe use)."""
    srv, s, *_ = served
    stub = health_pb2_grpc.HealthStub(s.channel)
    for name in ("loyal.v1.ClientService", "loyal.v1.CommitteeService", "loyal.v1.ObserverService"):
        assert stub.Check(health_pb2.HealthCheckRequest(service=name)).status == health_pb2.HealthCheckResponse.SERVING
    assert stub.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    _expect(grpc.StatusCode.NOT_FOUND, "", lambda: stub.Check(health_pb2.HealthCheckRequest(service="nope")))  # stock: no details


def test_tls_round_trip_and_plaintext_refused(tmp_path):
    files = create_certificates(tmp_path / "tls", ca_key_path=tmp_path / "ca-private.key")
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["ca.crt", "server.crt", "server.key"]  # no CA key
    assert (tmp_path / "ca-private.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="keep the CA key apart"):
        create_certificates(tmp_path / "tls2", ca_key_path=tmp_path / "tls2" / "ca.key")
    spec = make_spec(clients=1, rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(2), tls_dir=str(tmp_path / "tls")) as srv:
        with Session(srv.address, files["ca.crt"]) as s:
            assert s.status().serving
        with Session(srv.address, max_attempts=1) as s:
            with pytest.raises(grpc.RpcError) as info:
                s.status()
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE


class _Stream:
    """An async chunk stream that counts how many messages the server pulled from it."""

    def __init__(self, messages) -> None:
        self.messages, self.pulled = list(messages), 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.pulled == len(self.messages):
            raise StopAsyncIteration
        self.pulled += 1
        return self.messages[self.pulled - 1]


def _chunks(header, payload: bytes) -> list:
    from loyal.server import limits

    return [common_pb2.SubmitChunk(header=header)] + [
        common_pb2.SubmitChunk(data=payload[i: i + limits.CHUNK_BYTES]) for i in range(0, len(payload), limits.CHUNK_BYTES)]


def test_upload_header_is_authenticated_before_any_body_byte_is_read(served):
    # Prepare: a stranger's header (not enrolled) and an enrolled client's header with a forged signature.
    import asyncio

    from loyal.server.errors import AuthenticationError, SizeLimitError
    from loyal.server.servicer import _InFlight, _read_upload

    srv, _, ident, task = served
    good = _payload(task, ident.client_id)
    digest, nonce = good[-32:], os.urandom(16)
    sig = ident.sign(submit_message(task.job.job_id, 0, nonce, digest, "client"))

    def header(public_key: bytes, signature: bytes):
        return common_pb2.SubmitHeader(round=0, public_key=public_key, nonce=nonce, total_bytes=len(good),
                                       payload_digest=digest, signature=signature)

    cases = {"stranger": header(Identity().public_key, sig), "forged": header(ident.public_key, bytes(64))}
    for name, h in cases.items():
        stream = _Stream(_chunks(h, good))
        # Execute
        with pytest.raises(AuthenticationError):
            asyncio.run(_read_upload(srv.coord, stream, "client", _InFlight()))
        # Assert: only the header was read; no payload byte was buffered.
        assert stream.pulled == 1, name
    # The in-flight budget: an authenticated upload that does not fit is refused before its body is read.
    busy = _InFlight()
    busy.bytes = limits_max() - len(good) + 1
    stream = _Stream(_chunks(header(ident.public_key, sig), good))
    with pytest.raises(SizeLimitError, match="server busy"):
        asyncio.run(_read_upload(srv.coord, stream, "client", busy))
    assert stream.pulled == 1 and busy.bytes == limits_max() - len(good) + 1
    # Within budget it is read whole and the reservation is returned.
    ok = _InFlight()
    up, sender = asyncio.run(_read_upload(srv.coord, _Stream(_chunks(header(ident.public_key, sig), good)), "client", ok))
    assert (up.payload, sender, ok.bytes) == (good, ident.client_id, 0)


def limits_max() -> int:
    from loyal.server import limits

    return limits.MAX_IN_FLIGHT_BYTES
