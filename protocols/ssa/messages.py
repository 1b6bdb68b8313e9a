# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Every SSA wire message (as Willow's `willow/src/traits/messages.rs`), serialized in the byte frame of
`frame.py`. `parse_*` check the frame (`frame._unframe`), then shapes against the job's ring
(degree, moduli, ceil(d/N) polynomials) and residue ranges — all before any aggregate is touched.
A contribution may carry a 4th array, its proof (`proof_bytes` in meta).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.ssa.errors import MessageFormatError
from loyal.protocols.ssa.frame import (  # noqa: F401  (re-exported: the frame is part of every message)
    _HEADER, MAGIC, MAX_BODY_BYTES, VERSION, Kind, _check_ranges, _check_residues, _frame, _unframe, digest,
    frame_digest, frame_sender,
)

@dataclasses.dataclass(frozen=True)
class ClientContribution:
    """One client's upload for one round: KAHE data ciphertext + AHE encryption of its KAHE key."""

    round_index: int
    client_id: int
    kahe: KaheCiphertext = dataclasses.field(repr=False)
    ahe: AheCiphertext = dataclasses.field(repr=False)
    proof: bytes = dataclasses.field(default=b"", repr=False)  # `loyal.protocols.zk.ahe` proof of `ahe`

    @property
    def sender(self) -> int:
        """The id the frame names (the client's)."""
        return self.client_id


@dataclasses.dataclass(frozen=True)
class NoiseContribution:
    """A committee member's encrypted discrete-Gaussian noise share for one round (same layout)."""

    round_index: int
    member_index: int
    kahe: KaheCiphertext = dataclasses.field(repr=False)
    ahe: AheCiphertext = dataclasses.field(repr=False)
    proof: bytes = dataclasses.field(default=b"", repr=False)

    @property
    def sender(self) -> int:
        """The id the frame names (the member's)."""
        return self.member_index


@dataclasses.dataclass(frozen=True)
class CohortNoise(ClientContribution):
    """A cohort client's noise-only share for its round (issue 15): a client upload's layout, noise as data."""


#: Contribution class of each upload kind.
CONTRIBUTIONS = {Kind.CLIENT_CONTRIBUTION: ClientContribution, Kind.NOISE_CONTRIBUTION: NoiseContribution,
                 Kind.COHORT_NOISE: CohortNoise}


@dataclasses.dataclass(frozen=True)
class LogHeader:
    """Public, hash-chained summary of one stored round (what members and auditors verify)."""

    round_index: int
    num_clients: int
    num_noise: int
    data_kahe_digest: bytes
    noise_kahe_digest: bytes
    data_ahe_digest: bytes
    noise_ahe_digest: bytes
    prev_hash: bytes
    entry_hash: bytes


@dataclasses.dataclass(frozen=True)
class RoundAggregate:
    """What the server stores for round t: X_t and Z_t (KAHE sums) and their keys' AHE sums."""

    header: LogHeader
    data_kahe: KaheCiphertext | None = dataclasses.field(repr=False)
    noise_kahe: KaheCiphertext | None = dataclasses.field(repr=False)
    data_ahe: AheCiphertext = dataclasses.field(repr=False)
    noise_ahe: AheCiphertext = dataclasses.field(repr=False)

    @property
    def compacted(self) -> bool:
        """True once the KAHE payload was dropped (the round is outside every future release window)."""
        return self.data_kahe is None


@dataclasses.dataclass(frozen=True)
class ReleaseRequest:
    """The server's request to decrypt one release row.

    Attributes:
      request_id: sha256 of the request's contents.
      policy_id: the policy the row belongs to.
      round_index: the round after which the row is released.
      data: integer (fixed-point) coefficients over stored data rounds.
      noise: integer coefficients over stored noise rounds.
      scale_bits: fixed-point scale of the coefficients.
      subset: committee members asked to decrypt (|subset| >= threshold; Lagrange weights use it).
      headers: the whole log chain, genesis to head.
      ahe_entries: round -> (data AHE sum, noise AHE sum) for every round the row touches.
    """

    request_id: bytes
    policy_id: str
    round_index: int
    data: dict[int, int]
    noise: dict[int, int]
    scale_bits: int
    subset: tuple[int, ...]
    headers: tuple[LogHeader, ...] = dataclasses.field(repr=False)
    ahe_entries: dict[int, tuple[AheCiphertext, AheCiphertext]] = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class PartialDecryption:
    """Member `member_index`'s smudged share of the decryption of K* for one request."""

    request_id: bytes
    member_index: int
    share: np.ndarray = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Release:
    """A published release: integer sum (fixed point) and its decoded real values."""

    request_id: bytes
    policy_id: str
    round_index: int
    data: dict[int, int]
    noise: dict[int, int]
    integer_values: np.ndarray = dataclasses.field(repr=False)
    values: np.ndarray = dataclasses.field(repr=False)


# ---- framing ---------------------------------------------------------------------------------------
# ---- contributions ---------------------------------------------------------------------------------
def serialize_contribution(msg: ClientContribution | NoiseContribution, job_id: bytes) -> bytes:
    """Frames a client, member-noise or cohort-noise contribution."""
    kind = next(k for k, cls in CONTRIBUTIONS.items() if type(msg) is cls)
    arrays, meta = [msg.kahe.b_hat, msg.ahe.c0_hat, msg.ahe.c1_hat], {}
    if msg.proof:  # a 4th array: the proof's bytes as u32 words
        meta, arrays = {"proof_bytes": len(msg.proof)}, [*arrays, np.frombuffer(msg.proof + bytes(-len(msg.proof) % 4), "<u4")]
    return _frame(kind, job_id, msg.round_index, msg.sender, meta, arrays)


def parse_contribution(
    data: bytes, *, job_id: bytes, kahe_ring: RnsRing, ahe_ring: RnsRing, num_polys: int, kind: Kind,
    verify_digest: bool = True,
) -> tuple[ClientContribution | NoiseContribution, bytes]:
    """Parses and validates a contribution; returns it and its digest. The ciphertexts are read-only
    uint32 views of `data` (no copy); one missing its KAHE or AHE part has the wrong array count.

    Args:
      verify_digest: recompute the BLAKE3 trailer (~0.27 ms/MB, the largest per-upload cost); may be
        False only when the transport already guarantees integrity. Shapes and ranges are always checked.
    """
    data = bytes(data) if isinstance(data, bytearray | memoryview) else data  # the range check reads it again
    p = _unframe(data, job_id, kind, verify_digest=verify_digest, as_int64=False)
    if len(p.arrays) not in (3, 4) or (len(p.arrays) == 4) != ("proof_bytes" in p.meta):
        raise MessageFormatError(f"contribution must carry 3 arrays (KAHE b, AHE c0, AHE c1) and optionally its proof, "
                                 f"got {len(p.arrays)}: a client missing either part is excluded")
    shapes = ((num_polys, kahe_ring.num_moduli, kahe_ring.degree),) + ((ahe_ring.num_moduli, ahe_ring.degree),) * 2
    _check_ranges(data, p, shapes, (kahe_ring, ahe_ring, ahe_ring), ("KAHE ciphertext", "AHE c0", "AHE c1"))
    kahe, ahe, proof = KaheCiphertext(p.arrays[0]), AheCiphertext(*p.arrays[1:3]), b""
    if len(p.arrays) == 4:
        n, words = p.meta["proof_bytes"], p.arrays[3]
        if not isinstance(n, int) or words.ndim != 1 or not 0 < n <= 4 * len(words) < n + 4:
            raise MessageFormatError(f"proof_bytes={n!r} does not match the proof array of {words.shape} words")
        proof = words.astype("<u4").tobytes()[:n]
    return CONTRIBUTIONS[kind](p.round_index, p.sender, kahe, ahe, proof), p.digest


# ---- partial decryptions ---------------------------------------------------------------------------
def serialize_partial(msg: PartialDecryption, job_id: bytes, round_index: int) -> bytes:
    return _frame(Kind.PARTIAL_DECRYPTION, job_id, round_index, msg.member_index, {"request_id": msg.request_id.hex()}, [msg.share])


def parse_partial(data: bytes, *, job_id: bytes, ahe_ring: RnsRing) -> PartialDecryption:
    p = _unframe(data, job_id, Kind.PARTIAL_DECRYPTION)
    if len(p.arrays) != 1 or "request_id" not in p.meta:
        raise MessageFormatError("partial decryption must carry request_id and exactly one array")
    _check_residues(p.arrays[0], ahe_ring, (ahe_ring.num_moduli, ahe_ring.degree), "partial decryption")
    return PartialDecryption(bytes.fromhex(p.meta["request_id"]), p.sender, p.arrays[0])


# ---- release requests ------------------------------------------------------------------------------
def _header_to_json(h: LogHeader) -> dict[str, Any]:
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in dataclasses.asdict(h).items()}


def _header_from_json(d: dict[str, Any]) -> LogHeader:
    try:
        return LogHeader(**{k: (bytes.fromhex(v) if isinstance(v, str) else int(v)) for k, v in d.items()})
    except (TypeError, ValueError) as e:
        raise MessageFormatError(f"malformed log header: {e}") from None


def serialize_release_request(req: ReleaseRequest, job_id: bytes) -> bytes:
    rounds = sorted(req.ahe_entries)
    meta = {
        "request_id": req.request_id.hex(),
        "policy_id": req.policy_id,
        "data": {str(k): v for k, v in req.data.items()},
        "noise": {str(k): v for k, v in req.noise.items()},
        "scale_bits": req.scale_bits,
        "subset": list(req.subset),
        "headers": [_header_to_json(h) for h in req.headers],
        "ahe_rounds": rounds,
    }
    arrays = []
    for r in rounds:
        d, z = req.ahe_entries[r]
        arrays += [d.c0_hat, d.c1_hat, z.c0_hat, z.c1_hat]
    return _frame(Kind.RELEASE_REQUEST, job_id, req.round_index, 0, meta, arrays)


def parse_release_request(data: bytes, *, job_id: bytes, ahe_ring: RnsRing) -> ReleaseRequest:
    p = _unframe(data, job_id, Kind.RELEASE_REQUEST)
    m = p.meta
    try:
        rounds = [int(r) for r in m["ahe_rounds"]]
        if len(p.arrays) != 4 * len(rounds):
            raise MessageFormatError(f"release request carries {len(p.arrays)} arrays, expected {4 * len(rounds)}")
        shape = (ahe_ring.num_moduli, ahe_ring.degree)
        for i, a in enumerate(p.arrays):
            _check_residues(a, ahe_ring, shape, f"AHE array {i}")
        entries = {
            r: (AheCiphertext(*p.arrays[4 * i : 4 * i + 2]), AheCiphertext(*p.arrays[4 * i + 2 : 4 * i + 4]))
            for i, r in enumerate(rounds)
        }
        return ReleaseRequest(
            request_id=bytes.fromhex(m["request_id"]),
            policy_id=str(m["policy_id"]),
            round_index=p.round_index,
            data={int(k): int(v) for k, v in m["data"].items()},
            noise={int(k): int(v) for k, v in m["noise"].items()},
            scale_bits=int(m["scale_bits"]),
            subset=tuple(int(i) for i in m["subset"]),
            headers=tuple(_header_from_json(h) for h in m["headers"]),
            ahe_entries=entries,
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise MessageFormatError(f"malformed release request: missing or bad field {e}") from None
