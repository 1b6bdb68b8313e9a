# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal client fleet`: many ephemeral clients against a real gRPC server, as processes and as Ray tasks."""

from __future__ import annotations

import pytest

from loyal.app import main
from loyal.client.fleet import ACCEPTED, FleetConfig, REFUSED, run_fleet
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens, wait_until

DIGITS_MLP = 9610  # parameters of build_model("digits-mlp")


def _job(**kw):
    return make_spec(**{"clients": 3, "committee": 3, "threshold": 2, "rounds": 2, "dim": DIGITS_MLP, "model_name": "digits-mlp", **kw})


def test_fleet_of_processes_fills_rounds_and_the_server_enforces_the_schema(tmp_path):
    # Arrange: cohorts of 3, k = 1 participation, 6 clients offered both rounds.
    job = _job()
    with InProcessServer(str(tmp_path / "s.db"), job, toks=tokens(6)) as srv, member_threads(srv.address, 3) as members:
        summary = run_fleet(FleetConfig(server=srv.address, tokens=tuple(tokens(6)), rounds=2, workers=2, local_steps=2,
                                        insecure=True))
        wait_until(lambda: len(srv.coord.releases) == 2)  # the committee decrypts the second round after its upload
    assert all(isinstance(r, dict) for r in members.values()), members
    # Assert: each round takes exactly a cohort; nobody is accepted twice (k = 1); the rest are refused, none fail.
    assert summary["rounds"] == {0: {ACCEPTED: 3, REFUSED: 3, "failed": 0}, 1: {ACCEPTED: 3, REFUSED: 3, "failed": 0}}, \
        [(r["round"], r["status"], r["detail"]) for r in summary["results"]]
    accepted = [(r["index"], r["round"]) for r in summary["results"] if r["status"] == ACCEPTED]
    assert len({i for i, _ in accepted}) == 6
    # Round 0's extra clients find it closed; round 1 refuses the clients round 0 took, naming the schema.
    details = {r["round"]: [] for r in summary["results"]}
    for r in summary["results"]:
        if r["status"] == REFUSED:
            details[r["round"]].append(r["detail"])
    assert all("round 0 has closed" in d or d.startswith("FAILED_PRECONDITION") for d in details[0]), details
    assert all(d.startswith("PERMISSION_DENIED") and "participat" in d for d in details[1]), details


def test_fleet_runs_as_ray_tasks(ray_cluster, tmp_path):
    job = _job(rounds=1)
    with InProcessServer(str(tmp_path / "s.db"), job, toks=tokens(3)) as srv, member_threads(srv.address, 3) as members:
        summary = run_fleet(FleetConfig(server=srv.address, tokens=tuple(tokens(3)), workers=3, local_steps=2,
                                        insecure=True, ray_address="auto"))
    assert all(isinstance(r, dict) for r in members.values()), members
    assert summary["rounds"] == {0: {ACCEPTED: 3, REFUSED: 0, "failed": 0}}
    assert all(r["bytes"] > 4 * DIGITS_MLP for r in summary["results"])


def test_fleet_config_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        FleetConfig(server="127.0.0.1:1", tokens=("a", "a"), insecure=True)
    with pytest.raises(ValueError, match="data must be one of"):
        FleetConfig(server="127.0.0.1:1", tokens=("a",), data="mnist", insecure=True)
    with pytest.raises(ValueError, match="genesis"):
        FleetConfig(server="127.0.0.1:1", tokens=("a",))
    toks = tmp_path / "tokens"
    toks.write_text("a\nb\n")
    assert main(["client", "fleet", "--server", "127.0.0.1:1", "--clients", "3", "--tokens-file", str(toks), "--insecure"]) == 2
    assert main(["client", "fleet", "--server", "127.0.0.1:1", "--clients", "1", "--tokens-file", str(tmp_path / "none"),
                 "--insecure"]) == 2


def test_server_job_derives_dim_from_the_model(tmp_path, capsys):
    import json

    out = tmp_path / "job.json"
    assert main(["server", "job", "--model-name", "digits-mlp", "--noise-multiplier", "1", "--out", str(out), "--insecure"]) == 0
    assert json.loads(out.read_text())["dim"] == DIGITS_MLP
    assert main(["server", "job", "--model-name", "digits-mlp", "--dim", "64", "--noise-multiplier", "1",
                 "--out", str(tmp_path / "j2.json"), "--insecure"]) == 2
    assert "--dim 64 does not match --model-name digits-mlp (9610 parameters)" in capsys.readouterr().err


def test_shakespeare_trainer_returns_the_local_change_of_the_jobs_model():
    import numpy as np

    from loyal.client.runner import TaskView, trainer

    job = make_spec(dim=110400, model_name="char-transformer-small")
    task = TaskView(job, 0, 0, np.zeros(1), None)
    update = trainer("shakespeare", 3, local_steps=1)(task)
    assert update.shape == (110400,) and np.isfinite(update).all() and np.abs(update).max() > 0
    with pytest.raises(ValueError, match="shakespeare clients train"):
        trainer("shakespeare", 0)(TaskView(_job(), 0, 0, np.zeros(1), None))
