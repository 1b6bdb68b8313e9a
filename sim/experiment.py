# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal sim run`: one configured simulation, or a comparison over aggregations × seeds, with outputs.

Writes into the run folder: metrics.json (history, ε report), accuracy.png (test accuracy vs round),
loss.png (test loss vs round, train loss dashed) and, for comparisons, comparison.md (table) and
comparison.png (mean ± std per round). Everything written is
built in the driver from results that travelled through Ray.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from loyal.sim.config import SimConfig
from loyal.sim.runner import run_simulation

logger = logging.getLogger(__name__)


def _strip(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if k not in ("model", "eval_labels")}


def plot_runs(curves: dict[str, list[list[float]]], path: Path, title: str, baseline: float | None = None,
              ylabel: str = "test accuracy", dashed: dict[str, list[list[float]]] | None = None) -> None:
    """Mean of a metric per round (± one std over seeds) for each label, as a PNG; `dashed` curves (e.g. the
    train loss beside the test loss) are drawn dashed in the same colour as their label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, runs in curves.items():
        a = np.asarray(runs, dtype=float)
        mean, std = a.mean(axis=0), a.std(axis=0)
        r = np.arange(1, a.shape[1] + 1)
        (line,) = ax.plot(r, mean, marker="o", ms=3, label=label)
        if len(a) > 1:
            ax.fill_between(r, mean - std, mean + std, alpha=0.2)
        if dashed and label in dashed:
            ax.plot(r, np.asarray(dashed[label], dtype=float).mean(axis=0), linestyle="--", color=line.get_color(),
                    label=f"{label} (train)")
    if baseline is not None:
        ax.axhline(baseline, color="gray", linestyle="--", label="unigram baseline")
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_loss(results: dict[str, list[dict]], path: Path, task: str) -> None:
    """loss.png: test loss per round (mean ± std over seeds), the clients' mean train loss dashed."""
    test = {a: [[h["test_loss"] for h in r["history"]] for r in runs] for a, runs in results.items()}
    train = {a: [[h["train_loss"] for h in r["history"]] for r in runs] for a, runs in results.items()}
    plot_runs(test, path, f"{task}: loss vs round", ylabel="loss (test; train dashed)", dashed=train)


def comparison_table(results: dict[str, list[dict]]) -> str:
    """Markdown: final accuracy mean ± std over seeds, ε and δ per aggregation."""
    lines = ["| aggregation | seeds | final test accuracy (mean ± std) | per-seed | ε | δ |", "|---|---|---|---|---|---|"]
    for agg, runs in results.items():
        acc = np.array([r["test_accuracy"] for r in runs])
        eps = runs[0].get("epsilon", float("inf"))
        delta = runs[0].get("delta", "—")
        per = ", ".join(f"{a:.4f}" for a in acc)
        lines.append(f"| {agg} | {len(runs)} | {acc.mean():.4f} ± {acc.std():.4f} | {per} | {eps:.3g} | {delta} |")
    return "\n".join(lines) + "\n"


def run_experiment(
    config: SimConfig, run_dir: Path, *, ray_address: str | None = None,
    on_round: Callable[[str, dict], None] | None = None,
) -> dict[str, Any]:
    """Runs `config` (or its comparison) and writes metrics.json, accuracy.png (+ comparison.md/png)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    title = f"{config.task}: accuracy vs round"
    if not config.compare_aggregations:
        out = run_simulation(config, ray_address=ray_address, on_round=lambda r: on_round and on_round(config.aggregation, r))
        metrics = _strip(out)
        metrics["config"] = dataclasses.asdict(config)
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        plot_runs({config.aggregation: [[h["test_accuracy"] for h in out["history"]]]}, run_dir / "accuracy.png", title)
        _plot_loss({config.aggregation: [out]}, run_dir / "loss.png", config.task)
        return metrics
    results: dict[str, list[dict]] = {}
    for agg in config.compare_aggregations:
        for seed in config.compare_seeds:
            ssa_only = {} if agg == "dpftrl-ssa" else dict(rotate_every=0, server_restart_round=0, committee_offline_round=0)
            cfg = dataclasses.replace(
                config, aggregation=agg, seed=seed, compare_aggregations=(), compare_seeds=(), **ssa_only
            )
            label = f"{agg}/seed={seed}"
            out = run_simulation(cfg, ray_address=ray_address, on_round=lambda r, lb=label: on_round and on_round(lb, r))
            results.setdefault(agg, []).append(_strip(out))
    table = comparison_table(results)
    (run_dir / "comparison.md").write_text(table)
    curves = {a: [[h["test_accuracy"] for h in r["history"]] for r in runs] for a, runs in results.items()}
    plot_runs(curves, run_dir / "comparison.png", title + " (mean ± std over seeds)")
    plot_runs(curves, run_dir / "accuracy.png", title)
    _plot_loss(results, run_dir / "loss.png", config.task)
    metrics = {
        "comparison": {
            a: {
                "test_accuracy_mean": float(np.mean([r["test_accuracy"] for r in runs])),
                "test_accuracy_std": float(np.std([r["test_accuracy"] for r in runs])),
                "test_accuracy": [r["test_accuracy"] for r in runs],
                "epsilon": runs[0].get("epsilon"),
                "delta": runs[0].get("delta"),
                "privacy": runs[0].get("privacy"),
            }
            for a, runs in results.items()
        },
        "seeds": list(config.compare_seeds),
        "table": table,
        "runs": results,
        "config": dataclasses.asdict(config),
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    return metrics
