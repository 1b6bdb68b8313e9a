# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""TTT layers (arXiv 2407.04620): the dual form (Sec. 2.5) against a token-by-token primal oracle (Sec. 2.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.methods.ttt import inner
from loyal.methods.ttt.experiment import TttConfig, build_model, loglog_slope, position_buckets
from loyal.methods.ttt.model import MIXERS, TttLmConfig, TttLmForCausalLM, make_mixer, parameter_count

DIM, LENGTH = 6, 11


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _inputs(rng: torch.Generator, kind: str, *lead: int) -> tuple[dict, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    params = {k: v[0].double() for k, v in inner.init_inner_params(kind, DIM, std=0.3, generator=rng).items()}
    params["ln_w"] = params["ln_w"] + 0.2 * torch.randn(1, DIM, generator=rng, dtype=torch.float64)
    params["ln_b"] = 0.1 * torch.randn(1, DIM, generator=rng, dtype=torch.float64)
    q, k, v = (torch.randn(*lead, LENGTH, DIM, generator=rng, dtype=torch.float64) for _ in range(3))
    eta = 0.2 * torch.rand(*lead, LENGTH, generator=rng, dtype=torch.float64)
    return params, q, k, v, eta


@pytest.mark.parametrize("kind", inner.KINDS)
@pytest.mark.parametrize("use_ln,residual", [(True, True), (False, False), (True, False)])
@pytest.mark.parametrize("mini_batch", [1, 4, LENGTH])
def test_dual_form_equals_the_primal_token_loop(rng, kind, use_ln, residual, mini_batch) -> None:
    # Prepare: one head; the oracle builds every W_t by autograd gradients at the mini-batch start (Eq. 6).
    params, q, k, v, eta = _inputs(rng, kind)
    # Execute
    z_dual, end_dual = inner.ttt_scan(kind, params, q, k, v, eta, mini_batch, use_ln, residual)
    z_primal, end_primal = inner.primal_reference(kind, params, q, k, v, eta, mini_batch, use_ln, residual)
    # Assert: outputs and the final weights agree to float64 round-off (measured ≤ 2e-15).
    torch.testing.assert_close(z_dual, z_primal, rtol=0, atol=1e-12)
    for name in end_primal:
        torch.testing.assert_close(end_dual[name], end_primal[name], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", inner.KINDS)
def test_batched_heads_equal_each_head_alone(rng, kind) -> None:
    params, q, k, v, eta = _inputs(rng, kind, 2, 3)
    z, _ = inner.ttt_scan(kind, params, q, k, v, eta, 4)
    for b in range(2):
        for h in range(3):
            z_one, _ = inner.primal_reference(kind, params, q[b, h], k[b, h], v[b, h], eta[b, h], 4)
            torch.testing.assert_close(z[b, h], z_one, rtol=0, atol=1e-12)


def test_mini_batch_of_one_is_online_gradient_descent(rng) -> None:
    # Closed form for TTT-Linear without LN/residual: ∇_W ‖k W + c − v‖² = 2 kᵀ(k W + c − v).
    params, q, k, v, eta = _inputs(rng, "linear")
    w, c, expected = params["W"].clone(), params["c"].clone(), []
    for t in range(LENGTH):
        err = k[t : t + 1] @ w + c - v[t : t + 1]
        w, c = w - 2 * eta[t] * k[t : t + 1].T @ err, c - 2 * eta[t] * err
        expected.append(q[t : t + 1] @ w + c)
    z, end = inner.ttt_scan("linear", params, q, k, v, eta, 1, use_ln=False, residual=False)
    torch.testing.assert_close(z, torch.cat(expected), rtol=0, atol=1e-12)
    torch.testing.assert_close(end["W"], w, rtol=0, atol=1e-12)


def test_one_mini_batch_is_one_batch_gradient_step(rng) -> None:
    # With b = n every gradient is at W₀: W_n = W₀ − 2 Kᵀ diag(η) (K W₀ + c − V) (Sec. 2.4, batch GD limit).
    params, q, k, v, eta = _inputs(rng, "linear")
    _, end = inner.ttt_scan("linear", params, q, k, v, eta, LENGTH, use_ln=False, residual=False)
    err = k @ params["W"] + params["c"] - v
    torch.testing.assert_close(end["W"], params["W"] - 2 * k.T @ (eta[:, None] * err), rtol=0, atol=1e-12)


def test_layer_norm_backward_matches_autograd(rng) -> None:
    x = torch.randn(5, DIM, generator=rng, dtype=torch.float64, requires_grad=True)
    weight, d_out = torch.randn(1, DIM, generator=rng, dtype=torch.float64), torch.randn(5, DIM, generator=rng, dtype=torch.float64)
    out, x_hat, inv_std = inner.layer_norm(x, weight, torch.zeros(1, DIM, dtype=torch.float64))
    (expected,) = torch.autograd.grad(out, x, d_out)
    torch.testing.assert_close(inner.layer_norm_backward(d_out, x_hat, inv_std, weight), expected, rtol=0, atol=1e-12)


def test_ttt_scan_fails_if_shapes_mismatch(rng) -> None:
    params, q, k, v, eta = _inputs(rng, "linear")
    with pytest.raises(ValueError, match=r"eta must be q's shape without the last axis"):
        inner.ttt_scan("linear", params, q, k, v, eta[:-1], 4)
    with pytest.raises(ValueError, match="mini_batch must be >= 1, got 0"):
        inner.ttt_scan("linear", params, q, k, v, eta, 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        inner.init_inner_params("conv", DIM)


@pytest.mark.parametrize("mixer", MIXERS)
def test_lm_is_causal(mixer) -> None:
    # Changing tokens after position t must not change the logits at positions <= t.
    torch.manual_seed(0)
    model = TttLmForCausalLM(TttLmConfig(vocab_size=20, width=16, layers=2, heads=2, mixer=mixer, mini_batch=4, max_len=24)).eval()
    ids = torch.randint(0, 20, (2, 24))
    changed = ids.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 20
    with torch.no_grad():
        a, b = model(input_ids=ids).logits, model(input_ids=changed).logits
    torch.testing.assert_close(a[:, :10], b[:, :10], rtol=0, atol=1e-5)
    assert (a[:, 10:] - b[:, 10:]).abs().max() > 1e-3


def test_mixers_keep_shape_and_reject_bad_width() -> None:
    x = torch.randn(1, 40, 16)
    for mixer in MIXERS:
        assert make_mixer(mixer, 16, 2).eval()(x).shape == x.shape
    with pytest.raises(ValueError, match="width must be divisible by heads, got width=16, heads=3"):
        make_mixer("ttt_linear", 16, 3)


def test_lstm_baseline_matches_the_ttt_parameter_count() -> None:
    config = TttConfig(width=32, heads=4, seq_len=64)
    counts = {m: parameter_count(build_model(m, config, 81, 0)) for m in ("ttt_linear", "lstm", "transformer")}
    assert abs(counts["lstm"] / counts["ttt_linear"] - 1) < 0.03
    assert abs(counts["transformer"] / counts["ttt_linear"] - 1) < 0.1


def test_loglog_slope_recovers_a_power_law() -> None:
    xs = [256.0, 512.0, 1024.0, 4096.0]
    assert loglog_slope(xs, [3e-9 * x**2 for x in xs]) == pytest.approx(2.0)
    assert loglog_slope(xs, list(5e-5 * np.array(xs))) == pytest.approx(1.0)


def test_config_fails_if_seq_len_is_not_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="seq_len must be a power of two >= 32, got 96"):
        TttConfig(seq_len=96)


def test_position_buckets_cover_every_prediction_once() -> None:
    edges = position_buckets(32)
    assert edges == [(0, 1), (1, 2), (2, 4), (4, 8), (8, 16), (16, 32)]
    assert sum(hi - lo for lo, hi in edges) == 32


def test_tiny_experiment_end_to_end(tmp_path) -> None:
    # LM arms and the timing arm run on the local Shakespeare texts; summarize writes both figures.
    from loyal.methods.ttt.experiment import arms, run_arm, summarize

    config = TttConfig(width=16, heads=2, mini_batch=4, seq_len=32, steps=2, batch_size=2, corpus_chars=100_000,
                       eval_windows=2, timing_lengths=(16, 32), timing_repeats=1)
    results = [run_arm(config, arm) for arm in arms(config)]
    metrics, figures = summarize(config, results, tmp_path)
    assert all((tmp_path / f).is_file() for f in figures)
    assert all(len(r["position_ce"]) == 32 for r in results if r["model"] != "timing")
    assert set(metrics["models"]) == {"ttt_linear", "ttt_mlp", "transformer", "lstm"}
    assert all(1 < m["valid_ppl"] < 200 for m in metrics["models"].values())  # untrained: about the vocabulary size 81
