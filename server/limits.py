# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Explicit message size limits of the gRPC API (server and clients use the same numbers)."""

from __future__ import annotations

#: Upload chunk size: a SubmitChunk carries at most this many payload bytes.
CHUNK_BYTES = 1 << 20
#: Largest single gRPC message the server accepts (a chunk plus protobuf overhead).
MAX_RECEIVE_BYTES = CHUNK_BYTES + (64 << 10)
#: Largest single gRPC message the server sends (a release request carries the log headers and
#: 4 AHE ciphertexts per touched round; clients and members set their receive limit to this).
MAX_SEND_BYTES = 256 << 20
#: Slack over the job's exact contribution size (the SSA frame is length-checked by the core).
SUBMISSION_SLACK_BYTES = 4096
#: Largest enrollment token / key / signature field, in bytes.
MAX_SMALL_FIELD = 256
#: Bytes of authenticated uploads being received at once; more is refused (RESOURCE_EXHAUSTED, retry).
MAX_IN_FLIGHT_BYTES = 256 << 20


def server_options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
        ("grpc.max_send_message_length", MAX_SEND_BYTES),
        ("grpc.max_concurrent_streams", 256),
    ]


def channel_options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", MAX_SEND_BYTES),
        ("grpc.max_send_message_length", MAX_RECEIVE_BYTES),
    ]
