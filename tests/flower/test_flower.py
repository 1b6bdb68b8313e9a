# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Flower 1.41 path: SSA + DP-FTRL over Flower messages and SecAgg+ + DP on the same 5 clients × 2 rounds."""

from __future__ import annotations

import math

import pytest

from loyal.app import main
from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa
from loyal.sim.config import SimConfig
from loyal.sim.flower_run import FlowerConfig, run_flower
from loyal.sim.runner import ssa_settings

SIM = SimConfig(task="digits", digits_clients=30, local_steps=5, learning_rate=0.5, optimizer="sgd", eval_clients=30,
                eval_samples_per_client=20, params="insecure-test-n1024", committee_size=4, threshold=3)


def test_flower_runs_ssa_dpftrl_and_secaggplus_side_by_side(ray_cluster) -> None:
    # Execute
    report = run_flower(FlowerConfig(sim=SIM, clients=5, rounds=2, num_shares=3, reconstruction_threshold=2))
    ours, theirs = report["paths"]["ssa+dpftrl"], report["paths"]["secagg+ + dp"]
    # Assert: both paths ran every round with every client.
    assert [h["round"] for h in ours["history"]] == [1, 2] == [h["round"] for h in theirs["history"]]
    assert [h["accepted"] for h in ours["history"]] == [5, 5]
    # Our upload is the SSA ciphertext (frame included), not the float32 update.
    dim = 64 * 128 + 128 + 128 * 10 + 10  # digits MLP
    job = DPFTRLSsa(FlowerConfig(sim=SIM, clients=5, rounds=2).privacy("blt"), dim, ssa_settings(SIM), max_clients=5)
    expect_up = job.config.bytes_per_client()
    assert ours["bytes_up_per_client_round"] == pytest.approx(expect_up, rel=0.01)
    assert theirs["bytes_up_per_client_round"] > 4 * dim  # masked vector plus SecAgg+ key/share stages
    for r in (ours, theirs):
        assert 0.0 <= r["test_accuracy"] <= 1.0 and math.isfinite(r["epsilon"]) and r["delta"] == 1e-5
    assert theirs["mechanism"] == "identity" and ours["mechanism"] == "blt"
    assert report["round_time_ratio_ssa_vs_secaggplus"] > 0


@pytest.mark.parametrize("shares,message", [
    (4, "num_shares must be odd"),
    (7, r"num_shares must be odd and in \[3, clients=5\]"),
])
def test_flower_config_fails_if_num_shares_even_or_too_large(shares, message) -> None:
    with pytest.raises(ValueError, match=message):
        FlowerConfig(sim=SIM, clients=5, num_shares=shares)


def test_flower_cli_even_num_shares_is_one_line_exit_2(capsys) -> None:
    assert main(["flower", "run", "--clients", "5", "--num-shares", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "num_shares must be odd" in err and "\n" not in err
