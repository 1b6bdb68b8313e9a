# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Model-collapse chains (arXiv 2410.16713) against their closed forms, and the experiment's shape."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.methods.model_collapse import maths
from loyal.methods.model_collapse.experiment import ModelCollapseConfig, cardinality_arm, gaussian_arm


def _mean_chain(scenario: str, n: int, iterations: int, chains: int, rng: np.random.Generator) -> np.ndarray:
    """μ_t − μ* of `chains` known-variance (σ = 1) mean-only chains, t = 0..iterations, vectorised."""
    pools = [rng.normal(size=(chains, n))]
    mu = pools[0].mean(1)
    out = [mu]
    for _ in range(iterations):
        pools.append(mu[:, None] + rng.normal(size=(chains, n)))
        mu = pools[-1].mean(1) if scenario == "replace" else np.concatenate(pools, axis=1).mean(1)
        out.append(mu)
    return np.array(out)


@pytest.mark.parametrize("scenario", ["replace", "accumulate"])
def test_mean_error_variance_matches_closed_form(scenario) -> None:
    # Var(μ_t − μ*) = (t + 1)/n (replace) and Σ_{i ≤ t+1} 1/i² / n ≤ π²/6n (accumulate).
    rng = np.random.default_rng(0)
    errors = _mean_chain(scenario, n=20, iterations=15, chains=20000, rng=rng)
    exact = maths.mean_error_variance(scenario, 15, 20)
    np.testing.assert_allclose(errors.var(axis=1), exact, rtol=0.05)
    if scenario == "accumulate":
        assert exact[-1] < np.pi**2 / 6 / 20


def test_mle_variance_shrinks_geometrically_under_replace() -> None:
    # 1-D Gaussian, MLE variance, replace: E[σ_t²] = ((n − 1)/n)^t σ_0² (σ_0 = 1); 4000 chains.
    rng = np.random.default_rng(1)
    n, iterations, chains = 10, 12, 4000
    var = np.ones(chains)
    mean = np.zeros(chains)
    for t in range(1, iterations + 1):
        x = mean[:, None] + np.sqrt(var)[:, None] * rng.normal(size=(chains, n))
        mean, var = x.mean(1), x.var(1)
        assert var.mean() == pytest.approx(((n - 1) / n) ** t, rel=0.06)


def test_gaussian_fit_matches_mle_and_nll_matches_scipy() -> None:
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    model = maths.Gaussian.fit(x, ridge=0.0)
    np.testing.assert_allclose(model.cov, np.cov(x.T, bias=True))
    assert model.nll(x[:7]) == pytest.approx(-multivariate_normal(model.mean, model.cov).logpdf(x[:7]).mean())


def test_kde_nll_matches_sklearn() -> None:
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(9, 2))
    sk = KernelDensity(bandwidth=0.4).fit(x)
    assert maths.Kde.fit(x, 0.4).nll(y) == pytest.approx(-sk.score_samples(y).mean())


def test_gaussian_chains_collapse_only_under_replace() -> None:
    config = ModelCollapseConfig(iterations=20, seeds=1)
    result = gaussian_arm(config, seed=0)
    first = result["replace"][0]
    assert result["replace"][-1] > first + 5  # diverges
    assert result["accumulate"][-1] < first + 0.5  # stays near the start
    assert result["accumulate"][-1] < result["accumulate_subsample"][-1] < result["replace"][-1]


def test_cardinality_synthetic_data_helps_scarce_real_data_and_hurts_plenty() -> None:
    config = ModelCollapseConfig(seeds=1, real_counts=(8, 256), synthetic_counts=(0, 256, 1024))
    grid = np.array(cardinality_arm(config, seed=0)["grid"])
    assert grid[0, 1] < grid[0, 0]  # 8 real samples in d = 10: synthetic data helps
    assert grid[1, 2] > grid[1, 0]  # 256 real samples: 1024 synthetic ones hurt


def test_run_chain_fails_if_scenario_is_unknown() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="scenario must be one of"):
        maths.run_chain(rng.normal(size=(5, 1)), rng.normal(size=(5, 1)), maths.Gaussian.fit, "mix", 1, rng)


def test_config_fails_if_samples_not_above_dim() -> None:
    with pytest.raises(ValueError, match="samples must be > dim = 10, got 10"):
        ModelCollapseConfig(samples=10)
