# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DPFTRL optimizer: equals SGD at zero noise; accumulates B z with noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.protocols.dpftrl import build_mechanism
from loyal.protocols.dpftrl.optimizer import DPFTRL


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=gen, dtype=torch.float64)
        y = torch.randn(8, 1, generator=gen, dtype=torch.float64)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_zero_noise_equals_sgd(momentum: float) -> None:
    a, b = _model(), _model()
    mech = build_mechanism("banded-toeplitz", 10, bands=3)
    _train(a, DPFTRL(a.parameters(), lr=0.1, momentum=momentum, mechanism=mech, noise_stddev=0.0), 10)
    _train(b, torch.optim.SGD(b.parameters(), lr=0.1, momentum=momentum), 10)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-12, atol=1e-12)


def test_noise_accumulates_as_b_times_z() -> None:
    # Zero gradients, lr 1, no momentum: theta_t = theta_0 - stddev * (B z)_t.
    mech = build_mechanism("blt", 6, buffers=2)
    p = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    opt = DPFTRL([p], lr=1.0, mechanism=mech, noise_stddev=2.0, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    Z = torch.stack([torch.randn(5, generator=gen, dtype=torch.float64) for _ in range(6)]).numpy()
    expected = -2.0 * mech.noise_matrix() @ Z
    for t in range(6):
        p.grad = torch.zeros_like(p)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), expected[t], atol=1e-9)
    p.grad = torch.zeros_like(p)
    with pytest.raises(ValueError, match="no noise is left"):
        opt.step()


def test_prefix_sum_input_equals_sgd_on_prefix_differences() -> None:
    p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = DPFTRL([p], lr=0.5, momentum=0.5)
    grads = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 0.0, -1.0])]
    s = torch.zeros(3, dtype=torch.float64)
    for g in grads:
        s = s + g
        opt.step(prefix_sums=[s])
    # m1 = g1, m2 = 0.5 g1 + g2; theta = 1 - 0.5 (m1 + m2)
    expected = 1 - 0.5 * (grads[0] + 0.5 * grads[0] + grads[1])
    torch.testing.assert_close(p.detach(), expected.double())


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(lr=0.0), "lr must be a finite number > 0"), (dict(lr=0.1, momentum=1.0), "momentum must be in"),
     (dict(lr=0.1, noise_stddev=-1.0), "noise_stddev must be a finite number >= 0")],
)
def test_optimizer_fails_if_bad_hyperparameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DPFTRL([torch.nn.Parameter(torch.zeros(1))], **kwargs)
