# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Fréchet distance in the feature space of a digits classifier (an FID analogue; Heusel et al., arXiv 1706.08500).

FD = ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}) (Dowson & Landau 1982, the Fréchet/W2 distance of
two Gaussians); the trace term is computed from the eigenvalues of the symmetric Σ1^{1/2} Σ2 Σ1^{1/2}.
Features are the penultimate layer of a small MLP classifier trained here on the digits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from loyal.methods.diffusion.data import digits


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(0.5 * (m + m.T))
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_from_moments(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance of N(mu1, cov1) and N(mu2, cov2); covariances symmetric PSD of equal shape."""
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shape mismatch: mu {mu1.shape}, {mu2.shape}, cov {cov1.shape}, {cov2.shape}")
    root1 = _sqrt_psd(cov1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ cov2 @ root1), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * cross)


def frechet_distance(features1: np.ndarray, features2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted (mean, unbiased covariance) to two (n, k) feature sets."""
    if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
        raise ValueError(f"features must be (n, k) with equal k, got {features1.shape}, {features2.shape}")
    if min(len(features1), len(features2)) < 2:
        raise ValueError(f"need >= 2 samples per set, got {len(features1)}, {len(features2)}")
    f1, f2 = features1.astype(np.float64), features2.astype(np.float64)
    return frechet_from_moments(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))


class DigitsClassifier(nn.Module):
    """64 → 256 → `feature_dim` → classes MLP; `features` is the penultimate (ReLU) layer."""

    def __init__(self, classes: int = 10, feature_dim: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@functools.lru_cache(maxsize=4)
def train_classifier(classes: Sequence[int] = tuple(range(10)), seed: int = 0, steps: int = 800) -> DigitsClassifier:
    """A frozen classifier of `classes` (a tuple) trained with Adam on all their digits (small noise as augmentation)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = digits(tuple(classes))
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    model = DigitsClassifier(len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    with torch.enable_grad():
        _fit(model, opt, x, y, steps, gen)
    return model.eval().requires_grad_(False)


def _fit(model: DigitsClassifier, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int,
         gen: torch.Generator) -> None:
    for _ in range(steps):
        idx = torch.randint(len(x), (128,), generator=gen)
        xb = x[idx] + 0.1 * torch.randn((128, 64), generator=gen)
        loss = nn.functional.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def digit_features(x: np.ndarray | torch.Tensor, classifier: DigitsClassifier | None = None) -> np.ndarray:
    """Penultimate features (n, 64) of images x (n, 64) in [−1, 1] (clipped to that range first)."""
    classifier = classifier if classifier is not None else train_classifier()
    x = torch.as_tensor(x, dtype=torch.float32).detach().cpu().clamp(-1, 1)
    with torch.no_grad():
        return classifier.features(x).numpy()


def digits_fd(samples: np.ndarray | torch.Tensor, reference: np.ndarray) -> float:
    """Fréchet distance of `samples` to `reference` images in the all-digits classifier's feature space."""
    return frechet_distance(digit_features(samples), digit_features(reference))
