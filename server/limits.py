# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Explicit message size limits of the gRPC API (server and clients use the same numbers)."""

from __future__ import annotations

import functools

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


#: Upper bound on one log header in a release request's JSON (594 bytes at the widest field values).
_HEADER_JSON_BYTES = 640


def release_request_sizes(job) -> list[int]:
    """Bytes of the largest release request after each round of the job: the row after round r carries the
    data and noise AHE sums (4 polynomials of uint32 residues) of every round it touches, and the log
    headers 0..r (`messages.serialize_release_request`)."""
    return list(_release_request_sizes(job))


@functools.lru_cache(maxsize=4)
def _release_request_sizes(job) -> tuple[int, ...]:
    """Cached per job: a new job is checked where the store is created and again where it is opened."""
    from loyal.protocols.ssa.policy import quantized_rows

    ring = job.config_for_epoch(0).ahe.ring
    per_round = 4 * ring.num_moduli * ring.degree * 4
    policy = job.policy
    return tuple(max((len(set(q.data) | set(q.noise)) for q in quantized_rows(policy, r)), default=0) * per_round
                 + (r + 1) * _HEADER_JSON_BYTES for r in range(job.rounds))


def check_release_requests(job) -> None:
    """Refuses a job one of whose release requests would not fit one gRPC message (`MAX_SEND_BYTES`).

    A prefix-sum or BLT row touches every round so far: at rlwe-n8192 each round adds 0.66 MB, so the
    default policy reaches the 256 MiB limit after ~400 rounds, and its members could not be sent that
    release (docs/server.md, Limits).

    Raises:
      ValueError: naming the round, the size and what to change.
    """
    budget = MAX_SEND_BYTES - (1 << 20)  # the frame's fixed part, the JSON of the row and the subset
    sizes = release_request_sizes(job)
    over = [r for r, size in enumerate(sizes) if size > budget]
    if over:
        r = over[0]
        raise ValueError(
            f"the release after round {r} would carry {sizes[r] / 2**20:.1f} MiB of round sums and headers, more than "
            f"one gRPC message holds ({budget / 2**20:.0f} MiB of the {MAX_SEND_BYTES >> 20} MiB limit): run at most "
            f"{r} rounds, a policy whose rows touch fewer rounds (banded-toeplitz), or a parameter set with a "
            "smaller ring")


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
