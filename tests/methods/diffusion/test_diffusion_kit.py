# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The diffusion kit against oracles: schedule inverses, samplers vs the closed-form probability-flow ODE of
Gaussian data, the Fréchet distance vs scipy's sqrtm formula and the diagonal closed form, the denoiser cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg
import torch

from loyal.methods.diffusion import metrics, model, samplers, schedule
from loyal.methods.diffusion.oracle import GaussianData

DATA = GaussianData(mu=0.3, std=0.5)  # toy data x0 ~ N(0.3, 0.5²) in every coordinate
_gaussian_eps, _exact_flow = DATA.eps, DATA.flow


def test_half_log_snr_inverse_and_timestep_grids() -> None:
    ts = torch.linspace(schedule.T_MIN, 1.0, 50, dtype=torch.float64)
    torch.testing.assert_close(schedule.time_of_half_log_snr(schedule.half_log_snr(ts)), ts, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(schedule.alpha(ts) ** 2 + schedule.sigma(ts) ** 2, torch.ones_like(ts))
    for kind in ("uniform", "logsnr"):
        grid = schedule.timesteps(7, kind)
        assert len(grid) == 8 and float(grid[0]) == 1.0 and float(grid[-1]) == schedule.T_MIN
        assert bool(torch.all(grid[1:] < grid[:-1]))
    lams = schedule.half_log_snr(schedule.timesteps(7, "logsnr"))
    torch.testing.assert_close(lams[1:] - lams[:-1], torch.full((7,), float(lams[1] - lams[0]), dtype=torch.float64))
    with pytest.raises(ValueError, match="kind must be 'uniform' or 'logsnr', got 'cosine'"):
        schedule.timesteps(3, "cosine")


@pytest.mark.parametrize(("sampler", "kind", "order"), [(samplers.dpm_solver_pp_2m, "logsnr", 2),
                                                         (samplers.ddim, "uniform", 1)])
def test_samplers_converge_to_the_closed_form_ode_solution_at_their_order(sampler, kind, order) -> None:
    x_t = torch.randn(256, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = _exact_flow(x_t)
    errors = [float((sampler(_gaussian_eps, x_t, schedule.timesteps(n, kind)) - exact).abs().max()) for n in (25, 50, 100)]
    assert errors[0] > errors[1] > errors[2]
    # Doubling the steps divides the error by ≈ 2^order (measured 3.8–4.0 for 2M, 1.95–1.97 for DDIM).
    for coarse, fine in zip(errors, errors[1:]):
        assert 0.8 * 2**order < coarse / fine < 1.2 * 2**order
    assert errors[-1] < (2e-3 if order == 2 else 0.06)  # measured 9.0e-4 and 0.044


def test_samplers_reject_non_decreasing_times() -> None:
    with pytest.raises(ValueError, match="ts must be strictly decreasing"):
        samplers.ddim(_gaussian_eps, torch.zeros(2, 2), torch.tensor([0.5, 0.7]))


def test_guided_ddim_with_zero_weight_is_ddim_and_guidance_moves_toward_the_target() -> None:
    x_t = torch.randn(64, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ts = schedule.timesteps(10)
    target = torch.full((4,), 2.0, dtype=torch.float64)
    loss = lambda x0: ((x0 - target) ** 2).sum(1)  # noqa: E731
    torch.testing.assert_close(samplers.guided_ddim(_gaussian_eps, x_t, ts, loss, 0.0), samplers.ddim(_gaussian_eps, x_t, ts))
    plain = loss(samplers.ddim(_gaussian_eps, x_t, ts)).mean()
    # Measured: mean loss 12.1 unguided, 4.1 at weight 1, 1.07 at weight 2.
    assert float(loss(samplers.guided_ddim(_gaussian_eps, x_t, ts, loss, 2.0)).mean()) < 0.15 * float(plain)


def test_frechet_matches_scipy_sqrtm_reference_and_diagonal_closed_form() -> None:
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    c1, c2, mu1, mu2 = m1 @ m1.T, m2 @ m2.T + 0.1 * np.eye(6), rng.normal(size=6), rng.normal(size=6)
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * np.real(scipy.linalg.sqrtm(c1 @ c2)))
    assert metrics.frechet_from_moments(mu1, c1, mu2, c2) == pytest.approx(reference, rel=1e-8)
    s1, s2 = rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)  # diagonal: Σ (μ1 − μ2)² + Σ (s1 − s2)²
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)
    assert metrics.frechet_from_moments(mu1, np.diag(s1**2), mu2, np.diag(s2**2)) == pytest.approx(closed, rel=1e-10)
    assert metrics.frechet_from_moments(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_samples_fits_moments() -> None:
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=(4000, 3)), rng.normal(loc=1.0, scale=2.0, size=(4000, 3))
    # Closed form of N(0, I) vs N(1, 4I) in 3-d: 3·1 + 3·(2 − 1)² = 6; sampling error ~ 1 %.
    assert metrics.frechet_distance(f1, f2) == pytest.approx(6.0, rel=0.05)
    with pytest.raises(ValueError, match="features must be"):
        metrics.frechet_distance(f1, f2[:, :2])


def test_denoiser_is_per_sample_and_the_cache_reloads_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LOYAL_CACHE_DIR", str(tmp_path))
    config = model.DenoiserConfig(hidden=32, blocks=1, cond_dim=4, classes=(0, 1), steps=5, batch_size=16)
    model.load_denoiser.cache_clear()
    trained = model.load_denoiser(config)
    model.load_denoiser.cache_clear()
    reloaded = model.load_denoiser(config)
    assert trained is not reloaded and len(list(tmp_path.glob("digits-denoiser-*.pt"))) == 1
    x, t = torch.randn(5, 64), torch.rand(5)
    cond = reloaded.classes(torch.tensor([0, 1, 2, 0, 1]))
    torch.testing.assert_close(trained(x, t, cond), reloaded(x, t, cond))
    torch.testing.assert_close(trained(x[2:3], t[2:3], cond[2:3]), trained(x, t, cond)[2:3])  # no batch coupling
    assert trained.null_index == 2
    with pytest.raises(ValueError, match="classes must be distinct digits"):
        dataclasses.replace(config, classes=(1, 1))
