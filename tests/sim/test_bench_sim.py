# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A small `loyal bench sim` SSA round on the shared cluster: every client counted, the release exact."""

from __future__ import annotations

import argparse

import pytest

from loyal.cli.bench import _load


def test_bench_sim_small_ssa_round_releases_exact_sum_and_plots(ray_cluster, tmp_path) -> None:
    # Prepare
    bench = _load("sim")
    png = tmp_path / "sim.png"

    # Execute
    out = bench.run(argparse.Namespace(clients=100, dim=300, baseline_clients=100, png=str(png)))

    # Assert: every upload reached the server once; all 5 members sent noise shares.
    assert (out["clients_aggregated"], out["accepted"], out["rejected"], out["noise_shares"]) == (100, 100, 0, 5)
    # Release integers = c·Σ encoded + c'·Σ member noise, bit for bit (replayed encodings and noise).
    assert out["release_integers_exact"] is True
    # Row 0 of blt in prefix form has data coefficient 1, so the bound is clients·(1/s) with s = 2^10.
    assert out["release_error_bound"] == pytest.approx(100 / 2**10)
    assert out["release_max_abs_error"] <= out["release_error_bound"]
    # The framed upload has the parameter set's size; the baseline covered every client.
    assert out["upload_bytes"] == out["bytes_per_client"]
    assert out["baseline_clients_measured"] == 100
    assert [(g["clients"], g["dim"]) for g in out["grid"]] == [(1, 30), (1, 300), (10, 30), (10, 300), (100, 300)]
    assert all(g["release_integers_exact"] for g in out["grid"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| clients aggregated / rejected | 100 / 0 |" in bench.markdown(out)


def test_bench_sim_fails_if_clients_below_one() -> None:
    with pytest.raises(ValueError, match=r"--clients and --dim must be >= 1, got clients=0, dim=300"):
        _load("sim").run(argparse.Namespace(clients=0, dim=300, baseline_clients=100))
