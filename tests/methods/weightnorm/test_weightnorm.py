# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""WeightNorm networks (arXiv 2409.08935): HVP power iteration against a dense Hessian, and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.methods.weightnorm import maths

TINY = {"in_dim": 3, "width": 4, "depth": 2}


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _dense_hessian(arch: maths.Architecture, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.hessian(lambda t: maths.forward(arch, t, x), theta)


@pytest.mark.parametrize("kind", maths.KINDS)
@pytest.mark.parametrize("activation", tuple(maths.ACTIVATIONS))
def test_power_iteration_matches_the_dense_hessian_eigenvalues(rng, kind, activation) -> None:
    # Oracle: the full Hessian by autograd, its spectral norm = max |eigenvalue| (numpy eigvalsh).
    arch = maths.Architecture(kind, activation=activation, **TINY)
    theta, x = maths.init_params(arch, rng), torch.randn(3, generator=rng, dtype=torch.float64)
    dense = _dense_hessian(arch, theta, x)
    expected = np.abs(np.linalg.eigvalsh(dense.numpy())).max()
    estimate = maths.hessian_spectral_norm(arch, theta, x, iterations=200, tol=1e-10, generator=rng)
    assert estimate == pytest.approx(expected, rel=1e-6)
    u = torch.randn(arch.size(), generator=rng, dtype=torch.float64)
    torch.testing.assert_close(maths.hvp(arch, theta, x, u), dense @ u)


def test_weight_norm_matches_torch_parametrization(rng) -> None:
    # Reference: torch.nn.utils.parametrizations.weight_norm (w = g v / ‖v‖ row-wise, dim=0).
    layer = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(5, 7, bias=False, dtype=torch.float64))
    v = layer.parametrizations.weight.original1.detach()
    g = 0.5 + torch.rand(7, generator=rng, dtype=torch.float64)
    with torch.no_grad():
        layer.parametrizations.weight.original0.copy_(g[:, None])
    torch.testing.assert_close(maths.weight_norm(v, g), layer.weight.detach())
    torch.testing.assert_close(maths.weight_norm(v, g).norm(dim=1), g)


def test_gradient_through_weight_norm_is_the_projected_closed_form(rng) -> None:
    # ∇_v f = (g/‖v‖)(I − v̂ v̂ᵀ) ∇_w f per row: orthogonal to v (scale invariance).
    v, g = torch.randn(4, 3, generator=rng, dtype=torch.float64, requires_grad=True), torch.rand(4, generator=rng, dtype=torch.float64) + 0.5
    x = torch.randn(3, generator=rng, dtype=torch.float64)
    w = maths.weight_norm(v, g).detach().requires_grad_(True)
    (grad_w,) = torch.autograd.grad(torch.tanh(w @ x).sum(), w)
    (grad_v,) = torch.autograd.grad(torch.tanh(maths.weight_norm(v, g) @ x).sum(), v)
    v_hat = (v / v.norm(dim=1, keepdim=True)).detach()
    expected = (g / v.norm(dim=1)).detach()[:, None] * (grad_w - (grad_w * v_hat).sum(1, keepdim=True) * v_hat)
    torch.testing.assert_close(grad_v, expected)
    torch.testing.assert_close((grad_v * v).sum(1), torch.zeros(4, dtype=torch.float64))


@pytest.mark.parametrize("factor", [0.25, 3.0])
def test_scaling_v_keeps_f_and_rescales_the_hessian(rng, factor) -> None:
    # 0-homogeneity in each v_i: f(c v) = f(v) and ∇²f(c v) = D ∇²f(v) D, D = 1/c on v-coordinates.
    arch = maths.Architecture("weightnorm", **TINY)
    theta, x = maths.init_params(arch, rng), torch.randn(3, generator=rng, dtype=torch.float64)
    scaled = maths.scale_hidden_weights(arch, theta, factor)
    assert float(maths.forward(arch, scaled, x)) == pytest.approx(float(maths.forward(arch, theta, x)), rel=1e-12)
    d = torch.cat([torch.full(s, 1 / factor if n.startswith("v") else 1.0, dtype=torch.float64).reshape(-1) for n, s in arch.shapes()])
    torch.testing.assert_close(_dense_hessian(arch, scaled, x), d[:, None] * _dense_hessian(arch, theta, x) * d[None, :])


def test_gradient_descent_grows_every_v_by_pythagoras(rng) -> None:
    # ∇_{v_i} L ⊥ v_i, so ‖v_i'‖² = ‖v_i‖² + η²‖∇_{v_i} L‖²: the normalization terms never shrink under GD.
    arch = maths.Architecture("weightnorm", **TINY)
    theta, x, y = maths.init_params(arch, rng), torch.randn(8, 3, generator=rng, dtype=torch.float64), torch.randn(8, generator=rng, dtype=torch.float64)
    eta = 0.7
    new, _ = maths.gradient_descent_step(arch, theta, x, y, eta)
    gradient = (theta - new) / eta
    before, after, step = (maths.unflatten(arch, t) for t in (theta, new, gradient))
    for name in ("v0", "v1"):
        torch.testing.assert_close(after[name].norm(dim=1) ** 2, before[name].norm(dim=1) ** 2 + eta**2 * step[name].norm(dim=1) ** 2)
    assert all(b <= a for b, a in zip(maths.min_row_norms(arch, theta), maths.min_row_norms(arch, new)))


def test_weightnorm_and_unnormalized_agree_when_rows_are_rescaled(rng) -> None:
    # With v = W and g_i = ‖W_i‖/√fan_in the two parameterisations compute the same function.
    wn, plain = maths.Architecture("weightnorm", **TINY), maths.Architecture("unnormalized", **TINY)
    theta = maths.init_params(plain, rng)
    p = maths.unflatten(plain, theta)
    blocks = []
    for layer in range(2):
        weight = p[f"W{layer}"]
        blocks += [weight.reshape(-1), weight.norm(dim=1) / weight.shape[1] ** 0.5]
    theta_wn = torch.cat(blocks + [p["a"]])
    x = torch.randn(5, 3, generator=rng, dtype=torch.float64)
    torch.testing.assert_close(maths.forward(wn, theta_wn, x), maths.forward(plain, theta, x))


def test_architecture_fails_if_kind_or_activation_is_unknown() -> None:
    with pytest.raises(ValueError, match="kind must be one of .*, got 'batchnorm'"):
        maths.Architecture("batchnorm", 3, 4)
    with pytest.raises(ValueError, match="activation must be one of .*, got 'relu'"):
        maths.Architecture("weightnorm", 3, 4, activation="relu")
    with pytest.raises(ValueError, match=r"theta must have shape \(40,\), got \(3,\)"):
        maths.forward(maths.Architecture("weightnorm", **TINY), torch.zeros(3), torch.zeros(3))


def test_row_norm_and_gain_summaries_match_their_definitions(rng) -> None:
    arch = maths.Architecture("weightnorm", **TINY)
    theta = maths.init_params(arch, rng)
    p = maths.unflatten(arch, theta)
    assert maths.min_row_norms(arch, theta) == pytest.approx([float(p["v0"].norm(dim=1).min()), float(p["v1"].norm(dim=1).min())])
    assert maths.max_gains(arch, maths.scale_hidden_weights(arch, theta, 2.0)) == [1.0, 1.0]  # g is not a hidden weight
    with pytest.raises(ValueError, match="max_gains needs a weightnorm architecture, got kind='unnormalized'"):
        maths.max_gains(maths.Architecture("unnormalized", **TINY), theta)
    with pytest.raises(ValueError, match="factor must be > 0, got 0"):
        maths.scale_hidden_weights(arch, theta, 0)


def test_tiny_experiment_end_to_end(tmp_path) -> None:
    # Every arm kind runs and summarize writes the figures; GD's Pythagoras property shows in the metrics.
    from loyal.methods.weightnorm.experiment import WeightNormConfig, arms, run_arm, summarize

    config = WeightNormConfig(seeds=1, widths=(4, 8), scale_width=4, scales=(0.5, 2.0), train_widths=(4,), train_size=16,
                              steps=4, checkpoints=2, probes=1, power_iterations=3)
    results = [run_arm(config, arm) for arm in arms(config)]
    metrics, figures = summarize(config, results, tmp_path)
    assert len(results) == 6 and all((tmp_path / f).is_file() for f in figures)
    assert metrics["claims"]["weightnorm_min_v_norm_never_decreases_under_gd"]
    sweep = metrics["scale_sweep"]["weightnorm"]
    assert sweep["min_row_norm"][1] == pytest.approx(4 * sweep["min_row_norm"][0], rel=1e-5)  # v × c moves min ‖v‖ by c
