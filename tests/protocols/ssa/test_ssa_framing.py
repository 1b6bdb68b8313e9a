# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Frame version 2 (BLAKE3 trailer, 4-byte-aligned arrays) and the server's lazily reduced sums."""

from __future__ import annotations

import struct

import blake3
import numpy as np
import pytest

from loyal.protocols.ssa import frame, messages
from loyal.protocols.ssa.errors import MessageFormatError
from loyal.protocols.ssa.messages import Kind
from loyal.protocols.ssa.accumulator import LAZY_ADDS, Accumulator

from .conftest import updates


def _upload(job, cid: int) -> bytes:
    st = job.server_state
    u = updates(job, 1)[0]
    return job.client.create_contribution(u, round_index=0, client_id=cid, public_key_hat=st.public_key_hat, prng=job.prng)


def _parse(job, data: bytes):
    c = job.config
    return messages.parse_contribution(
        data, job_id=c.job_id, kahe_ring=c.kahe.ring, ahe_ring=c.ahe.ring, num_polys=c.num_polys,
        kind=Kind.CLIENT_CONTRIBUTION,
    )


def test_trailer_is_blake3_and_arrays_are_aligned_views(job) -> None:
    data = _upload(job, 1)
    assert data[4] == frame.VERSION == 2
    assert data[-32:] == blake3.blake3(data[:-32]).digest()
    msg, digest = _parse(job, data)
    assert digest == data[-32:]
    for arr in (msg.kahe.b_hat, msg.ahe.c0_hat, msg.ahe.c1_hat):
        # A view of the upload (no copy) at a 4-byte boundary, so numpy uses its aligned loops.
        assert arr.base is not None and arr.flags.aligned and not arr.flags.writeable
        assert (arr.__array_interface__["data"][0] - np.frombuffer(data, np.uint8).ctypes.data) % 4 == 0


@pytest.mark.parametrize("extra", [None, 0, 1, 2, 3])
def test_meta_padding_roundtrips_and_must_be_zero(job, extra: int | None) -> None:
    # Meta JSON of 2 and 9..12 bytes covers every length mod 4; a non-zero pad byte is refused.
    meta = {} if extra is None else {"k": "x" * extra}
    arr = np.arange(12, dtype=np.int64).reshape(3, 4)
    data = frame._frame(Kind.PARTIAL_DECRYPTION, job.config.job_id, 0, 1, meta, [arr])
    parsed = frame._unframe(data, job.config.job_id, Kind.PARTIAL_DECRYPTION)
    assert parsed.meta == meta and np.array_equal(parsed.arrays[0], arr)
    meta_bytes = len(frame.json.dumps(meta, sort_keys=True).encode())
    if meta_bytes % 4:
        bad = bytearray(data[:-32])
        bad[frame._HEADER.size + 8 + meta_bytes] = 1
        bad = bytes(bad) + frame.digest(bytes(bad))
        with pytest.raises(MessageFormatError, match="non-zero padding after meta"):
            frame._unframe(bad, job.config.job_id, Kind.PARTIAL_DECRYPTION)


def test_version_1_and_overlong_fields_are_refused(job) -> None:
    data = bytearray(_upload(job, 2))
    v1 = bytearray(data)
    v1[4] = 1
    with pytest.raises(MessageFormatError, match="unsupported message version 1, expected 2"):
        _parse(job, bytes(v1))
    body = frame._HEADER.size
    for offset, value, match in ((body, 1 << 30, "meta of 1073741824 bytes overruns"), (body + 12, 9, "9 dimensions")):
        bad = bytearray(data[:-32])
        struct.pack_into("<I", bad, offset, value)
        bad = bytes(bad) + frame.digest(bytes(bad))
        with pytest.raises(MessageFormatError, match=match):
            _parse(job, bad)


@pytest.mark.parametrize("uploads", [1, LAZY_ADDS, LAZY_ADDS + 1, 4 * LAZY_ADDS + 2])
def test_lazy_accumulator_equals_reduced_sum(uploads: int) -> None:
    # Worst case for the uint32 headroom: every residue is q - 1 (q just below 2^30).
    q = np.array([[(1 << 30) - 35], [(1 << 30) - 98303]], dtype=np.uint32)
    x = np.broadcast_to(q - 1, (3, 2, 16)).copy()
    a = np.broadcast_to(q - 1, (2, 16)).copy()
    acc = Accumulator(np.zeros_like(x), np.zeros_like(a), np.zeros_like(a), q, q)
    q64 = q.astype(np.int64)
    for k in range(1, uploads + 1):
        acc.add(x, a, a)
        # Unreduced sums stay congruent to the true sum (no uint32 wrap-around) and below 4q.
        assert acc.pending <= LAZY_ADDS and (acc.kahe.astype(np.int64) < 4 * q64).all()
        assert np.array_equal(acc.kahe.astype(np.int64) % q64, np.broadcast_to(k * (q64 - 1) % q64, x.shape))
    acc.reduce()
    expected = uploads * (q64 - 1) % q64
    assert np.array_equal(acc.kahe.astype(np.int64), np.broadcast_to(expected, x.shape))
    assert np.array_equal(acc.c1.astype(np.int64), np.broadcast_to(expected, a.shape))
    before = acc.kahe.copy()
    acc.reduce()  # idempotent
    assert np.array_equal(acc.kahe, before) and acc.count == uploads


def test_upload_size_equals_the_advertised_bytes_per_client(job) -> None:
    # `loyal ssa params` and the server's size limit use bytes_per_client; it is the exact frame size.
    assert len(_upload(job, 3)) == job.config.bytes_per_client()
