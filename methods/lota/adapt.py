# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The four adaptation arms as one step `adapt(model, task)`, and the sequential and merging protocols.

* ``full_ft``: dense fine-tuning of every parameter.
* ``lora``: `peft` LoRA on every linear layer, merged into the weights after each task.
* ``lota``: LoTA (arXiv 2406.16797): calibrate densely for `calib_steps`, mask the top (1 − s) of |Δ|
  over the weight matrices (one global threshold by default), restart and train only the mask.
* ``lotto``: LoTA whose mask may not use the entries of earlier tasks' masks (disjoint tickets).
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from loyal.methods.lota import maths, tasks

ARMS = ("full_ft", "lora", "lota", "lotto")


@dataclasses.dataclass(frozen=True)
class AdaptSettings:
    """Hyper-parameters of one adaptation step (see `LotaConfig` for ranges)."""

    task_steps: int
    calib_steps: int
    batch_size: int
    lr_full: float
    lr_lora: float
    lr_sparse: float
    lr_calib: float
    sparsity: float
    mask_scope: str
    lora_rank: int
    lora_alpha: float


@dataclasses.dataclass(frozen=True)
class Adapted:
    """The adapted model, its trainable-parameter count and (LoTA/LoTTO) the mask it trained."""

    model: nn.Module
    trainable: int
    mask: dict[str, torch.Tensor] | None


def adapt(
    arm: str,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: AdaptSettings,
    seed: int,
    used: list[dict[str, torch.Tensor]] | None = None,
) -> Adapted:
    """One task's adaptation of a copy of `model` by `arm`.

    Args:
      arm: one of `ARMS`.
      model: the starting network (not modified).
      x, y: the task's training data.
      settings: step counts, learning rates, sparsity, LoRA rank.
      seed: minibatch order of the calibration (seed) and of the training (seed + 1).
      used: LoTTO: masks of earlier tasks, excluded from this task's mask; ignored by other arms.
    """
    current = copy.deepcopy(model)
    step = tasks.TrainSettings(settings.task_steps, settings.lr_full, settings.batch_size)
    if arm == "full_ft":
        tasks.train(current, x, y, step, seed + 1)
        return Adapted(current, sum(p.numel() for p in current.parameters()), None)
    if arm == "lora":
        lora_step = dataclasses.replace(step, lr=settings.lr_lora)
        merged, trainable = tasks.train_lora(current, x, y, lora_step, seed + 1, settings.lora_rank, settings.lora_alpha)
        return Adapted(merged, trainable, None)
    if arm not in ("lota", "lotto"):
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    # Phase 1, mask calibration: a short dense fine-tune from the current weights.
    calib = tasks.TrainSettings(settings.calib_steps, settings.lr_calib, settings.batch_size)
    calibrated = tasks.train(copy.deepcopy(model), x, y, calib, seed)
    delta = maths.task_vector(tasks.weights(calibrated), tasks.weights(model))
    # Phase 2, mask extraction (LoTTO: only entries no earlier task owns).
    exclude = maths.union(used) if arm == "lotto" and used else None
    mask = maths.lottery_mask(delta, settings.sparsity, scope=settings.mask_scope, exclude=exclude)
    # Phase 3, sparse adaptation from the starting weights.
    tasks.train(current, x, y, dataclasses.replace(step, lr=settings.lr_sparse), seed + 1, masks=mask)
    return Adapted(current, sum(int(m.sum()) for m in mask.values()), mask)


def run_sequence(arm: str, base: nn.Module, split: tasks.Split, settings: AdaptSettings, seed: int) -> dict:
    """Adapts to `tasks.TASKS` in order, evaluating every task after every stage.

    Returns:
      stages: list (base, then one per task) of {task: test accuracy} over plain + TASKS;
      trainable: trainable parameters per stage; disjoint: whether the stage masks are pairwise disjoint
      (None for dense arms).
    """
    model, masks = base, []
    stages, trainable = [tasks.evaluate(model, split)], []
    for i, task in enumerate(tasks.TASKS):
        out = adapt(arm, model, tasks.transform(split.x_train, task), split.y_train, settings, 1000 * seed + 10 * i,
                    used=masks)
        model = out.model
        if out.mask is not None:
            masks.append(out.mask)
        stages.append(tasks.evaluate(model, split))
        trainable.append(out.trainable)
    return {"stages": stages, "trainable": trainable, "disjoint": maths.are_disjoint(masks) if masks else None}


def run_merge(
    arm: str, base: nn.Module, split: tasks.Split, settings: AdaptSettings, seed: int, scales: tuple[float, ...]
) -> dict:
    """Adapts `base` to each task independently and merges: θ_base + λ Σ_t Δ_t for each λ in `scales`.

    LoTTO's independent runs still exclude earlier tasks' masks, so its task vectors have disjoint supports.

    Returns:
      single: {task: accuracy of θ_base + Δ_t on that task}; merged: {λ: {task: accuracy of the merge}};
      disjoint: whether the task vectors' supports are pairwise disjoint.
    """
    base_state = {n: t.detach().clone() for n, t in base.state_dict().items()}
    deltas, masks, single = [], [], {}
    for i, task in enumerate(tasks.TASKS):
        out = adapt(arm, base, tasks.transform(split.x_train, task), split.y_train, settings, 1000 * seed + 500 + 10 * i,
                    used=masks)
        if out.mask is not None:
            masks.append(out.mask)
        single[task] = tasks.evaluate(out.model, split, (task,))[task]
        deltas.append(maths.task_vector(out.model.state_dict(), base_state))
    supports = [{n: d[n] != 0 for n in d} for d in deltas]
    merged_model = copy.deepcopy(base)
    merged = {}
    for scale in scales:
        merged_model.load_state_dict(maths.merge(base_state, deltas, scale))
        merged[str(scale)] = tasks.evaluate(merged_model, split, tasks.TASKS)
    return {"single": single, "merged": merged, "disjoint": maths.are_disjoint(supports)}
