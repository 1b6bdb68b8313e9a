# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP textual inversion (arXiv 2411.14639) mechanics against oracles: per-example gradients vs a per-example
autograd loop, clipping bounds, the Gaussian noise's scale, and ε from the project's accountant."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from loyal.methods.diffusion import model, schedule
from loyal.methods.dp_inversion import maths
from loyal.methods.dp_inversion.experiment import DpInversionConfig, inversion_privacy, private_set
from loyal.protocols.dpftrl import accounting


@pytest.fixture(scope="module")
def tiny_model() -> model.NoiseMlp:
    torch.manual_seed(0)
    return model.NoiseMlp(model.DenoiserConfig(hidden=32, blocks=2, cond_dim=6, classes=(0, 1))).eval().requires_grad_(False)


def _draws(b: int, k: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.as_tensor(private_set()[:b])
    t = schedule.T_MIN + (1 - schedule.T_MIN) * torch.rand((b, k), generator=gen)
    return x0, t, torch.randn((b, k, 64), generator=gen)


@pytest.mark.parametrize("shared", [True, False])
def test_per_example_grads_match_a_per_example_autograd_loop(tiny_model, shared) -> None:
    gen = torch.Generator().manual_seed(1)
    e = torch.randn(6, generator=gen)
    rows = e.expand(7, -1) if shared else e + torch.randn(7, 6, generator=gen)  # DP-SGD vs per-image (DPAgg-TI)
    x0, t, noise = _draws(7, 3)
    fast = (maths.per_example_embedding_grads(tiny_model, e, x0, t, noise) if shared
            else maths.row_embedding_grads(tiny_model, rows, x0, t, noise))
    for i in range(7):  # brute force: one autograd call per example, on ℓ_i alone
        ei = rows[i].clone().requires_grad_(True)
        xt = schedule.alpha(t[i])[:, None] * x0[i] + schedule.sigma(t[i])[:, None] * noise[i]
        loss = ((tiny_model(xt, t[i], ei.expand(3, -1)) - noise[i]) ** 2).mean(1).mean()
        torch.testing.assert_close(fast[i], torch.autograd.grad(loss, ei)[0], rtol=1e-5, atol=1e-7)


def test_clipping_bounds_every_row_and_keeps_small_rows(tiny_model) -> None:
    e = torch.randn(6, generator=torch.Generator().manual_seed(2))
    grads = maths.per_example_embedding_grads(tiny_model, e, *_draws(16, 2, seed=3))
    clip = float(grads.norm(dim=1).median())
    clipped = maths.clip_per_example(grads, clip)
    norms = grads.norm(dim=1)
    assert bool(torch.all(clipped.norm(dim=1) <= clip * (1 + 1e-6)))
    big = norms > clip
    assert 0 < int(big.sum()) < 16
    torch.testing.assert_close(clipped[~big], grads[~big])  # unclipped rows unchanged
    torch.testing.assert_close(clipped[big], grads[big] / norms[big, None] * clip)  # clipped rows keep direction
    with pytest.raises(ValueError, match="clip_norm must be > 0, got 0"):
        maths.clip_per_example(grads, 0)


def test_noise_std_is_multiplier_times_clip() -> None:
    rows = torch.zeros(5, 4000, dtype=torch.float64)
    out = maths.noisy_sum(rows, clip_norm=0.3, noise_multiplier=2.5, generator=torch.Generator().manual_seed(4))
    # Same generator state: the noise is exactly z · C · N(0, I); and its sample std is z · C = 0.75 (±3 %).
    expected = 0.75 * torch.randn(4000, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.testing.assert_close(out, expected)
    assert float(out.std()) == pytest.approx(0.75, rel=0.03)
    ones = torch.ones(3, 2)
    torch.testing.assert_close(maths.noisy_sum(ones, 1.0, 0.0, torch.Generator()), torch.full((2,), 3.0))


def test_poisson_batch_rate() -> None:
    sizes = [len(maths.poisson_batch(200, 0.25, torch.Generator().manual_seed(s))) for s in range(200)]
    assert sum(sizes) / len(sizes) == pytest.approx(50, rel=0.03)  # E|batch| = q n; sd of the mean ≈ 0.43


@pytest.mark.parametrize("epsilon", [2.0])
def test_reported_epsilon_is_the_accountants_for_the_calibrated_noise(epsilon) -> None:
    config = DpInversionConfig(steps=50)
    privacy = inversion_privacy(config, epsilon)
    n = len(private_set())
    assert privacy["rate"] == pytest.approx(config.expected_batch / n)
    direct = accounting.poisson_epsilon(privacy["noise_multiplier"], config.delta, rate=privacy["rate"], steps=50)
    assert privacy["epsilon"] == direct
    assert 0.98 * epsilon <= direct <= epsilon  # calibration: the smallest multiplier meeting the target
    assert accounting.poisson_epsilon(0.9 * privacy["noise_multiplier"], config.delta, rate=privacy["rate"],
                                      steps=50) > epsilon
    agg = inversion_privacy(config, epsilon, aggregation=True)  # DPAgg-TI: one release at rate agg_rate
    assert agg["epsilon"] == accounting.poisson_epsilon(agg["noise_multiplier"], config.delta, rate=config.agg_rate,
                                                        steps=1)
    assert 0.98 * epsilon <= agg["epsilon"] <= epsilon


def test_config_rejects_delta_at_or_above_one_over_n() -> None:
    n = len(private_set())
    with pytest.raises(ValueError, match=rf"delta must be in \(0, 1/{n}\), got 0.1"):
        dataclasses.replace(DpInversionConfig(), delta=0.1)


def test_every_arm_kind_runs_on_a_tiny_model(tmp_path, monkeypatch) -> None:
    import functools

    from loyal.methods.diffusion import metrics
    from loyal.methods.dp_inversion import experiment

    monkeypatch.setenv("LOYAL_CACHE_DIR", str(tmp_path))
    fast = functools.lru_cache(functools.partial(metrics.train_classifier.__wrapped__, steps=20))
    monkeypatch.setattr(metrics, "train_classifier", fast)  # the pipeline, not the metric, is under test
    config = DpInversionConfig(hidden=16, blocks=1, denoiser_steps=3, epsilons=(4.0,), steps=2, per_image_steps=2,
                               eval_samples=100, sample_steps=2, seeds=1)
    # Private arms differ only by the calibrated noise multiplier, tested above; the ε = ∞ arms keep this fast.
    arms = [a for a in experiment.arms(config) if a["epsilon"] is None]
    results = [experiment.run_arm(config, arm) for arm in arms]
    assert [r["kind"] for r in results] == [*experiment.KINDS, "none"]
    assert all(r["noise_multiplier"] == 0.0 and r["accounted_epsilon"] is None for r in results[:3])
    assert all(r["fd"] > 0 for r in results)
