# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Ray simulation scale benchmark: one round with many ephemeral clients of large synthetic updates.

Run with `loyal bench sim --json [--clients N] [--dim D]`. Each Ray task simulates a chunk of clients
(every client draws its synthetic update from its own seed, clips it to norm 1 and uploads it as float32);
the task pre-sums its chunk (hierarchical aggregation inside the simulator) and the server adds the chunk
sums and Gaussian noise. The baseline is the same round done by one process with numpy, measured in the
same run; ratios are ray / baseline. A grid over (clients, d) gives the PNG of round time.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import ray

CHUNK = 250  # clients per Ray task


def _client_update(seed: int, dim: int) -> np.ndarray:
    """A synthetic update: seeded Gaussian direction clipped to L2 norm 1 (float32)."""
    v = np.random.default_rng(seed).standard_normal(dim, dtype=np.float32)
    return v / max(1.0, float(np.linalg.norm(v)))


def _chunk_sum(first: int, count: int, dim: int) -> np.ndarray:
    total = np.zeros(dim, dtype=np.float64)
    for seed in range(first, first + count):
        total += _client_update(seed, dim)
    return total


def _chunk_task(first: int, count: int, dim: int) -> tuple[np.ndarray, int]:
    """A Ray task: the chunk's sum and this worker's peak RSS in KiB."""
    return _chunk_sum(first, count, dim), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


_WORKER_PEAK_KB = [0]


def _ray_round(clients: int, dim: int, noise: float) -> tuple[float, np.ndarray]:
    task = ray.remote(num_cpus=1)(_chunk_task)
    t = time.perf_counter()
    refs = [task.remote(s, min(CHUNK, clients - s), dim) for s in range(0, clients, CHUNK)]
    total = np.zeros(dim)
    pending = refs
    while pending:  # streaming sum: at most the in-flight chunk sums are held
        done, pending = ray.wait(pending, num_returns=1)
        part, peak = ray.get(done[0])
        total += part
        _WORKER_PEAK_KB[0] = max(_WORKER_PEAK_KB[0], peak)
    total += np.random.default_rng(0).normal(0.0, noise, dim)
    return time.perf_counter() - t, total


def _numpy_round(clients: int, dim: int, noise: float) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    total = _chunk_sum(0, clients, dim) + np.random.default_rng(0).normal(0.0, noise, dim)
    return time.perf_counter() - t, total


def _plot(grid: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for d in sorted({g["dim"] for g in grid}):
        pts = sorted((g["clients"], g["ray_round_s"]) for g in grid if g["dim"] == d)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"d = {d:,}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("clients in the round")
    ax.set_ylabel("round time (s), Ray, 2 cores")
    ax.set_title("One simulated round: time vs clients and d")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict:
    clients, dim = args.clients, args.dim
    if clients < 1 or dim < 1:
        raise ValueError(f"--clients and --dim must be >= 1, got clients={clients}, dim={dim}")
    t0 = time.perf_counter()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False)
    try:
        _ray_round(4 * CHUNK, 8, 0.0)  # warm the workers (process start is not part of a round)
        noise = 1.0
        ray_s, ray_total = _ray_round(clients, dim, noise)
        base_clients = min(clients, args.baseline_clients)
        base_s, base_total = _numpy_round(base_clients, dim, noise)
        base_scaled = base_s * clients / base_clients
        if base_clients == clients:
            assert np.allclose(ray_total, base_total)
        grid = []
        for c in sorted({max(1, clients // 10), max(1, clients // 3), clients}):
            for d in sorted({max(1, dim // 10), dim}):
                s, _ = (ray_s, None) if (c, d) == (clients, dim) else _ray_round(c, d, noise)
                grid.append({"clients": c, "dim": d, "ray_round_s": s})
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        workers_mb = _WORKER_PEAK_KB[0] / 1024
    finally:
        if started:
            ray.shutdown()
    out_png = getattr(args, "png", None) or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "sim.png")
    os.makedirs(os.path.dirname(out_png), exist_ok=True)
    _plot(grid, out_png)
    return {
        "clients": clients,
        "dim": dim,
        "ray_round_s": ray_s,
        "clients_per_s": clients / ray_s,
        "numpy_baseline_round_s": base_scaled,
        "baseline_clients_measured": base_clients,
        "ratio_ray_vs_numpy": ray_s / base_scaled,
        "driver_peak_rss_mb": peak_mb,
        "worker_peak_rss_mb": workers_mb,
        "update_bytes_per_client": 4 * dim,
        "grid": grid,
        "png": os.path.relpath(out_png, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "bench_wall_s": time.perf_counter() - t0,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }


def markdown(results: dict) -> str:
    r = results
    lines = [
        f"# Ray simulation scale (one round, {r['clients']:,} clients × d = {r['dim']:,})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| round time (Ray) | {r['ray_round_s']:.1f} s |",
        f"| clients / s | {r['clients_per_s']:.0f} |",
        f"| numpy single-process baseline | {r['numpy_baseline_round_s']:.1f} s (measured on {r['baseline_clients_measured']:,} clients, scaled) |",
        f"| ratio Ray / baseline | {r['ratio_ray_vs_numpy']:.2f}× |",
        f"| driver peak RSS | {r['driver_peak_rss_mb']:.0f} MB |",
        f"| Ray worker peak RSS (max over workers) | {r['worker_peak_rss_mb']:.0f} MB |",
        "",
        "| clients | d | round time (s) |",
        "|---|---|---|",
        *[f"| {g['clients']:,} | {g['dim']:,} | {g['ray_round_s']:.2f} |" for g in r["grid"]],
        "",
        f"Plot: {r['png']}. Wall {r['bench_wall_s']:.0f} s; {r['machine']}. Synthetic updates (seeded Gaussian, clipped);",
        f"each Ray task simulates {CHUNK} clients and pre-sums them.",
        "",
    ]
    return "\n".join(lines)
