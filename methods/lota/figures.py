# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The two PNGs of the LoTA run: accuracy per task across sequential stages, and merged accuracy bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from loyal.methods.lota.maths import mean_ci


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def forgetting_curves(
    path: Path, curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]], stage_labels: Sequence[str]
) -> str:
    """One panel per arm: test accuracy of every task (mean ± 95 % CI over seeds) after each stage.

    Args:
      path: output .png.
      curves: arm -> task -> per stage, the accuracies over seeds.
      stage_labels: x tick labels ("base", then the task trained at each stage).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.2 * len(curves), 3.4), dpi=110, sharey=True)
    for ax, (arm, per_task) in zip(np.atleast_1d(axes), curves.items()):
        xs = np.arange(len(stage_labels))
        for task, stages in per_task.items():
            stats = [mean_ci(v) for v in stages]
            mean = np.array([m for m, _ in stats])
            half = np.array([h or 0.0 for _, h in stats])
            ax.plot(xs, mean, marker="o", markersize=3, label=task)
            ax.fill_between(xs, mean - half, mean + half, alpha=0.15)
        ax.set_xticks(xs, [f"after\n{s}" if i else s for i, s in enumerate(stage_labels)], fontsize=7)
        ax.set_title(arm)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle("Sequential adaptation: accuracy per task after each stage (mean ± 95% CI)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path).name


def merge_bars(
    path: Path, merged: Mapping[str, Mapping[str, Sequence[float]]], single: Mapping[str, Sequence[float]]
) -> str:
    """Grouped bars per arm: each task alone (θ_base + Δ_t), and the merge θ_base + λ Σ Δ_t for each λ.

    Args:
      path: output .png.
      merged: arm -> λ (as text) -> average accuracy over the tasks, one value per seed.
      single: arm -> average single-task accuracy, one value per seed.
    """
    plt = _pyplot()
    arms = list(merged)
    groups = {"each task alone": single} | {f"merge λ={s}": {a: merged[a][s] for a in arms} for s in merged[arms[0]]}
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(7.4, 4.0), dpi=110)
    for j, (label, values) in enumerate(groups.items()):
        stats = [mean_ci(values[a]) for a in arms]
        ax.bar(np.arange(len(arms)) + (j - (len(groups) - 1) / 2) * width, [m for m, _ in stats], width,
               yerr=[h or 0.0 for _, h in stats], capsize=2, label=label)
    ax.set_xticks(np.arange(len(arms)), arms)
    ax.set(ylabel="mean accuracy over the 3 tasks", ylim=(0, 1),
           title="Merging independently adapted task vectors (mean ± 95% CI)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path).name
