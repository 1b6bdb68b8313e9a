# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FTRL benchmarks: BLT streaming noise vs independent Gaussian noise; dense optimization time; quality.

Options (declared in loyal/cli/bench.py): --rounds, --dim, --buffers, --dense-steps.

1. BLT noise (d = --dim, --rounds rounds, m = --buffers, float32) against the same number of N(0, 1)
   draws made by the same call (`torch.randn(..., out=...)`, same generator, same dtype, preallocated).
   Both run on one torch thread (the RNG is single-threaded either way; OpenMP threads only add
   contention on a shared box) and are interleaved in blocks so that load drift hits both alike.
2. The dense optimum for n = --dense-steps on two torch threads, against the 60 s target, with one dense
   float64 eigendecomposition of the same size (the old method's cost per iteration) as a yardstick.
3. Quality: our rmse / max error against jax_privacy 2.0.0's values (tests/protocols/dpftrl/
   reference_dpftrl.json), and BLT's rmse against the dense optimum for the same n.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import time

import torch

from loyal.protocols.dpftrl import build_mechanism
from loyal.protocols.dpftrl.base import ParticipationSchema
from loyal.protocols.dpftrl.dense import DenseMechanism, optimize_dense_gram, strategy_from_gram

_REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "tests" / "protocols" / "dpftrl" / "reference_dpftrl.json"
_BLOCK = 50  # rounds per interleaved timing block


def _blt_stream(rounds: int, dim: int, buffers: int) -> dict:
    torch.set_num_threads(1)
    mechanism = build_mechanism("blt", rounds, buffers=buffers)
    blt_gen = mechanism.noise_generator(dim, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    base_gen = torch.Generator().manual_seed(1)
    out = torch.empty(dim, dtype=torch.float32)
    blt_gen.next()  # warm-up (round 0, page-in of the buffers); re-created below for the full count
    blt_gen = mechanism.noise_generator(dim, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    baseline_s = blt_s = 0.0
    block_ratios: list[float] = []
    done = 0
    while done < rounds:
        block = min(_BLOCK, rounds - done)
        start = time.perf_counter()
        for _ in range(block):
            torch.randn(dim, generator=base_gen, dtype=torch.float32, out=out)
        block_base = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(block):
            blt_gen.next()
        block_blt = time.perf_counter() - start
        baseline_s += block_base
        blt_s += block_blt
        block_ratios.append(block_blt / block_base)
        done += block
    return {
        "dim": dim, "rounds": rounds, "buffers": buffers, "dtype": "float32", "torch_threads": 1,
        "independent_gaussian_s": baseline_s, "blt_s": blt_s, "ratio": blt_s / baseline_s,
        "median_block_ratio": statistics.median(block_ratios), "target_ratio": 2.0, "blt_rmse": mechanism.rmse(),
    }


def _dense(n: int) -> dict:
    torch.set_num_threads(2)
    start = time.perf_counter()
    X, iterations, gap = optimize_dense_gram(n)
    C = strategy_from_gram(X)
    dense_s = time.perf_counter() - start
    rmse = DenseMechanism(ParticipationSchema(n), C).rmse()
    A = torch.tril(torch.ones((n, n), dtype=torch.float64))
    start = time.perf_counter()
    torch.linalg.eigh(A.T @ A)
    eigh_s = time.perf_counter() - start
    return {
        "steps": n, "seconds": dense_s, "iterations": iterations, "duality_gap": gap, "rmse": rmse,
        "torch_threads": 2, "target_s": 60.0, "ratio_to_target": dense_s / 60.0,
        "one_dense_eigh_s": eigh_s, "ratio_to_one_dense_eigh": dense_s / eigh_s,
    }


def _quality(rounds: int, buffers: int, blt_rmse: float) -> dict:
    reference = json.loads(_REFERENCE.read_text())
    rows = []
    for case in reference["single_participation"] + reference["multi_participation"]:
        options = {k: case[k] for k in ("participations", "min_separation", "bands") if k in case}
        mechanism = build_mechanism(case["mechanism"], case["n"], **options)
        row = {"mechanism": case["mechanism"], "steps": case["n"], **options,
               "jax_privacy_rmse": case["rmse"], "rmse": mechanism.rmse(),
               "rmse_ratio": mechanism.rmse() / case["rmse"]}
        if "max_error" in case:
            row.update(jax_privacy_max_error=case["max_error"], max_error=mechanism.max_error(),
                       max_error_ratio=mechanism.max_error() / case["max_error"])
        rows.append(row)
    X, _, _ = optimize_dense_gram(rounds)
    optimum = DenseMechanism(ParticipationSchema(rounds), strategy_from_gram(X)).rmse()
    return {
        "versus_jax_privacy": rows,
        "jax_privacy_dense_default_stop_n256": 2.5250,
        "blt_versus_dense_optimum": {"steps": rounds, "buffers": buffers, "blt_rmse": blt_rmse,
                                     "dense_rmse": optimum, "ratio": blt_rmse / optimum},
    }


def run(args: argparse.Namespace) -> dict:
    """Runs the measurements; returns the JSON results."""
    threads = torch.get_num_threads()
    try:
        blt_results = _blt_stream(args.rounds, args.dim, args.buffers)
        dense_results = _dense(args.dense_steps)
        quality = _quality(args.rounds, args.buffers, blt_results["blt_rmse"])
    finally:
        torch.set_num_threads(threads)
    return {
        "machine": {"cpu_count": os.cpu_count(), "load_average_1_5_15": list(os.getloadavg())},
        "blt_stream": blt_results,
        "dense_optimization": dense_results,
        "quality": quality,
    }


def markdown(results: dict) -> str:
    """A Markdown table of `results`."""
    b, dn, q = results["blt_stream"], results["dense_optimization"], results["quality"]
    load = ", ".join(f"{x:.1f}" for x in results["machine"]["load_average_1_5_15"])
    lines = [
        "# DP-FTRL benchmarks",
        "",
        f"CPUs: {results['machine']['cpu_count']}, load average at the end (1/5/15 min): {load}",
        "",
        "| measurement | value | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| BLT noise, d={b['dim']}, {b['rounds']} rounds, m={b['buffers']}, {b['dtype']}, "
        f"{b['torch_threads']} thread | {b['blt_s']:.2f} s | {b['independent_gaussian_s']:.2f} s "
        f"(independent Gaussian, same RNG call) | {b['ratio']:.2f}x (median of {_BLOCK}-round blocks "
        f"{b['median_block_ratio']:.2f}x) | <= 2x |",
        f"| dense optimum n={dn['steps']}, {dn['torch_threads']} threads ({dn['iterations']} it, gap "
        f"{dn['duality_gap']:.1e}, rmse {dn['rmse']:.4f}) | {dn['seconds']:.1f} s | 60 s target; one dense "
        f"eigh {dn['one_dense_eigh_s']:.1f} s | {dn['ratio_to_target']:.3f} of target, "
        f"{dn['ratio_to_one_dense_eigh']:.1f} eighs | <= 1 |",
        "",
        "## Quality against jax_privacy 2.0.0 (reference_dpftrl.json)",
        "",
        "| mechanism | n | schema | rmse (ours / jax_privacy) | ratio | max error ratio |",
        "|---|---|---|---|---|---|",
    ]
    for row in q["versus_jax_privacy"]:
        schema = (f"k={row['participations']}, b={row['min_separation']}, {row['bands']} bands"
                  if "participations" in row else "k=1")
        mx = f"{row['max_error_ratio']:.5f}" if "max_error_ratio" in row else "-"
        lines.append(f"| {row['mechanism']} | {row['steps']} | {schema} | {row['rmse']:.5f} / "
                     f"{row['jax_privacy_rmse']:.4f} | {row['rmse_ratio']:.5f} | {mx} |")
    bv = q["blt_versus_dense_optimum"]
    lines += [
        "",
        f"jax_privacy's default stopping rule gives {q['jax_privacy_dense_default_stop_n256']:.4f} for dense "
        "n=256 (our converged value is below it).",
        f"BLT (m={bv['buffers']}) at n={bv['steps']}: rmse {bv['blt_rmse']:.4f} vs the dense optimum "
        f"{bv['dense_rmse']:.4f}, ratio {bv['ratio']:.4f}.",
        "",
    ]
    return "\n".join(lines)
