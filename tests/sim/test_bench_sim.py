# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A tiny `loyal bench sim` round on the shared cluster: the Ray round equals the single-process numpy round."""

from __future__ import annotations

import argparse

from loyal.cli.bench import _load


def test_bench_sim_small_round_matches_numpy_and_plots(ray_cluster, tmp_path) -> None:
    bench = _load("sim")
    png = tmp_path / "sim.png"
    out = bench.run(argparse.Namespace(clients=600, dim=300, baseline_clients=600, png=str(png)))
    # run() asserts the Ray sum equals the numpy sum when the baseline covers every client.
    assert out["baseline_clients_measured"] == 600 and out["clients_per_s"] > 0
    assert {(g["clients"], g["dim"]) for g in out["grid"]} == {(c, d) for c in (60, 200, 600) for d in (30, 300)}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| clients / s |" in bench.markdown(out)
