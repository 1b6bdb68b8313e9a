# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Issue 14, attack 1, run as the malicious client would: an AHE part (c0, c1) = (0, 2^j) (no short
u, e2), which would let the server read the committee secret from the release, is refused before it
touches an aggregate — without a proof, with a proof of another ciphertext, with a proof bound to another
sender, round or role, and with any flipped byte; nothing is stored."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.params import INSECURE_TEST_N1024
from loyal.protocols.rlwe.testing import InsecureFakePrng
from loyal.protocols.ssa.messages import ClientContribution, Kind, parse_contribution, serialize_contribution
from loyal.protocols.ssa.selftest import setup_job
from loyal.protocols.zk.errors import ProofError

DIM = 64


@pytest.fixture(name="job", scope="module")
def _job():
    return setup_job(dim=DIM, clients=3, committee=3, threshold=2, params=INSECURE_TEST_N1024,
                     prng=InsecureFakePrng(3), rounds=4, prove_uploads=True)


def _honest(job, client_id: int, round_index: int = 0) -> bytes:
    u = np.full(DIM, 0.01)
    return job.client.create_contribution(u, round_index=round_index, client_id=client_id,
                                          public_key_hat=job.server_state.public_key_hat, prng=job.prng)


def _parse(job, data: bytes) -> ClientContribution:
    cfg = job.config
    return parse_contribution(data, job_id=cfg.job_id, kahe_ring=cfg.kahe.ring, ahe_ring=cfg.ahe.ring,
                              num_polys=cfg.num_polys, kind=Kind.CLIENT_CONTRIBUTION)[0]


def _attack_ahe(job, j: int = 50) -> AheCiphertext:
    ring = job.config.ahe.ring
    c1 = ring.ntt(ring.from_int(np.concatenate([[1 << j], np.zeros(ring.degree - 1, dtype=object)])))
    return AheCiphertext(np.zeros_like(c1).astype(np.uint32), c1.astype(np.uint32))


def _refused(job, data: bytes, match: str | None) -> None:
    before = copy.deepcopy((job.server_state.open_round.data.c1, job.server_state.open_round.client_ids,
                            job.server_state.seen_digests))
    with pytest.raises(ProofError, match=match):
        job.server.handle_client_contribution(job.server_state, data)
    after = (job.server_state.open_round.data.c1, job.server_state.open_round.client_ids, job.server_state.seen_digests)
    assert np.array_equal(before[0], after[0]) and before[1:] == after[1:]  # nothing stored


def test_honest_uploads_with_proofs_are_accepted(job):
    st = copy.deepcopy(job.server_state)
    for c in range(2):
        job.server.handle_client_contribution(st, _honest(job, c))
    assert st.open_round.client_ids == {0, 1}


def test_the_attack_ciphertext_without_a_proof_is_refused(job):
    honest = _parse(job, _honest(job, 7))
    forged = dataclasses.replace(honest, ahe=_attack_ahe(job), proof=b"")
    _refused(job, serialize_contribution(forged, job.config.job_id), "requires a proof .* none was sent")


def test_the_attack_ciphertext_with_an_honest_proof_is_refused(job):
    honest = _parse(job, _honest(job, 7))
    forged = dataclasses.replace(honest, ahe=_attack_ahe(job))
    _refused(job, serialize_contribution(forged, job.config.job_id), None)


def test_a_ciphertext_changed_modulo_one_prime_is_refused(job):
    honest = _parse(job, _honest(job, 7))
    c1 = np.array(honest.ahe.c1_hat, dtype=np.int64)
    c1[1, 5] = (c1[1, 5] + 1) % job.config.ahe.ring.moduli[1]
    forged = dataclasses.replace(honest, ahe=AheCiphertext(honest.ahe.c0_hat, c1.astype(np.uint32)))
    _refused(job, serialize_contribution(forged, job.config.job_id), None)


def test_a_proof_is_bound_to_its_sender_round_and_role(job):
    honest = _parse(job, _honest(job, 7))
    other_sender = dataclasses.replace(honest, client_id=8)
    _refused(job, serialize_contribution(other_sender, job.config.job_id), None)
    # The same proof presented as a noise share of committee member 1.
    from loyal.protocols.ssa.messages import NoiseContribution

    as_noise = serialize_contribution(NoiseContribution(0, 1, honest.kahe, honest.ahe, honest.proof), job.config.job_id)
    with pytest.raises(ProofError):
        job.server.handle_noise_contribution(copy.deepcopy(job.server_state), as_noise)


@pytest.mark.parametrize("where", [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999])
def test_any_flipped_proof_byte_is_refused(job, where):
    honest = _parse(job, _honest(job, 9))
    proof = bytearray(honest.proof)
    proof[int(where * (len(proof) - 1))] ^= 0x10
    _refused(job, serialize_contribution(dataclasses.replace(honest, proof=bytes(proof)), job.config.job_id), None)


# ---- the member's audit: a server that skips its own verification is caught by the committee ----------
def _malicious_round(job, attack: bool = True):
    """A server running with verification off stores a round holding the attack part; returns the
    request for its row and the parts it would show members (every upload it summed)."""
    from loyal.protocols.ssa.audit import RoundParts
    from loyal.protocols.ssa.policy import quantized_rows
    from loyal.protocols.ssa.server import SsaServer

    server = SsaServer(dataclasses.replace(job.config, prove_uploads=False), job.policy)
    st = copy.deepcopy(job.server_state)
    frames = [_honest(job, c) for c in range(2)]
    if attack:
        honest = _parse(job, _honest(job, 5))
        frames.append(serialize_contribution(dataclasses.replace(honest, ahe=_attack_ahe(job)), job.config.job_id))
    data = []
    for f in frames:
        server.handle_client_contribution(st, f)
        m = _parse(job, f)
        data.append((m.client_id, m.ahe, m.proof))
    server.close_round(st)
    req = server.create_release_request(st, quantized_rows(job.policy, 0)[0])
    return req, RoundParts(0, tuple(data), ())


def _member(job, parts):
    from loyal.protocols.ssa.committee import CommitteeMember

    m = CommitteeMember(job.job, 1, parts=lambda r: parts)
    m.state, m.public_key_hat = job.member_states[1], job.server_state.public_key_hat
    return m


def test_member_audit_refuses_a_round_holding_an_unproven_part(job):
    from loyal.protocols.ssa.errors import LogIntegrityError

    req, parts = _malicious_round(job)
    with pytest.raises(LogIntegrityError, match="the client_contribution part of sender 5 is not proven well formed"):
        _member(job, parts).handle_release_request(req)
    # Hiding the attack part from the members breaks the sum instead.
    hidden = dataclasses.replace(parts, data=parts.data[:2])
    with pytest.raises(LogIntegrityError, match="has 2 client_contribution parts .* the log says 3"):
        _member(job, hidden).handle_release_request(req)
    relabelled = dataclasses.replace(parts, data=parts.data[:2] + ((0,) + parts.data[2][1:],))
    with pytest.raises(LogIntegrityError, match="from 2 senders"):
        _member(job, relabelled).handle_release_request(req)


def test_member_audit_accepts_an_honest_round_once(job):
    req, parts = _malicious_round(job, attack=False)
    calls = []
    member = _member(job, parts)
    member.parts = lambda r: calls.append(r) or parts
    member.handle_release_request(req)
    member.handle_release_request(req)
    assert calls == [0]  # audited once, cached by entry hash


def test_member_audit_requires_its_own_noise_share_exactly_once(job):
    from loyal.protocols.ssa.audit import check_round_parts
    from loyal.protocols.ssa.errors import LogIntegrityError

    req, parts = _malicious_round(job, attack=False)
    header, pk = req.headers[0], job.server_state.public_key_hat
    check_round_parts(job.config, header, parts, pk, None)
    with pytest.raises(LogIntegrityError, match="holds this member's noise share 0 times, not once"):
        check_round_parts(job.config, header, parts, pk, own_noise=b"\x01" * 32)


def test_an_upload_parsed_ahead_is_still_checked_against_the_state_it_meets(job):
    """Shells parse and verify uploads in worker threads (`parse_contribution`); what happened to the round
    meanwhile is checked when the parsed upload meets the state: a second upload of the same client, or
    the same bytes again, is refused even though each was parsed (and its proof verified) in advance."""
    from loyal.protocols.ssa.errors import ReplayError

    st = copy.deepcopy(job.server_state)
    first, again = _honest(job, 1), _honest(job, 1)
    parsed = [job.server.parse_contribution(st.public_key_hat, d, Kind.CLIENT_CONTRIBUTION) for d in (first, again, first)]
    job.server.include(st, job.server.check_contribution(st, first, Kind.CLIENT_CONTRIBUTION, parsed[0]))
    with pytest.raises(ReplayError, match="client 1 already contributed to round 0"):
        job.server.check_contribution(st, again, Kind.CLIENT_CONTRIBUTION, parsed[1])
    with pytest.raises(ReplayError, match="replayed bytes"):
        job.server.check_contribution(st, first, Kind.CLIENT_CONTRIBUTION, parsed[2])
    # A parse under another key fails the proof there, not later: the attack ciphertext never gets parsed.
    bad = serialize_contribution(dataclasses.replace(_parse(job, _honest(job, 2)), ahe=_attack_ahe(job)), job.config.job_id)
    with pytest.raises(ProofError):
        job.server.parse_contribution(st.public_key_hat, bad, Kind.CLIENT_CONTRIBUTION)
    assert st.open_round.client_ids == {1}


def test_round_parts_travel_as_data_and_still_fail_the_audit(job):
    # Prepare: a round holding the attack part, its parts as a transport without GetRoundParts sends them.
    from loyal.protocols.ssa.audit import parts_from_bytes, parts_to_bytes
    from loyal.protocols.ssa.errors import LogIntegrityError

    req, parts = _malicious_round(job)
    data = parts_to_bytes(parts)
    # Execute
    back = parts_from_bytes(data, job.config)
    # Assert: the same parts (senders, ciphertexts, proofs), and the member's audit still names the attack part;
    # cut, padded or out-of-range bytes are refused.
    assert [s for s, _, _ in back.data] == [s for s, _, _ in parts.data] and back.round_index == 0
    assert all(np.array_equal(a.c0_hat, b.c0_hat) and np.array_equal(a.c1_hat, b.c1_hat) and p == q
               for (_, a, p), (_, b, q) in zip(back.data, parts.data))
    with pytest.raises(LogIntegrityError, match="part of sender 5 is not proven well formed"):
        _member(job, back).handle_release_request(req)
    n = int.from_bytes(data[:4], "little")
    big = bytearray(data)
    big[4 + n:4 + n + 4] = b"\xff\xff\xff\xff"  # the first residue of the first part, above every modulus
    for bad in (data[:-1], data + b"\x00", data[:3], b"\x05\x00\x00\x00{}{}{", bytes(big)):
        with pytest.raises(LogIntegrityError, match="malformed round parts|residues outside"):
            parts_from_bytes(bad, job.config)
