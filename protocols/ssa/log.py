# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The server's append-only, hash-chained log of stored rounds (design note ssa.md, "Threat model").

entry_hash_t = SHA-256("loyal/ssa/log/v1" | prev_hash | round | counts | digests of X_t, Z_t and
their AHE key sums); prev_hash of round 0 is the job's genesis (`loyal.protocols.ssa.job.Job.genesis`,
which binds the whole pinned configuration). Publishing the head (e.g. on chain next to the policy)
lets members and auditors check any entry the server shows them.

The log authority (`LogAuthority`; on chain: `contracts/src/SsaLogAnchor.sol` through
`loyal.contracts.anchor.AnchorClient`) holds exactly one head per round of a job, written once, in order,
by the job's server. A member that checks a request's head against it (`check_anchored`) cannot be shown a
rewritten history or one of two versions of a round (issue 14, attack 2).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Protocol

import numpy as np

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.messages import LogHeader


def digest_array(*arrays: np.ndarray) -> bytes:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype="<u4").tobytes())
    return h.digest()


def release_digest(integer_values: np.ndarray) -> bytes:
    """SHA-256 of a release's integers (little-endian int64): what stores and same-seed runs compare."""
    return hashlib.sha256(np.ascontiguousarray(integer_values, dtype="<i8").tobytes()).digest()


def digest_kahe(ct: KaheCiphertext) -> bytes:
    return digest_array(ct.b_hat)


def digest_ahe(ct: AheCiphertext) -> bytes:
    return digest_array(ct.c0_hat, ct.c1_hat)


def entry_hash(
    prev_hash: bytes, round_index: int, num_clients: int, num_noise: int, digests: tuple[bytes, bytes, bytes, bytes]
) -> bytes:
    h = hashlib.sha256(b"loyal/ssa/log/v1")
    h.update(prev_hash)
    h.update(struct.pack("<III", round_index, num_clients, num_noise))
    for d in digests:
        h.update(d)
    return h.digest()


def make_header(
    prev_hash: bytes,
    round_index: int,
    num_clients: int,
    num_noise: int,
    data_kahe: KaheCiphertext,
    noise_kahe: KaheCiphertext,
    data_ahe: AheCiphertext,
    noise_ahe: AheCiphertext,
) -> LogHeader:
    digests = (digest_kahe(data_kahe), digest_kahe(noise_kahe), digest_ahe(data_ahe), digest_ahe(noise_ahe))
    return LogHeader(
        round_index, num_clients, num_noise, *digests, prev_hash,
        entry_hash(prev_hash, round_index, num_clients, num_noise, digests),
    )


def verify_chain(headers: tuple[LogHeader, ...], genesis: bytes, trusted_head: bytes) -> None:
    """Checks that `headers` are rounds 0..T-1 chained from `genesis` to `trusted_head`.

    Raises:
      LogIntegrityError: naming the first round that breaks the chain, or a head mismatch.
    """
    prev = genesis
    for i, h in enumerate(headers):
        if h.round_index != i:
            raise LogIntegrityError(f"log entry {i} has round_index {h.round_index}")
        digests = (h.data_kahe_digest, h.noise_kahe_digest, h.data_ahe_digest, h.noise_ahe_digest)
        expect = entry_hash(prev, h.round_index, h.num_clients, h.num_noise, digests)
        if h.prev_hash != prev or h.entry_hash != expect:
            raise LogIntegrityError(f"log entry for round {i} does not hash-chain to its predecessor")
        prev = h.entry_hash
    if prev != trusted_head:
        raise LogIntegrityError(f"log head {prev.hex()[:16]}… does not match the trusted head {trusted_head.hex()[:16]}…")


class LogAuthority(Protocol):
    """Where a job's log heads are anchored, one per round, append-only (the chain in deployments)."""

    def head_at(self, genesis: bytes, round_index: int) -> bytes | None:
        """The anchored entry hash of `round_index`, or None if that round is not anchored."""
        ...

    def anchor(self, genesis: bytes, round_index: int, entry_hash: bytes, num_clients: int, num_noise: int) -> None:
        """Appends round `round_index`'s head (raises if it is not the next round)."""
        ...

    def rounds(self, genesis: bytes) -> int:
        """How many rounds of `genesis` are anchored."""
        ...


class MemoryLogAuthority:
    """An in-process `LogAuthority` with the contract's rules (tests and single-process simulations)."""

    def __init__(self) -> None:
        self._heads: dict[bytes, list[bytes]] = {}

    def head_at(self, genesis: bytes, round_index: int) -> bytes | None:
        heads = self._heads.get(genesis, [])
        return heads[round_index] if 0 <= round_index < len(heads) else None

    def anchor(self, genesis: bytes, round_index: int, entry_hash: bytes, num_clients: int, num_noise: int) -> None:
        heads = self._heads.setdefault(genesis, [])
        if round_index != len(heads):
            raise LogIntegrityError(f"round {round_index} cannot be anchored: the next round to anchor is {len(heads)}")
        heads.append(entry_hash)

    def rounds(self, genesis: bytes) -> int:
        return len(self._heads.get(genesis, []))


def check_anchored(authority: LogAuthority, genesis: bytes, headers: tuple[LogHeader, ...]) -> None:
    """Raises LogIntegrityError unless the last header's entry hash is the head anchored for its round.

    The hash chain (`verify_chain`) ties every earlier round to that head, so one lookup covers the log.
    """
    if not headers:
        return
    last = headers[-1]
    anchored = authority.head_at(genesis, last.round_index)
    if anchored is None:
        raise LogIntegrityError(f"round {last.round_index}'s log head is not anchored: refusing an unanchored log")
    if anchored != last.entry_hash:
        raise LogIntegrityError(
            f"round {last.round_index}'s log head {last.entry_hash.hex()[:16]}… is not the anchored head "
            f"{anchored.hex()[:16]}…: the server rewrote or forked the log"
        )
