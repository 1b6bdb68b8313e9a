# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The round ticket: what a client needs to contribute to the open round, and the client step itself.

A ticket names the job, the round and the committee public key. When it travels to clients in other
processes (Flower) it is data, never pickle, and it carries the key-generation members' Ed25519
signatures of the key (`enrollment.key_message`), with the signing keys the server relayed: a client
encrypts only under a key that t members it pins signed (`check_ticket`), so a server that swaps in a
key of its own reads nothing (docs/flower.md, Trust).
"""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Mapping

import numpy as np

from loyal.protocols.proto.convert import residues_from_bytes, residues_to_bytes
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa import enrollment
from loyal.protocols.ssa.client import SsaClient
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.job import Job

_HEAD = struct.Struct("<III")  # job JSON bytes, round, key-signature JSON bytes


@dataclasses.dataclass(frozen=True)
class RoundTicket:
    """What a client needs to contribute to the open round (public).

    Attributes:
      key_signatures: member id -> its Ed25519 signature of the committee key (`enrollment.key_message`).
      signing_keys: member id -> the signing key the server relayed (used only for an unpinned job).
    """

    config: SsaConfig
    round_index: int
    public_key_hat: np.ndarray = dataclasses.field(repr=False)
    job: Job | None = dataclasses.field(default=None, repr=False)
    key_signatures: Mapping[int, bytes] = dataclasses.field(default_factory=dict, repr=False)
    signing_keys: Mapping[int, bytes] = dataclasses.field(default_factory=dict, repr=False)


def ticket_to_bytes(ticket: RoundTicket) -> bytes:
    """The ticket as data: (job length, round, signatures length) | job JSON | signatures JSON | key residues.

    Never pickle: a client that unpickles what the server sent runs whatever the server chose, and SSA
    distrusts the server (issue 16). `ticket_from_bytes` validates every field.
    """
    if ticket.job is None:
        raise ValueError("a ticket travels with its job (clients check the job before they encrypt)")
    blob = json.dumps(ticket.job.to_json(), sort_keys=True).encode()
    sigs = json.dumps({str(m): [ticket.key_signatures[m].hex(), ticket.signing_keys.get(m, b"").hex()]
                       for m in sorted(ticket.key_signatures)}).encode()
    return _HEAD.pack(len(blob), ticket.round_index, len(sigs)) + blob + sigs + residues_to_bytes(ticket.public_key_hat)


def ticket_from_bytes(data: bytes) -> RoundTicket:
    """Inverse of `ticket_to_bytes`. Raises ValueError on malformed bytes or an invalid job."""
    if len(data) < _HEAD.size:
        raise ValueError(f"a ticket needs at least {_HEAD.size} bytes, got {len(data)}")
    n, round_index, k = _HEAD.unpack_from(data)
    at = _HEAD.size
    try:
        job = Job.from_json(json.loads(bytes(data[at:at + n])))
        raw = json.loads(bytes(data[at + n:at + n + k]))
        sigs = {int(m): (bytes.fromhex(s), bytes.fromhex(key)) for m, (s, key) in raw.items()}
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, ValueError, AttributeError) as e:
        raise ValueError(f"malformed ticket: {e}") from None
    config = job.config_for_epoch(0)  # encryption does not depend on who decrypts
    key = residues_from_bytes(bytes(data[at + n + k:]), config.ahe.ring, "public_key_hat")
    return RoundTicket(config, round_index, key, job, {m: s for m, (s, _) in sigs.items()},
                       {m: key for m, (_, key) in sigs.items() if key})


def check_ticket(ticket: RoundTicket) -> None:
    """Raises AuthenticationError unless t key-generation members of the ticket's job signed its key
    (`enrollment.verify_committee_key`: against the job's pinned member keys, or for an unpinned job the
    relayed ones, which vouch for nothing). The caller checks the job itself against what it pins."""
    if ticket.job is None:
        raise ValueError("the ticket carries no job to check the key against")
    enrollment.verify_committee_key(ticket.job, ticket.public_key_hat, ticket.key_signatures, ticket.signing_keys)


def create_upload(ticket: RoundTicket, update: np.ndarray, client_id: int, prng: AesCtrPrng | None = None) -> bytes:
    """The client step: clip, encode, encrypt `update`; returns the framed upload (then the client leaves)."""
    return SsaClient(ticket.config).create_contribution(
        np.asarray(update, dtype=np.float64).reshape(-1), round_index=ticket.round_index, client_id=client_id,
        public_key_hat=ticket.public_key_hat, prng=prng,
    )
