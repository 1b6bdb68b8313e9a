# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""SSA releases driven by a DP-FTRL matrix-mechanism policy (protocols/dpftrl/policy.py)."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.dpftrl import build_mechanism
from loyal.protocols.dpftrl.policy import MatrixMechanismPolicy
from loyal.protocols.ssa.errors import PolicyViolationError
from loyal.protocols.ssa.policy import QuantizedRow
from loyal.protocols.ssa.selftest import release_all, run_round

from .conftest import CLIENTS, make_job, updates

ROUNDS = 3


@pytest.fixture(name="banded_job")
def _banded_job():
    policy = MatrixMechanismPolicy(build_mechanism("banded-toeplitz", ROUNDS, bands=2), scale_bits=8)
    return make_job(seed=5, policy=policy, rounds=1 << 11)


def test_matrix_mechanism_rows_release_prefix_sums(banded_job) -> None:
    # Noise multiplier 0: the row's data part is 2^8·1 per round (exact), so the release equals the
    # prefix sum up to randomized rounding of the encoded updates.
    job = banded_job
    truth = np.zeros(job.config.dim)
    for t in range(ROUNDS):
        u = updates(job)
        truth += u.sum(axis=0)
        run_round(job, u)
        (rel,) = release_all(job, t)
        assert set(rel.noise) == set(range(t + 1))  # correlated noise touches every stored round
        assert np.abs(rel.values - truth).max() < CLIENTS * (t + 1) * job.config.encoder.quantization_step


def test_member_refuses_independent_noise_row_under_banded_policy(banded_job) -> None:
    job = banded_job
    run_round(job, updates(job))
    run_round(job, updates(job))
    # A prefix sum with *independent* noise weights is not the mechanism's row.
    row = QuantizedRow(1, {0: 256, 1: 256}, {0: 256, 1: 256})  # 1.0 at scale_bits 8
    req = job.server.create_release_request(job.server_state, row)
    with pytest.raises(PolicyViolationError, match="is not a row the policy 'banded-toeplitz/prefix/n=3"):
        job.members[3].handle_release_request(job.member_states[3], req, job.server_state.head)
