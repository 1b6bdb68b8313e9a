# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The continuous-time VP (linear-β) noise schedule of DDPM (Ho et al. 2020; Song et al., arXiv 2011.13456, Eq. 33).

x_t = α(t) x_0 + σ(t) ε with log ᾱ(t) = −(β0 t + (β1 − β0) t² / 2), α = √ᾱ, σ = √(1 − ᾱ), t ∈ [T_MIN, 1].
λ(t) = log α − log σ is the half log-SNR that DPM-Solver steps in (Lu et al., arXiv 2211.01095, Sec. 3).
All functions take and return torch tensors and are differentiable in t (S4S-Alt learns the time steps).
"""

from __future__ import annotations

import torch

BETA_0 = 0.1
BETA_1 = 20.0
#: Smallest time sampled and solved to (Song et al. use 1e-3 for VP).
T_MIN = 1e-3
T_MAX = 1.0


def log_alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """log ᾱ(t) = −(β0 t + (β1 − β0) t² / 2)."""
    return -(BETA_0 * t + 0.5 * (BETA_1 - BETA_0) * t**2)


def alpha(t: torch.Tensor) -> torch.Tensor:
    """α(t) = exp(log ᾱ(t) / 2)."""
    return torch.exp(0.5 * log_alpha_bar(t))


def sigma(t: torch.Tensor) -> torch.Tensor:
    """σ(t) = √(1 − ᾱ(t)), computed as √(−expm1(log ᾱ)) for accuracy near t = 0."""
    return torch.sqrt(-torch.expm1(log_alpha_bar(t)))


def half_log_snr(t: torch.Tensor) -> torch.Tensor:
    """λ(t) = log α(t) − log σ(t)."""
    return 0.5 * log_alpha_bar(t) - 0.5 * torch.log(-torch.expm1(log_alpha_bar(t)))


def time_of_half_log_snr(lam: torch.Tensor) -> torch.Tensor:
    """The inverse of `half_log_snr`: −log ᾱ = softplus(−2λ) = β0 t + Δβ t²/2, solved for t ≥ 0."""
    big_l = torch.nn.functional.softplus(-2.0 * lam)
    delta = BETA_1 - BETA_0
    return (-BETA_0 + torch.sqrt(BETA_0**2 + 2.0 * delta * big_l)) / delta


def timesteps(steps: int, kind: str = "uniform", *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """steps + 1 decreasing times from T_MAX to T_MIN.

    Args:
      steps: solver steps (= NFE for the single-evaluation solvers here), >= 1.
      kind: "uniform" in t (DDIM's spacing) or "logsnr" (uniform in λ, DPM-Solver's default).
      dtype: dtype of the returned tensor.

    Raises:
      ValueError: steps < 1 or an unknown kind.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    hi, lo = torch.tensor(T_MAX, dtype=dtype), torch.tensor(T_MIN, dtype=dtype)
    if kind == "uniform":
        return torch.linspace(T_MAX, T_MIN, steps + 1, dtype=dtype)
    if kind == "logsnr":
        lams = torch.linspace(float(half_log_snr(hi)), float(half_log_snr(lo)), steps + 1, dtype=dtype)
        ts = time_of_half_log_snr(lams)
        ts[0], ts[-1] = hi, lo
        return ts
    raise ValueError(f"kind must be 'uniform' or 'logsnr', got {kind!r}")
