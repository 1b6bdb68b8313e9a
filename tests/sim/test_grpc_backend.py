# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`[server] kind = "grpc"`: the simulation drives the real `loyal server` process (TLS, enrollment
tokens, SQLite), Ray workers upload through the gRPC client and committee members run the gRPC member
role; same-seed runs of both backends release identical aggregates, also across a SIGKILL of the server."""

from __future__ import annotations

import pytest

from loyal.sim.config import SimConfig, load_config
from loyal.sim.runner import run_simulation

SMALL = dict(
    task="digits", digits_clients=30, rounds=3, clients_per_round=6, local_steps=5, learning_rate=0.5,
    optimizer="sgd", eval_clients=30, eval_samples_per_client=10, actors=2, params="insecure-test-n1024",
    committee_size=4, threshold=3, mechanism="banded-toeplitz", aggregation="dpftrl-ssa", noise_multiplier=0.3,
    rotate_every=2, seed=3, round_seconds=60.0,  # full rounds close at once; no round waits for its deadline
)


@pytest.fixture(scope="module", name="inprocess")
def _inprocess(ray_cluster):
    return run_simulation(SimConfig(**SMALL))


def test_grpc_backend_releases_the_same_aggregates_as_inprocess(inprocess) -> None:
    # Execute
    out = run_simulation(SimConfig(**SMALL, server_kind="grpc"))
    # Assert: the real server released bit-identical integers, round by round, through a committee hand-off.
    assert out["server"] == "grpc" and inprocess["server"] == "inprocess"
    assert len(out["release_digests"]) == 3
    assert out["release_digests"] == inprocess["release_digests"]
    assert [h["accepted"] for h in out["history"]] == [6, 6, 6]
    assert out["committee_epoch"] == inprocess["committee_epoch"] == 1
    assert out["privacy"]["server"] == "grpc" and out["epsilon"] == inprocess["epsilon"]


def test_grpc_backend_survives_sigkill_of_the_server(inprocess) -> None:
    # Execute: the server process is killed after round 1 and restarted on its SQLite store.
    out = run_simulation(SimConfig(**SMALL, server_kind="grpc", server_restart_round=1))
    # Assert: nothing lost, nothing double-counted: the same releases as the undisturbed run.
    assert out["release_digests"] == inprocess["release_digests"]


def test_server_kind_in_toml_config(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[rounds]\nrounds = 2\n[server]\nkind = "grpc"\nround_seconds = 0.5\n')
    cfg = load_config(path)
    assert (cfg.server_kind, cfg.round_seconds) == ("grpc", 0.5)
    path.write_text('[server]\nkind = "ipc"\n')
    with pytest.raises(ValueError, match=r"server_kind must be one of inprocess, grpc \(\[server\] kind\), got server_kind='ipc'"):
        load_config(path)
