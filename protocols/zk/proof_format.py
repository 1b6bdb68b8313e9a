# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Byte layout of an AHE-encryption proof, written and parsed strictly (every length is checked).

    header           "LZKA", version 5, 3 zero bytes, then uint32 N, P, ℓ, L, t, σ_l, σ_p   (36 bytes)
    root             32 bytes (SHA-256 Merkle root of the first commitment's columns, `merkle`)
    projections      4·144 int32 (p = R·w + y, one `jl.JL_ROWS`-block per u, e1, e2, k)
    linear root      32 bytes (root of the second commitment: the σ_l linear-test rows A_s)
    proximity        σ_p·P·(ℓ + t) residues, packed
    columns          t·rows·P residues (opened columns of the first commitment, indices ascending), packed
    linear columns   t·σ_l·P residues (the same columns of the second), packed
    salts            t·16 bytes, then t·16 bytes of the second tree
    siblings         32 bytes each; their number follows from the opened indices (`merkle.sibling_count`),
                     the first tree's, then as many of the second's

All integers are little-endian. Residues (every prime is below 2^30, `ring.PRIME_BITS`) are packed four
to 15 bytes: 30 bits each, the first in the lowest bits (version 1 spent 4 bytes on each, 6.7 % more
proof); a section whose count is not a multiple of four is padded with zero residues, which the parser
requires. Every residue must lie in [0, q_l) for its prime. A proof whose length differs from the
length its header and indices imply is rejected. Version 5 commits the linear test (`ligero.py`) where
version 4 sent its σ_l polynomials of 2ℓ + t coefficients (~15 % more proof); version 4 had 144
projection rows per block where version 3 had 256 (`jl.JL_ROWS`); version 3 had version 2's layout with
a SHA-256 Merkle tree instead of BLAKE3. Proofs of earlier versions are refused.
"""

from __future__ import annotations

import struct

import numpy as np

from loyal.protocols.rlwe.ring import PRIME_BITS, RnsRing
from loyal.protocols.zk.errors import ProofError
from loyal.protocols.zk.jl import JL_ROWS
from loyal.protocols.zk.ligero import LigeroOpening
from loyal.protocols.zk.merkle import DIGEST_BYTES, SALT_BYTES, sibling_count
from loyal.protocols.zk.params import LigeroParams

MAGIC = b"LZKA"
VERSION = 5
#: Bits per packed residue (every `RnsRing` prime is below 2^PRIME_BITS) and the packing group.
_BITS = PRIME_BITS
_GROUP, _GROUP_BYTES = 4, 15
_MASK = np.uint64((1 << _BITS) - 1)
_HEADER = struct.Struct("<4sB3x7I")
_BLOCKS = 4


def _packed_bytes(count: int) -> int:
    return _GROUP_BYTES * -(-count // _GROUP)


def pack_residues(values: np.ndarray) -> bytes:
    """Residues < 2^30 packed four to 15 bytes (little-endian bit order), zero-padded to a multiple of four."""
    v = np.ascontiguousarray(values, dtype=np.uint64).reshape(-1)
    v = np.concatenate([v, np.zeros(-len(v) % _GROUP, dtype=np.uint64)]).reshape(-1, _GROUP)
    lo = v[:, 0] | (v[:, 1] << np.uint64(30)) | (v[:, 2] << np.uint64(60))  # bits 0..63
    hi = (v[:, 2] >> np.uint64(4)) | (v[:, 3] << np.uint64(26))  # bits 64..119
    words = np.stack([lo, hi], axis=1).astype("<u8").view(np.uint8).reshape(-1, 16)
    return words[:, :_GROUP_BYTES].tobytes()


def unpack_residues(data: bytes, count: int) -> np.ndarray:
    """Inverse of `pack_residues` (int64); ValueError if a padding residue is not zero."""
    groups = -(-count // _GROUP)
    raw = np.zeros((groups, 16), dtype=np.uint8)
    raw[:, :_GROUP_BYTES] = np.frombuffer(data, dtype=np.uint8).reshape(groups, _GROUP_BYTES)
    words = raw.view("<u8")
    lo, hi = words[:, 0], words[:, 1]
    out = np.stack([lo & _MASK, (lo >> np.uint64(30)) & _MASK,
                    ((lo >> np.uint64(60)) | (hi << np.uint64(4))) & _MASK, (hi >> np.uint64(26)) & _MASK], axis=1).reshape(-1)
    if np.any(out[count:]):
        raise ValueError("padding residues must be zero")
    return out[:count].astype(np.int64)


def _header_fields(ring: RnsRing, lp: LigeroParams) -> tuple[int, ...]:
    return (ring.degree, ring.num_moduli, lp.row_len, lp.code_len, lp.num_opened, lp.linear_reps, lp.proximity_reps)


def write_proof(ring: RnsRing, lp: LigeroParams, root: bytes, projections: np.ndarray, op: LigeroOpening) -> bytes:
    parts = [
        _HEADER.pack(MAGIC, VERSION, *_header_fields(ring, lp)),
        root,
        projections.astype("<i4").tobytes(),
        op.linear_root,
        pack_residues(op.proximity_polys),
        pack_residues(op.columns),
        pack_residues(op.linear_columns),
        op.salts.tobytes(),
        op.linear_salts.tobytes(),
        *op.siblings,
        *op.linear_siblings,
    ]
    return b"".join(parts)


def proof_size(ring: RnsRing, lp: LigeroParams, witness_len: int, siblings: int) -> int:
    """Bytes of a proof whose opening has `siblings` Merkle sibling hashes in each of its two trees."""
    num_p = ring.num_moduli
    residues = (
        _packed_bytes(lp.proximity_reps * num_p * lp.degree_bound)
        + _packed_bytes(lp.num_opened * lp.total_rows(witness_len) * num_p)
        + _packed_bytes(lp.num_opened * lp.linear_rows * num_p)
    )
    return (_HEADER.size + 2 * DIGEST_BYTES + 4 * _BLOCKS * JL_ROWS + residues + 2 * lp.num_opened * SALT_BYTES
            + 2 * siblings * DIGEST_BYTES)


class ProofReader:
    """Parses the fixed-size part at construction and the opening once the indices are known."""

    def __init__(self, data: bytes, ring: RnsRing, lp: LigeroParams, witness_len: int) -> None:
        self._data = memoryview(bytes(data)) if not isinstance(data, bytes) else memoryview(data)
        self._ring, self._lp, self._witness_len = ring, lp, witness_len
        max_siblings = lp.num_opened * (lp.code_len.bit_length() - 1)  # per tree
        if len(self._data) > proof_size(ring, lp, witness_len, max_siblings):
            raise ProofError(f"proof is oversized: {len(self._data)} bytes")
        if len(self._data) < proof_size(ring, lp, witness_len, 0):
            raise ProofError(f"proof is truncated: {len(self._data)} bytes")
        magic, version, *fields = _HEADER.unpack_from(self._data, 0)
        if magic != MAGIC or version != VERSION:
            raise ProofError(f"proof has magic {magic!r} version {version}, expected {MAGIC!r} version {VERSION}")
        if bytes(self._data[5:8]) != b"\x00\x00\x00":
            raise ProofError("proof header padding must be zero")
        expected = _header_fields(ring, lp)
        if tuple(fields) != expected:
            raise ProofError(f"proof parameters (N, P, ℓ, L, t, σ_l, σ_p) = {tuple(fields)}, expected {expected}")
        self._pos = _HEADER.size
        self.root = self._take(DIGEST_BYTES)
        self.projections = np.frombuffer(self._take(4 * _BLOCKS * JL_ROWS), dtype="<i4").astype(np.int64)
        self.projections = self.projections.reshape(_BLOCKS, JL_ROWS)
        self.linear_root = self._take(DIGEST_BYTES)
        self.proximity_polys = self._residues((lp.proximity_reps, ring.num_moduli, lp.degree_bound), axis=1,
                                              name="proximity")

    def _take(self, count: int) -> bytes:
        if self._pos + count > len(self._data):
            raise ProofError("proof is truncated")
        out = bytes(self._data[self._pos : self._pos + count])
        self._pos += count
        return out

    def _residues(self, shape: tuple[int, ...], axis: int, name: str) -> np.ndarray:
        count = int(np.prod(shape))
        try:
            arr = unpack_residues(self._take(_packed_bytes(count)), count).reshape(shape)
        except ValueError as e:
            raise ProofError(f"proof section {name!r}: {e}") from None
        q = np.array(self._ring.moduli, dtype=np.int64).reshape([-1 if i == axis else 1 for i in range(len(shape))])
        if np.any(arr >= q):
            raise ProofError(f"proof section {name!r} holds a value >= its prime")
        return arr

    def opening(self, indices: np.ndarray) -> LigeroOpening:
        lp, num_p = self._lp, self._ring.num_moduli
        t = lp.num_opened
        count = sibling_count(indices, lp.code_len)
        if len(self._data) != proof_size(self._ring, lp, self._witness_len, count):
            raise ProofError(
                f"proof has {len(self._data)} bytes, expected {proof_size(self._ring, lp, self._witness_len, count)}"
            )
        cols = self._residues((t, lp.total_rows(self._witness_len), num_p), axis=2, name="columns")
        lin_cols = self._residues((t, lp.linear_rows, num_p), axis=2, name="linear columns")
        salts, lin_salts = (np.frombuffer(self._take(t * SALT_BYTES), dtype=np.uint8).reshape(t, SALT_BYTES)
                            for _ in range(2))
        siblings, lin_siblings = ([self._take(DIGEST_BYTES) for _ in range(count)] for _ in range(2))
        return LigeroOpening(self.linear_root, self.proximity_polys, cols, lin_cols, salts, lin_salts, siblings,
                             lin_siblings)


def read_proof(data: bytes, ring: RnsRing, lp: LigeroParams, witness_len: int) -> ProofReader:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProofError(f"proof must be bytes, got {type(data).__name__}")
    return ProofReader(data, ring, lp, witness_len)
