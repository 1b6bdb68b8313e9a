# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Figures of the back-and-forth translation run: the 2-D embedding scatter and the cosine histograms."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_png(path: Path, points: Mapping[str, np.ndarray], *, title: str) -> str:
    """One scatter of 2-D points per label (e.g. PCA of documents / rewritten / distilled); returns the file name."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.0), dpi=110)
    for (label, xy), marker in zip(points.items(), "o^sxd"):
        xy = np.asarray(xy)
        ax.scatter(xy[:, 0], xy[:, 1], s=14, alpha=0.6, marker=marker, label=f"{label} (n={len(xy)})")
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path).name


def histogram_png(path: Path, values: Mapping[str, np.ndarray], *, title: str, xlabel: str) -> str:
    """Overlaid histograms on shared bins in [-0.2, 1]; returns the file name."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    bins = np.linspace(-0.2, 1.0, 31)
    for label, v in values.items():
        ax.hist(np.asarray(v), bins=bins, alpha=0.5, label=f"{label} (mean {np.mean(v):.2f})")
    ax.set(title=title, xlabel=xlabel, ylabel="pairs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path).name
