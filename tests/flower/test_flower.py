# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Flower Apps end to end through `flwr run` on a local simulation SuperLink (slow: each run starts
Ray), and the argument checks of `loyal flower run`."""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import signal
import subprocess
import sys
import tomllib

import pytest

from loyal.app import main
from loyal.sim.flower_app import AppConfig
from loyal.sim.flower_run import FlowerConfig, _free_port, app_dir, federation_config

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "flower-app"


def _own_superlinks(home: str) -> list[int]:
    """Pids of the SuperLink `flwr run` started for FLWR_HOME=`home` (it detaches; its command line names home)."""
    pids = []
    for proc in pathlib.Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and home.encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
    return pids


@pytest.mark.slow
def test_flwr_run_example_app_trains_with_committee_nodes(tmp_path) -> None:
    # Prepare: the command a user types in examples/flower-app, with FLWR_HOME and Flower's local ports private.
    home = str(tmp_path / "flwr-home")
    report = tmp_path / "report.json"
    env = {**os.environ, "FLWR_HOME": home, "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(_free_port()),
           "FLWR_LOCAL_CONTROL_API_PORT": str(_free_port()), "FLWR_DISABLE_UPDATE_CHECK": "1",
           "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run_config = (f'task="synthetic" dim=500 num-rounds=2 params="insecure-test-n1024" min-nodes=5 '
                  f'report-path="{report}"')
    cmd = [str(pathlib.Path(sys.executable).parent / "flwr"), "run", ".", "--stream",
           "--federation-config", federation_config(5, actors=1), "--run-config", run_config]
    try:
        # Execute
        done = subprocess.run(cmd, cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=150)
    finally:
        for pid in _own_superlinks(home):
            os.kill(pid, signal.SIGTERM)
    # Assert: 3 committee nodes + 2 training nodes, both uploads accepted in both rounds, ε reported.
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = json.loads(report.read_text())
    assert [h["accepted"] for h in out["history"]] == [2, 2]
    assert out["train_nodes"] == 2 and out["committee_nodes"] == 3
    assert out["bytes_up_per_client_round"] == pytest.approx(out["privacy"]["bytes_per_client"], rel=0.01)
    assert out["committee_bytes_up"] > 0 and math.isfinite(out["privacy"]["epsilon"])


@pytest.mark.slow
def test_loyal_flower_run_runs_the_secaggplus_baseline_through_flwr_run(tmp_path) -> None:
    # Execute: `loyal flower run` submits the packaged baseline app to its own local SuperLink (the Loyal
    # app's run through `flwr run` is the example test above; both apps side by side is the default).
    code = main(["flower", "run", "--apps", "secaggplus", "--task", "synthetic", "--clients", "3", "--rounds", "2",
                 "--num-shares", "3", "--threshold", "2", "--actors", "1", "--out", str(tmp_path / "r.json")])
    # Assert
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    theirs = report["paths"]["secagg+ + dp"]
    assert list(report["paths"]) == ["secagg+ + dp"] and report["round_time_ratio_ssa_vs_secaggplus"] is None
    assert [h["round"] for h in theirs["history"]] == [1, 2] and theirs["mechanism"] == "identity"
    # ε of the identity mechanism at z = 1, k = 2 rounds (the Loyal app's BLT at k = n, b = 1 matches it).
    assert theirs["epsilon"] == pytest.approx(_epsilon("identity"), rel=1e-9)
    assert theirs["bytes_up_per_client_round"] > 4 * 1000  # masked float vector plus SecAgg+ key/share stages


def _epsilon(mechanism: str) -> float:
    from loyal.methods.fl.dp_common import PrivacyConfig

    p = PrivacyConfig(clip_norm=1.0, noise_multiplier=1.0, rounds=2, expected_clients=3, participations=2,
                      min_separation=1, mechanism=mechanism)
    return p.report(p.build())["epsilon"]


def test_example_and_packaged_apps_declare_every_run_config_key() -> None:
    import dataclasses

    defaults = {f.name.replace("_", "-"): getattr(AppConfig, f.name) for f in dataclasses.fields(AppConfig)}
    loyal = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["tool"]["flwr"]["app"]
    packaged = tomllib.loads((app_dir("loyal") / "pyproject.toml").read_text())["tool"]["flwr"]["app"]
    baseline = tomllib.loads((app_dir("secaggplus") / "pyproject.toml").read_text())["tool"]["flwr"]["app"]
    assert loyal == packaged  # `loyal flower run` submits the example's app
    assert loyal["components"] == {"serverapp": "loyal.sim.flower_app:server_app", "clientapp": "loyal.sim.flower_app:client_app"}
    # Simulated nodes pin no committee: the apps declare `insecure = true` explicitly, over AppConfig's False.
    assert defaults["insecure"] is False and loyal["config"]["insecure"] is True
    assert loyal["config"] == {**defaults, "insecure": True} == baseline["config"]


@pytest.mark.parametrize("shares,message", [
    (4, "num_shares must be odd"),
    (7, r"num_shares must be odd and in \[3, clients=5\]"),
])
def test_flower_config_fails_if_num_shares_even_or_too_large(shares, message) -> None:
    with pytest.raises(ValueError, match=message):
        FlowerConfig(clients=5, num_shares=shares)


@pytest.mark.parametrize("argv,message", [
    (["--clients", "5", "--num-shares", "4"], "num_shares must be odd"),
    (["--committee-size", "2", "--committee-threshold", "3"], r"--committee-threshold must be in \[1, committee-size=2\], got 3"),
    (["--noise-multiplier", "-1"], "--noise-multiplier must be finite and >= 0, got -1.0"),
    (["--apps", "fedavg"], r"apps must be a non-empty subset of \('loyal', 'secaggplus'\), got apps=\('fedavg',\)"),
])
def test_flower_cli_bad_input_is_one_line_exit_2(argv, message, capsys) -> None:
    assert main(["flower", "run", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    import re

    assert re.search(message, err)


def test_flower_cli_app_dir_prints_the_packaged_app(capsys) -> None:
    assert main(["flower", "app-dir"]) == 0
    assert pathlib.Path(capsys.readouterr().out.strip()) == app_dir("loyal")
