# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A learnable linear multistep diffusion solver (S4S, arXiv 2502.17423, Alg. 1 and 2) and its data-free fit.

Step i of an N-step solver on times t_0 = 1 > t_1 > … > t_N = T_MIN with history `order` = K:

    x_{i+1} = Σ_{j<K, j≤i} A[i, j] x_{i−j} + B[i, j] ε̂(x_{i−j}, t_{i−j})          (one model call per step)

DDIM and DPM-Solver++(2M) are both of this form (`base_coefficients`); S4S learns A, B initialised there by
matching a many-step teacher's output from the same noise (data-free; Alg. 1, here with a pixel L2 distance);
S4S-Alt (Alg. 2) alternates between the time steps and the coefficients. Time steps are
parameterised monotonically: t_i = 1 − (1 − T_MIN)·Σ_{k<i} softmax(u)_k. Coefficients are stored as the base
coefficients at the current times plus a learned offset, so moving the times keeps a consistent solver.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import torch
from torch import nn

from loyal.methods.diffusion import schedule
from loyal.methods.diffusion.samplers import LOWER_ORDER_FINAL_BELOW, EpsFn

logger = logging.getLogger(__name__)
BASES = ("ddim", "dpmpp2m")


def base_coefficients(ts: torch.Tensor, kind: str, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B), each (N, order): the multistep coefficients of DDIM or DPM-Solver++(2M) on times ts (N + 1).

    DDIM: A[i,0] = α_{i+1}/α_i, B[i,0] = σ_{i+1} − α_{i+1} σ_i/α_i. DPM-Solver++(2M) (Alg. 2 of arXiv
    2211.01095, first order at the last of < 15 steps) with φ = α_{i+1}(1 − e^{−h_i}),
    D = c1 x̂0_i + c2 x̂0_{i−1} and x̂0_k = (x_k − σ_k ε_k)/α_k:
    A[i,0] = σ_{i+1}/σ_i + φ c1/α_i, B[i,0] = −φ c1 σ_i/α_i, A[i,1] = φ c2/α_{i−1}, B[i,1] = −φ c2 σ_{i−1}/α_{i−1}.
    Differentiable in ts.
    """
    if kind not in BASES:
        raise ValueError(f"kind must be one of {BASES}, got {kind!r}")
    if order < (2 if kind == "dpmpp2m" else 1):
        raise ValueError(f"order must be >= {2 if kind == 'dpmpp2m' else 1} for {kind}, got {order}")
    n = len(ts) - 1
    al, sg, lam = schedule.alpha(ts), schedule.sigma(ts), schedule.half_log_snr(ts)
    rows_a, rows_b = [], []
    for i in range(n):
        a_row = [torch.zeros((), dtype=ts.dtype)] * order
        b_row = list(a_row)
        if kind == "ddim":
            a_row[0] = al[i + 1] / al[i]
            b_row[0] = sg[i + 1] - al[i + 1] * sg[i] / al[i]
        else:
            h = lam[i + 1] - lam[i]
            phi = -al[i + 1] * torch.expm1(-h)
            if i == 0 or (i == n - 1 and n < LOWER_ORDER_FINAL_BELOW):
                c1, c2 = torch.ones((), dtype=ts.dtype), torch.zeros((), dtype=ts.dtype)
            else:
                r = (lam[i] - lam[i - 1]) / h
                c1, c2 = 1 + 1 / (2 * r), -1 / (2 * r)
            a_row[0] = sg[i + 1] / sg[i] + phi * c1 / al[i]
            b_row[0] = -phi * c1 * sg[i] / al[i]
            if i > 0:
                a_row[1] = phi * c2 / al[i - 1]
                b_row[1] = -phi * c2 * sg[i - 1] / al[i - 1]
        rows_a.append(torch.stack(a_row))
        rows_b.append(torch.stack(b_row))
    return torch.stack(rows_a), torch.stack(rows_b)


def times_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """t_0 = T_MAX, t_i = T_MAX − (T_MAX − T_MIN) Σ_{k<i} softmax(logits)_k, t_N = T_MIN; strictly decreasing."""
    cum = torch.cumsum(torch.softmax(logits, dim=0), dim=0)
    ts = schedule.T_MAX - (schedule.T_MAX - schedule.T_MIN) * torch.cat([cum.new_zeros(1), cum])
    return torch.cat([ts[:-1], ts.new_full((1,), schedule.T_MIN)])


def logits_from_times(ts: torch.Tensor) -> torch.Tensor:
    """The logits whose `times_from_logits` are ts (log of the normalised decrements)."""
    return torch.log((ts[:-1] - ts[1:]) / (schedule.T_MAX - schedule.T_MIN))


class LearnedSolver(nn.Module):
    """The S4S solver: offsets ΔA, ΔB (N, order) on a base solver, and time logits u (N,).

    Args:
      ts: initial times (N + 1), decreasing from T_MAX to T_MIN.
      base: "ddim" or "dpmpp2m", the coefficients the offsets start from (zero offsets = the base solver).
      order: history length K, >= 2 for dpmpp2m.
    """

    def __init__(self, ts: torch.Tensor, base: str = "dpmpp2m", order: int = 3) -> None:
        super().__init__()
        if abs(float(ts[0]) - schedule.T_MAX) > 1e-9 or abs(float(ts[-1]) - schedule.T_MIN) > 1e-9:
            raise ValueError(f"ts must run from {schedule.T_MAX} to {schedule.T_MIN}, got {float(ts[0])}..{float(ts[-1])}")
        base_coefficients(ts.double(), base, order)  # validates base and order
        n = len(ts) - 1
        self.base, self.order = base, order
        self.time_logits = nn.Parameter(logits_from_times(ts.double()))
        self.delta_a = nn.Parameter(torch.zeros(n, order, dtype=torch.float64))
        self.delta_b = nn.Parameter(torch.zeros(n, order, dtype=torch.float64))

    @property
    def steps(self) -> int:
        return len(self.time_logits)

    def times(self) -> torch.Tensor:
        return times_from_logits(self.time_logits)

    def coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = base_coefficients(self.times(), self.base, self.order)
        return a + self.delta_a, b + self.delta_b

    def forward(self, eps_fn: EpsFn, x: torch.Tensor) -> torch.Tensor:
        """Runs the solver from noise x at t = T_MAX; `steps` model evaluations."""
        ts = self.times()
        a, b = self.coefficients()
        xs, es = [], []
        for i in range(self.steps):
            xs.insert(0, x)
            es.insert(0, eps_fn(x, ts[i]))
            x = sum(a[i, j].to(x.dtype) * xs[j] + b[i, j].to(x.dtype) * es[j] for j in range(min(self.order, i + 1)))
        return x


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Adam fit of a `LearnedSolver` to teacher outputs.

    Attributes:
      iterations: Adam steps per phase, >= 1.
      batch_size: noise samples per step, >= 1.
      coefficient_lr: learning rate of ΔA, ΔB, > 0.
      time_lr: learning rate of the time logits, > 0.
      rounds: S4S-Alt alternations (times, then coefficients, each `iterations` steps); 0 = S4S (coefficients only).
    """

    iterations: int = 300
    batch_size: int = 128
    coefficient_lr: float = 2e-3
    time_lr: float = 2e-2
    rounds: int = 0

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch_size < 1 or self.rounds < 0:
            raise ValueError(f"need iterations >= 1, batch_size >= 1, rounds >= 0, got {self.iterations}, "
                             f"{self.batch_size}, {self.rounds}")
        if not self.coefficient_lr > 0 or not self.time_lr > 0:
            raise ValueError(f"learning rates must be > 0, got {self.coefficient_lr}, {self.time_lr}")


def fit_solver(solver: LearnedSolver, eps_fn_of: Callable[[torch.Tensor], EpsFn], noise: torch.Tensor,
               targets: torch.Tensor, config: FitConfig, generator: torch.Generator) -> list[float]:
    """Minimises mean ‖solver(x_T) − teacher(x_T)‖² / d over minibatches of (noise, target) pairs (data-free).

    Args:
      solver: the solver to fit, modified in place.
      eps_fn_of: index tensor (B,) → the ε̂ callable for those samples (their conditioning).
      noise, targets: (n, d) initial noise and the teacher's outputs from it.
      config: the fit schedule; rounds = 0 fits coefficients only (S4S), else alternates (S4S-Alt).
      generator: draws the minibatches.

    Returns:
      The loss of every step.
    """
    phases = [("coefficients",)] if config.rounds == 0 else [("times",), ("coefficients",)] * config.rounds
    losses: list[float] = []
    for (phase,) in phases:
        params = [solver.delta_a, solver.delta_b] if phase == "coefficients" else [solver.time_logits]
        opt = torch.optim.Adam(params, lr=config.coefficient_lr if phase == "coefficients" else config.time_lr)
        for _ in range(config.iterations):
            idx = torch.randint(len(noise), (min(config.batch_size, len(noise)),), generator=generator)
            out = solver(eps_fn_of(idx), noise[idx])
            loss = ((out - targets[idx]) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses
