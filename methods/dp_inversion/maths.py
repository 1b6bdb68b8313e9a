# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-SGD on a single conditioning embedding (DP textual inversion, arXiv 2411.14639, Sec. 3) and a DP mean.

The model is frozen; only e* (cond_dim numbers) is learned. Per-example gradients of the denoising loss
ℓ_i(e) = mean_k ‖ε_ik − ε̂(α_ik x_i + σ_ik ε_ik, t_ik, e)‖² are exact and cheap: give every example its own copy
of e (rows of E) and backpropagate Σ_i ℓ_i(E_i); row i of ∇_E is ∇ℓ_i. DP-SGD (Abadi et al., arXiv 1607.00133,
Alg. 1) with Poisson sampling at rate q: g = (Σ_{i∈batch} clip_C(∇ℓ_i) + N(0, (z C)² I)) / (q n). Its privacy is
`loyal.protocols.dpftrl.accounting.poisson_epsilon(z, δ, rate=q, steps=S)` (RDP; add/remove adjacency).
The universal-guidance baseline releases one Gaussian-mechanism mean of clipped features (accounted with
`accounting.calibrate_noise_multiplier`).
"""

from __future__ import annotations

import torch

from loyal.methods.diffusion import schedule


def per_example_embedding_grads(model: torch.nn.Module, embedding: torch.Tensor, x0: torch.Tensor,
                                t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """∇_e ℓ_i(e) for every example i at one shared embedding e (cond_dim,), shape (B, cond_dim).

    Args:
      model: frozen ε̂(x, t, cond) with per-sample outputs (no batch coupling).
      embedding: e, shape (cond_dim,).
      x0: private examples (B, d).
      t: diffusion times (B, k), k noise draws per example.
      noise: ε draws (B, k, d).
    """
    return row_embedding_grads(model, embedding.detach().expand(x0.shape[0], -1), x0, t, noise)


def row_embedding_grads(model: torch.nn.Module, rows: torch.Tensor, x0: torch.Tensor, t: torch.Tensor,
                        noise: torch.Tensor) -> torch.Tensor:
    """∇ℓ_i(rows_i) for every i: example i's loss at its own embedding rows_i (B, cond_dim); shapes as above."""
    b, k = t.shape
    if x0.shape[0] != b or rows.shape[0] != b or noise.shape != (b, k, x0.shape[1]):
        raise ValueError(f"shape mismatch: rows {tuple(rows.shape)}, x0 {tuple(x0.shape)}, t {tuple(t.shape)}, "
                         f"noise {tuple(noise.shape)}")
    rows = rows.detach().clone().requires_grad_(True)
    tf = t.reshape(-1)
    xt = schedule.alpha(tf)[:, None] * x0.repeat_interleave(k, 0) + schedule.sigma(tf)[:, None] * noise.reshape(b * k, -1)
    with torch.enable_grad():
        pred = model(xt, tf, rows.repeat_interleave(k, 0))
        per_example = ((pred - noise.reshape(b * k, -1)) ** 2).mean(1).reshape(b, k).mean(1)
        (grads,) = torch.autograd.grad(per_example.sum(), rows)
    return grads


def clip_per_example(grads: torch.Tensor, clip_norm: float) -> torch.Tensor:
    """Rows scaled by min(1, C / ‖row‖₂), so every row has norm ≤ C (Alg. 1 of arXiv 1607.00133)."""
    if not clip_norm > 0:
        raise ValueError(f"clip_norm must be > 0, got {clip_norm}")
    norms = grads.norm(dim=1, keepdim=True)
    return grads * torch.clamp(clip_norm / torch.clamp(norms, min=1e-12), max=1.0)


def noisy_sum(rows: torch.Tensor, clip_norm: float, noise_multiplier: float, generator: torch.Generator) -> torch.Tensor:
    """Σ rows + N(0, (noise_multiplier · clip_norm)² I): the Gaussian mechanism on a sum of C-bounded rows."""
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    noise = torch.randn(rows.shape[1:], generator=generator, dtype=rows.dtype)
    return rows.sum(0) + noise_multiplier * clip_norm * noise.to(rows.device)


def poisson_batch(n: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Indices of a Poisson sample: each of n examples kept independently with probability `rate`."""
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1], got {rate}")
    return torch.nonzero(torch.rand(n, generator=generator) < rate).reshape(-1)


def dp_mean(rows: torch.Tensor, clip_norm: float, noise_multiplier: float, generator: torch.Generator) -> torch.Tensor:
    """(Σ clip_C(rows) + N(0, (z C)² I)) / n, with n public."""
    return noisy_sum(clip_per_example(rows, clip_norm), clip_norm, noise_multiplier, generator) / len(rows)
