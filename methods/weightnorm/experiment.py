# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Hessian spectral norm vs width and vs normalization terms, and GD convergence, WeightNorm vs unnormalized (arXiv 2409.08935).

Data: sklearn's bundled digits (8 × 8 pixels, installed with scikit-learn), standardised pixels with each
input scaled to unit norm (the paper assumes bounded inputs), target ±1 for odd / even digits, squared loss.
The predictor Hessian norm ‖∇²_θ f(θ; x)‖₂ is averaged over `probes` training inputs (`maths.hessian_spectral_norm`).

Arms (each per kind ∈ {weightnorm, unnormalized} and seed):

* `width`: at initialisation, for each width in `widths` (the paper's bound decreases with the width m).
* `scale`: at width `scale_width`, every hidden weight multiplied by c ∈ `scales`. For WeightNorm f is
  unchanged and only the normalization terms min ‖v_i‖ move (the bound grows as they shrink); for the
  unnormalized net the function itself changes.
* `train`: full-batch gradient descent (step `learning_rate`, `steps` steps) at each width in `train_widths`:
  loss curve, Hessian norm and min ‖v_i‖ at `checkpoints` points (the paper's convergence guarantee and
  its experiments relating the normalization terms to training).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path

import numpy as np

from loyal.methods.harness.plots import line_plot
from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.weightnorm import maths

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WeightNormConfig:
    """Settings of the WeightNorm experiment.

    Attributes:
      seeds: seeds per arm, >= 1.
      depth: hidden layers L, >= 1.
      activation: smooth activation, a key of `maths.ACTIVATIONS`.
      widths: widths of the at-initialisation sweep, increasing, >= 2 of them, each >= 2.
      scale_width: width of the scale sweep, >= 2.
      scales: factors c > 0 of the scale sweep, increasing, >= 2 of them.
      train_widths: widths trained by GD, each >= 2.
      train_size: training inputs (digits), in [8, 1797].
      steps: GD steps, >= 1.
      learning_rate: GD step size, > 0.
      checkpoints: Hessian measurements along training (step 0 and the end included), >= 2.
      probes: inputs whose Hessian norms are averaged, in [1, train_size].
      power_iterations: at most this many H² products per norm, >= 1.
    """

    seeds: int = 2
    depth: int = 2
    activation: str = "tanh"
    widths: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
    scale_width: int = 256
    scales: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    train_widths: tuple[int, ...] = (64, 256, 1024)
    train_size: int = 256
    steps: int = 1000
    learning_rate: float = 16.0
    checkpoints: int = 7
    probes: int = 4
    power_iterations: int = 40

    def __post_init__(self) -> None:
        for name in ("seeds", "depth", "steps", "power_iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.activation not in maths.ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(maths.ACTIVATIONS)}, got {self.activation!r}")
        if len(self.widths) < 2 or min(self.widths) < 2 or list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths must be >= 2 increasing values >= 2, got {self.widths}")
        if len(self.scales) < 2 or min(self.scales) <= 0 or list(self.scales) != sorted(set(self.scales)):
            raise ValueError(f"scales must be >= 2 increasing values > 0, got {self.scales}")
        if self.scale_width < 2 or not self.train_widths or min(self.train_widths) < 2:
            raise ValueError(f"scale_width and train_widths must be >= 2, got {self.scale_width}, {self.train_widths}")
        if not 8 <= self.train_size <= 1797:
            raise ValueError(f"train_size must be in [8, 1797], got {self.train_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.checkpoints < 2:
            raise ValueError(f"checkpoints must be >= 2, got {self.checkpoints}")
        if not 1 <= self.probes <= self.train_size:
            raise ValueError(f"probes must be in [1, train_size={self.train_size}], got {self.probes}")


@functools.lru_cache(maxsize=4)
def digits_task(train_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): the first `train_size` digits, standardised and scaled to unit norm, y = +1 odd / −1 even."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.data[:train_size].astype(np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.where(data.target[:train_size] % 2 == 1, 1.0, -1.0)


def _setup(config: WeightNormConfig, kind: str, width: int, seed: int):
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)  # small models, arms run side by side (see harness/lm.py)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x, y = digits_task(config.train_size)
    arch = maths.Architecture(kind, x.shape[1], width, config.depth, config.activation)
    generator = torch.Generator().manual_seed(seed)
    theta = maths.init_params(arch, generator, torch.float32).to(device)
    as_tensor = functools.partial(torch.as_tensor, dtype=torch.float32, device=device)
    return arch, theta, as_tensor(x), as_tensor(y), generator


def mean_hessian_norm(arch: maths.Architecture, theta, x, config: WeightNormConfig, generator) -> float:
    """‖∇²_θ f(θ; x_j)‖₂ averaged over the first `probes` inputs."""
    norms = maths.hessian_spectral_norms(arch, theta, x[: config.probes], config.power_iterations, 1e-4, generator)
    return float(norms.mean())


def run_arm(config: WeightNormConfig, arm: dict) -> dict:
    """One `width`, `scale` or `train` arm (see the module docstring)."""
    seed = int(arm["seed"])
    seed_everything(seed)
    kind, part = arm["kind"], arm["part"]
    out = {"part": part, "kind": kind, "seed": seed}
    if part == "width":
        rows = []
        for width in config.widths:
            arch, theta, x, _, gen = _setup(config, kind, width, seed)
            rows.append({"width": width, "hessian": mean_hessian_norm(arch, theta, x, config, gen),
                         "min_row_norm": min(maths.min_row_norms(arch, theta))})
        return out | {"rows": rows}
    if part == "scale":
        arch, theta, x, _, gen = _setup(config, kind, config.scale_width, seed)
        rows = []
        for factor in config.scales:
            scaled = maths.scale_hidden_weights(arch, theta, factor)
            rows.append({"factor": factor, "hessian": mean_hessian_norm(arch, scaled, x, config, gen),
                         "min_row_norm": min(maths.min_row_norms(arch, scaled))})
        return out | {"rows": rows}
    if part != "train":
        raise ValueError(f"part must be width, scale or train, got {part!r}")
    arch, theta, x, y, gen = _setup(config, kind, int(arm["width"]), seed)
    marks = set(np.linspace(0, config.steps, config.checkpoints).round().astype(int).tolist())
    losses, track = [], []
    for step in range(config.steps + 1):
        if step in marks:
            gain = max(maths.max_gains(arch, theta)) if kind == "weightnorm" else 1.0
            track.append({"step": step, "hessian": mean_hessian_norm(arch, theta, x, config, gen),
                          "min_row_norm": min(maths.min_row_norms(arch, theta)), "max_gain": gain})
        if step < config.steps:
            theta, loss = maths.gradient_descent_step(arch, theta, x, y, config.learning_rate)
            losses.append(loss)
    losses.append(float(maths.squared_loss(arch, theta, x, y)))
    logger.info("%s width %d seed %d: loss %.4f -> %.4f", kind, arch.width, seed, losses[0], losses[-1])
    return out | {"width": arch.width, "losses": losses, "track": track}


def arms(config: WeightNormConfig) -> list[dict]:
    out = []
    for seed in range(config.seeds):
        for kind in maths.KINDS:
            out += [{"part": "width", "kind": kind, "seed": seed}, {"part": "scale", "kind": kind, "seed": seed}]
            out += [{"part": "train", "kind": kind, "width": w, "seed": seed} for w in config.train_widths]
    return out


def _slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _mean_rows(results: list[dict], part: str, kind: str, key: str) -> np.ndarray:
    return np.mean([[row[key] for row in r["rows"]] for r in results if r["part"] == part and r["kind"] == kind], axis=0)


_TRACKED = ("step", "hessian", "min_row_norm", "max_gain")


def _training_runs(config: WeightNormConfig, results: list[dict]) -> dict[str, dict[int, dict]]:
    """kind -> width -> seed-mean loss curve and tracked quantities, plus whether min ‖v‖ never fell."""
    train: dict[str, dict[int, dict]] = {k: {} for k in maths.KINDS}
    for k in maths.KINDS:
        for w in config.train_widths:
            rs = [r for r in results if r["part"] == "train" and r["kind"] == k and r["width"] == w]
            track = {key: np.mean([[t[key] for t in r["track"]] for r in rs], axis=0) for key in _TRACKED}
            monotone = all(np.all(np.diff([t["min_row_norm"] for t in r["track"]]) >= -1e-5) for r in rs)
            train[k][w] = {"losses": np.mean([r["losses"] for r in rs], axis=0), "track": track, "monotone": monotone}
    return train


def _training_metrics(run: dict) -> dict:
    track = run["track"]
    out = {"initial_loss": float(run["losses"][0]), "final_loss": float(run["losses"][-1]),
           "min_row_norm_non_decreasing": run["monotone"]}
    for key in ("hessian", "min_row_norm", "max_gain"):
        out |= {f"{key}_start": float(track[key][0]), f"{key}_end": float(track[key][-1])}
    return out


def summarize(config: WeightNormConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    widths, scales, kinds = list(config.widths), list(config.scales), maths.KINDS
    at_init = {k: _mean_rows(results, "width", k, "hessian") for k in kinds}
    norm_at_init = {k: _mean_rows(results, "width", k, "min_row_norm") for k in kinds}
    scale_h = {k: _mean_rows(results, "scale", k, "hessian") for k in kinds}
    scale_norm = {k: _mean_rows(results, "scale", k, "min_row_norm") for k in kinds}
    train = _training_runs(config, results)
    metrics = {
        "hessian_at_init": {k: dict(zip(map(str, widths), map(float, v))) for k, v in at_init.items()},
        "hessian_width_slope": {k: _slope(widths, v) for k, v in at_init.items()},
        "min_row_norm_at_init": {k: dict(zip(map(str, widths), map(float, v))) for k, v in norm_at_init.items()},
        "scale_sweep": {k: {"factor": scales, "hessian": [float(v) for v in scale_h[k]],
                            "min_row_norm": [float(v) for v in scale_norm[k]]} for k in kinds},
        "hessian_vs_min_row_norm_slope": {k: _slope(scale_norm[k], scale_h[k]) for k in kinds},
        "training": {k: {str(w): _training_metrics(run) for w, run in by_w.items()} for k, by_w in train.items()},
    }
    wn = metrics["training"]["weightnorm"]
    metrics["claims"] = {
        "weightnorm_hessian_decreases_with_width": metrics["hessian_width_slope"]["weightnorm"] < 0,
        "weightnorm_hessian_decreases_as_min_v_norm_grows": metrics["hessian_vs_min_row_norm_slope"]["weightnorm"] < 0,
        "weightnorm_min_v_norm_never_decreases_under_gd": all(v["min_row_norm_non_decreasing"] for v in wn.values()),
        "weightnorm_gd_converges": all(v["final_loss"] < 0.1 * v["initial_loss"] for v in wn.values()),
        "weightnorm_hessian_at_end_below_start": all(v["hessian_end"] <= v["hessian_start"] for v in wn.values()),
    }
    return metrics, _figures(config, metrics, at_init, scale_norm, scale_h, train, out_dir)


def _figures(config: WeightNormConfig, metrics: dict, at_init: dict, scale_norm: dict, scale_h: dict, train: dict,
             out_dir: Path) -> list[str]:
    kinds, trained = maths.KINDS, list(config.train_widths)
    steps = list(range(0, config.steps + 1, max(1, config.steps // 60)))  # thinned for the plot's markers
    slope_w, slope_n = metrics["hessian_width_slope"], metrics["hessian_vs_min_row_norm_slope"]

    def along(key: str) -> dict:
        return {f"{k} m={w}": (list(t["track"]["step"]), list(t["track"][key])) for k in kinds for w, t in train[k].items()}

    return [
        line_plot(out_dir / "hessian_vs_width.png",
                  {f"{k} (slope {slope_w[k]:.2f})": (list(config.widths), list(v)) for k, v in at_init.items()}
                  | {f"{k} after GD": (trained, [train[k][w]["track"]["hessian"][-1] for w in trained]) for k in kinds},
                  title="Predictor Hessian spectral norm vs width", xlabel="width m",
                  ylabel="‖∇²f‖₂ (mean over inputs)", log_x=True, log_y=True),
        line_plot(out_dir / "hessian_vs_min_norm.png",
                  {f"{k}, weights × c (slope {slope_n[k]:.2f})": (list(scale_norm[k]), list(scale_h[k])) for k in kinds},
                  title=f"Hessian norm vs min row norm (width {config.scale_width})",
                  xlabel="min_i ‖v_i‖ (WeightNorm) / min_i ‖W_i‖/√fan_in", ylabel="‖∇²f‖₂", log_x=True, log_y=True),
        line_plot(out_dir / "gd_loss.png",
                  {f"{k} m={w}": (steps, [float(t["losses"][i]) for i in steps]) for k in kinds for w, t in train[k].items()},
                  title=f"Full-batch GD, step {config.learning_rate}", xlabel="step", ylabel="training loss", log_y=True),
        line_plot(out_dir / "hessian_along_training.png", along("hessian"), title="Hessian norm along GD", xlabel="step",
                  ylabel="‖∇²f‖₂", log_y=True),
        line_plot(out_dir / "min_norm_along_training.png", along("min_row_norm"), title="Normalization terms along GD",
                  xlabel="step", ylabel="min row norm", log_y=True),
        line_plot(out_dir / "gain_along_training.png", {n: c for n, c in along("max_gain").items() if n.startswith("weightnorm")},
                  title="WeightNorm gains along GD", xlabel="step", ylabel="max_i g_i", log_y=True),
    ]


SPEC = MethodSpec(
    name="weightnorm",
    paper="2409.08935",
    title="Optimization and Generalization Guarantees for Weight Normalization",
    claim="The predictor Hessian of a WeightNorm network with smooth activations is small: its spectral norm "
    "decreases with width and with the weight-vector norms, which lets gradient descent converge.",
    quick_runtime="~35 s CPU, ~1 min wall (2 shared cores)",
    config_cls=WeightNormConfig,
    quick={"seeds": 1, "widths": (16, 64, 256, 512), "scales": (0.25, 1.0, 4.0), "train_widths": (64, 512), "steps": 300,
           "checkpoints": 4, "train_size": 128, "probes": 2, "power_iterations": 20},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
