# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""What a committee member checks about a stored round before any partial that touches it (issue 14,
deliverable 3), from the round's parts — every upload's AHE key ciphertext and its proof — which the
server keeps for the member to fetch:

- every data and noise part carries a proof of a well-formed encryption under the committee key, bound
  to this job, round, sender and role (`loyal.protocols.zk.ahe`): a server that let one malformed part
  into a sum (attack 1 with a colluding client) is caught even when it skipped its own verification;
- the parts sum to the AHE sums the log commits to, with distinct senders, at least `min_cohort` data
  parts, `h + t - 1` noise shares from committee members and the job's `noise_contributors` cohort noise
  shares, each from a client whose data the round holds (issue 15);
- this member's own noise share is in the round exactly once (coefficient +1), so the server cannot
  cancel or double an honest share.

A member verifies each round once (`CommitteeMember` caches the entry hashes it checked); the cost is a
proof verification per upload of the round (docs/zk.md).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.client import proof_context
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.messages import Kind, LogHeader
from loyal.protocols.zk import ahe as zk
from loyal.protocols.zk.errors import ProofError

T = TypeVar("T")
R = TypeVar("R")

#: (sender, AHE key ciphertext, proof) of one upload.
Part = tuple[int, AheCiphertext, bytes]


@dataclasses.dataclass(frozen=True)
class RoundParts:
    """The AHE parts of one stored round's uploads, as the server keeps them."""

    round_index: int
    data: tuple[Part, ...]
    noise: tuple[Part, ...]
    cohort_noise: tuple[Part, ...] = ()


def encode_part(ahe: AheCiphertext, proof: bytes) -> bytes:
    """c0 | c1 (uint32 residues) | proof: what the server stores per upload for members."""
    return (np.ascontiguousarray(ahe.c0_hat, dtype="<u4").tobytes()
            + np.ascontiguousarray(ahe.c1_hat, dtype="<u4").tobytes() + proof)


def decode_part(blob: bytes, config: SsaConfig) -> tuple[AheCiphertext, bytes]:
    """Inverse of `encode_part`. Raises LogIntegrityError on a short blob or residues out of range."""
    ring = config.ahe.ring
    size = 4 * ring.num_moduli * ring.degree
    if len(blob) < 2 * size:
        raise LogIntegrityError(f"a stored upload part has {len(blob)} bytes, fewer than its ciphertext's {2 * size}")
    c0, c1 = (np.frombuffer(blob, dtype="<u4", count=size // 4, offset=o).reshape(ring.num_moduli, ring.degree)
              for o in (0, size))
    if (c0 >= ring.q).any() or (c1 >= ring.q).any():
        raise LogIntegrityError("a stored upload part has residues outside [0, q)")
    return AheCiphertext(c0, c1), blob[2 * size:]


def parts_to_bytes(parts: RoundParts) -> bytes:
    """A round's parts as data for a transport without `GetRoundParts` (Flower): header length | JSON of
    (round, per role the senders and part sizes) | the `encode_part` blobs in that order."""
    roles = {"data": parts.data, "noise": parts.noise, "cohort_noise": parts.cohort_noise}
    blobs = {name: [encode_part(ct, proof) for _, ct, proof in items] for name, items in roles.items()}
    head = json.dumps({"round": parts.round_index, **{name: [[s, len(b)] for (s, _, _), b in zip(items, blobs[name])]
                                                      for name, items in roles.items()}}).encode()
    return len(head).to_bytes(4, "little") + head + b"".join(b for name in roles for b in blobs[name])


def parts_from_bytes(data: bytes, config: SsaConfig) -> RoundParts:
    """Inverse of `parts_to_bytes`, every part decoded and range-checked (`decode_part`).

    Raises:
      LogIntegrityError: malformed bytes.
    """
    try:
        n = int.from_bytes(data[:4], "little")
        head = json.loads(data[4:4 + n])
        at, roles = 4 + n, {}
        for name in ("data", "noise", "cohort_noise"):
            items = []
            for sender, size in head[name]:
                if not (isinstance(sender, int) and isinstance(size, int) and 0 < size <= len(data) - at):
                    raise ValueError(f"a {name} part of {size!r} bytes from sender {sender!r}")
                items.append((sender, *decode_part(data[at:at + size], config)))
                at += size
            roles[name] = tuple(items)
        if at != len(data) or not isinstance(head["round"], int):
            raise ValueError(f"{len(data) - at} bytes after the parts, or round {head['round']!r}")
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LogIntegrityError(f"malformed round parts: {e}") from None
    return RoundParts(head["round"], roles["data"], roles["noise"], roles["cohort_noise"])


def verify_part(config: SsaConfig, public_key_hat: np.ndarray, kind: Kind, round_index: int, sender: int,
                ahe: AheCiphertext, proof: bytes) -> None:
    """The one check of an upload's proof (server before include, members in the audit): a well-formed
    encryption under `public_key_hat`, bound to this job, kind, round and sender.

    Raises:
      ProofError: no proof, or one that does not verify.
    """
    if not proof:
        raise ProofError("this job requires a proof that the upload's AHE ciphertext is well formed; none was sent")
    statement = zk.AheStatement.from_ahe(config.ahe, public_key_hat, ahe)
    zk.verify_encryption(statement, proof, context=proof_context(config, kind, round_index, sender))


def _sum(config: SsaConfig, parts: tuple[Part, ...]) -> AheCiphertext:
    ring = config.ahe.ring
    acc = AheCiphertext(np.zeros((ring.num_moduli, ring.degree), np.int64), np.zeros((ring.num_moduli, ring.degree), np.int64))
    for _, ct, _ in parts:
        acc = config.ahe.add(acc, AheCiphertext(ct.c0_hat.astype(np.int64), ct.c1_hat.astype(np.int64)))
    return acc


def in_threads(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`[fn(x) for x in items]` in one thread per core: proof verification is NumPy work that releases the
    GIL (~1.6x on 2 cores). One BLAS thread per worker: OpenBLAS's own pools busy-wait against each other
    (104 ms of CPU per proof instead of 46 ms on 2 cores; `loyal.server.runtime.single_blas_thread`)."""
    workers = min(len(items), os.cpu_count() or 1)
    if workers < 2:
        return [fn(x) for x in items]
    with threadpool_limits(limits=1), concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def _verify_all(config: SsaConfig, public_key_hat: np.ndarray, round_index: int,
                parts: list[tuple[Kind, int, AheCiphertext, bytes]]) -> None:
    """`verify_part` of every part (`in_threads`); raises LogIntegrityError naming the first part, in
    order, whose proof fails."""
    def check(part: tuple[Kind, int, AheCiphertext, bytes]) -> ProofError | None:
        try:
            verify_part(config, public_key_hat, part[0], round_index, *part[1:])
        except ProofError as e:
            return e
        return None

    errors = in_threads(check, parts)
    for (kind, sender, _, _), e in zip(parts, errors):
        if e is not None:
            raise LogIntegrityError(f"round {round_index}: the {kind.name.lower()} part of sender {sender} is not "
                                    f"proven well formed ({e})")


def check_round_parts(
    config: SsaConfig, header: LogHeader, parts: RoundParts, public_key_hat: np.ndarray, own_noise: bytes | None,
) -> None:
    """All checks of the module doc for one round; `own_noise` is the digest (`log.digest_ahe`) of this
    member's noise part for the round, or None if it sent none.

    Raises:
      LogIntegrityError: naming the first check that fails.
    """
    r = header.round_index
    if parts.round_index != r:
        raise LogIntegrityError(f"parts of round {parts.round_index} offered for round {r}")
    data_senders = {s for s, _, _ in parts.data}
    if len(parts.noise) + len(parts.cohort_noise) != header.num_noise:
        raise LogIntegrityError(f"round {r} has {len(parts.noise)} member and {len(parts.cohort_noise)} cohort noise "
                                f"parts; the log says {header.num_noise} in all")
    for kind, items, count, need, allowed in (
        (Kind.CLIENT_CONTRIBUTION, parts.data, header.num_clients, config.min_cohort, None),
        (Kind.NOISE_CONTRIBUTION, parts.noise, header.num_noise - len(parts.cohort_noise),
         config.min_noise_shares if config.noise_multiplier > 0 else 0, set(config.committee)),
        (Kind.COHORT_NOISE, parts.cohort_noise, len(parts.cohort_noise), config.noise_contributors, data_senders),
    ):
        senders = [s for s, _, _ in items]
        if len(items) != count or len(set(senders)) != count or count < need:
            raise LogIntegrityError(
                f"round {r} has {len(items)} {kind.name.lower()} parts from {len(set(senders))} senders; the log "
                f"says {count} and the job needs >= {need}")
        if allowed is not None and not set(senders) <= allowed:
            raise LogIntegrityError(f"round {r} has {kind.name.lower()} parts from {sorted(set(senders) - allowed)}, "
                                    f"not {'committee members' if kind == Kind.NOISE_CONTRIBUTION else 'data uploaders'}")
    _verify_all(config, public_key_hat, r, [(kind, sender, ct, proof) for kind, items in (
        (Kind.CLIENT_CONTRIBUTION, parts.data), (Kind.NOISE_CONTRIBUTION, parts.noise), (Kind.COHORT_NOISE, parts.cohort_noise))
        for sender, ct, proof in items])
    if ssalog.digest_ahe(_sum(config, parts.data)) != header.data_ahe_digest:
        raise LogIntegrityError(f"round {r}'s data AHE sum is not the sum of its proven uploads")
    if ssalog.digest_ahe(_sum(config, parts.noise + parts.cohort_noise)) != header.noise_ahe_digest:
        raise LogIntegrityError(f"round {r}'s noise AHE sum is not the sum of its proven noise shares")
    if own_noise is not None:
        mine = [s for s, ct, _ in parts.noise if ssalog.digest_ahe(ct) == own_noise]
        if len(mine) != 1:
            raise LogIntegrityError(f"round {r} holds this member's noise share {len(mine)} times, not once")


__all__ = ["Part", "RoundParts", "check_round_parts", "decode_part", "encode_part", "in_threads", "parts_from_bytes",
           "parts_to_bytes", "verify_part"]
