# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Model-fitting chains of arXiv 2410.16713 (Sec. 2-3): replace, accumulate, accumulate with fixed compute.

A chain starts from n real samples. At iteration t ≥ 1 the model fitted at t − 1 generates n synthetic
samples, and the model at t is fitted on

* ``replace``: only those n new synthetic samples;
* ``accumulate``: every sample so far (n real + t·n synthetic);
* ``accumulate_subsample`` (fixed compute, Sec. 3): n samples drawn without replacement from that pool.

Settings here: the multivariate Gaussian (MLE mean and covariance, Sec. 2.1) and kernel density
estimation (Gaussian kernel, fixed bandwidth, Sec. 2.2); the LM setting lives in `lm_chain.py`.
Closed forms (tests): for a 1-D Gaussian with MLE variance under replace, E[σ_t²] = σ_0²((n − 1)/n)^t;
for the mean with known variance, Var(μ_t − μ*) = (t + 1)σ²/n under replace and
σ²/n · Σ_{i=1}^{t+1} 1/i² ≤ (π²/6)σ²/n under accumulate (no collapse).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

SCENARIOS = ("replace", "accumulate", "accumulate_subsample")


@dataclasses.dataclass(frozen=True)
class Gaussian:
    """A fitted multivariate Gaussian N(mean, cov)."""

    mean: np.ndarray
    cov: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, ridge: float = 1e-9) -> Gaussian:
        """MLE fit (covariance divides by n) of samples x (n, d); `ridge`·I keeps cov invertible."""
        mean = x.mean(axis=0)
        centered = x - mean
        cov = centered.T @ centered / len(x) + ridge * np.eye(x.shape[1])
        return cls(mean, cov)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.multivariate_normal(self.mean, self.cov, size=n, method="cholesky")

    def nll(self, x: np.ndarray) -> float:
        """Mean negative log-likelihood of x (nats per sample)."""
        d = len(self.mean)
        sign, logdet = np.linalg.slogdet(self.cov)
        diff = x - self.mean
        maha = np.einsum("ij,ij->i", diff @ np.linalg.inv(self.cov), diff)
        return float(0.5 * np.mean(maha) + 0.5 * logdet + 0.5 * d * np.log(2 * np.pi))


@dataclasses.dataclass(frozen=True)
class Kde:
    """A Gaussian-kernel density estimate with fixed bandwidth over its training points."""

    points: np.ndarray
    bandwidth: float

    @classmethod
    def fit(cls, x: np.ndarray, bandwidth: float) -> Kde:
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
        return cls(np.array(x, copy=True), bandwidth)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        centers = self.points[rng.integers(0, len(self.points), size=n)]
        return centers + self.bandwidth * rng.normal(size=centers.shape)

    def nll(self, x: np.ndarray) -> float:
        """Mean negative log-likelihood of x under the mixture of N(point, h²I)."""
        from scipy.special import logsumexp

        d = x.shape[1]
        sq = (x**2).sum(1)[:, None] + (self.points**2).sum(1)[None, :] - 2 * x @ self.points.T
        log_k = -0.5 * np.maximum(sq, 0.0) / self.bandwidth**2 - 0.5 * d * np.log(2 * np.pi * self.bandwidth**2)
        return float(-np.mean(logsumexp(log_k, axis=1) - np.log(len(self.points))))


def run_chain(
    real: np.ndarray,
    test: np.ndarray,
    fit: Callable[[np.ndarray], object],
    scenario: str,
    iterations: int,
    rng: np.random.Generator,
) -> list[float]:
    """Test NLL on real data of the models fitted at t = 0..iterations under `scenario`.

    Args:
      real: (n, d) real training samples (t = 0).
      test: held-out real samples.
      fit: samples -> model with `.sample(n, rng)` and `.nll(x)`.
      scenario: one of `SCENARIOS`.
      iterations: model-fitting iterations after the first, >= 0.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    n = len(real)
    pool = [real]
    model = fit(real)
    losses = [model.nll(test)]
    for _ in range(iterations):
        synthetic = model.sample(n, rng)
        if scenario == "replace":
            data = synthetic
        else:
            pool.append(synthetic)
            data = np.concatenate(pool)
            if scenario == "accumulate_subsample":
                data = data[rng.choice(len(data), size=n, replace=False)]
        model = fit(data)
        losses.append(model.nll(test))
    return losses


def mean_error_variance(scenario: str, iterations: int, n: int, sigma: float = 1.0) -> np.ndarray:
    """Closed-form Var(μ_t − μ*) for t = 0..iterations of the known-variance mean chain (module docstring)."""
    t = np.arange(iterations + 1)
    if scenario == "replace":
        return (t + 1) * sigma**2 / n
    if scenario == "accumulate":
        return np.cumsum(1.0 / (t + 1) ** 2) * sigma**2 / n
    raise ValueError(f"closed form only for 'replace' and 'accumulate', got {scenario!r}")


def real_synthetic_loss(
    generator_samples: int, n_real: int, n_synthetic: int, dim: int, test: np.ndarray, rng: np.random.Generator
) -> float:
    """Cardinality vs proportion (Sec. 4): test NLL of a Gaussian fitted on n_real fresh real samples plus
    n_synthetic samples of a generator fitted on `generator_samples` other real samples (truth: N(0, I))."""
    generator = Gaussian.fit(rng.normal(size=(generator_samples, dim)))
    parts = [rng.normal(size=(n_real, dim))]
    if n_synthetic:
        parts.append(generator.sample(n_synthetic, rng))
    return Gaussian.fit(np.concatenate(parts), ridge=1e-3).nll(test)
