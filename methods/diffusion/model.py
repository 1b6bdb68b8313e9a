# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Class-conditional ε-prediction MLP on 8×8 digits and its training (DDPM's simple loss, Ho et al. 2020, Eq. 14).

The conditioning is a vector c (B, cond_dim) looked up in `model.classes` (one row per class plus a last
"null" row, trained by label dropout as in classifier-free guidance, Ho & Salimans, arXiv 2207.12598), so a
new embedding e* can be passed in place of a row (textual inversion, Gal et al., arXiv 2208.01618).
Trained models are cached in the loyal cache folder (`LOYAL_CACHE_DIR`), keyed by their config.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math

import torch
from torch import nn

from loyal.methods.diffusion import schedule
from loyal.methods.diffusion.data import digits
from loyal.methods.kit.train import device

logger = logging.getLogger(__name__)
_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class DenoiserConfig:
    """Architecture and training of the noise-prediction MLP.

    Attributes:
      hidden: width of the residual MLP, >= 16.
      blocks: residual blocks, >= 1 (hidden=320, blocks=3 is ~0.7M parameters).
      cond_dim: size of a class / textual-inversion embedding, >= 2.
      classes: digit classes trained on (the others stay unseen, e.g. for DP inversion), non-empty, in 0..9.
      steps: Adam steps, >= 1.
      batch_size: examples per step, >= 8.
      learning_rate: peak Adam learning rate (cosine decay), > 0.
      label_dropout: probability of training on the null embedding, in [0, 1).
      seed: training seed.
    """

    hidden: int = 320
    blocks: int = 3
    cond_dim: int = 32
    classes: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8)
    steps: int = 12000
    batch_size: int = 256
    learning_rate: float = 2e-3
    label_dropout: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden < 16 or self.blocks < 1 or self.cond_dim < 2:
            raise ValueError(f"need hidden >= 16, blocks >= 1, cond_dim >= 2, got {self.hidden}, {self.blocks}, "
                             f"{self.cond_dim}")
        if not self.classes or not set(self.classes) <= set(range(10)) or len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be distinct digits in 0..9, got {self.classes}")
        if self.steps < 1 or self.batch_size < 8:
            raise ValueError(f"steps must be >= 1 and batch_size >= 8, got {self.steps}, {self.batch_size}")
        if not self.learning_rate > 0 or not 0 <= self.label_dropout < 1:
            raise ValueError(f"need learning_rate > 0 and label_dropout in [0, 1), got {self.learning_rate}, "
                             f"{self.label_dropout}")


def time_features(t: torch.Tensor, size: int = 32) -> torch.Tensor:
    """Sinusoidal features of 1000·t (Vaswani et al. 2017), shape (B, size)."""
    freqs = torch.exp(-math.log(1000.0) * torch.arange(size // 2, device=t.device, dtype=torch.float32) / (size // 2))
    arg = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class NoiseMlp(nn.Module):
    """ε̂(x, t, c): pre-LayerNorm residual MLP with (time, condition) added to every block."""

    def __init__(self, config: DenoiserConfig, dim: int = 64) -> None:
        super().__init__()
        h = config.hidden
        self.classes = nn.Embedding(len(config.classes) + 1, config.cond_dim)
        self.inp = nn.Linear(dim, h)
        self.emb = nn.Sequential(nn.Linear(32 + config.cond_dim, h), nn.SiLU(), nn.Linear(h, h))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(h), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h)) for _ in range(config.blocks))
        self.out = nn.Sequential(nn.LayerNorm(h), nn.Linear(h, dim))

    @property
    def null_index(self) -> int:
        return self.classes.num_embeddings - 1

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x (B, 64), t a 0-d or (B,) time, cond (B, cond_dim) embeddings; returns ε̂ (B, 64)."""
        t = t.to(x.device).reshape(-1).expand(x.shape[0])
        e = self.emb(torch.cat([time_features(t), cond], dim=1))
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h + e)
        return self.out(h)

    def eps_fn(self, labels: torch.Tensor):
        """A sampler callable (x, t) → ε̂ conditioned on class indices `labels` (B,)."""
        cond = self.classes(labels)
        return lambda x, t: self(x, t, cond)


def train_denoiser(config: DenoiserConfig) -> NoiseMlp:
    """Trains ε̂ on the digits of `config.classes` with the simple loss ‖ε − ε̂(α x0 + σ ε, t, c)‖², t ~ U[T_MIN, 1]."""
    from rich.progress import Progress

    dev = device()
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    x_all, y_all = digits(config.classes)
    x_all, y_all = torch.as_tensor(x_all, dtype=torch.float32), torch.as_tensor(y_all)
    model = NoiseMlp(config).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 200) * 0.5 * (1 + math.cos(math.pi * s / config.steps)))
    smooth = float("nan")
    with Progress(transient=True) as bar:
        task = bar.add_task("training the digits denoiser", total=config.steps)
        for _ in range(config.steps):
            idx = torch.randint(len(x_all), (config.batch_size,), generator=gen)
            x0, y = x_all[idx], y_all[idx].clone()
            y[torch.rand(config.batch_size, generator=gen) < config.label_dropout] = model.null_index
            t = schedule.T_MIN + (1 - schedule.T_MIN) * torch.rand(config.batch_size, generator=gen)
            eps = torch.randn(x0.shape, generator=gen)
            xt = schedule.alpha(t)[:, None] * x0 + schedule.sigma(t)[:, None] * eps
            loss = ((model(xt.to(dev), t.to(dev), model.classes(y.to(dev))) - eps.to(dev)) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            smooth = loss.item() if math.isnan(smooth) else 0.98 * smooth + 0.02 * loss.item()
            bar.advance(task)
    logger.info("denoiser: %d parameters, final smoothed loss %.4f", sum(p.numel() for p in model.parameters()), smooth)
    return model.eval().requires_grad_(False)


@functools.lru_cache(maxsize=2)
def load_denoiser(config: DenoiserConfig) -> NoiseMlp:
    """The trained denoiser of `config`, from the cache folder or trained (and cached) now; frozen, in eval mode."""
    from loyal.methods.kit.data.cache import cache_dir, cache_key, scratch_path

    path = cache_dir() / f"digits-denoiser-{cache_key(v=_FORMAT_VERSION, **dataclasses.asdict(config))}.pt"
    if path.is_file():
        model = NoiseMlp(config)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.to(device()).eval().requires_grad_(False)
    model = train_denoiser(config)
    tmp = scratch_path(path)
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(path)
    return model


def configure_torch() -> torch.device:
    """One intra-op thread on CPU (small models; on shared 2-core machines more threads only contend); the device."""
    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    return device()
