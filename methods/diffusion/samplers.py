# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Deterministic ODE samplers for an ε-prediction model: DDIM and DPM-Solver++(2M).

DDIM (Song et al., arXiv 2010.02502, Eq. 12 with η = 0): x̂0 = (x_s − σ_s ε)/α_s, x_t = α_t x̂0 + σ_t ε.
DPM-Solver++(2M) (Lu et al., arXiv 2211.01095, Alg. 2): with h_i = λ_{i+1} − λ_i and r_i = h_{i−1}/h_i,
D_i = (1 + 1/(2 r_i)) x̂0_i − 1/(2 r_i) x̂0_{i−1} (D_0 = x̂0_0), x_{i+1} = (σ_{i+1}/σ_i) x_i − α_{i+1}(e^{−h_i} − 1) D_i.
`eps_fn(x, t)` takes a batch x (B, d) and a 0-d time tensor and returns ε̂ (B, d).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from loyal.methods.diffusion import schedule

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_times(ts: torch.Tensor) -> None:
    if ts.ndim != 1 or len(ts) < 2:
        raise ValueError(f"ts must be a 1-d tensor of >= 2 times, got shape {tuple(ts.shape)}")
    if not bool(torch.all(ts[1:] < ts[:-1])):
        raise ValueError(f"ts must be strictly decreasing, got {ts.tolist()}")


def ddim(eps_fn: EpsFn, x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Runs DDIM (η = 0) from x at ts[0] to ts[-1]; len(ts) − 1 model evaluations."""
    _check_times(ts)
    for s, t in zip(ts[:-1], ts[1:]):
        a_s, s_s, a_t, s_t = schedule.alpha(s), schedule.sigma(s), schedule.alpha(t), schedule.sigma(t)
        eps = eps_fn(x, s)
        x0 = (x - s_s * eps) / a_s
        x = a_t * x0 + s_t * eps
    return x


#: Below this many steps the last step is first order ("lower_order_final" of the reference implementation).
LOWER_ORDER_FINAL_BELOW = 15


def dpm_solver_pp_2m(eps_fn: EpsFn, x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Runs DPM-Solver++(2M) (Alg. 2 of arXiv 2211.01095, data prediction); with fewer than
    `LOWER_ORDER_FINAL_BELOW` steps the final step is first order, as in the authors' code."""
    _check_times(ts)
    x0_prev, h_prev = None, None
    last = len(ts) - 2 if len(ts) - 1 < LOWER_ORDER_FINAL_BELOW else -1
    for i, (s, t) in enumerate(zip(ts[:-1], ts[1:])):
        a_s, s_s, a_t, s_t = schedule.alpha(s), schedule.sigma(s), schedule.alpha(t), schedule.sigma(t)
        h = schedule.half_log_snr(t) - schedule.half_log_snr(s)
        x0 = (x - s_s * eps_fn(x, s)) / a_s
        if x0_prev is None or i == last:
            d = x0
        else:
            r = h_prev / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
        x = (s_t / s_s) * x - a_t * torch.expm1(-h) * d
        x0_prev, h_prev = x0, h
    return x


def guided_ddim(eps_fn: EpsFn, x: torch.Tensor, ts: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor],
                weight: float) -> torch.Tensor:
    """DDIM with universal guidance's forward step (Bansal et al., arXiv 2302.07121, Eq. 6).

    ε̂ ← ε̂ + weight · σ_s · ∇_x loss(x̂0(x)), with x̂0 = (x − σ_s ε̂)/α_s and `loss_fn` mapping x̂0 (B, d) to
    per-sample losses (B,). weight = 0 is plain DDIM.
    """
    _check_times(ts)
    for s, t in zip(ts[:-1], ts[1:]):
        a_s, s_s, a_t, s_t = schedule.alpha(s), schedule.sigma(s), schedule.alpha(t), schedule.sigma(t)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            eps = eps_fn(xg, s)
            grad = torch.autograd.grad(loss_fn((xg - s_s * eps) / a_s).sum(), xg)[0]
        eps = eps.detach() + weight * s_s * grad
        x = a_t * (x - s_s * eps) / a_s + s_t * eps
    return x.detach()
