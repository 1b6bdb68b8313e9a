# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""LoTA / LoTTO vs full fine-tuning and LoRA on sequential digits tasks (arXiv 2406.16797, small scale).

A 64-h-h-10 MLP is pretrained on plain sklearn digits, then adapted in sequence to mirrored, rotated and
inverted digits (`tasks.py`). Each arm (adapter × seed) records test accuracy on every task after every
stage (forgetting = accuracy right after a task's stage minus at the end) and, in a second protocol,
adapts the base to each task independently and merges the task vectors (θ_base + λ Σ_t Δ_t).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from pathlib import Path

import numpy as np

from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.lota import adapt, figures, maths, tasks

logger = logging.getLogger(__name__)

#: Merge coefficients λ tried for θ_base + λ Σ_t Δ_t (λ = 1 is the plain sum of task vectors).
MERGE_SCALES = (0.25, 0.5, 0.75, 1.0)


@dataclasses.dataclass(frozen=True)
class LotaConfig:
    """Settings of the comparison.

    Attributes:
      seeds: seeds per arm (data split, initialisation, minibatches), >= 1; 5 for the full run.
      hidden: MLP width, >= 8.
      base_steps: Adam steps pretraining on plain digits, >= 1.
      task_steps: Adam steps per task for every arm (LoTA's sparse phase included), >= 1.
      calib_steps: LoTA's dense calibration steps per task (extra to task_steps), >= 1.
      batch_size: minibatch size, >= 1.
      lr_base, lr_full, lr_lora, lr_sparse, lr_calib: Adam learning rates (> 0) of pretraining, full
        fine-tuning, LoRA, LoTA's sparse phase and its calibration. Chosen on the quick seeds so that
        every arm learns each new task to a similar accuracy (≥ 0.84 on average): forgetting grows with
        the rate, so arms are only comparable at similar plasticity (docs/methods.md has the sweep).
      sparsity: fraction of weight entries LoTA freezes, in [0, 1); with 3 tasks LoTTO needs
        3·(1 − sparsity) <= 1.
      mask_scope: "global" (one threshold over all weight matrices, as the authors' code) or "tensor".
      lora_rank: LoRA rank r >= 1 (r·(in + out) parameters per linear layer).
      lora_alpha: LoRA scale α (> 0; the update is (α / r)·BA).
    """

    seeds: int = 5
    hidden: int = 128
    base_steps: int = 300
    task_steps: int = 150
    calib_steps: int = 30
    batch_size: int = 256
    lr_base: float = 1e-3
    lr_full: float = 3e-3
    lr_lora: float = 1e-2
    lr_sparse: float = 1e-2
    lr_calib: float = 1e-3
    sparsity: float = 0.9
    mask_scope: str = "global"
    lora_rank: int = 4
    lora_alpha: float = 8.0

    def __post_init__(self) -> None:
        for name in ("seeds", "base_steps", "task_steps", "calib_steps", "batch_size", "lora_rank"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden < 8:
            raise ValueError(f"hidden must be >= 8, got {self.hidden}")
        for name in ("lr_base", "lr_full", "lr_lora", "lr_sparse", "lr_calib", "lora_alpha"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {self.sparsity}")
        if len(tasks.TASKS) * (1.0 - self.sparsity) > 1.0 + 1e-9:
            raise ValueError(f"sparsity must leave room for {len(tasks.TASKS)} disjoint LoTTO masks "
                             f"(>= {1 - 1 / len(tasks.TASKS):.3f}), got {self.sparsity}")
        if self.mask_scope not in maths.SCOPES:
            raise ValueError(f"mask_scope must be one of {maths.SCOPES}, got {self.mask_scope!r}")

    def settings(self) -> adapt.AdaptSettings:
        return adapt.AdaptSettings(
            task_steps=self.task_steps, calib_steps=self.calib_steps, batch_size=self.batch_size,
            lr_full=self.lr_full, lr_lora=self.lr_lora, lr_sparse=self.lr_sparse, lr_calib=self.lr_calib,
            sparsity=self.sparsity, mask_scope=self.mask_scope, lora_rank=self.lora_rank, lora_alpha=self.lora_alpha)


def _device():
    import torch

    from loyal.methods.kit.train import device

    if not torch.cuda.is_available():
        torch.set_num_threads(1)  # tiny models, arms run side by side (see harness/lm.py)
    return device()


@functools.lru_cache(maxsize=8)
def pretrained_base(seed: int, hidden: int, base_steps: int, batch_size: int, lr_base: float) -> dict:
    """State dict of the MLP pretrained on plain digits (cached: every arm of a seed starts from it)."""
    import torch

    torch.manual_seed(seed)
    model = tasks.Mlp(hidden).to(_device())
    split = tasks.load_split(seed)
    tasks.train(model, split.x_train, split.y_train, tasks.TrainSettings(base_steps, lr_base, batch_size), seed)
    return {n: t.detach().clone() for n, t in model.state_dict().items()}


def run_arm(config: LotaConfig, arm: dict) -> dict:
    """The sequential and the merging protocol of one adapter (`arm["arm"]`) and seed."""
    seed = int(arm["seed"])
    seed_everything(seed)
    device = _device()
    split = tasks.load_split(seed)
    base = tasks.Mlp(config.hidden).to(device)
    base.load_state_dict(pretrained_base(seed, config.hidden, config.base_steps, config.batch_size, config.lr_base))
    start = time.perf_counter()
    sequence = adapt.run_sequence(arm["arm"], base, split, config.settings(), seed)
    merge = adapt.run_merge(arm["arm"], base, split, config.settings(), seed, MERGE_SCALES)
    seconds = time.perf_counter() - start
    logger.info("lota %s seed %d: final %s (%.1f s)", arm["arm"], seed, sequence["stages"][-1], seconds)
    return {"arm": arm["arm"], "seed": seed, "seconds": seconds, "device": str(device)} | {
        "sequence": sequence, "merge": merge}


def arms(config: LotaConfig) -> list[dict]:
    return [{"arm": a, "seed": seed} for seed in range(config.seeds) for a in adapt.ARMS]


def _arm_numbers(result: dict) -> dict[str, float]:
    """Per-seed scalars: final average over TASKS, forgetting, base-task accuracy, single and merged accuracy."""
    stages = result["sequence"]["stages"]
    final = stages[-1]
    forgetting = [stages[i + 1][t] - final[t] for i, t in enumerate(tasks.TASKS[:-1])]
    merged = {s: float(np.mean([acc[t] for t in tasks.TASKS])) for s, acc in result["merge"]["merged"].items()}
    return {
        "final_avg": float(np.mean([final[t] for t in tasks.TASKS])),
        "forgetting": float(np.mean(forgetting)),
        "just_learned_avg": float(np.mean([stages[i + 1][t] for i, t in enumerate(tasks.TASKS)])),
        "plain_final": final[tasks.BASE_TASK],
        "single_avg": float(np.mean(list(result["merge"]["single"].values()))),
        "merge_sum": merged[str(1.0)],
        "trainable": float(np.mean(result["sequence"]["trainable"])),
    }


def summarize(config: LotaConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    by = {a: [r for r in results if r["arm"] == a] for a in adapt.ARMS}
    numbers = {a: [_arm_numbers(r) for r in rs] for a, rs in by.items()}
    table = {a: {k: dict(zip(("mean", "ci95"), maths.mean_ci([n[k] for n in ns]))) for k in ns[0]}
             for a, ns in numbers.items()}
    eval_tasks = (tasks.BASE_TASK, *tasks.TASKS)
    curves = {a: {t: [[r["sequence"]["stages"][s][t] for r in rs] for s in range(len(tasks.TASKS) + 1)]
                  for t in eval_tasks} for a, rs in by.items()}
    merged = {a: {s: [float(np.mean([r["merge"]["merged"][s][t] for t in tasks.TASKS])) for r in rs]
                  for s in map(str, MERGE_SCALES)} for a, rs in by.items()}
    figs = [
        figures.forgetting_curves(out_dir / "forgetting_curves.png", curves, ("base", *tasks.TASKS)),
        figures.merge_bars(out_dir / "merge_accuracy.png", merged,
                           {a: [n["single_avg"] for n in ns] for a, ns in numbers.items()}),
    ]
    merge_by_scale = {a: {s: dict(zip(("mean", "ci95"), maths.mean_ci(v))) for s, v in ms.items()}
                      for a, ms in merged.items()}
    metrics = {
        "table": table,
        # λ chosen on the test set for each arm (shared by its seeds): an optimistic oracle, alike for all arms.
        "merge_best_scale": {a: max(({"scale": float(s)} | v for s, v in ms.items()), key=lambda d: d["mean"])
                             for a, ms in merge_by_scale.items()},
        "accuracy_after_stage": {a: {t: [maths.mean_ci(v)[0] for v in c] for t, c in cs.items()} for a, cs in curves.items()},
        "merge_by_scale": merge_by_scale,
        "lotto_masks_disjoint": all(r["sequence"]["disjoint"] and r["merge"]["disjoint"] for r in by["lotto"]),
        "seconds_per_arm": {a: float(np.mean([r["seconds"] for r in rs])) for a, rs in by.items()},
        "device": results[0]["device"],
    }
    return metrics, figs


SPEC = MethodSpec(
    name="lota",
    paper="2406.16797",
    title="Lottery Ticket Adaptation: Mitigating Destructive Interference in LLMs",
    claim="Fine-tuning only a sparse lottery ticket (90 % sparsity, mask from a short calibration fine-tune) "
    "matches full fine-tuning, forgets less than full fine-tuning and LoRA when tasks are learned in "
    "sequence (LoTTO: disjoint masks), and its sparse task vectors merge with little interference.",
    quick_runtime="~50 s wall, 28 s CPU (2 shared cores)",
    config_cls=LotaConfig,
    quick={"seeds": 3, "base_steps": 200, "task_steps": 100, "calib_steps": 20},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
