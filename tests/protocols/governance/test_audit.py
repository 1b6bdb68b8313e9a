# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The audit's pure parts: epsilon spent after T rounds against brute-force sensitivities, the auditor's policy and
the release-log codec. Whole-job audits (honest and tampered logs of a real job) are in
tests/contracts/test_ledger_audit.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loyal.protocols.dpftrl import accounting
from loyal.protocols.dpftrl.sensitivity import brute_force_sensitivity
from loyal.protocols.governance.audit import AuditPolicy, epsilon_spent
from loyal.protocols.governance.release_log import ReleaseLog
from loyal.protocols.proto import policies
from loyal.protocols.ssa.job import Job

Z, DELTA = 0.8, 1e-5
K, B, N = 2, 2, 6


def _job(policy_spec: str = "", noise: float = Z) -> Job:
    return Job(job_id=b"\x01" * 16, public_seed=b"\x02" * 32, dim=4, cohort_size=2, clip_norm=1.0, scale=1024.0,
               committee_size=3, threshold=2, noise_multiplier=noise, params_name="insecure-test-n1024", rounds=N,
               policy_spec=policy_spec, participations=K, min_separation=B)


def _spec(mechanism: str) -> str:
    return policies.canonical_policy_spec({"mechanism": mechanism, "steps": N, "participations": K,
                                           "min_separation": B, "scale_bits": 4})


@pytest.mark.parametrize("rounds", range(1, N + 1))
def test_epsilon_spent_of_the_prefix_sum_is_the_gaussian_at_the_truncated_sensitivity(rounds):
    # Oracle: C = I over the first T rounds, its sensitivity by enumerating every participation pattern.
    k_t = min(K, math.ceil(rounds / B))
    sens = brute_force_sensitivity(np.eye(rounds), k_t, min(B, rounds))
    assert sens == pytest.approx(math.sqrt(k_t))
    expected = accounting.epsilon(Z, DELTA, sensitivity=sens, accountant="rdp")
    assert epsilon_spent(_job(), rounds, delta=DELTA, accountant="rdp") == pytest.approx(expected, rel=1e-12)


def test_epsilon_spent_of_a_mechanism_reaches_the_whole_job_at_its_last_round():
    # The identity mechanism's noise is scaled for sens(C) = sqrt(2): one round spends the Gaussian at
    # sensitivity 1 / sqrt(2); all N rounds spend exactly the job's epsilon at its effective multiplier Z.
    job = _job(_spec("identity"))
    assert epsilon_spent(job, 1, delta=DELTA, accountant="rdp") == pytest.approx(
        accounting.epsilon(Z, DELTA, sensitivity=1 / math.sqrt(2), accountant="rdp"), rel=1e-12)
    assert epsilon_spent(job, N, delta=DELTA, accountant="rdp") == pytest.approx(
        accounting.epsilon(Z, DELTA, accountant="rdp"), rel=1e-12)
    spent = [epsilon_spent(job, t, delta=DELTA, accountant="rdp") for t in range(N + 1)]
    assert spent[0] == 0 and spent == sorted(spent)


def test_epsilon_spent_charges_a_tree_the_whole_job():
    job = _job(_spec("tree"))
    assert epsilon_spent(job, 1, delta=DELTA, accountant="rdp") == pytest.approx(
        accounting.epsilon(Z, DELTA, accountant="rdp"), rel=1e-12)


def test_epsilon_spent_is_infinite_without_noise_and_fails_past_the_job():
    assert epsilon_spent(_job(noise=0.0), 1, delta=DELTA) == math.inf
    with pytest.raises(ValueError, match=r"rounds must be in \[0, 6\], got rounds=7"):
        epsilon_spent(_job(), N + 1, delta=DELTA)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_epsilon": 0.0}, "max_epsilon must be finite and > 0, got max_epsilon=0.0"),
    ({"max_epsilon": math.inf}, "max_epsilon must be finite and > 0, got max_epsilon=inf"),
    ({"max_epsilon": 1.0, "delta": 1.0}, r"delta must be in \(0, 1\), got delta=1.0"),
    ({"max_epsilon": 1.0, "accountant": "zcdp"}, r"accountant must be one of \('pld', 'rdp'\), got 'zcdp'"),
])
def test_audit_policy_fails_if_out_of_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AuditPolicy(**kwargs)


def test_release_log_round_trips_and_rejects_malformed_json():
    log = ReleaseLog(_job(), (), (), ((b"\x03" * 32, 0),))
    assert ReleaseLog.from_json(log.to_json()) == log
    with pytest.raises(ValueError, match="a release log is a JSON object with keys"):
        ReleaseLog.from_json({**log.to_json(), "format": "other"})
    with pytest.raises(ValueError, match="expected an integer in the release log, got '0'"):
        ReleaseLog.from_json({**log.to_json(), "participations": [["03" * 32, "0"]]})
