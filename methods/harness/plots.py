# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Plot helper: line charts written as PNG with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def line_plot(
    path: Path,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log_x: bool = False,
    log_y: bool = False,
) -> str:
    """Writes one line chart to `path` (a .png) and returns its file name.

    Args:
      path: output file; its folder must exist.
      series: legend label -> (x values, y values) of equal length.
      title, xlabel, ylabel: text of the chart.
      log_x, log_y: logarithmic axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for label, (xs, ys) in series.items():
        if len(xs) != len(ys):
            raise ValueError(f"series {label!r}: x has {len(xs)} values, y has {len(ys)}")
        ax.plot(list(xs), list(ys), marker="o", markersize=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path).name
