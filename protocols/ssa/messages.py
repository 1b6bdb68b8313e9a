# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Every SSA wire message (as Willow's `willow/src/traits/messages.rs`) and its byte framing.

Frame (little-endian), version 2:

    magic "LSSA" | version u8 | kind u8 | reserved u16 | job_id 16B | round u32 | sender u32
    | body_len u32 | body | BLAKE3-256(everything before) 32B

body = meta_len u32 | array_count u32 | meta (UTF-8 JSON of small fields) | zero pad to 4 bytes
| arrays, array = ndim u32 | dims u32 × ndim | residues as u32 (each < its modulus), all 4-byte
aligned: the server reads residues as uint32 views of the upload (no copy). Version 1 is refused.

`parse_*` check, in order: length, magic, version, kind, digest, job, meta, array count, shapes
against the job's ring (degree, moduli, ceil(d/N) polynomials) and residue ranges — all before
any aggregate is touched. The digest catches truncation and corruption (BLAKE3, why: docs/ssa.md);
authenticity is the transport's. A contribution may carry a 4th array, its proof (`proof_bytes` in meta).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import struct
from typing import Any

import blake3
import numpy as np

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.ssa.errors import MessageFormatError

MAGIC = b"LSSA"
VERSION = 2
_HEADER = struct.Struct("<4sBBH16sIII")
_DIGEST = 32
#: Largest body accepted (1 GiB), so a length field cannot make us allocate without bound.
MAX_BODY_BYTES = 1 << 30


class Kind(enum.IntEnum):
    """Message kinds in the frame header."""

    CLIENT_CONTRIBUTION = 1
    NOISE_CONTRIBUTION = 2
    RELEASE_REQUEST = 3
    PARTIAL_DECRYPTION = 4


@dataclasses.dataclass(frozen=True)
class ClientContribution:
    """One client's upload for one round: KAHE data ciphertext + AHE encryption of its KAHE key."""

    round_index: int
    client_id: int
    kahe: KaheCiphertext = dataclasses.field(repr=False)
    ahe: AheCiphertext = dataclasses.field(repr=False)
    proof: bytes = dataclasses.field(default=b"", repr=False)  # `loyal.protocols.zk.ahe` proof of `ahe`


@dataclasses.dataclass(frozen=True)
class NoiseContribution:
    """A committee member's encrypted discrete-Gaussian noise share for one round (same layout)."""

    round_index: int
    member_index: int
    kahe: KaheCiphertext = dataclasses.field(repr=False)
    ahe: AheCiphertext = dataclasses.field(repr=False)
    proof: bytes = dataclasses.field(default=b"", repr=False)


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
def digest(data: bytes | memoryview) -> bytes:
    """The 32-byte frame digest: BLAKE3-256 (single-threaded)."""
    return blake3.blake3(data).digest()


def _frame(kind: Kind, job_id: bytes, round_index: int, sender: int, meta: dict[str, Any], arrays: list[np.ndarray]) -> bytes:
    """Frames `arrays` converted to u4 once, hashed part by part (as BLAKE3 of the whole) and joined once."""
    meta_b = json.dumps(meta, sort_keys=True).encode()
    parts: list[bytes | memoryview] = [b"", struct.pack("<II", len(meta_b), len(arrays)), meta_b, bytes(-len(meta_b) % 4)]
    for a in arrays:
        parts += [struct.pack(f"<{a.ndim + 1}I", a.ndim, *a.shape), memoryview(np.ascontiguousarray(a, dtype="<u4")).cast("B")]
    body_len = sum(len(p) for p in parts)
    parts[0] = _HEADER.pack(MAGIC, VERSION, int(kind), 0, job_id, round_index, sender, body_len)
    hasher = blake3.blake3()
    for part in parts:
        hasher.update(part)
    return b"".join([*parts, hasher.digest()])


@dataclasses.dataclass(frozen=True)
class _Parsed:
    kind: Kind
    round_index: int
    sender: int
    meta: dict[str, Any]
    arrays: list[np.ndarray]
    digest: bytes
    offsets: list[int]  # frame offset of each array's residues


def frame_sender(data: bytes) -> int:
    """The sender a frame's header names (MessageFormatError if no Loyal frame); the parse checks the rest."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) < _HEADER.size:
        raise MessageFormatError(f"message truncated: shorter than the {_HEADER.size}-byte frame header")
    magic, *_, sender, _ = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise MessageFormatError(f"bad magic {magic!r}, expected {MAGIC!r}")
    return sender


def frame_digest(data: bytes) -> bytes:
    """A frame's trailer digest (the sender signs it; the parse recomputes and checks it)."""
    if len(data) < _HEADER.size + _DIGEST:
        raise MessageFormatError(f"message truncated: {len(data)} bytes < minimum {_HEADER.size + _DIGEST}")
    return bytes(data[-_DIGEST:])


def _unframe(data: bytes, job_id: bytes, expected: Kind, *, verify_digest: bool = True, as_int64: bool = True) -> _Parsed:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MessageFormatError(f"message must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _HEADER.size + _DIGEST:
        raise MessageFormatError(f"message truncated: {len(data)} bytes < minimum {_HEADER.size + _DIGEST}")
    magic, version, kind, _, job, rnd, sender, body_len = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise MessageFormatError(f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise MessageFormatError(f"unsupported message version {version}, expected {VERSION}")
    if kind != expected:
        raise MessageFormatError(f"wrong message kind {kind}, expected {int(expected)} ({expected.name})")
    if body_len > MAX_BODY_BYTES or len(data) != _HEADER.size + body_len + _DIGEST:
        raise MessageFormatError(f"message length {len(data)} does not match header body_len={body_len} (truncated or padded)")
    trailer = data[-_DIGEST:]
    if verify_digest and digest(memoryview(data)[:-_DIGEST]) != trailer:  # a view: no copy of the upload
        raise MessageFormatError("message digest mismatch (corrupted or tampered bytes)")
    if job != job_id:
        raise MessageFormatError(f"message for job {job.hex()}, expected {job_id.hex()}")
    body = memoryview(data)[_HEADER.size : _HEADER.size + body_len]
    try:
        (meta_len, count), off = struct.unpack_from("<II", body, 0), 8
        if meta_len > len(body) - off:
            raise MessageFormatError(f"meta of {meta_len} bytes overruns the body ({len(body)} bytes)")
        meta_b = bytes(body[off : off + meta_len])  # contributions carry "{}": no JSON parser needed
        meta = {} if meta_b == b"{}" else json.loads(meta_b.decode())
        off, pad = off + meta_len, -meta_len % 4
        if bytes(body[off : off + pad]) != b"\x00" * pad:
            raise MessageFormatError("malformed message body: non-zero padding after meta")
        off += pad
        arrays, offsets = [], []
        for _ in range(count):
            (ndim,) = struct.unpack_from("<I", body, off)
            if ndim > 8:
                raise MessageFormatError(f"array with {ndim} dimensions (at most 8)")
            shape, off = struct.unpack_from(f"<{ndim}I", body, off + 4), off + 4 + 4 * ndim
            size = 4 * math.prod(shape)
            if off + size > len(body):
                raise MessageFormatError(f"array of shape {shape} overruns the body ({len(body)} bytes)")
            arr = np.frombuffer(body[off : off + size], dtype="<u4").reshape(shape)
            arrays.append(arr.astype(np.int64) if as_int64 else arr)
            offsets.append(_HEADER.size + off)
            off += size
        if off != len(body):
            raise MessageFormatError(f"{len(body) - off} trailing bytes after the last array")
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        if isinstance(e, MessageFormatError):
            raise
        raise MessageFormatError(f"malformed message body: {e}") from None
    if not isinstance(meta, dict):
        raise MessageFormatError("malformed message body: meta is not an object")
    return _Parsed(Kind(kind), rnd, sender, meta, arrays, trailer, offsets)


def _check_residues(a: np.ndarray, ring: RnsRing, shape: tuple[int, ...], name: str) -> None:
    if a.shape != shape:
        raise MessageFormatError(
            f"{name} has shape {a.shape}, expected {shape} (ring degree {ring.degree}, {ring.num_moduli} moduli)"
        )
    if (np.maximum.reduce(a, axis=-1) >= ring.q[:, 0]).any():  # row maxima: one read, no temporary
        raise MessageFormatError(f"{name} has residues outside [0, q)")


@functools.lru_cache(maxsize=16)
def _row_layout(shapes: tuple[tuple[int, ...], ...], moduli: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Start word and modulus of every residue row of consecutive framed arrays read as one uint32 view."""
    starts, bounds, word = [], [], 0
    for i, (shape, mods) in enumerate(zip(shapes, moduli)):
        rows = math.prod(shape[:-1])
        starts += range(word, word + rows * shape[-1], shape[-1])
        bounds += [mods[r % len(mods)] for r in range(rows)]
        word += rows * shape[-1] + 1 + len(shapes[(i + 1) % len(shapes)])  # and the next array's header
    return np.array(starts), np.array(bounds, dtype=np.uint32)


def _check_ranges(data: bytes, p: _Parsed, shapes: tuple[tuple[int, ...], ...], rings: tuple[RnsRing, ...], names: tuple[str, ...]) -> None:
    """`_check_residues` of consecutive framed arrays with one read: row maxima by np.maximum.reduceat over
    a uint32 view from the first residue to the last (the ndim and dims words between arrays are below q)."""
    starts, bounds = _row_layout(shapes, tuple(r.moduli for r in rings))
    if any(a.shape != shape for a, shape in zip(p.arrays, shapes)) or (np.maximum.reduceat(np.frombuffer(
            data, dtype="<u4", count=int(starts[-1]) + shapes[-1][-1], offset=p.offsets[0]), starts) >= bounds).any():
        for a, shape, ring, name in zip(p.arrays, shapes, rings, names):  # raises, naming the array
            _check_residues(a, ring, shape, name)


# ---- contributions ---------------------------------------------------------------------------------
def serialize_contribution(msg: ClientContribution | NoiseContribution, job_id: bytes) -> bytes:
    """Frames a client or noise contribution."""
    kind = Kind.CLIENT_CONTRIBUTION if isinstance(msg, ClientContribution) else Kind.NOISE_CONTRIBUTION
    sender = msg.client_id if isinstance(msg, ClientContribution) else msg.member_index
    arrays, meta = [msg.kahe.b_hat, msg.ahe.c0_hat, msg.ahe.c1_hat], {}
    if msg.proof:  # a 4th array: the proof's bytes as u32 words
        meta, arrays = {"proof_bytes": len(msg.proof)}, [*arrays, np.frombuffer(msg.proof + bytes(-len(msg.proof) % 4), "<u4")]
    return _frame(kind, job_id, msg.round_index, sender, meta, arrays)


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
    cls = ClientContribution if kind == Kind.CLIENT_CONTRIBUTION else NoiseContribution
    return cls(p.round_index, p.sender, kahe, ahe, proof), p.digest


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
