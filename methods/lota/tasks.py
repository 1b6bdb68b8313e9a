# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The small-scale testbed of the LoTA reproduction: sklearn digits tasks, an MLP, and its three adapters.

Tasks (all 10-way digit classification with one shared head, 8 × 8 images scaled to [0, 1]):
"plain" (pretraining, the generic skill), then the sequential tasks "mirror" (left-right flip),
"rotate" (90° turn) and "invert" (1 − x). Each task moves the input distribution, so adapting to one
task can overwrite what an earlier one needed: the destructive interference LoTA is about.

Adapters: dense fine-tuning (every parameter), sparse fine-tuning through a gradient mask (LoTA phase 3;
only the masked weight entries move, everything else stays bit-identical), and LoRA from `peft`
(Hu et al. 2021; rank-r A, B on every linear layer, merged back after training).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

TASKS = ("mirror", "rotate", "invert")
BASE_TASK = "plain"
SIDE = 8
CLASSES = 10
#: The linear layers of `Mlp`, in order; LoRA adapts all of them and LoTA masks their weights.
LAYERS = ("fc1", "fc2", "head")


@dataclasses.dataclass(frozen=True)
class Split:
    """Train/test images (n, 8, 8) in [0, 1] and labels, as tensors."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """One optimisation run: Adam (no weight decay), `steps` minibatches of `batch_size`, learning rate `lr`."""

    steps: int
    lr: float
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def load_split(seed: int, test_fraction: float = 0.3) -> Split:
    """sklearn's bundled digits (1797 images), split at random by `seed` (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=test_fraction, random_state=seed,
                                              stratify=digits.target)
    return Split(torch.from_numpy(x_tr), torch.from_numpy(y_tr).long(), torch.from_numpy(x_te),
                 torch.from_numpy(y_te).long())


def transform(x: torch.Tensor, task: str) -> torch.Tensor:
    """The inputs of `task` (one of "plain" and `TASKS`) made from plain images of shape (n, 8, 8)."""
    if task == BASE_TASK:
        return x
    if task == "mirror":
        return torch.flip(x, dims=(-1,))
    if task == "rotate":
        return torch.rot90(x, k=1, dims=(-2, -1))
    if task == "invert":
        return 1.0 - x
    raise ValueError(f"task must be one of {(BASE_TASK, *TASKS)}, got {task!r}")


class Mlp(nn.Module):
    """64 → hidden → hidden → 10 ReLU network (layers `fc1`, `fc2`, `head`)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        self.fc1 = nn.Linear(SIDE * SIDE, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x.flatten(1)))
        return self.head(torch.relu(self.fc2(h)))


def weight_names() -> tuple[str, ...]:
    """State-dict keys of the weight matrices LoTA masks (biases stay frozen, as in the authors' code)."""
    return tuple(f"{layer}.weight" for layer in LAYERS)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached copies of the weight matrices named by `weight_names`."""
    state = model.state_dict()
    return {n: state[n].detach().clone() for n in weight_names()}


def _batches(n: int, settings: TrainSettings, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (settings.steps, min(settings.batch_size, n)), generator=generator)


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings,
    seed: int,
    masks: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """Fine-tunes `model` in place with cross-entropy; returns it.

    Args:
      model: the network (its parameters' device is used).
      x, y: training inputs and labels.
      settings: steps, learning rate, batch size.
      seed: seeds the minibatch order.
      masks: None trains every parameter (dense). Otherwise LoTA phase 3: only the named parameters train,
        each through the gradient hook g ↦ g ⊙ m; with Adam and no weight decay an entry whose gradient is
        always 0 keeps m = v = 0 and so its update is exactly 0 (the other entries stay bit-identical).
    """
    device = next(model.parameters()).device
    params = dict(model.named_parameters())
    hooks = []
    if masks is not None:
        unknown = set(masks) - set(params)
        if unknown:
            raise ValueError(f"masks name parameters the model lacks: {sorted(unknown)}")
        for name, p in params.items():
            p.requires_grad_(name in masks)
        for name, m in masks.items():
            keep = m.to(device=device, dtype=params[name].dtype)
            hooks.append(params[name].register_hook(lambda g, keep=keep: g * keep))
    _fit(model, [p for p in params.values() if p.requires_grad], x, y, settings, seed)
    for h in hooks:
        h.remove()
    for p in params.values():
        p.requires_grad_(True)
    return model


def train_lora(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, settings: TrainSettings, seed: int, rank: int, alpha: float
) -> tuple[nn.Module, int]:
    """LoRA via `peft` on every layer of `LAYERS`, trained, then merged.

    Returns:
      A plain `Mlp` with W + (α/r)·BA in place of every W (biases untouched), and the adapter's trainable
      parameter count Σ r·(in + out).
    """
    peft_model = lora_model(copy.deepcopy(model), rank, alpha)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    _fit(peft_model, trainable, x, y, settings, seed)
    return peft_model.merge_and_unload(), sum(p.numel() for p in trainable)


def lora_model(model: nn.Module, rank: int, alpha: float) -> nn.Module:
    """`peft.get_peft_model` with LoRA (rank `rank` >= 1, scaling `alpha`/`rank`, no bias) on `LAYERS`."""
    from peft import LoraConfig, get_peft_model

    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(LAYERS), lora_dropout=0.0, bias="none")
    return get_peft_model(model, config)


def _fit(model: nn.Module, trainable: list[nn.Parameter], x: torch.Tensor, y: torch.Tensor, settings: TrainSettings,
         seed: int) -> None:
    """Adam (no weight decay) on `trainable` for `settings.steps` cross-entropy minibatches."""
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(trainable, lr=settings.lr)
    x, y = x.to(device), y.to(device)
    model.train()
    for idx in _batches(len(x), settings, seed).to(device):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        optimizer.step()


def trainable_count(model: nn.Module) -> int:
    """Parameters with `requires_grad`."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of `model` on (x, y)."""
    device = next(model.parameters()).device
    model.eval()
    return float((model(x.to(device)).argmax(dim=1).cpu() == y).float().mean())


def evaluate(model: nn.Module, split: Split, tasks: tuple[str, ...] = (BASE_TASK, *TASKS)) -> dict[str, float]:
    """Test accuracy on every task of `tasks`."""
    return {t: accuracy(model, transform(split.x_test, t), split.y_test) for t in tasks}
