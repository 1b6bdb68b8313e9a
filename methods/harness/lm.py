# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A small byte-level causal LM trained here from scratch, with held-out cross-entropy checkpoints.

Shared by the data methods (ZIP-FIT's selection comparison, model collapse's LM setting). The model is
`loyal.methods.kit.models.char_transformer` (GPT-2 architecture) over the 256 byte values; it runs on
CUDA when present.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LmConfig:
    """Size and optimisation of the small LM.

    Attributes:
      seq_len: bytes per training window, >= 8.
      width: embedding size, divisible by `heads`.
      layers: transformer blocks, >= 1.
      heads: attention heads, >= 1.
      steps: Adam steps, >= 1.
      batch_size: windows per step, >= 1.
      learning_rate: Adam step size, > 0.
      eval_every: steps between held-out evaluations, >= 1 (the last step is always evaluated).
    """

    seq_len: int = 64
    width: int = 64
    layers: int = 2
    heads: int = 2
    steps: int = 200
    batch_size: int = 16
    learning_rate: float = 3e-3
    eval_every: int = 25

    def __post_init__(self) -> None:
        for name in ("layers", "heads", "steps", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.seq_len < 8:
            raise ValueError(f"seq_len must be >= 8, got {self.seq_len}")
        if self.width % self.heads:
            raise ValueError(f"width must be divisible by heads, got width={self.width}, heads={self.heads}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")


def to_bytes(texts: Sequence[str]) -> np.ndarray:
    """UTF-8 bytes of the texts joined by newlines, as int64 token ids in [0, 256)."""
    return np.frombuffer("\n".join(texts).encode("utf-8", errors="replace"), dtype=np.uint8).astype(np.int64)


def windows(ids: np.ndarray, seq_len: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random windows of `seq_len + 1` tokens (inputs and shifted targets) from `ids`."""
    if len(ids) <= seq_len + 1:
        raise ValueError(f"need more than seq_len + 1 = {seq_len + 1} tokens, got {len(ids)}")
    starts = rng.integers(0, len(ids) - seq_len - 1, size=count)
    return np.stack([ids[s : s + seq_len + 1] for s in starts])


def new_model(config: LmConfig, seed: int):
    """A fresh byte-level GPT-2 style model (initialised from `seed`) on CUDA when present, else CPU.

    On CPU torch is limited to one thread: these models are tiny, arms run in parallel as separate
    actors, and several threads on a shared 2-core machine spin-wait (measured 10× slower per step).
    """
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    from loyal.methods.kit.models.char_transformer import char_transformer
    from loyal.methods.kit.train import device as kit_device

    device = kit_device()
    model = char_transformer(256, seq_len=config.seq_len, width=config.width, layers=config.layers, heads=config.heads)
    torch.manual_seed(seed)  # transformers' construction-time init does not follow torch's seed; redo it seeded
    model.apply(model._init_weights)
    return model.to(device)


def cross_entropy(model, ids: np.ndarray, seq_len: int, max_windows: int = 64) -> float:
    """Mean next-byte cross-entropy (nats) over the first `max_windows` non-overlapping windows of `ids`."""
    import torch

    count = min(max_windows, (len(ids) - 1) // (seq_len + 1))
    if count < 1:
        raise ValueError(f"eval text too short: {len(ids)} tokens")
    device = next(model.parameters()).device
    batch = torch.as_tensor(ids[: count * (seq_len + 1)].reshape(count, seq_len + 1), device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), batch[:, 1:].reshape(-1))
    model.train(was_training)
    return float(loss)


def train_lm(model, train_ids: np.ndarray, config: LmConfig, seed: int, on_eval=None):
    """`config.steps` Adam steps on random windows of `train_ids`; calls `on_eval(step, model)` at step 0,
    every `eval_every` steps and at the end. Returns the model."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    model.train()
    if on_eval is not None:
        on_eval(0, model)
    for step in range(1, config.steps + 1):
        batch = torch.as_tensor(windows(train_ids, config.seq_len, config.batch_size, rng), device=device)
        logits = model(input_ids=batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), batch[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if on_eval is not None and (step % config.eval_every == 0 or step == config.steps):
            on_eval(step, model)
    return model


def sample_bytes(model, count: int, length: int, seed: int, prompt: int = 10) -> np.ndarray:
    """`count` sequences of `length` bytes sampled at temperature 1 after a one-byte `prompt` (newline)."""
    import torch

    torch.manual_seed(seed)
    device = next(model.parameters()).device
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, count, 256):
            n = min(256, count - start)
            ids = torch.full((n, 1), prompt, dtype=torch.long, device=device)
            for _ in range(length):
                logits = model(input_ids=ids[:, -model.config.n_positions :]).logits[:, -1, :]
                ids = torch.cat([ids, torch.multinomial(torch.softmax(logits, -1), 1)], dim=1)
            out.append(ids[:, 1:].cpu().numpy())
    model.train()
    return np.concatenate(out).astype(np.int64)


def train_and_track(train_ids: np.ndarray, eval_ids: np.ndarray, config: LmConfig, seed: int) -> dict[str, list[float]]:
    """Trains a fresh LM on `train_ids`; returns {"step": [...], "eval_ce": [...]} (nats per byte on `eval_ids`)."""
    curve: dict[str, list[float]] = {"step": [], "eval_ce": []}

    def record(step: int, model) -> None:
        curve["step"].append(step)
        curve["eval_ce"].append(cross_entropy(model, eval_ids, config.seq_len))

    train_lm(new_model(config, seed), train_ids, config, seed, record)
    return curve
