# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Thin gRPC session for clients and committee members: retries with exponential backoff and
chunked uploads. No protocol logic here."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc

from loyal.client import constants
from loyal.client.tls import channel
from loyal.protocols.proto.loyal.v1 import client_pb2, common_pb2, observer_pb2
from loyal.rpc import client_pb2_grpc, committee_pb2_grpc, observer_pb2_grpc
from loyal.server import limits

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Status codes worth retrying: the server is restarting (a graceful stop cancels in-flight calls:
#: CANCELLED) or briefly overloaded. Every write is idempotent (fixed nonces, duplicates answer OK).
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})


class Session:
    """A channel plus stubs of the three services.

    Args:
      address: HOST:PORT.
      ca_file: CA certificate for TLS (None: plaintext, loopback tests only).
      max_attempts: retries of a retryable failure before giving up (>= 1).
    """

    def __init__(self, address: str, ca_file: str | os.PathLike | None = None, max_attempts: int = constants.MAX_ATTEMPTS) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.address = address
        self.channel = channel(address, ca_file)
        self.client = client_pb2_grpc.ClientServiceStub(self.channel)
        self.committee = committee_pb2_grpc.CommitteeServiceStub(self.channel)
        self.observer = observer_pb2_grpc.ObserverServiceStub(self.channel)
        self.max_attempts = max_attempts
        self.attempts = 0

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Calls `fn` with the per-call deadline, retrying RETRYABLE codes with jittered backoff."""
        delay = constants.BACKOFF_INITIAL_S
        for attempt in range(1, self.max_attempts + 1):
            self.attempts += 1
            try:
                return fn(*args, timeout=constants.CALL_TIMEOUT_S, **kwargs)
            except grpc.RpcError as e:
                if e.code() not in RETRYABLE or attempt == self.max_attempts:
                    raise
                logger.debug("retry %d after %s", attempt, e.code().name)
                time.sleep(delay * (0.5 + random.random()))  # jitter only: not cryptographic
                delay = min(delay * constants.BACKOFF_FACTOR, constants.BACKOFF_MAX_S)
        raise AssertionError("unreachable")

    def status(self) -> observer_pb2.Status:
        return self.call(self.observer.GetStatus, observer_pb2.StatusRequest())

    def task(self) -> client_pb2.Task:
        return self.call(self.client.GetTask, client_pb2.GetTaskRequest())

    def upload(
        self, method, *, round_index: int, payload: bytes, identity, kind: str, job_id: bytes, nonce: bytes | None = None,
    ) -> common_pb2.SubmitResponse:
        """Signs and streams `payload` in CHUNK_BYTES chunks; the nonce stays fixed across retries
        so a retry after a lost answer is idempotent on the server."""
        from loyal.protocols.proto.convert import submit_message
        from loyal.protocols.ssa.messages import frame_digest

        nonce = nonce or os.urandom(16)
        digest = frame_digest(payload)  # the frame's own BLAKE3 trailer: what the server recomputes once
        header = common_pb2.SubmitHeader(
            round=round_index, public_key=identity.public_key, nonce=nonce, total_bytes=len(payload),
            payload_digest=digest, signature=identity.sign(submit_message(job_id, round_index, nonce, digest, kind)),
        )

        def chunks() -> Iterator[common_pb2.SubmitChunk]:
            yield common_pb2.SubmitChunk(header=header)
            for i in range(0, len(payload), limits.CHUNK_BYTES):
                yield common_pb2.SubmitChunk(data=payload[i : i + limits.CHUNK_BYTES])

        return self.call(lambda timeout: method(chunks(), timeout=timeout))
