# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The dense optimum: the O(n^2) tridiagonal dual against dense linear algebra, optimality and stopping."""

# pylint: disable=invalid-name

from __future__ import annotations

import math

import numpy as np
import pytest

from loyal.protocols.dpftrl import dense
from loyal.protocols.dpftrl.base import ParticipationSchema, prefix_workload


@pytest.mark.parametrize("n,seed", [(2, 0), (7, 1), (40, 2)])
def test_tridiagonal_evaluation_equals_dense_formulas(n: int, seed: int) -> None:
    # Prepare: arbitrary multipliers v > 0 and the dense formulas of arXiv 2202.08312, Thm. 3.2.
    u = np.random.default_rng(seed).normal(size=n)
    v = np.exp(u)
    A = prefix_workload(n)
    M = np.sqrt(v)[:, None] * (A.T @ A) * np.sqrt(v)[None, :]
    w, U = np.linalg.eigh(M)
    root = (U * np.sqrt(w)) @ U.T
    X = root / np.sqrt(np.outer(np.diag(root), np.diag(root)))  # unit-diagonal X(v)
    # Execute
    point = dense._evaluate(u)  # pylint: disable=protected-access
    # Assert: diag(M^{1/2}), the dual value, the primal at the normalized X, and X itself.
    np.testing.assert_allclose(point.root_diag, np.diag(root), rtol=1e-8)
    assert point.dual == pytest.approx(2 * np.trace(root) - v.sum(), rel=1e-8, abs=1e-8)
    assert point.primal == pytest.approx(np.trace(A.T @ A @ np.linalg.inv(X)), rel=1e-8)
    np.testing.assert_allclose(dense._gram_from_point(point), X, atol=1e-8)  # pylint: disable=protected-access


def test_two_steps_closed_form() -> None:
    # For n = 2, X = [[1, r], [r, 1]] minimizes (3 - 2r) / (1 - r^2) at r = (3 - sqrt 5) / 2.
    X, _, gap = dense.optimize_dense_gram(2)
    r = (3 - math.sqrt(5)) / 2
    np.testing.assert_allclose(X, [[1, r], [r, 1]], atol=1e-6)
    assert gap <= 1e-9


@pytest.mark.parametrize("n", [16, 100])
def test_optimum_satisfies_kkt_and_beats_perturbations(n: int) -> None:
    X, _, gap = dense.optimize_dense_gram(n)
    A = prefix_workload(n)
    G = A.T @ A
    # Feasible: unit diagonal, positive definite.
    np.testing.assert_allclose(np.diag(X), 1.0)
    assert np.linalg.eigvalsh(X).min() > 0
    assert 0 <= gap <= 1e-9
    # Stationarity: X^{-1} G X^{-1} is diagonal (its off-diagonal part vanishes; the multipliers V).
    grad = np.linalg.solve(X, np.linalg.solve(X, G).T)
    off = grad - np.diag(np.diag(grad))
    assert np.abs(off).max() <= 1e-4 * np.abs(np.diag(grad)).max()
    # No feasible perturbation (renormalized to a unit diagonal) does better.
    loss = np.trace(G @ np.linalg.inv(X))
    rng = np.random.default_rng(n)
    for _ in range(5):
        E = rng.normal(size=(n, n)) * 1e-3
        Y = X + (E + E.T) / 2
        Y = Y / np.sqrt(np.outer(np.diag(Y), np.diag(Y)))
        assert np.trace(G @ np.linalg.inv(Y)) >= loss * (1 - 1e-12)


def test_looser_tolerance_stops_earlier_with_a_feasible_near_optimum() -> None:
    X_tight, it_tight, _ = dense.optimize_dense_gram(128)
    X_loose, it_loose, gap_loose = dense.optimize_dense_gram(128, tolerance=1e-4)
    assert it_loose < it_tight
    assert gap_loose <= 1e-4
    np.testing.assert_allclose(np.diag(X_loose), 1.0)
    schema = ParticipationSchema(128)
    rmse_tight = dense.DenseMechanism(schema, dense.strategy_from_gram(X_tight)).rmse()
    rmse_loose = dense.DenseMechanism(schema, dense.strategy_from_gram(X_loose)).rmse()
    # rmse = sqrt(primal / n): a relative gap g bounds its relative excess by about g / 2.
    assert rmse_tight <= rmse_loose <= rmse_tight * (1 + 1e-4)


def test_iteration_cap_still_returns_a_feasible_gram() -> None:
    X, iterations, gap = dense.optimize_dense_gram(64, max_iterations=2)
    assert iterations <= 3  # the cap, plus at most one safeguarded restart
    assert gap > 1e-9
    np.testing.assert_allclose(np.diag(X), 1.0)
    np.linalg.cholesky(X)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=0), "steps must be an integer >= 1"),
        (dict(n=8, max_iterations=0), "max_iterations must be an integer >= 1"),
        (dict(n=8, tolerance=0.0), r"tolerance must be in \(0, 1\)"),
        (dict(n=8, tolerance=1.5), r"tolerance must be in \(0, 1\)"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dense.optimize_dense_gram(**kwargs)
