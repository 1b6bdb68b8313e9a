# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The k-step self-distillation closed form (arXiv 2407.04600, Eq. (5)-(6)) against explicit ridge solves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.methods.self_distillation import maths
from loyal.methods.self_distillation.experiment import SelfDistillationConfig, synthetic_arm


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@given(
    xis=st.lists(st.floats(-2.0, 3.0, allow_nan=False), min_size=0, max_size=5),
    lam=st.floats(1e-2, 10.0),
    seed=st.integers(0, 1000),
)
def test_closed_form_equals_k_explicit_ridge_solves(xis, lam, seed) -> None:
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(25, 4)), rng.normal(size=25)
    np.testing.assert_allclose(
        maths.self_distill_closed_form(X, y, lam, np.array(xis)), maths.self_distill_iterative(X, y, lam, np.array(xis)),
        rtol=1e-7, atol=1e-9,
    )


@given(st.lists(st.floats(-2.0, 0.9, allow_nan=False), min_size=1, max_size=6))
def test_xis_round_trip_through_coefficients(xis) -> None:
    c = maths.coefficients_from_xis(np.array(xis))
    assert c.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(maths.xis_from_coefficients(c), xis, rtol=1e-6, atol=1e-9)


def test_xis_from_coefficients_fails_if_c_does_not_sum_to_one() -> None:
    with pytest.raises(ValueError, match="c must sum to 1, got 0.5"):
        maths.xis_from_coefficients(np.array([0.25, 0.25]))


def test_excess_risk_formula_matches_monte_carlo(rng) -> None:
    # Prepare: a fixed design, θ*, γ and a 2-step SD estimator with arbitrary ξ.
    n, d, gamma, lam, xis = 40, 3, 0.5, 2.0, np.array([0.4, -0.3])
    X, theta_star = rng.normal(size=(n, d)), rng.normal(size=d)
    U, s, Vt = maths.spectrum(X)
    omega = maths.shrinkage(s, lam, maths.coefficients_from_xis(xis))
    # Execute: average of ‖X(θ̂ − θ*)‖²/n over noise draws, each θ̂ by explicit solves.
    draws = [
        maths.self_distill_iterative(X, X @ theta_star + gamma * rng.normal(size=n), lam, xis) - theta_star for _ in range(4000)
    ]
    mc = np.mean([np.sum((X @ e) ** 2) / n for e in draws])
    # Assert: within 4 standard errors of the closed form.
    exact = maths.excess_risk(omega, s, Vt @ theta_star, gamma, n)
    assert mc == pytest.approx(exact, rel=0.05)


def test_optimal_coefficients_beat_a_brute_force_grid_over_xi() -> None:
    # Prepare: 1-step SD, whose only parameter is ξ_1 (c = (ξ_1, 1 − ξ_1)).
    s, a, gamma, lam = np.array([1.0, 1.5, 2.0]), np.array([0.0, 0.0, 1.0]), 0.3, 0.5
    t = maths.oracle_shrinkage(s, a, gamma)
    w = s**2 * (a**2 + gamma**2 / s**2)
    # Execute
    c = maths.optimal_coefficients(s, t, w, lam, steps=1)
    grid = [maths.excess_risk(maths.shrinkage(s, lam, np.array([x, 1 - x])), s, a, gamma, 1) for x in np.linspace(-5, 5, 20001)]
    # Assert
    assert maths.excess_risk(maths.shrinkage(s, lam, c), s, a, gamma, 1) == pytest.approx(min(grid), rel=1e-6)


def test_rank_many_steps_reach_the_per_direction_oracle() -> None:
    # Theorem 1: with k = r steps every direction's shrinkage is free, so the oracle risk is attained.
    s, a, gamma = np.array([1.0, 1.5, 2.0, 2.5]), np.array([0.0, 0.0, 0.0, 1.0]), 0.1
    risk, _ = maths.best_risk(s, a, gamma, 1, steps=4, lams=np.geomspace(1e-2, 1e2, 41))
    oracle = maths.excess_risk(maths.oracle_shrinkage(s, a, gamma), s, a, gamma, 1)
    assert risk == pytest.approx(oracle, rel=1e-6)


def test_d20_check_ridge_about_0_087_and_d_step_about_0_005() -> None:
    # Golden values from `loyal methods run self_distillation --quick` (family: s in [1, 2], θ* = v_top,
    # γ = 0.07); the check for d = 20 is ≈ 0.087 → ≈ 0.005.
    result = synthetic_arm(SelfDistillationConfig(lam_grid=81), 20)
    assert result["ridge"] == pytest.approx(0.0900, abs=0.005)
    assert result["sd_d"] == pytest.approx(0.0053, abs=0.0008)
    assert result["ridge"] / result["sd_d"] > 15  # close to the factor d = 20
    assert result["oracle"] <= result["sd_d"] <= result["sd_2"] <= result["sd_1"] <= result["ridge"]


def test_config_fails_if_dims_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"dims must be a non-empty list of integers in \[2, 24\], got \[1\]"):
        SelfDistillationConfig(dims=(1,))
