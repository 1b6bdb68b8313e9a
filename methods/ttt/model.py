# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""TTT and attention sequence layers and a small `transformers`-style LM built from them (arXiv 2407.04620).

`TttLayer` (Sec. 2.7 "TTT layers as drop-in replacements"): outer-loop projections θ_Q, θ_K, θ_V, θ_O,
multi-head inner models with learned initial weights W₀ (Sec. 2.7, "learnable W₀"), a learned per-token
inner learning rate η(x) = η_base · sigmoid(θ_lr x) (Sec. 2.7, "learnable η"), and an optional causal
depth-wise convolution of width 4 before θ_Q and θ_K, as in the paper's Mamba backbone. The inner loop is
`inner.ttt_scan` (mini-batch TTT, dual form). `CausalAttention` is the same-width softmax-attention mixer.

`TttLmForCausalLM`: embedding → N × [x + mixer(LN x); x + MLP(LN x)] → LN → tied head, with the mixer one of
"ttt_linear", "ttt_mlp", "attention" (the attention model adds learned positions).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from loyal.methods.ttt import inner

MIXERS = ("ttt_linear", "ttt_mlp", "attention")


class TttLayer(nn.Module):
    """A TTT-Linear or TTT-MLP layer: (batch, n, width) → (batch, n, width), linear cost in n.

    Args:
      width: model width, divisible by `heads`.
      heads: inner models, each on width / heads dimensions.
      kind: "linear" or "mlp".
      mini_batch: TTT mini-batch size b, >= 1 (the paper uses 16).
      eta_base: base inner learning rate, > 0 (η_s ∈ (0, eta_base)).
      conv_kernel: causal depth-wise convolution width before θ_Q/θ_K; 0 disables it.
      use_ln, residual: the inner model is x + LN(g(x)) when both are on (Sec. 2.7).
    """

    def __init__(self, width: int, heads: int, kind: str, mini_batch: int = 16, eta_base: float = 1.0,
                 conv_kernel: int = 4, use_ln: bool = True, residual: bool = True):
        super().__init__()
        if width % heads:
            raise ValueError(f"width must be divisible by heads, got width={width}, heads={heads}")
        if mini_batch < 1:
            raise ValueError(f"mini_batch must be >= 1, got {mini_batch}")
        if not eta_base > 0:
            raise ValueError(f"eta_base must be > 0, got {eta_base}")
        self.kind, self.heads, self.head_dim = kind, heads, width // heads
        self.mini_batch, self.eta_base, self.use_ln, self.residual = mini_batch, eta_base, use_ln, residual
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.lr = nn.Linear(width, heads)
        self.out = nn.Linear(width, width, bias=False)
        self.post_norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, conv_kernel, groups=width, padding=conv_kernel - 1) if conv_kernel else None
        start = inner.init_inner_params(kind, self.head_dim, heads)
        self.inner = nn.ParameterDict({k: nn.Parameter(v) for k, v in start.items()})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n, width = x.shape
        qk_in = x
        if self.conv is not None:
            qk_in = self.conv(x.transpose(1, 2))[..., :n].transpose(1, 2)
        w_q, w_k, w_v = self.qkv.weight.chunk(3, dim=0)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, n, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(qk_in @ w_q.T), heads(qk_in @ w_k.T), heads(x @ w_v.T)
        eta = (self.eta_base / self.head_dim) * torch.sigmoid(self.lr(x)).transpose(1, 2)  # (batch, heads, n)
        params = dict(self.inner.items())
        z, _ = inner.ttt_scan(self.kind, params, q, k, v, eta, self.mini_batch, self.use_ln, self.residual)
        return self.out(self.post_norm(z.transpose(1, 2).reshape(batch, n, width)))


class CausalAttention(nn.Module):
    """Multi-head causal softmax attention (quadratic cost in n), PyTorch's fused kernel."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"width must be divisible by heads, got width={width}, heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n, width = x.shape
        q, k, v = (t.view(batch, n, self.heads, -1).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        z = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(z.transpose(1, 2).reshape(batch, n, width))


def make_mixer(mixer: str, width: int, heads: int, mini_batch: int = 16, eta_base: float = 1.0,
               conv_kernel: int = 4) -> nn.Module:
    """The sequence mixer named `mixer` (one of `MIXERS`)."""
    if mixer == "attention":
        return CausalAttention(width, heads)
    if mixer in ("ttt_linear", "ttt_mlp"):
        return TttLayer(width, heads, mixer.removeprefix("ttt_"), mini_batch, eta_base, conv_kernel)
    raise ValueError(f"mixer must be one of {MIXERS}, got {mixer!r}")


class TttLmConfig(PretrainedConfig):
    """Config of `TttLmForCausalLM` (field meanings as in `TttLayer`; `max_len` bounds attention positions)."""

    model_type = "loyal-ttt-lm"

    def __init__(self, vocab_size: int = 81, width: int = 64, layers: int = 2, heads: int = 4, mixer: str = "ttt_linear",
                 mini_batch: int = 16, eta_base: float = 1.0, conv_kernel: int = 4, max_len: int = 4096, **kwargs):
        if mixer not in MIXERS:
            raise ValueError(f"mixer must be one of {MIXERS}, got {mixer!r}")
        self.vocab_size, self.width, self.layers, self.heads, self.mixer = vocab_size, width, layers, heads, mixer
        self.mini_batch, self.eta_base, self.conv_kernel, self.max_len = mini_batch, eta_base, conv_kernel, max_len
        super().__init__(**kwargs)


class _Block(nn.Module):
    def __init__(self, config: TttLmConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(config.width), nn.LayerNorm(config.width)
        self.mixer = make_mixer(config.mixer, config.width, config.heads, config.mini_batch, config.eta_base, config.conv_kernel)
        self.mlp = nn.Sequential(nn.Linear(config.width, 4 * config.width), nn.GELU(), nn.Linear(4 * config.width, config.width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TttLmForCausalLM(PreTrainedModel):
    """Character LM whose sequence mixers are TTT layers (or attention); `logits` is (batch, n, vocab)."""

    config_class = TttLmConfig
    base_model_prefix = "ttt_lm"

    def __init__(self, config: TttLmConfig):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.width)
        self.positions = nn.Embedding(config.max_len, config.width) if config.mixer == "attention" else None
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, **_) -> CausalLMOutput:
        x = self.embed(input_ids)
        if self.positions is not None:
            x = x + self.positions(torch.arange(input_ids.shape[1], device=input_ids.device))
        for block in self.blocks:
            x = block(x)
        logits = self.norm(x) @ self.embed.weight.T
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
        return CausalLMOutput(loss=loss, logits=logits)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
