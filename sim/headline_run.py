# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal sim headline`: presets, the tune-then-evaluate protocol, and the JSON / Markdown / PNG outputs.

Protocol (issue #15, docs/sim.md "Headline"): per epsilon and arm, every (server lr, momentum) of the grid
runs once on the tuning seed and is scored by the validation loss averaged over the last 5 % of rounds;
the best runs on every paired seed and is scored on test. Differences are paired by seed against
identity-under-SSA, with 95 % Student-t intervals.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from loyal.protocols.dpftrl.blt import blt
from loyal.protocols.dpftrl.toeplitz import banded_toeplitz
from loyal.protocols.dpftrl.workload import workload_errors
from loyal.sim.headline import ARMS, CONTROL, TWINS, Headline, HeadlineConfig, paired_interval
from loyal.sim.headline_tasks import BigramTask, DigitsTask

logger = logging.getLogger(__name__)

TASKS = ("shakespeare-bigram", "digits")

_SHAKESPEARE = HeadlineConfig(
    rounds=1000, clients_per_round=50, participations=4, min_separation=250, epsilons=(2.0, 8.0), delta=1e-6,
    clip_norm=1.0, learning_rates=(0.05, 0.25, 1.0), momenta=(0.9,), seeds=(0, 1, 2, 3, 4),
)
_DIGITS = HeadlineConfig(
    rounds=40, clients_per_round=20, participations=4, min_separation=10, epsilons=(4.0,), delta=1e-5,
    clip_norm=1.0, learning_rates=(0.1, 1.0), momenta=(0.0, 0.9), seeds=(0, 1, 2, 3, 4),
)
_QUICK = {
    "shakespeare-bigram": dict(rounds=200, clients_per_round=20, min_separation=50, learning_rates=(0.5,),
                               momenta=(0.9,), seeds=(0, 1, 2)),
    "digits": dict(rounds=20, clients_per_round=10, min_separation=5, learning_rates=(0.3,), momenta=(0.9,),
                   seeds=(0, 1, 2)),
}


def preset(task: str, quick: bool = False) -> tuple[HeadlineConfig, Any]:
    """The headline configuration and task object of `task` (shortened when `quick`)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got task={task!r}")
    torch.set_num_threads(1)  # small arrays: more threads only contend on a shared machine
    config = _SHAKESPEARE if task == "shakespeare-bigram" else _DIGITS
    if quick:
        config = dataclasses.replace(config, quick=True, **_QUICK[task])
    return config, (BigramTask() if task == "shakespeare-bigram" else DigitsTask())


def total_rounds(config: HeadlineConfig, reused: dict[str, dict[str, dict]] | None = None) -> int:
    """Training rounds the whole experiment runs (for a progress bar); `reused`: `reusable_arms` output."""
    grid = len(config.learning_rates) * len(config.momenta)
    per_arm = (grid + len(config.seeds)) * config.rounds
    runs = 0
    for arm in config.arms:
        epsilons = config.epsilons if ARMS[arm][1] != "none" else config.epsilons[:1]
        runs += sum(arm not in (reused or {}).get(str(eps), {}) for eps in epsilons)
    return per_arm * runs


def _downsample(values: list[float], points: int = 200) -> list[float]:
    idx = np.unique(np.linspace(0, len(values) - 1, min(points, len(values))).astype(int))
    return [float(values[i]) for i in idx]


def evaluate_arm(
    headline: Headline, arm: str, epsilon: float, on_round: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Tune `arm` on validation over the grid (SSA arms without the upload rounding, `Headline.run`), then run
    the paired seeds on test with SSA's exact arithmetic."""
    c = headline.config
    tuning = []
    for lr in c.learning_rates:
        for beta in c.momenta:
            curve = headline.run(arm, epsilon, lr, beta, c.tuning_seed, "validation", on_round, encode=False)
            tuning.append({"learning_rate": lr, "momentum": beta, "validation_loss": headline.final(curve)[0]})
    best = min(tuning, key=lambda r: (r["validation_loss"], -r["momentum"], r["learning_rate"]))
    lr, beta = best["learning_rate"], best["momentum"]
    losses, accs, curves = [], [], []
    for seed in c.seeds:
        curve = headline.run(arm, epsilon, lr, beta, seed, "test", on_round)
        loss, acc = headline.final(curve)
        losses.append(loss)
        accs.append(acc)
        curves.append(curve["loss"])
    mean_curve = np.mean(np.asarray(curves), axis=0).tolist()
    return {
        "arm": arm, "mechanism": ARMS[arm][0], "noise": ARMS[arm][1], "learning_rate": lr, "momentum": beta,
        "tuning": tuning, "test_loss": losses, "test_accuracy": accs,
        "mean_test_loss": float(np.mean(losses)), "mean_test_accuracy": float(np.mean(accs)),
        "curve_rounds": _downsample(list(range(1, c.rounds + 1))), "curve_test_loss": _downsample(mean_curve),
        **headline.privacy(arm, epsilon, beta),
    }


def workload_table(headline: Headline) -> list[dict[str, Any]]:
    """Deliverable 3: RMSE on the learning workload of prefix- vs workload-optimized banded and BLT."""
    c, schema = headline.config, headline.schema()
    prefix = {"banded-toeplitz": banded_toeplitz(schema), "blt": blt(schema)}
    rows = []
    for beta in c.momenta:
        w = c.workload(beta)
        ident = workload_errors(headline.mechanism("identity", beta), w)["rmse"]
        for name, mech in prefix.items():
            rows.append({"momentum": beta, "mechanism": name, "identity_rmse": ident,
                         "prefix_optimized_rmse": workload_errors(mech, w)["rmse"],
                         "workload_optimized_rmse": workload_errors(headline.mechanism(name, beta), w)["rmse"]})
    return rows


#: Run order: the target's arms first, so a run cut short still answers the target (`--out` gets a
#: partial JSON after every arm and epsilon).
PRIORITY = ("identity-ssa", "banded-ssa", "blt-ssa", "banded", "blt", "fedavg", "dp-fedavg", "tree", "dp-fedavg-poisson",
            "banded-ssa-cohort", "blt-ssa-cohort")
#: Per-arm fields `summarize` recomputes (dropped from reused arms).
_DERIVED = ("loss_difference", "accuracy_difference")


def reusable_arms(previous: dict[str, Any] | None, config: HeadlineConfig) -> dict[str, dict[str, dict]]:
    """epsilon -> arm -> result of a finished run of the same experiment (every configuration field both
    runs know agrees, `arms` and the cohort arms' fields aside), so a run can add arms without redoing the rest.

    Raises:
      ValueError: `previous` is another experiment (naming the first field that differs).
    """
    if previous is None:
        return {}
    mine = finite(dataclasses.asdict(config))
    for key, value in previous.get("config", {}).items():
        if key not in ("arms", "noise_contributors", "honest_fraction", "quick") and key in mine and mine[key] != value:
            raise ValueError(f"the reused run differs in {key}: {value!r} there, {mine[key]!r} here")
    blocks = previous.get("partial") or {eps: b["arms"] for eps, b in previous.get("epsilons", {}).items()}
    return {eps: {a: {k: _nonfinite(v) for k, v in r.items() if k not in _DERIVED} for a, r in arms.items()}
            for eps, arms in blocks.items()}


def _nonfinite(value: Any) -> Any:
    """Inverse of `finite` for one arm field: None was inf (an epsilon), None in a list was nan (a curve)."""
    if value is None:
        return math.inf
    if isinstance(value, list):
        return [math.nan if v is None else v for v in value]
    return value


def run_headline(task: str, quick: bool = False, on_round: Callable[[], None] | None = None,
                 config: HeadlineConfig | None = None, task_object: Any = None,
                 checkpoint: Path | None = None, reuse: dict[str, Any] | None = None) -> dict[str, Any]:
    """Runs the experiment; returns the results dict (`write_outputs` writes it).

    `checkpoint`: a JSON file rewritten with the finished arms after each arm and epsilon.
    `reuse`: the results dict of a finished run of the same experiment; its arms are taken, not run again.
    """
    base, obj = preset(task, quick) if config is None else (config, task_object)
    headline = Headline(base, obj)
    n_c, h_c = base.cohort_noise
    out: dict[str, Any] = {"task": task, "quick": base.quick, "config": dataclasses.asdict(base),
                           "clients": obj.num_clients, "dim": obj.dim, "ssa_overhead": base.ssa_overhead,
                           "ssa_cohort_overhead": base.ssa_cohort_overhead, "cohort_noise": [n_c, h_c], "epsilons": {}}
    previous = reusable_arms(reuse, base)
    done: dict[str, dict[str, dict]] = {str(eps): {} for eps in base.epsilons}
    order = [a for a in PRIORITY if a in base.arms]
    for arm in order:
        for eps in base.epsilons:
            if arm in previous.get(str(eps), {}):
                done[str(eps)][arm] = previous[str(eps)][arm]
            elif arm == "fedavg" and eps != base.epsilons[0]:
                done[str(eps)][arm] = dict(done[str(base.epsilons[0])][arm])  # no noise: one run serves every epsilon
            else:
                done[str(eps)][arm] = evaluate_arm(headline, arm, eps, on_round)
            if checkpoint is not None:
                checkpoint.parent.mkdir(parents=True, exist_ok=True)
                checkpoint.write_text(json.dumps(finite({**out, "partial": done}), default=float) + "\n")
    for eps in base.epsilons:
        arms = {a: dict(done[str(eps)][a]) for a in base.arms}
        out["epsilons"][str(eps)] = summarize(arms, base)
        out["epsilons"][str(eps)]["equivalent_epsilons"] = base.equivalent_epsilons(headline.noise_multiplier(eps))
    out["workload_rmse"] = workload_table(headline)
    return out


def summarize(arms: dict[str, dict], config: HeadlineConfig) -> dict[str, Any]:
    """Paired differences against CONTROL and the target check."""
    control = arms[CONTROL]
    for arm in arms.values():
        arm["loss_difference"] = paired_interval(np.subtract(arm["test_loss"], control["test_loss"]))
        arm["accuracy_difference"] = paired_interval(np.subtract(arm["test_accuracy"], control["test_accuracy"]))
    correlated = [a for a in TWINS if a in arms and TWINS[a] in arms]
    target: dict[str, Any] = {}
    if correlated:
        best = min(correlated, key=lambda a: arms[a]["mean_test_loss"])
        twin, floor = TWINS[best], arms.get("fedavg", {}).get("mean_test_loss", 0.0)
        excess = (arms[best]["mean_test_loss"] - floor) / max(arms[twin]["mean_test_loss"] - floor, 1e-12)
        beats = arms[best]["loss_difference"]["high"] < 0
        target = {"best_ssa_arm": best, "beats_identity_ssa": bool(beats), "twin": twin,
                  "excess_loss_ratio_vs_twin": float(excess), "allowed_ratio": config.ssa_overhead**2,
                  "within_overhead": bool(excess <= config.ssa_overhead**2),
                  "holds": bool(beats and excess <= config.ssa_overhead**2)}
    cohort = [a for a in arms if ARMS[a][1] == "ssa-cohort"]
    if cohort:  # issue 15, deliverable 2: the cohort's noise shares against the committee's alone
        best = min(cohort, key=lambda a: arms[a]["mean_test_loss"])
        committee = best.removesuffix("-cohort")
        target["cohort"] = {"best_cohort_arm": best, "versus": committee, "overhead": config.ssa_cohort_overhead,
                            "loss_difference": paired_interval(np.subtract(arms[best]["test_loss"],
                                                                           arms[committee]["test_loss"]))
                            if committee in arms else None}
    return {"arms": arms, "target": target}


def finite(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by None (strict JSON; epsilon of fedavg is None)."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _fmt_ci(d: dict[str, float], digits: int = 4) -> str:
    if math.isnan(d["low"]):
        return f"{d['mean']:+.{digits}f}"
    return f"{d['mean']:+.{digits}f} [{d['low']:+.{digits}f}, {d['high']:+.{digits}f}]"


def markdown(result: dict[str, Any]) -> str:
    """The results table(s) as Markdown."""
    c = result["config"]
    lines = [f"# Headline: {result['task']}{' (QUICK: shortened, not the headline)' if result['quick'] else ''}", "",
             f"n = {c['rounds']} rounds, {c['clients_per_round']} clients/round of {result['clients']}, "
             f"k = {c['participations']}, b = {c['min_separation']}, δ = {c['delta']}, clip {c['clip_norm']}, "
             f"{len(c['seeds'])} paired seeds, last {c['last_fraction']:.0%} of rounds averaged; grid lr "
             f"{c['learning_rates']} × momentum {c['momenta']}, cooldown last {c['cooldown_fraction']:.0%} to "
             f"{c['cooldown_final']}; SSA committee {c['committee_size']} of {c['threshold']}, noise overhead "
             f"√(n/h) = {result['ssa_overhead']:.3f}"
             + (f"; cohort arms: n_c = {result['cohort_noise'][0]} noise contributors, h_c = {result['cohort_noise'][1]} "
                f"assumed honest, overhead √((n + n_c)/(h + h_c)) = {result['ssa_cohort_overhead']:.3f}"
                if "cohort_noise" in result else "") + ".", ""]
    for eps, block in result["epsilons"].items():
        lines += [f"## ε = {eps}", "",
                  "| arm | noise | lr | β | ε | test loss | test acc | Δ loss vs identity-ssa [95% CI] | Δ acc [95% CI] |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for a in block["arms"].values():
            eps_txt = "∞" if math.isinf(a["epsilon"]) else f"{a['epsilon']:.3f}"
            lines.append(f"| {a['arm']} | {a['noise']} | {a['learning_rate']} | {a['momentum']} | {eps_txt} | "
                         f"{a['mean_test_loss']:.4f} | {a['mean_test_accuracy']:.4f} | {_fmt_ci(a['loss_difference'])} | "
                         f"{_fmt_ci(a['accuracy_difference'])} |")
        t = block["target"]
        if t.get("best_ssa_arm"):
            lines += ["", f"Target: best SSA arm {t['best_ssa_arm']} beats identity-ssa (CI < 0): "
                      f"{t['beats_identity_ssa']}; excess loss over non-private vs its twin {t['twin']}: "
                      f"{t['excess_loss_ratio_vs_twin']:.2f}× (allowed {t['allowed_ratio']:.2f}×): "
                      f"{t['within_overhead']}. **Holds: {t['holds']}**.", ""]
        if t.get("cohort") and t["cohort"]["loss_difference"]:
            co = t["cohort"]
            lines += [f"Cohort noise: {co['best_cohort_arm']} − {co['versus']} test loss "
                      f"{_fmt_ci(co['loss_difference'])} (overhead {co['overhead']:.3f} vs {result['ssa_overhead']:.3f}).", ""]
        eq = block.get("equivalent_epsilons")
        if eq:
            lines += [f"A trusted server adding the same total noise would reach ε = {eq['committee']:.3f} (committee "
                      f"noise) or ε = {eq['cohort']:.3f} (committee + cohort); if every cohort noise contributor "
                      f"lied, the guarantee falls to ε = {eq['cohort_floor']:.3f}.", ""]
    lines += ["## RMSE on the learning workload (unit noise multiplier)", "",
              "| momentum | mechanism | identity | prefix-optimized | workload-optimized |", "|---|---|---|---|---|"]
    for r in result["workload_rmse"]:
        lines.append(f"| {r['momentum']} | {r['mechanism']} | {r['identity_rmse']:.2f} | "
                     f"{r['prefix_optimized_rmse']:.2f} | {r['workload_optimized_rmse']:.2f} |")
    return "\n".join(lines) + "\n"


def write_outputs(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """results.json, results.md and one curves PNG per epsilon under `out_dir`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{result['task']}{'-quick' if result['quick'] else ''}"
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.md"]
    paths[0].write_text(json.dumps(finite(result), indent=1, default=float, allow_nan=False) + "\n")
    paths[1].write_text(markdown(result))
    for eps, block in result["epsilons"].items():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for a in block["arms"].values():
            ax.plot(a["curve_rounds"], a["curve_test_loss"], label=f"{a['arm']} (lr {a['learning_rate']}, β {a['momentum']})",
                    linestyle={"ssa": "--", "ssa-cohort": ":"}.get(a["noise"], "-"))
        shown = [v for a in block["arms"].values() for v in a["curve_test_loss"] if math.isfinite(v)]
        if shown:
            ax.set_ylim(min(shown) - 0.05, min(max(shown), np.percentile(shown, 98)) + 0.05)
        ax.set_xlabel("round")
        ax.set_ylabel("test loss (mean over seeds)")
        ax.set_title(f"{result['task']}, ε = {eps}{' (quick)' if result['quick'] else ''}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / f"{stem}-eps{eps}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
