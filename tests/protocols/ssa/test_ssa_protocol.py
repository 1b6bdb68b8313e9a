# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""End-to-end SSA: rounds, noise shares, prefix-sum releases through the committee, hand-off."""

from __future__ import annotations

import dataclasses
import numpy as np
import pytest

from loyal.protocols.ssa.policy import quantized_rows
from loyal.protocols.ssa.decryptor import MemberState, SsaCommitteeMember
from loyal.protocols.ssa.errors import ProtocolStateError, ThresholdError
from loyal.protocols.ssa.policy import ReleaseRow
from loyal.protocols.ssa.selftest import release_all, run_round, run_selftest
from loyal.protocols.ssa.verifier import SsaVerifier

from .conftest import CLIENTS, make_job, updates


def test_prefix_sum_releases_equal_encoded_sums(job) -> None:
    # Without noise the release is exactly sum_{j<=t} sum_i m_{i,j} (integers), so the real error is
    # only the randomized rounding: < clients·(t+1)·quantization_step per coordinate.
    enc = job.config.encoder
    truth = np.zeros(job.config.dim)
    for t in range(3):
        u = updates(job)
        truth += u.sum(axis=0)
        run_round(job, u)
        (rel,) = release_all(job, t)
        assert rel.round_index == t and rel.data == {j: 1 for j in range(t + 1)}
        bound = CLIENTS * (t + 1) * enc.quantization_step
        assert np.abs(rel.values - truth).max() < bound
        # Typical error is far below the worst case (randomized rounding is unbiased).
        assert np.abs(rel.values - truth).mean() < bound / 4
    SsaVerifier(job.config, job.policy).verify_releases(job.server_state.releases, 3)


def test_noise_shares_add_gaussian_noise_of_configured_scale() -> None:
    job = make_job(seed=1, noise_multiplier=2.0)
    u = updates(job)
    run_round(job, u)
    (rel,) = release_all(job, 0)
    err = rel.values - u.sum(axis=0)
    # 5 members each add variance (z·C)^2 / h with h = t = 3: total std z·C·sqrt(5/3) = 2.58.
    expected = 2.0 * np.sqrt(5 / 3)
    assert 0.75 * expected < err.std() < 1.25 * expected


def test_release_fails_with_fewer_than_threshold_partials(job) -> None:
    run_round(job, updates(job))
    row = quantized_rows(job.policy, 0)[0]
    req = job.server.create_release_request(job.server_state, row)
    for i in req.subset[:2]:
        job.member_states[i], part = job.members[i].handle_release_request(job.member_states[i], req, job.server_state.head)
        job.server.handle_partial_decryption(job.server_state, part)
    with pytest.raises(ThresholdError, match="need at least threshold=3 partial decryptions, got 2"):
        job.server.recover_release(job.server_state, req.request_id)


def test_release_fails_before_round_is_stored(job) -> None:
    with pytest.raises(ProtocolStateError, match="row for round 0, but only 0 rounds are stored"):
        job.server.create_release_request(job.server_state, ReleaseRow(0, {0: 1.0}, {0: 1.0}))


def test_committee_handoff_then_release_old_rounds(job) -> None:
    # Round 0 is stored under the old committee; the old members hand off and never return.
    u = updates(job)
    run_round(job, u)
    new_committee, new_t = (1, 2, 3, 4), 2
    old_subset = (1, 3, 5)
    subs = {i: job.members[i].create_handoff(job.member_states[i], old_subset, new_committee, new_t, job.prng) for i in old_subset}
    assert all(job.member_states[i].share is None for i in old_subset)
    new_cfg = dataclasses.replace(job.config, committee=new_committee, threshold=new_t, honest_members=new_t)
    new_members = {k: SsaCommitteeMember(new_cfg, k, job.policy) for k in new_committee}
    new_states = {
        k: m.handle_handoff(MemberState(), [subs[i][k] for i in old_subset], job.config.threshold)
        for k, m in new_members.items()
    }
    job.server.config = new_cfg  # the server now asks the new committee
    req = job.server.create_release_request(job.server_state, quantized_rows(job.policy, 0)[0], subset=(2, 4))
    for k in req.subset:
        new_states[k], part = new_members[k].handle_release_request(new_states[k], req, job.server_state.head)
        job.server.handle_partial_decryption(job.server_state, part)
    _, rel = job.server.recover_release(job.server_state, req.request_id)
    assert np.abs(rel.values - u.sum(axis=0)).max() < CLIENTS * job.config.encoder.quantization_step


def test_selftest_reports_exact_prefix_sums() -> None:
    out = run_selftest(clients=3, dim=50, rounds=2, committee=3, threshold=2)
    assert out["release_count"] == 2
    assert out["max_abs_error"] < out["error_bound"]
    assert out["expansion"] == pytest.approx(out["bytes_per_client"] / 200)


def test_compaction_keeps_window_and_headers(job) -> None:
    class WindowPolicy:
        policy_id = "last-round/v1"
        scale_bits = 0

        def release_rows(self, round_index):
            return (ReleaseRow(round_index, {round_index: 1.0}, {round_index: 1.0}),)

        def window_start(self, round_index):
            return round_index - 1 if round_index > 0 else 0

    job.server.policy = WindowPolicy()
    for _ in range(3):
        run_round(job, updates(job, 2))
    job.server.compact(job.server_state)
    assert [e.compacted for e in job.server_state.log] == [True, False, False]
    with pytest.raises(ProtocolStateError, match="round 0 was compacted"):
        job.server.create_release_request(job.server_state, ReleaseRow(0, {0: 1.0}, {0: 1.0}))
