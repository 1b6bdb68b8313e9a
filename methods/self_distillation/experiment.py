# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Experiments of arXiv 2407.04600: the factor-d excess-risk gap (Theorem 1) and MSE on sklearn's diabetes.

Synthetic arms (one per dimension d): the Theorem-1-style family X with singular values evenly spaced in
[1, 2] (gapped, Assumption 2.1), θ* equal to the top right-singular vector (aligned, Assumption 2.2) and
noise γ; the exact fixed-design excess risk of ridge, 1-step, 2-step and d-step self-distillation, each
with λ on a grid and ξ optimal. Real arms (one per seed): sklearn's diabetes data (442 × 10, shipped with
sklearn) split 60/20/20; λ and ξ chosen on the validation split (ξ in closed form, the validation MSE
is quadratic in the polynomial coefficients), test MSE reported (the paper's Table 1 protocol on UCI data).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from loyal.methods.harness.plots import line_plot
from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.self_distillation import maths

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SelfDistillationConfig:
    """Settings of the self-distillation experiments.

    Attributes:
      dims: input dimensions d of the synthetic sweep, each in [2, 24] (d-step SD needs a degree-d
        polynomial; past ~24 the power basis is too ill-conditioned in float64).
      noise_std: γ of the synthetic family, > 0 (0.07 gives ridge ≈ 0.09 at d = 20).
      spread: largest singular value of the synthetic family (smallest is 1), > 1; the gap between
        singular values is (spread − 1)/(d − 1) (Remark 4.2: small gaps need huge ξ).
      lam_grid: λ values searched, log-spaced in [1e-4, 1e4], >= 8.
      diabetes_seeds: random splits of the diabetes data, >= 1.
      diabetes_steps: the largest number of SD steps fitted on diabetes, in [1, 10].
    """

    dims: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
    noise_std: float = 0.07
    spread: float = 2.0
    lam_grid: int = 161
    diabetes_seeds: int = 20
    diabetes_steps: int = 3

    def __post_init__(self) -> None:
        if not self.dims or any(not 2 <= d <= 24 for d in self.dims):
            raise ValueError(f"dims must be a non-empty list of integers in [2, 24], got {list(self.dims)}")
        if not self.noise_std > 0:
            raise ValueError(f"noise_std must be > 0, got {self.noise_std}")
        if not self.spread > 1:
            raise ValueError(f"spread must be > 1, got {self.spread}")
        if self.lam_grid < 8:
            raise ValueError(f"lam_grid must be >= 8, got {self.lam_grid}")
        if self.diabetes_seeds < 1:
            raise ValueError(f"diabetes_seeds must be >= 1, got {self.diabetes_seeds}")
        if not 1 <= self.diabetes_steps <= 10:
            raise ValueError(f"diabetes_steps must be in [1, 10], got {self.diabetes_steps}")

    def lams(self) -> np.ndarray:
        return np.geomspace(1e-4, 1e4, self.lam_grid)


def synthetic_family(d: int, noise_std: float, spread: float) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(s, a, γ, n) of the synthetic family: s_j evenly spaced in [1, spread], a = e_top (θ* = v_top), n = 1.

    The design enters the excess risk only through s and a = Vᵀθ*, so no X is drawn.
    """
    s = np.linspace(1.0, spread, d)
    a = np.zeros(d)
    a[-1] = 1.0
    return s, a, noise_std, 1


def synthetic_arm(config: SelfDistillationConfig, d: int) -> dict:
    """Excess risks of ridge, 1-, 2- and d-step SD (optimal ξ, best λ on the grid) and the Theorem-1 oracle."""
    s, a, gamma, n = synthetic_family(d, config.noise_std, config.spread)
    lams = config.lams()
    out = {"kind": "synthetic", "d": d}
    for label, steps in (("ridge", 0), ("sd_1", 1), ("sd_2", 2), ("sd_d", d)):
        risk, lam = maths.best_risk(s, a, gamma, n, steps, lams)
        out[label] = risk
        out[f"{label}_lam"] = lam
    out["oracle"] = maths.excess_risk(maths.oracle_shrinkage(s, a, gamma), s, a, gamma, n)
    return out


def _load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    return np.asarray(data.data, dtype=float), np.asarray(data.target, dtype=float)


def diabetes_arm(config: SelfDistillationConfig, seed: int) -> dict:
    """Test MSE of ridge and k-step SD (k = 1..diabetes_steps), λ and ξ tuned on a validation split."""
    rng = seed_everything(seed)
    X, y = _load_diabetes()
    order = rng.permutation(len(y))
    n_train, n_val = int(0.6 * len(y)), int(0.2 * len(y))
    tr, va, te = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    mean, scale = X[tr].mean(0), X[tr].std(0)
    Xs = (X - mean) / scale
    y_mean = y[tr].mean()
    U, s, Vt = maths.spectrum(Xs[tr])
    b = (U.T @ (y[tr] - y_mean)) / s
    M_val, M_te = (Xs[va] @ Vt.T) * b, (Xs[te] @ Vt.T) * b  # prediction = M @ ω + ȳ
    out = {"kind": "diabetes", "seed": seed}
    for steps in range(config.diabetes_steps + 1):
        best = (np.inf, np.nan, None)
        for lam in config.lams():
            Phi = maths.power_basis(s, lam, steps)
            c = maths.constrained_lstsq(M_val @ Phi, y[va] - y_mean) if steps else np.ones(1)
            val = float(np.mean((M_val @ (Phi @ c) + y_mean - y[va]) ** 2))
            if val < best[0]:
                best = (val, float(lam), Phi @ c)
        label = "ridge" if steps == 0 else f"sd_{steps}"
        out[label] = float(np.mean((M_te @ best[2] + y_mean - y[te]) ** 2))
        out[f"{label}_lam"] = best[1]
    return out


def arms(config: SelfDistillationConfig) -> list[dict]:
    return [{"kind": "synthetic", "d": d} for d in config.dims] + [
        {"kind": "diabetes", "seed": seed} for seed in range(config.diabetes_seeds)
    ]


def run_arm(config: SelfDistillationConfig, arm: dict) -> dict:
    if arm["kind"] == "synthetic":
        return synthetic_arm(config, int(arm["d"]))
    return diabetes_arm(config, int(arm["seed"]))


def summarize(config: SelfDistillationConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    synth = [r for r in results if r["kind"] == "synthetic"]
    real = [r for r in results if r["kind"] == "diabetes"]
    dims = [r["d"] for r in synth]
    figures = [
        line_plot(
            out_dir / "excess_risk_vs_d.png",
            {k: (dims, [r[k] for r in synth]) for k in ("ridge", "sd_1", "sd_2", "sd_d", "oracle")},
            title="Excess risk, optimal ξ (arXiv 2407.04600 Thm 1 family)", xlabel="d", ylabel="excess risk", log_y=True,
        ),
        line_plot(
            out_dir / "gain_vs_d.png", {"ridge / d-step SD": (dims, [r["ridge"] / r["sd_d"] for r in synth]), "d": (dims, dims)},
            title="Excess-risk reduction factor vs d", xlabel="d", ylabel="ratio",
        ),
    ]
    labels = ["ridge"] + [f"sd_{k}" for k in range(1, config.diabetes_steps + 1)]
    mse = {k: float(np.mean([r[k] for r in real])) for k in labels}
    best_sd = min(labels[1:], key=mse.get)
    metrics = {
        "synthetic": {
            str(r["d"]): {k: r[k] for k in ("ridge", "sd_1", "sd_2", "sd_d", "oracle")} | {"ratio_ridge_over_sd_d": r["ridge"] / r["sd_d"]}
            for r in synth
        },
        "diabetes_test_mse_mean": mse,
        "diabetes_test_mse_std": {k: float(np.std([r[k] for r in real])) for k in labels},
        "diabetes_best_sd": best_sd,
        "diabetes_mse_reduction_vs_ridge": 1.0 - mse[best_sd] / mse["ridge"],
        "diabetes_seeds_sd_better": int(sum(r[best_sd] < r["ridge"] for r in real)),
    }
    return metrics, figures


SPEC = MethodSpec(
    name="self_distillation",
    paper="2407.04600",
    title="Understanding the Gains from Repeated Self-Distillation",
    claim="Multi-step self-distillation reduces linear-regression excess risk by up to a factor d over ridge; "
    "up to 47% lower MSE on UCI regression.",
    quick_runtime="~5 s",
    config_cls=SelfDistillationConfig,
    quick={"dims": (2, 5, 10, 20), "lam_grid": 81, "diabetes_seeds": 3},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
