# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The byte frame of every SSA wire message (`messages.py` holds the messages themselves).

Frame (little-endian), version 2:

    magic "LSSA" | version u8 | kind u8 | reserved u16 | job_id 16B | round u32 | sender u32
    | body_len u32 | body | BLAKE3-256(everything before) 32B

body = meta_len u32 | array_count u32 | meta (UTF-8 JSON of small fields) | zero pad to 4 bytes
| arrays, array = ndim u32 | dims u32 × ndim | residues as u32 (each < its modulus), all 4-byte
aligned: the server reads residues as uint32 views of the upload (no copy). Version 1 is refused.

`_unframe` checks, in order: length, magic, version, kind, digest, job, meta, array count; the
parsers in `messages.py` then check shapes against the job's ring and residue ranges — all before
any aggregate is touched. The digest catches truncation and corruption (BLAKE3, why: docs/ssa.md);
authenticity is the transport's.
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
    COHORT_NOISE = 5



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


def body_digest(data: bytes) -> bytes:
    """BLAKE3 of a frame's body if its trailer equals it (the frame is whole), else b"" (matches no digest)."""
    if len(data) < _DIGEST:
        return b""
    d = digest(memoryview(data)[:-_DIGEST])
    return d if d == bytes(data[-_DIGEST:]) else b""


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
