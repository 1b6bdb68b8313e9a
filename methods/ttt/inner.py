# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The TTT inner loop (arXiv 2407.04620, Sec. 2): mini-batch TTT in the dual form, and a slow primal reference.

Notation (one head; rows are tokens): for a mini-batch of b tokens with keys K, values V and queries Q
(b × d), the inner model is f(x; W) = x + LN(g(x; W)) (residual and LayerNorm optional, Sec. 2.7) with
g(x; W) = x W + c (TTT-Linear) or g(x; W) = GELU(x W₁ + c₁) W₂ + c₂ (TTT-MLP). The self-supervised loss is
ℓ(W; t) = ‖f(k_t; W) − v_t‖² (Eq. 4 with θ_K x_t, θ_V x_t). Mini-batch TTT (Sec. 2.4, Eq. 6): every
gradient of a mini-batch is taken at W₀, the weights at its start, and W_t = W₀ − Σ_{s≤t} η_s ∇ℓ(W₀; s);
the output is z_t = f(q_t; W_t). The dual form (Sec. 2.5) never builds W_t: with G = ∂ℓ/∂g at W₀
(b × d, through the LayerNorm backward in closed form),

    g(q_t; W_t) = q_t W₀ + c₀ − Σ_{s≤t} η_s (q_t·k_s + 1) G_s    →   Ẑ = Q W₀ + c₀ − tril((Q Kᵀ + 1) ∘ η) G

and for TTT-MLP the same identity is used once per layer (the second with the hidden activations of the
queries and keys). Shapes carry leading batch dimensions (..., b, d): batch × heads in the layer.

`primal_reference` is the slow oracle: token by token, gradients by `torch.func.grad`, W_t built explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch.func import grad

KINDS = ("linear", "mlp")
_EPS = 1e-6


def init_inner_params(kind: str, dim: int, heads: int = 1, hidden_mult: int = 4, std: float = 0.02,
                      generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Initial inner weights W₀ (learned in the outer loop), one set per head.

    Args:
      kind: "linear" (W: d × d, c) or "mlp" (W₁: d × hidden_mult·d, c₁, W₂, c₂).
      dim: head dimension d, >= 1.
      heads: independent inner models, >= 1.
      hidden_mult: TTT-MLP hidden width over d (the paper uses 4).
      std: normal init scale of the matrices; biases start at 0.

    Returns:
      name -> tensor of shape (heads, rows, cols); LayerNorm scale `ln_w` (ones) and shift `ln_b` (zeros).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if dim < 1 or heads < 1:
        raise ValueError(f"dim and heads must be >= 1, got dim={dim}, heads={heads}")

    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * std

    if kind == "linear":
        params = {"W": normal(heads, dim, dim), "c": torch.zeros(heads, 1, dim)}
    else:
        hidden = hidden_mult * dim
        params = {"W1": normal(heads, dim, hidden), "c1": torch.zeros(heads, 1, hidden),
                  "W2": normal(heads, hidden, dim), "c2": torch.zeros(heads, 1, dim)}
    return params | {"ln_w": torch.ones(heads, 1, dim), "ln_b": torch.zeros(heads, 1, dim)}


def _gelu_grad(x: torch.Tensor) -> torch.Tensor:
    """d/dx of the exact GELU x·Φ(x): Φ(x) + x·φ(x)."""
    cdf = 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LayerNorm over the last axis; returns (output, x̂, 1/σ) for the closed-form backward."""
    mu = x.mean(-1, keepdim=True)
    inv_std = torch.rsqrt(x.var(-1, keepdim=True, unbiased=False) + _EPS)
    x_hat = (x - mu) * inv_std
    return weight * x_hat + bias, x_hat, inv_std


def layer_norm_backward(d_out: torch.Tensor, x_hat: torch.Tensor, inv_std: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """∂/∂x of LayerNorm given ∂/∂output: (1/σ)(ĝ − mean ĝ − x̂·mean(ĝ·x̂)), ĝ = γ ∘ d_out."""
    g = d_out * weight
    return inv_std * (g - g.mean(-1, keepdim=True) - x_hat * (g * x_hat).mean(-1, keepdim=True))


def _output_grad(pre: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, params: Mapping[str, torch.Tensor],
                 use_ln: bool, residual: bool) -> torch.Tensor:
    """G = ∂ℓ/∂g for ℓ = ‖f(k) − v‖², where `pre` = g(k; W₀)."""
    target = values - keys if residual else values
    if not use_ln:
        return 2.0 * (pre - target)
    out, x_hat, inv_std = layer_norm(pre, params["ln_w"], params["ln_b"])
    return layer_norm_backward(2.0 * (out - target), x_hat, inv_std, params["ln_w"])


def _finish(pre: torch.Tensor, queries: torch.Tensor, params: Mapping[str, torch.Tensor], use_ln: bool, residual: bool) -> torch.Tensor:
    out = layer_norm(pre, params["ln_w"], params["ln_b"])[0] if use_ln else pre
    return queries + out if residual else out


def dual_minibatch(kind: str, params: Mapping[str, torch.Tensor], queries: torch.Tensor, keys: torch.Tensor,
                   values: torch.Tensor, eta: torch.Tensor, use_ln: bool = True, residual: bool = True
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One mini-batch of TTT in the dual form (Sec. 2.5): outputs z_1..z_b and the weights W_b at its end.

    Args:
      kind: "linear" or "mlp".
      params: inner weights at the start of the mini-batch, shapes (..., rows, cols) broadcastable to the batch.
      queries, keys, values: (..., b, d) projections θ_Q x, θ_K x, θ_V x.
      eta: (..., b) inner learning rate of each token (applied to that token's gradient), >= 0.
      use_ln, residual: f(x) = x + LN(g(x)) when both are on.

    Returns:
      (z of shape (..., b, d), the updated params; LayerNorm params are outer-loop only and pass through).
    """
    mask = torch.ones(keys.shape[-2], keys.shape[-2], dtype=keys.dtype, device=keys.device).tril()
    weight = eta.unsqueeze(-2) * mask  # [t, s] = η_s for s <= t
    new = dict(params)
    if kind == "linear":
        grads = _output_grad(keys @ params["W"] + params["c"], keys, values, params, use_ln, residual)
        pre_q = queries @ params["W"] + params["c"] - ((queries @ keys.transpose(-1, -2) + 1.0) * weight) @ grads
        eta_g = eta.unsqueeze(-1) * grads
        new["W"] = params["W"] - keys.transpose(-1, -2) @ eta_g
        new["c"] = params["c"] - eta_g.sum(-2, keepdim=True)
        return _finish(pre_q, queries, params, use_ln, residual), new
    if kind != "mlp":
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    z1 = keys @ params["W1"] + params["c1"]
    x2 = torch.nn.functional.gelu(z1)
    g2 = _output_grad(x2 @ params["W2"] + params["c2"], keys, values, params, use_ln, residual)
    g1 = (g2 @ params["W2"].transpose(-1, -2)) * _gelu_grad(z1)
    z1_q = queries @ params["W1"] + params["c1"] - ((queries @ keys.transpose(-1, -2) + 1.0) * weight) @ g1
    x2_q = torch.nn.functional.gelu(z1_q)
    pre_q = x2_q @ params["W2"] + params["c2"] - ((x2_q @ x2.transpose(-1, -2) + 1.0) * weight) @ g2
    eta_g1, eta_g2 = eta.unsqueeze(-1) * g1, eta.unsqueeze(-1) * g2
    new["W1"] = params["W1"] - keys.transpose(-1, -2) @ eta_g1
    new["c1"] = params["c1"] - eta_g1.sum(-2, keepdim=True)
    new["W2"] = params["W2"] - x2.transpose(-1, -2) @ eta_g2
    new["c2"] = params["c2"] - eta_g2.sum(-2, keepdim=True)
    return _finish(pre_q, queries, params, use_ln, residual), new


def ttt_scan(kind: str, params: Mapping[str, torch.Tensor], queries: torch.Tensor, keys: torch.Tensor,
             values: torch.Tensor, eta: torch.Tensor, mini_batch: int, use_ln: bool = True, residual: bool = True
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A whole sequence: mini-batches of `mini_batch` tokens in order, each in the dual form (Alg. of Sec. 2.5).

    The cost is linear in the sequence length n: n / b steps of O(b² d + b d²) each (O(b d · 4d) for TTT-MLP).
    The last mini-batch may be shorter. Returns (z of shape (..., n, d), the final inner weights W_n).
    """
    if mini_batch < 1:
        raise ValueError(f"mini_batch must be >= 1, got {mini_batch}")
    if not queries.shape == keys.shape == values.shape or eta.shape != queries.shape[:-1]:
        raise ValueError(f"shape mismatch: q {tuple(queries.shape)}, k {tuple(keys.shape)}, v {tuple(values.shape)}, "
                         f"eta {tuple(eta.shape)} (eta must be q's shape without the last axis)")
    outputs, state = [], dict(params)
    for start in range(0, queries.shape[-2], mini_batch):
        part = slice(start, start + mini_batch)
        z, state = dual_minibatch(kind, state, queries[..., part, :], keys[..., part, :], values[..., part, :],
                                  eta[..., part], use_ln, residual)
        outputs.append(z)
    return torch.cat(outputs, dim=-2), state


def inner_model(kind: str, params: Mapping[str, torch.Tensor], x: torch.Tensor, use_ln: bool = True,
                residual: bool = True) -> torch.Tensor:
    """f(x; W) for one head: x + LN(g(x; W)), written directly (used by the primal reference)."""
    if kind == "linear":
        pre = x @ params["W"] + params["c"]
    else:
        pre = torch.nn.functional.gelu(x @ params["W1"] + params["c1"]) @ params["W2"] + params["c2"]
    return _finish(pre, x, params, use_ln, residual)


def primal_reference(kind: str, params: Mapping[str, torch.Tensor], queries: torch.Tensor, keys: torch.Tensor,
                     values: torch.Tensor, eta: torch.Tensor, mini_batch: int, use_ln: bool = True,
                     residual: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Slow oracle for `ttt_scan`, one head, no batch axis: (n, d) inputs, (1, ...) or unbatched params.

    Token by token: ∇ℓ(W₀; s) by autograd (`torch.func.grad`), W_t = W₀ − Σ_{s≤t} η_s ∇ℓ(W₀; s) materialised,
    z_t = f(q_t; W_t) (Eq. 6 of Sec. 2.4). With mini_batch = 1 this is plain online gradient descent.
    """
    inner_names = [k for k in params if not k.startswith("ln_")]
    fixed = {k: v for k, v in params.items() if k.startswith("ln_")}

    def loss(weights: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return ((inner_model(kind, weights | fixed, k, use_ln, residual) - v) ** 2).sum()

    loss_grad = grad(loss)
    outputs = []
    start_w = {k: params[k] for k in inner_names}
    for start in range(0, queries.shape[0], mini_batch):
        current = dict(start_w)
        for t in range(start, min(start + mini_batch, queries.shape[0])):
            g = loss_grad(start_w, keys[t : t + 1], values[t : t + 1])
            current = {k: current[k] - eta[t] * g[k] for k in inner_names}
            outputs.append(inner_model(kind, current | fixed, queries[t : t + 1], use_ln, residual))
        start_w = current
    return torch.cat(outputs, dim=0), start_w | fixed
