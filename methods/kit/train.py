# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Local training and evaluation on one client's data (the client's only computation besides encryption).

Two tasks share one interface: next-character prediction (integer windows x of shape (n, L) and the
following character y; the loss covers every position of the window, accuracy is LEAF's: the last
position) and classification (float features x, labels y).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class LocalTrainConfig:
    """Client-side optimisation (FedAvg's ClientUpdate, McMahan et al. arXiv 1602.05629, Alg. 1).

    Attributes:
      learning_rate: client SGD step size, > 0.
      batch_size: samples per step, >= 1.
      max_steps: local steps per round, >= 1 (a client with less data cycles over it).
      momentum: client SGD momentum in [0, 1) (ignored by Adam).
      optimizer: "sgd" (FedAvg's ClientUpdate) or "adam" (fresh state every round; converges far faster
        for small transformers trained from scratch).
    """

    learning_rate: float = 0.5
    batch_size: int = 16
    max_steps: int = 10
    momentum: float = 0.0
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")



def task_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (mean loss, correct predictions as a bool tensor) for a batch."""
    if x.dtype in (torch.int64, torch.int32):
        logits = model(input_ids=x).logits
        targets = torch.cat([x[:, 1:], y[:, None]], dim=1)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return loss, logits[:, -1].argmax(-1) == y
    logits = model(pixel_values=x).logits
    return nn.functional.cross_entropy(logits, y), logits.argmax(-1) == y


def get_flat_params(model: nn.Module) -> torch.Tensor:
    """All trainable parameters as one float32 vector (the update space of aggregation)."""
    return nn.utils.parameters_to_vector([p for p in model.parameters() if p.requires_grad]).detach()


def set_flat_params(model: nn.Module, flat: torch.Tensor) -> None:
    nn.utils.vector_to_parameters(flat.to(next(model.parameters()).dtype), [p for p in model.parameters() if p.requires_grad])


def local_update(
    model: nn.Module, x: np.ndarray, y: np.ndarray, config: LocalTrainConfig, seed: int
) -> tuple[torch.Tensor, float]:
    """Runs local SGD from the model's current weights; returns (delta = new − old, mean train loss).

    The model is left at its starting weights, so one model object can serve many clients in turn.
    """
    if len(y) == 0:
        raise ValueError("client has no training samples")
    dev = next(model.parameters()).device
    start = get_flat_params(model).clone()
    gen = np.random.default_rng(seed)  # batch order only: not cryptographic
    if config.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=config.momentum)
    model.train()
    losses = []
    order = gen.permutation(len(y))
    pos = 0
    for _ in range(config.max_steps):
        if pos >= len(order):
            order, pos = gen.permutation(len(y)), 0
        idx = order[pos : pos + config.batch_size]
        pos += config.batch_size
        xb = torch.as_tensor(x[idx], device=dev)
        yb = torch.as_tensor(y[idx], device=dev)
        loss, _ = task_loss(model, xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    delta = get_flat_params(model) - start
    set_flat_params(model, start)
    return delta, float(np.mean(losses))


@torch.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> tuple[float, float]:
    """Returns (mean loss, accuracy) over the given samples."""
    if len(y) == 0:
        raise ValueError("no evaluation samples")
    dev = next(model.parameters()).device
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        xb = torch.as_tensor(x[i : i + batch_size], device=dev)
        yb = torch.as_tensor(y[i : i + batch_size], device=dev)
        loss, hits = task_loss(model, xb, yb)
        total_loss += float(loss) * len(yb)
        correct += int(hits.sum())
    return total_loss / len(y), correct / len(y)
