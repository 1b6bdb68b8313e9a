# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Unit tests of each role's stage checks: client, server, committee member, verifier."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loyal.protocols.ssa.policy import quantized_rows
from loyal.protocols.ssa.decryptor import MemberState
from loyal.protocols.ssa.errors import LogIntegrityError, PolicyViolationError, ProtocolStateError, ReplayError
from loyal.protocols.ssa.messages import Release
from loyal.protocols.ssa.selftest import release_all, run_round
from loyal.protocols.ssa.verifier import SsaVerifier

from .conftest import make_job, updates


def test_client_fails_if_update_has_wrong_shape(job) -> None:
    with pytest.raises(ValueError, match=r"update must have shape \(300,\), got \(299,\)"):
        job.client.create_contribution(np.zeros(299), round_index=0, client_id=0, public_key_hat=job.server_state.public_key_hat)


def test_close_round_fails_below_min_cohort() -> None:
    job = make_job(seed=3)
    job.server.config = dataclasses.replace(job.config, min_cohort=3)
    with pytest.raises(ProtocolStateError, match="round 0 has 0 clients, fewer than min_cohort=3"):
        job.server.close_round(job.server_state)


def test_close_round_fails_without_enough_noise_shares() -> None:
    """n=5, t=3, h=3: exactly h shares may hold t-1 = 2 malicious ones, so a round needs h + t - 1 = 5."""
    job = make_job(seed=4, noise_multiplier=1.0)
    st = job.server_state
    data = job.client.create_contribution(updates(job, 1)[0], round_index=0, client_id=0, public_key_hat=st.public_key_hat, prng=job.prng)
    job.server.handle_client_contribution(st, data)
    job.server.handle_noise_contribution(st, job.members[1].create_noise_contribution(0, st.public_key_hat, job.prng))
    with pytest.raises(ProtocolStateError, match="round 0 has 1 member noise shares, needs >= h \\+ t - 1 = 5"):
        job.server.close_round(st)
    for m in (2, 3):
        job.server.handle_noise_contribution(st, job.members[m].create_noise_contribution(0, st.public_key_hat, job.prng))
    with pytest.raises(ProtocolStateError, match="round 0 has 3 member noise shares, needs >= h \\+ t - 1 = 5"):
        job.server.close_round(st)
    with pytest.raises(ReplayError, match="member 1 already sent noise for round 0"):
        job.server.handle_noise_contribution(st, job.members[1].create_noise_contribution(0, st.public_key_hat, job.prng))


def test_member_fails_without_share_and_refuses_second_subset(job) -> None:
    run_round(job, updates(job))
    req = job.server.create_release_request(job.server_state, quantized_rows(job.policy, 0)[0])
    with pytest.raises(ProtocolStateError, match="member 1 holds no key share"):
        job.members[1].handle_release_request(MemberState(), req, job.server_state.head)
    job.member_states[1], _ = job.members[1].handle_release_request(job.member_states[1], req, job.server_state.head)
    other = job.server.create_release_request(job.server_state, quantized_rows(job.policy, 0)[0], subset=(1, 4, 5))
    with pytest.raises(PolicyViolationError, match=r"row already answered for subset \(1, 2, 3\), refusing subset \(1, 4, 5\)"):
        job.members[1].handle_release_request(job.member_states[1], other, job.server_state.head)


def test_member_fails_if_keygen_incomplete(job) -> None:
    contribs = [job.members[1].create_keygen_contribution(job.prng)]
    with pytest.raises(ProtocolStateError, match=r"key generation needs one contribution per member \(5\), got 1"):
        job.members[1].handle_keygen(MemberState(), contribs)


def test_server_rejects_partial_for_unknown_request_and_duplicates(job) -> None:
    run_round(job, updates(job))
    req = job.server.create_release_request(job.server_state, quantized_rows(job.policy, 0)[0])
    job.member_states[1], part = job.members[1].handle_release_request(job.member_states[1], req, job.server_state.head)
    job.server.handle_partial_decryption(job.server_state, part)
    with pytest.raises(ReplayError, match="member 1 already answered this request"):
        job.server.handle_partial_decryption(job.server_state, part)
    del job.server_state.pending[req.request_id]
    with pytest.raises(ProtocolStateError, match="partial decryption for unknown request"):
        job.server.handle_partial_decryption(job.server_state, part)


def test_verifier_accepts_honest_log_and_rejects_forged_release(job) -> None:
    for t in range(2):
        run_round(job, updates(job))
        release_all(job, t)
    verifier = SsaVerifier(job.config, job.policy)
    headers = tuple(e.header for e in job.server_state.log)
    verifier.verify_log(headers, job.server_state.head)
    verifier.verify_releases(job.server_state.releases, len(headers))
    with pytest.raises(LogIntegrityError, match="does not match the trusted head"):
        verifier.verify_log(headers[:1], job.server_state.head)
    forged = dataclasses.replace(job.server_state.releases[1], noise={})
    assert isinstance(forged, Release)
    with pytest.raises(PolicyViolationError, match=r"release after round 1 with data=\{0: 1, 1: 1\} noise=\{\} is not a policy row"):
        verifier.verify_releases([forged], len(headers))
