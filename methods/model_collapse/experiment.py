# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Replace vs accumulate vs accumulate-with-fixed-compute (arXiv 2410.16713), three settings, small scale.

* Gaussian (Sec. 2.1): d-dimensional N(0, Σ) with a random Σ, MLE fits, n samples per iteration.
* KDE (Sec. 2.2): a 2-D two-component Gaussian mixture, Gaussian kernel with fixed bandwidth.
* LM (Sec. 2.3, scaled down from TinyStories/GPT-2 to Shakespeare and a ~0.1M-parameter byte-level
  transformer): each iteration trains a fresh model and samples the next synthetic text from it;
  accumulate trains (t + 1)× as many steps on its (t + 1)× larger data, the other two a fixed number.
* Cardinality vs proportion (Sec. 4): Gaussian fitted on n_real real + n_syn synthetic samples.
Every loss is the mean negative log-likelihood of held-out real data (nats).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from loyal.methods.harness.plots import line_plot
from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.model_collapse.maths import SCENARIOS, Gaussian, Kde, real_synthetic_loss, run_chain

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ModelCollapseConfig:
    """Settings of the model-collapse study.

    Attributes:
      dim: Gaussian dimension, >= 1.
      samples: samples per iteration n (Gaussian and KDE), > dim.
      iterations: model-fitting iterations after the first (Gaussian and KDE), >= 1.
      seeds: independent chains per scenario (Gaussian, KDE, cardinality), >= 1.
      kde_bandwidth: KDE kernel width h, > 0.
      lm_iterations: LM generations after the first, >= 0 (0 skips nothing but the chain).
      lm_real_bytes: bytes of real Shakespeare per LM iteration, >= 4096.
      lm_steps: Adam steps per LM fit (accumulate: × (t + 1)), >= 1.
      lm_seeds: LM chains per scenario, >= 0 (0 skips the LM setting).
      real_counts: n_real values of the cardinality study, each > 0.
      synthetic_counts: n_syn values of the cardinality study, each >= 0.
      generator_samples: real samples behind the cardinality study's synthetic-data generator, > dim.
    """

    dim: int = 10
    samples: int = 100
    iterations: int = 50
    seeds: int = 20
    kde_bandwidth: float = 0.3
    lm_iterations: int = 5
    lm_real_bytes: int = 32_768
    lm_steps: int = 200
    lm_seeds: int = 2
    real_counts: tuple[int, ...] = (8, 16, 64, 256)
    synthetic_counts: tuple[int, ...] = (0, 16, 64, 256, 1024)
    generator_samples: int = 32

    def __post_init__(self) -> None:
        for name in ("dim", "iterations", "seeds", "lm_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.samples <= self.dim:
            raise ValueError(f"samples must be > dim = {self.dim}, got {self.samples}")
        if not self.kde_bandwidth > 0:
            raise ValueError(f"kde_bandwidth must be > 0, got {self.kde_bandwidth}")
        if self.lm_iterations < 0 or self.lm_seeds < 0:
            raise ValueError(f"lm_iterations and lm_seeds must be >= 0, got {self.lm_iterations}, {self.lm_seeds}")
        if self.lm_real_bytes < 4096:
            raise ValueError(f"lm_real_bytes must be >= 4096, got {self.lm_real_bytes}")
        if not self.real_counts or min(self.real_counts) < 1:
            raise ValueError(f"real_counts must be non-empty integers >= 1, got {list(self.real_counts)}")
        if not self.synthetic_counts or min(self.synthetic_counts) < 0:
            raise ValueError(f"synthetic_counts must be non-empty integers >= 0, got {list(self.synthetic_counts)}")
        if self.generator_samples <= self.dim:
            raise ValueError(f"generator_samples must be > dim = {self.dim}, got {self.generator_samples}")


def gaussian_arm(config: ModelCollapseConfig, seed: int) -> dict:
    rng = seed_everything(seed)
    A = rng.normal(size=(config.dim, config.dim)) / np.sqrt(config.dim)
    cov = A @ A.T + 0.1 * np.eye(config.dim)
    truth = Gaussian(np.zeros(config.dim), cov)
    real, test = truth.sample(config.samples, rng), truth.sample(2000, rng)
    return {s: run_chain(real, test, Gaussian.fit, s, config.iterations, rng) for s in SCENARIOS} | {"truth_nll": truth.nll(test)}


def _mixture(n: int, rng: np.random.Generator) -> np.ndarray:
    centers = np.array([[-1.0, 0.0], [1.0, 0.5]])
    return centers[rng.integers(0, 2, size=n)] + 0.4 * rng.normal(size=(n, 2))


def kde_arm(config: ModelCollapseConfig, seed: int) -> dict:
    rng = seed_everything(seed)
    real, test = _mixture(config.samples, rng), _mixture(500, rng)
    fit = lambda x: Kde.fit(x, config.kde_bandwidth)  # noqa: E731
    return {s: run_chain(real, test, fit, s, config.iterations, rng) for s in SCENARIOS}


def lm_arm(config: ModelCollapseConfig, scenario: str, seed: int) -> dict:
    """One LM chain: test cross-entropy (nats/byte) on held-out Shakespeare at t = 0..lm_iterations."""
    from loyal.methods.harness.corpora import load_documents
    from loyal.methods.harness.lm import LmConfig, cross_entropy, new_model, sample_bytes, to_bytes, train_lm

    rng = seed_everything(seed)
    docs = load_documents("english", 2000, 4 * config.lm_real_bytes + 200_000)
    real = to_bytes(docs[0::2])[: config.lm_real_bytes]
    test = to_bytes(docs[1::2])[:200_000]
    lm = LmConfig(seq_len=64, width=64, layers=2, heads=2, steps=config.lm_steps, batch_size=16)
    seqs = config.lm_real_bytes // lm.seq_len
    pool, losses = [real], []
    data = real
    for t in range(config.lm_iterations + 1):
        steps = lm.steps * (t + 1) if scenario == "accumulate" else lm.steps
        model = train_lm(new_model(lm, seed * 1000 + t), data, dataclasses.replace(lm, steps=steps), seed * 1000 + t)
        losses.append(cross_entropy(model, test, lm.seq_len))
        if t == config.lm_iterations:
            break
        synthetic = sample_bytes(model, seqs, lm.seq_len, seed * 1000 + t).ravel()
        pool.append(synthetic)
        if scenario == "replace":
            data = synthetic
        elif scenario == "accumulate":
            data = np.concatenate(pool)
        else:  # fixed compute and data size: a random n-byte subset of whole sequences from the pool
            chunks = np.concatenate(pool)[: (sum(map(len, pool)) // lm.seq_len) * lm.seq_len].reshape(-1, lm.seq_len)
            data = chunks[rng.choice(len(chunks), size=seqs, replace=False)].ravel()
    return {scenario: losses}


def cardinality_arm(config: ModelCollapseConfig, seed: int) -> dict:
    rng = seed_everything(seed)
    test = rng.normal(size=(2000, config.dim))
    grid = [[real_synthetic_loss(config.generator_samples, r, s, config.dim, test, rng) for s in config.synthetic_counts]
            for r in config.real_counts]
    return {"grid": grid}


def arms(config: ModelCollapseConfig) -> list[dict]:
    out = [{"setting": k, "seed": s} for k in ("gaussian", "kde", "cardinality") for s in range(config.seeds)]
    return out + [{"setting": "lm", "scenario": sc, "seed": s} for s in range(config.lm_seeds) for sc in SCENARIOS]


def run_arm(config: ModelCollapseConfig, arm: dict) -> dict:
    setting, seed = arm["setting"], int(arm["seed"])
    if setting == "gaussian":
        result = gaussian_arm(config, seed)
    elif setting == "kde":
        result = kde_arm(config, seed)
    elif setting == "cardinality":
        result = cardinality_arm(config, seed)
    else:
        result = lm_arm(config, arm["scenario"], seed)
    return {"setting": setting, "seed": seed} | result


def summarize(config: ModelCollapseConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    metrics: dict = {}
    figures = []
    for setting, label in (("gaussian", "Gaussian"), ("kde", "KDE"), ("lm", "byte-level LM on Shakespeare")):
        rows = [r for r in results if r["setting"] == setting]
        if not rows:
            continue
        curves = {s: np.mean([r[s] for r in rows if s in r], axis=0) for s in SCENARIOS if any(s in r for r in rows)}
        ts = list(range(len(next(iter(curves.values())))))
        figures.append(line_plot(out_dir / f"{setting}_test_loss.png", {s: (ts, list(c)) for s, c in curves.items()},
                                 title=f"Model collapse: {label}", xlabel="model-fitting iteration", ylabel="test NLL on real data"))
        metrics[setting] = {
            "first": {s: float(c[0]) for s, c in curves.items()},
            "last": {s: float(c[-1]) for s, c in curves.items()},
            "curves": {s: [float(v) for v in c] for s, c in curves.items()},
        }
        if setting == "gaussian":
            metrics[setting]["truth_nll"] = float(np.mean([r["truth_nll"] for r in rows]))
    card = [r for r in results if r["setting"] == "cardinality"]
    grid = np.mean([r["grid"] for r in card], axis=0)
    figures.append(line_plot(
        out_dir / "cardinality_vs_proportion.png",
        {f"n_real = {n}": ([max(s, 1) for s in config.synthetic_counts], list(row)) for n, row in zip(config.real_counts, grid)},
        title="Value of synthetic data depends on real-data count (Gaussian)", xlabel="synthetic samples (0 plotted at 1)",
        ylabel="test NLL", log_x=True,
    ))
    metrics["cardinality"] = {
        "real_counts": list(config.real_counts), "synthetic_counts": list(config.synthetic_counts),
        "test_nll": grid.tolist(),
        # Test NLL with the most synthetic data minus with none, per n_real (< 0: synthetic data helped).
        "change_with_most_synthetic": {str(n): float(row[-1] - row[0]) for n, row in zip(config.real_counts, grid)},
    }
    return metrics, figures


SPEC = MethodSpec(
    name="model_collapse",
    paper="2410.16713",
    title="Collapse or Thrive? Perils and Promises of Synthetic Data in a Self-Generating World",
    claim="Replacing real data with synthetic collapses models; accumulating avoids it; accumulating under fixed "
    "compute degrades but plateaus; the value of synthetic data depends on the amount of real data.",
    quick_runtime="~2.5 min (CPU time, 2 cores)",
    config_cls=ModelCollapseConfig,
    quick={"iterations": 30, "seeds": 5, "lm_iterations": 3, "lm_real_bytes": 16_384, "lm_steps": 60, "lm_seeds": 1},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
