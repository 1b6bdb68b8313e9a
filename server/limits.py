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
#: Budget of one `GetRoundParts` page (at least one part per page): a proven upload's part is ~0.7 MB at
#: rlwe-n8192 and ~0.95 MB at rlwe-n8192-wide, so a round of 1,000 proven uploads takes ~15 pages.
PARTS_PAGE_BYTES = 64 << 20
#: Slack over the job's exact contribution size (the SSA frame is length-checked by the core).
SUBMISSION_SLACK_BYTES = 4096
#: Largest enrollment token / key / signature field, in bytes.
MAX_SMALL_FIELD = 256
#: Largest unproven upload parsed on the server's event loop (~0.4 ms per MB); larger ones, and every
#: upload carrying a proof, are parsed in a worker thread.
INLINE_PARSE_BYTES = 4 << 20
#: Bytes of authenticated uploads being received at once; more is refused (RESOURCE_EXHAUSTED, retry).
MAX_IN_FLIGHT_BYTES = 256 << 20


def check_transport(address: str, tls: bool, insecure: bool = False) -> None:
    """Refuses plaintext gRPC off loopback unless `insecure` (the security stance: no TLS only on loopback).

    Raises:
      ValueError: `address` (HOST or HOST:PORT) is not a loopback host and `tls` is False.
    """
    import ipaddress

    host = address.rsplit(":", 1)[0] if address.count(":") == 1 or address.startswith("[") else address
    host = host.strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not tls and not loopback and not insecure:
        raise ValueError(f"plaintext gRPC to {address} (not loopback): give TLS (--tls-dir / --ca), or --insecure")


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
