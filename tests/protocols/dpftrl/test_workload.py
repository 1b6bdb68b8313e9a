# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The learning workload W = A diag(eta) M_beta and factorizations optimized for it (arXiv 2306.08153 Sec. 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.protocols.dpftrl import sensitivity as sens_lib
from loyal.protocols.dpftrl.base import ParticipationSchema, prefix_workload
from loyal.protocols.dpftrl.blt import blt
from loyal.protocols.dpftrl.identity import IdentityMechanism
from loyal.protocols.dpftrl.toeplitz import banded_toeplitz, materialize, optimize_banded_toeplitz
from loyal.protocols.dpftrl.workload import (
    LearningWorkload, learning_rate_schedule, mechanism_noise_matrix, workload_errors,
)

SCHEMA = ParticipationSchema(48, 3, 16)
WORKLOAD = LearningWorkload.build(48, momentum=0.9, cooldown_fraction=0.25, final_scale=0.05)


def _simulate(workload: LearningWorkload, grads: np.ndarray) -> np.ndarray:
    """Brute-force oracle: runs m_t = beta m_{t-1} + g_t, theta_t = theta_{t-1} - eta_t m_t; returns theta_0 - theta_t."""
    theta, m, out = np.zeros(grads.shape[1]), np.zeros(grads.shape[1]), []
    for eta, g in zip(workload.learning_rates, grads):
        m = workload.momentum * m + g
        theta = theta - eta * m
        out.append(-theta)
    return np.asarray(out)


@pytest.mark.parametrize("momentum,cooldown", [(0.0, 0.0), (0.9, 0.25), (0.5, 0.6)])
def test_workload_matrix_equals_the_momentum_cooldown_recursion(momentum: float, cooldown: float) -> None:
    # Prepare
    w = LearningWorkload.build(20, momentum, cooldown, 0.1)
    grads = np.random.default_rng(0).normal(size=(20, 7))
    # Execute / Assert: the model after step t is a linear function of all past gradients, with matrix W.
    np.testing.assert_allclose(w.matrix() @ grads, _simulate(w, grads), rtol=1e-12, atol=1e-12)


def test_workload_without_momentum_and_cooldown_is_the_prefix_sum() -> None:
    np.testing.assert_array_equal(LearningWorkload.build(30).matrix(), prefix_workload(30))


def test_learning_rate_schedule_docstring_example() -> None:
    np.testing.assert_allclose(learning_rate_schedule(5, 0.4, 0.2), [1, 1, 1, 0.6, 0.2])


def test_toeplitz_noise_matrix_equals_dense_w_c_inverse() -> None:
    coef = torch.tensor([1.0, 0.5, 0.25, 0.1], dtype=torch.float64)
    C = materialize(coef, WORKLOAD.steps).numpy()
    dense = WORKLOAD.matrix() @ np.linalg.inv(C)
    np.testing.assert_allclose(WORKLOAD.toeplitz_noise_matrix(coef).numpy(), dense, rtol=1e-9, atol=1e-9)


def test_mechanism_noise_matrix_of_any_factorization_reconstructs_w() -> None:
    # B_W C = W for the identity (C = I) and for a banded Toeplitz C.
    mech = banded_toeplitz(SCHEMA)
    np.testing.assert_allclose(mechanism_noise_matrix(mech, WORKLOAD) @ mech.strategy_matrix(), WORKLOAD.matrix(),
                               rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(mechanism_noise_matrix(IdentityMechanism(SCHEMA), WORKLOAD), WORKLOAD.matrix())


@pytest.mark.parametrize("build", [banded_toeplitz, blt], ids=["banded", "blt"])
def test_workload_optimized_beats_prefix_optimized_on_the_workload(build) -> None:
    prefix, tuned = build(SCHEMA), build(SCHEMA, workload=WORKLOAD)
    ident = workload_errors(IdentityMechanism(SCHEMA), WORKLOAD)["rmse"]
    assert workload_errors(tuned, WORKLOAD)["rmse"] <= workload_errors(prefix, WORKLOAD)["rmse"] * (1 + 1e-9)
    assert workload_errors(tuned, WORKLOAD)["rmse"] < 0.6 * ident  # correlated noise pays on this workload


def test_workload_optimized_banded_sensitivity_matches_the_general_sensitivity_code() -> None:
    # The mechanism's (closed-form or banded) sensitivity equals sensitivity.sensitivity of its dense C
    # under (k, b) = (3, 16), an exact method for bands <= b.
    mech = banded_toeplitz(SCHEMA, workload=WORKLOAD)
    general = sens_lib.sensitivity(mech.strategy_matrix(), SCHEMA.participations, SCHEMA.min_separation)
    assert general.exact
    assert mech.sensitivity() == pytest.approx(general.value, rel=1e-9)


def test_learning_rate_schedule_fails_if_cooldown_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"cooldown_fraction must be in \[0, 1\), got cooldown_fraction=1.5"):
        learning_rate_schedule(10, 1.5)


def test_learning_workload_fails_if_momentum_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got momentum=1.0"):
        LearningWorkload((1.0, 1.0), 1.0)


def test_optimize_banded_toeplitz_fails_if_workload_steps_differ() -> None:
    with pytest.raises(ValueError, match="workload steps must equal the schema's steps=48, got 20"):
        optimize_banded_toeplitz(SCHEMA, 4, workload=LearningWorkload.build(20))
