# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""WeightNorm MLPs, predictor Hessian spectral norms by Hessian-vector products, and gradient descent (arXiv 2409.08935).

Networks (L hidden layers of width m, smooth activation φ, scalar output; parameters one flat vector θ):

* WeightNorm (Salimans & Kingma 2016; the model of arXiv 2409.08935, Sec. 2): neuron i of layer l has
  w_i = g_i v_i / ‖v_i‖ and α^(l) = φ(W^(l) α^(l−1)); θ = (v, g, a) with v_i ~ N(0, I), g_i = 1.
* Unnormalized (the comparison without WeightNorm; NTK scaling as in Liu, Zhu & Belkin 2020):
  α^(l) = φ(W^(l) α^(l−1) / √m_{l−1}); θ = (W, a) with W ~ N(0, 1). At initialisation the two compute nearly
  the same function (‖v_i‖ ≈ √m_{l−1}); they differ in how the parameters enter.

Both end in f(θ; x) = a·α^(L) / √m. The paper bounds ‖∇²_θ f(θ; x)‖₂ by a quantity that decreases with the
width and grows as the weight-vector norms min_i ‖v_i‖ shrink (its "normalization terms"). We measure that
norm by power iteration on H² with H u computed as a Hessian-vector product (`torch.func`: forward-mode
jvp of the reverse-mode gradient), never forming H. Scale invariance (f(c·v) = f(v) for each row) gives
the closed forms tested here: ∇_v f ⊥ v and ∇²f(c·v) = D ∇²f(v) D with D = 1/c on the v-coordinates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch.func import grad, jvp, vmap

KINDS = ("weightnorm", "unnormalized")
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh, "softplus": torch.nn.functional.softplus, "gelu": torch.nn.functional.gelu,
}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """An MLP's shape: `in_dim` inputs, `depth` hidden layers of `width`, scalar output.

    Attributes:
      kind: "weightnorm" or "unnormalized".
      in_dim, width, depth: >= 1.
      activation: a key of `ACTIVATIONS` (smooth, as the paper assumes).
    """

    kind: str
    in_dim: int
    width: int
    depth: int = 2
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if min(self.in_dim, self.width, self.depth) < 1:
            raise ValueError(f"in_dim, width, depth must be >= 1, got {self.in_dim}, {self.width}, {self.depth}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}")

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each parameter block, in the order of the flat vector."""
        out: list[tuple[str, tuple[int, ...]]] = []
        fan_in = self.in_dim
        for layer in range(self.depth):
            out.append((f"v{layer}" if self.kind == "weightnorm" else f"W{layer}", (self.width, fan_in)))
            if self.kind == "weightnorm":
                out.append((f"g{layer}", (self.width,)))
            fan_in = self.width
        return out + [("a", (self.width,))]

    def size(self) -> int:
        return sum(math.prod(s) for _, s in self.shapes())


def unflatten(arch: Architecture, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Views of the flat parameter vector, one per block of `arch.shapes()`."""
    if theta.shape != (arch.size(),):
        raise ValueError(f"theta must have shape ({arch.size()},), got {tuple(theta.shape)}")
    out, start = {}, 0
    for name, shape in arch.shapes():
        count = math.prod(shape)
        out[name] = theta[start : start + count].view(shape)
        start += count
    return out


def init_params(arch: Architecture, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """θ₀: every weight and the output layer N(0, 1), WeightNorm gains g = 1."""
    blocks = []
    for name, shape in arch.shapes():
        blocks.append(torch.ones(shape, dtype=dtype) if name.startswith("g") else torch.randn(shape, generator=generator, dtype=dtype))
    return torch.cat([b.reshape(-1) for b in blocks])


def weight_norm(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """w_i = g_i v_i / ‖v_i‖ for each row i (Salimans & Kingma 2016, Eq. 2)."""
    return g[:, None] * v / v.norm(dim=1, keepdim=True)


def forward(arch: Architecture, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """f(θ; x) for inputs x of shape (n, in_dim) or (in_dim,); returns shape (n,) or ()."""
    p = unflatten(arch, theta)
    phi = ACTIVATIONS[arch.activation]
    h = x
    for layer in range(arch.depth):
        if arch.kind == "weightnorm":
            h = phi(h @ weight_norm(p[f"v{layer}"], p[f"g{layer}"]).T)
        else:
            weight = p[f"W{layer}"]
            h = phi(h @ weight.T / math.sqrt(weight.shape[1]))
    return h @ p["a"] / math.sqrt(arch.width)


def hvp(arch: Architecture, theta: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """∇²_θ f(θ; x) u for one input x, as the jvp of the gradient (forward-over-reverse)."""
    return jvp(grad(lambda t: forward(arch, t, x)), (theta,), (u,))[1]


def hessian_spectral_norms(arch: Architecture, theta: torch.Tensor, xs: torch.Tensor, iterations: int = 100,
                           tol: float = 1e-6, generator: torch.Generator | None = None) -> torch.Tensor:
    """‖∇²_θ f(θ; x_j)‖₂ for each row x_j of `xs`, by power iteration on H² (H is indefinite, with ± pairs
    from the output layer), all inputs at once (`torch.func.vmap` over the HVPs).

    Returns ‖H u_k‖ for each input's last unit iterate u_k: lower bounds that converge to the spectral norms.

    Args:
      xs: inputs, shape (k, in_dim).
      iterations: at most this many H² products, >= 1.
      tol: stop when every estimate changed by less than tol × estimate in the last iteration.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    batched = vmap(lambda x, u: hvp(arch, theta, x, u))
    u = torch.randn((xs.shape[0], theta.shape[0]), generator=generator, dtype=theta.dtype).to(theta.device)
    u = u / u.norm(dim=1, keepdim=True)
    estimate = torch.zeros(xs.shape[0], dtype=theta.dtype, device=theta.device)
    for _ in range(iterations):
        hu = batched(xs, u)
        new = hu.norm(dim=1)
        safe = new.clamp_min(torch.finfo(theta.dtype).tiny)
        u = batched(xs, hu / safe[:, None])
        u = u / u.norm(dim=1, keepdim=True).clamp_min(torch.finfo(theta.dtype).tiny)
        if bool(((new - estimate).abs() <= tol * new).all()):
            return new
        estimate = new
    return batched(xs, u).norm(dim=1)


def hessian_spectral_norm(arch: Architecture, theta: torch.Tensor, x: torch.Tensor, iterations: int = 100,
                          tol: float = 1e-6, generator: torch.Generator | None = None) -> float:
    """‖∇²_θ f(θ; x)‖₂ for one input x (see `hessian_spectral_norms`)."""
    return float(hessian_spectral_norms(arch, theta, x[None, :], iterations, tol, generator)[0])


def min_row_norms(arch: Architecture, theta: torch.Tensor) -> list[float]:
    """Per hidden layer, min_i ‖v_i‖ (WeightNorm) or min_i ‖W_i‖ / √fan_in (unnormalized: the effective row norm)."""
    p = unflatten(arch, theta)
    out = []
    for layer in range(arch.depth):
        if arch.kind == "weightnorm":
            out.append(float(p[f"v{layer}"].norm(dim=1).min()))
        else:
            weight = p[f"W{layer}"]
            out.append(float(weight.norm(dim=1).min() / math.sqrt(weight.shape[1])))
    return out


def max_gains(arch: Architecture, theta: torch.Tensor) -> list[float]:
    """Per hidden layer, max_i |g_i| (WeightNorm only): with w_i = g_i v_i/‖v_i‖ the v-block of the Hessian scales as g/‖v‖."""
    if arch.kind != "weightnorm":
        raise ValueError(f"max_gains needs a weightnorm architecture, got kind={arch.kind!r}")
    p = unflatten(arch, theta)
    return [float(p[f"g{layer}"].abs().max()) for layer in range(arch.depth)]


def scale_hidden_weights(arch: Architecture, theta: torch.Tensor, factor: float) -> torch.Tensor:
    """θ with every hidden weight block (v or W, not g or a) multiplied by `factor` > 0."""
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    blocks = unflatten(arch, theta)
    return torch.cat([(b * factor if n[0] in "vW" else b).reshape(-1) for n, b in blocks.items()])


def squared_loss(arch: Architecture, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L(θ) = (1/2n) Σ (f(θ; x_j) − y_j)²."""
    return 0.5 * ((forward(arch, theta, x) - y) ** 2).mean()


def gradient_descent_step(arch: Architecture, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                          learning_rate: float) -> tuple[torch.Tensor, float]:
    """One full-batch GD step θ ← θ − η ∇L(θ); returns (new θ, L(θ) before the step)."""
    theta = theta.detach().requires_grad_(True)
    loss = squared_loss(arch, theta, x, y)
    (gradient,) = torch.autograd.grad(loss, theta)
    return (theta - learning_rate * gradient).detach(), float(loss.detach())
