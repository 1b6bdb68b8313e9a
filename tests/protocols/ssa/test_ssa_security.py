# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Security checklist of the design note: server view, policy refusals, bad bytes, atomic exclusion."""

from __future__ import annotations

import copy
import dataclasses
import struct

import numpy as np
import pytest

from loyal.protocols.ssa.policy import QuantizedRow, quantized_rows
from loyal.protocols.ssa.errors import LogIntegrityError, MessageFormatError, PolicyViolationError, ReplayError
from loyal.protocols.ssa.messages import (
    ClientContribution,
    Kind,
    parse_release_request,
    serialize_contribution,
    serialize_release_request,
)
from loyal.protocols.ssa.selftest import release_all, run_round

from .conftest import updates


def _upload(job, cid: int = 100, round_index: int | None = None) -> bytes:
    st = job.server_state
    rnd = st.open_round.round_index if round_index is None else round_index
    u = updates(job, 1)[0]
    return job.client.create_contribution(u, round_index=rnd, client_id=cid, public_key_hat=st.public_key_hat, prng=job.prng)


def _snapshot(job) -> tuple:
    o = job.server_state.open_round
    return (o.data.kahe.copy(), o.data.c0.copy(), o.data.count, set(o.client_ids), len(job.server_state.seen_digests))


def _same(a: tuple, b: tuple) -> bool:
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b))


def _chi2_uniform(values: np.ndarray, q: int, bins: int = 16) -> float:
    counts = np.bincount((values.astype(np.float64) / q * bins).astype(int).clip(0, bins - 1), minlength=bins)
    expected = values.size / bins
    return float(((counts - expected) ** 2 / expected).sum())


def test_server_view_without_committee_does_not_decrypt(job) -> None:
    # The server holds every stored aggregate, the AHE sums and past releases. The only KAHE keys it
    # can form are linear combinations of released keys; decrypting a *different* row with them, or
    # with the zero key (no committee), yields residues indistinguishable from uniform.
    for _ in range(2):
        run_round(job, updates(job))
    release_all(job, 0)
    kahe = job.config.kahe
    x1 = job.server_state.log[1].data_kahe
    zero_key = kahe.key_from_integers(np.zeros(kahe.ring.degree, dtype=np.int64))
    raw = kahe.ring.sub(x1.b_hat, kahe.ring.mul_ntt(kahe.public_polys(x1.num_polys), zero_key.k_hat[None]))
    raw = kahe.ring.intt(raw)
    for l, q in enumerate(kahe.ring.moduli):
        # 15 degrees of freedom: chi2 < 50 except with probability < 1e-5.
        assert _chi2_uniform(raw[:, l].ravel(), q) < 50
    # The decoded "plaintext" under the zero key is spread over the whole plaintext space.
    garbage = kahe.decrypt(zero_key, x1, job.config.dim)
    assert np.abs(garbage).mean() > 2 ** (kahe.plaintext_bits - 4)
    # AHE sums: c0 alone is uniform-looking too (no share, no key).
    c0 = job.config.ahe.ring.intt(job.server_state.log[1].data_ahe.c0_hat)
    assert _chi2_uniform(c0[0], job.config.ahe.ring.moduli[0]) < 50


def test_member_refuses_row_outside_policy(job) -> None:
    run_round(job, updates(job))
    run_round(job, updates(job))
    # Round 1's data alone, without its noise: not a prefix-sum row.
    bad = QuantizedRow(1, {1: 1}, {})
    req = job.server.create_release_request(job.server_state, bad)
    with pytest.raises(PolicyViolationError, match=r"row data=\{1: 1\} noise=\{\} is not a row the policy 'prefix-sum/v1' allows after round 1"):
        job.members[1].handle_release_request(job.member_states[1], req, job.server_state.head)


def test_member_refuses_tampered_log_and_substituted_ciphertext(job) -> None:
    run_round(job, updates(job))
    run_round(job, updates(job))
    row = quantized_rows(job.policy, 1)[0]
    req = job.server.create_release_request(job.server_state, row)
    head = job.server_state.head
    # A malicious server substitutes one client's key ciphertext for the round's aggregate.
    fake = dataclasses.replace(req, ahe_entries={**req.ahe_entries, 0: (req.ahe_entries[1][0], req.ahe_entries[0][1])})
    with pytest.raises(LogIntegrityError, match="AHE sums for round 0 do not match the log"):
        job.members[1].handle_release_request(job.member_states[1], fake, head)
    # A rewritten history does not chain to the published head.
    h0 = dataclasses.replace(req.headers[0], num_clients=999)
    with pytest.raises(LogIntegrityError, match="round 0 does not hash-chain"):
        job.members[1].handle_release_request(job.member_states[1], dataclasses.replace(req, headers=(h0, *req.headers[1:])), head)
    with pytest.raises(LogIntegrityError, match="does not match the trusted head"):
        job.members[1].handle_release_request(job.member_states[1], req, b"\x00" * 32)


def test_release_request_roundtrips_through_bytes(job) -> None:
    run_round(job, updates(job))
    req = job.server.create_release_request(job.server_state, quantized_rows(job.policy, 0)[0])
    back = parse_release_request(serialize_release_request(req, job.config.job_id), job_id=job.config.job_id, ahe_ring=job.config.ahe.ring)
    job.members[2].check_request(back, job.server_state.head)
    assert back.data == req.data and back.subset == req.subset and back.headers == req.headers


def _corruptions(data: bytes, job) -> dict[str, tuple[bytes, str]]:
    body_flip = bytearray(data)
    body_flip[200] ^= 1
    wrong_version = bytearray(data)
    wrong_version[4] = 9
    return {
        "truncated": (data[:-10], "message length"),
        "tampered": (bytes(body_flip), "digest mismatch"),
        "empty": (b"", "truncated"),
        "version": (bytes(wrong_version), "unsupported message version 9"),
        "padded": (data + b"\x00", "message length"),
    }


@pytest.mark.parametrize("case", ["truncated", "tampered", "empty", "version", "padded"])
def test_server_rejects_bad_bytes_before_touching_aggregate(job, case: str) -> None:
    good = _upload(job)
    bad, match = _corruptions(good, job)[case]
    before = _snapshot(job)
    with pytest.raises(MessageFormatError, match=match):
        job.server.handle_client_contribution(job.server_state, bad)
    assert _same(before, _snapshot(job))
    job.server.handle_client_contribution(job.server_state, good)  # the intact upload is accepted
    assert job.server_state.open_round.data.count == 1


def test_server_rejects_wrong_round_replay_and_duplicate(job) -> None:
    old = _upload(job, cid=7)
    job.server.handle_client_contribution(job.server_state, old)
    before = _snapshot(job)
    with pytest.raises(ReplayError, match="contribution already received"):
        job.server.handle_client_contribution(job.server_state, old)
    with pytest.raises(ReplayError, match="client 7 already contributed to round 0"):
        job.server.handle_client_contribution(job.server_state, _upload(job, cid=7))
    with pytest.raises(ReplayError, match="contribution for round 5, but round 0 is open"):
        job.server.handle_client_contribution(job.server_state, _upload(job, cid=8, round_index=5))
    assert _same(before, _snapshot(job))
    job.server.close_round(job.server_state)
    with pytest.raises(ReplayError, match="contribution for round 0, but round 1 is open"):
        job.server.handle_client_contribution(job.server_state, _upload(job, cid=9, round_index=0))


def test_server_rejects_wrong_degree_and_out_of_range(job) -> None:
    msg = ClientContribution(0, 3, *_parts(job))
    k = msg.kahe.b_hat
    wrong_polys = dataclasses.replace(msg, kahe=type(msg.kahe)(np.concatenate([k, k])))
    wrong_degree = dataclasses.replace(msg, kahe=type(msg.kahe)(np.ascontiguousarray(k[:, :, :512])))
    out_of_range = copy.deepcopy(msg)
    out_of_range.kahe.b_hat[0, 0, 0] = job.config.kahe.ring.moduli[0]
    before = _snapshot(job)
    for bad, match in (
        (wrong_polys, r"KAHE ciphertext has shape \(2, 2, 1024\), expected \(1, 2, 1024\)"),
        (wrong_degree, r"shape \(1, 2, 512\), expected \(1, 2, 1024\) \(ring degree 1024"),
        (out_of_range, r"residues outside \[0, q\)"),
    ):
        with pytest.raises(MessageFormatError, match=match):
            job.server.handle_client_contribution(job.server_state, serialize_contribution(bad, job.config.job_id))
    assert _same(before, _snapshot(job))


def _parts(job):
    from loyal.protocols.ssa.client import encrypt_vector

    enc = job.config.encoder.encode(updates(job, 1)[0], job.prng)
    return encrypt_vector(job.config, enc, job.server_state.public_key_hat, job.prng)


def test_client_missing_ahe_part_is_excluded_atomically(job) -> None:
    good = _upload(job, cid=4)
    # Rebuild the frame with only the KAHE array (the AHE part dropped in transit).
    from loyal.protocols.ssa import frame, messages

    parsed, _ = messages.parse_contribution(
        good, job_id=job.config.job_id, kahe_ring=job.config.kahe.ring, ahe_ring=job.config.ahe.ring,
        num_polys=job.config.num_polys, kind=Kind.CLIENT_CONTRIBUTION,
    )
    kahe_only = frame._frame(Kind.CLIENT_CONTRIBUTION, job.config.job_id, 0, 4, {}, [parsed.kahe.b_hat])
    before = _snapshot(job)
    with pytest.raises(MessageFormatError, match="must carry 3 arrays .* got 1: a client missing either part is excluded"):
        job.server.handle_client_contribution(job.server_state, kahe_only)
    assert _same(before, _snapshot(job)) and 4 not in job.server_state.open_round.client_ids


def test_message_fails_if_header_length_lies(job) -> None:
    data = bytearray(_upload(job))
    struct.pack_into("<I", data, 32, 10)  # body_len field
    with pytest.raises(MessageFormatError, match="does not match header body_len=10"):
        job.server.handle_client_contribution(job.server_state, bytes(data))


def test_server_without_digest_verification_still_checks_shape_round_and_replay(job) -> None:
    # verify_digests=False (integrity guaranteed by the transport) skips only the SHA-256 trailer.
    from loyal.protocols.ssa.server import SsaServer

    server = SsaServer(job.config, job.policy, verify_digests=False)
    state = server.create_state(job.server_state.public_key_hat)
    good = _upload(job, cid=1)
    server.handle_client_contribution(state, good)
    with pytest.raises(ReplayError, match="contribution already received"):
        server.handle_client_contribution(state, good)
    with pytest.raises(MessageFormatError, match="message length"):
        server.handle_client_contribution(state, good[:-1])
    with pytest.raises(ReplayError, match="contribution for round 3, but round 0 is open"):
        server.handle_client_contribution(state, _upload(job, cid=2, round_index=3))
    assert state.open_round.data.count == 1
