# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FTRL benchmarks: BLT streaming noise vs independent Gaussian noise; dense optimization time.

Options (declared in loyal/cli/bench.py): --rounds, --dim, --buffers, --dense-steps.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from loyal.protocols.dpftrl.base import ParticipationSchema
from loyal.protocols.dpftrl.blt import blt
from loyal.protocols.dpftrl.dense import DenseMechanism, optimize_dense_gram, strategy_from_gram


def _time_stream(rounds: int, draw) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        draw()
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict:
    """Runs both measurements; returns the JSON results."""
    threads = torch.get_num_threads()
    gen = torch.Generator().manual_seed(0)
    d, rounds = args.dim, args.rounds

    def sampler() -> torch.Tensor:
        return torch.randn(d, generator=gen, dtype=torch.float32)

    mech = blt(ParticipationSchema(rounds), args.buffers)
    # Baseline: independent Gaussian noise (DP-SGD / identity) for the same rounds and d.
    baseline_s = _time_stream(rounds, sampler)
    stream = mech.noise_stream(sampler)
    blt_s = _time_stream(rounds, lambda: next(stream))

    start = time.perf_counter()
    X, iterations, gap = optimize_dense_gram(args.dense_steps)
    dense_s = time.perf_counter() - start
    dense = DenseMechanism(ParticipationSchema(args.dense_steps), strategy_from_gram(X))
    return {
        "machine": {"torch_threads": threads, "cpu_count": os.cpu_count()},
        "blt_stream": {
            "dim": d, "rounds": rounds, "buffers": args.buffers, "dtype": "float32",
            "independent_gaussian_s": baseline_s, "blt_s": blt_s, "ratio": blt_s / baseline_s,
            "target_ratio": 2.0, "blt_rmse": mech.rmse(),
        },
        "dense_optimization": {
            "steps": args.dense_steps, "seconds": dense_s, "iterations": iterations,
            "duality_gap": gap, "rmse": dense.rmse(), "target_s": 60.0, "ratio_to_target": dense_s / 60.0,
        },
    }


def markdown(results: dict) -> str:
    """A Markdown table of `results`."""
    b, dn = results["blt_stream"], results["dense_optimization"]
    return "\n".join([
        "# DP-FTRL benchmarks",
        "",
        f"torch threads: {results['machine']['torch_threads']}, CPUs: {results['machine']['cpu_count']}",
        "",
        "| measurement | value | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| BLT noise, d={b['dim']}, {b['rounds']} rounds, m={b['buffers']} | {b['blt_s']:.2f} s | "
        f"{b['independent_gaussian_s']:.2f} s (independent Gaussian) | {b['ratio']:.2f}x | <= 2x |",
        f"| dense optimum n={dn['steps']} ({dn['iterations']} it, gap {dn['duality_gap']:.1e}, "
        f"rmse {dn['rmse']:.4f}) | {dn['seconds']:.1f} s | 60 s target | {dn['ratio_to_target']:.2f} | <= 1 |",
        "",
    ])
