# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Simulation configs: the shipped TOML files load, bad configs fail with one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyal.app import main
from loyal.sim.config import SimConfig, load_config
from loyal.sim.runner import privacy_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_load(path) -> None:
    cfg = load_config(path)
    assert cfg.rounds >= 1


def test_gboard_config_mirrors_the_production_schema() -> None:
    # Gboard (design note dpftrl.md): noise multiplier 7.0 per round, <= 6 participations, min separation 313 of
    # 2000 rounds; the scaled config keeps z, k and the ratio b/n.
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "gboard.toml")
    assert cfg.per_round_noise_multiplier == 7.0 and cfg.participations == 6
    assert cfg.min_separation / cfg.rounds == pytest.approx(313 / 2000, rel=0.1)
    privacy = privacy_config(cfg)
    mech = privacy.build()
    assert privacy.noise_multiplier == pytest.approx(7.0 / mech.sensitivity())
    assert 0 < privacy.epsilon() < 20


@pytest.mark.parametrize("text,message", [
    ("[rounds]\nrounds = 0\n", "rounds must be an integer >= 1, got rounds=0"),
    ("[bogus]\nx = 1\n", r"unknown section \[bogus\]"),
    ("[rounds]\nround = 3\n", r"unknown key 'round' in \[rounds\]"),
    ("[aggregation]\naggregation = 'krum'\n", "aggregation must be one of fedavg, dp-fedavg"),
    ("[rounds]\nrounds = 'ten'\n", "rounds must be of type int, got 'ten'"),
    ("[aggregation]\naggregation = 'dp-fedavg'\n", "noise_multiplier must be > 0"),
    ("[ssa]\nthreshold = 9\n", r"threshold must be in \[1, committee_size=5\]"),
    ("[rounds = \n", "not valid TOML"),
])
def test_load_config_fails_on_bad_input(tmp_path, text, message) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_sim_run_bad_config_is_one_line_exit_2(tmp_path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[clients]\navailability = 0.0\n")
    assert main(["sim", "run", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "availability must be in (0, 1]" in err and "\n" not in err and "Traceback" not in err


def test_sim_run_missing_config_is_exit_2(tmp_path, capsys) -> None:
    assert main(["sim", "run", "--config", str(tmp_path / "none.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_ssa_only_faults_need_dpftrl_ssa() -> None:
    with pytest.raises(ValueError, match="aggregation must be dpftrl-ssa when server or committee faults"):
        SimConfig(aggregation="fedavg", server_restart_round=1)
