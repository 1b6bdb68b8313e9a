# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Ray simulation on the shared cluster fixture: small runs of every aggregation and the fault cases."""

from __future__ import annotations

import math

import pytest

from loyal.sim.config import SimConfig
from loyal.sim.runner import SimulationError, run_simulation

SMALL = dict(
    task="digits", digits_clients=30, rounds=3, clients_per_round=6, local_steps=10, learning_rate=0.5,
    optimizer="sgd", eval_clients=30, eval_samples_per_client=20, actors=2, params="insecure-test-n1024",
    committee_size=4, threshold=3, mechanism="banded-toeplitz",
)


def _cfg(**kw) -> SimConfig:
    return SimConfig(**{**SMALL, **kw})


@pytest.mark.parametrize("aggregation", ["fedavg", "dp-fedavg", "dpftrl-plaintext", "dpftrl-ssa"])
def test_every_aggregation_trains_digits(ray_cluster, aggregation) -> None:
    # z = 0.2: under SSA each round holds n/h = 4/2 times the noise (h = min(t, n - t + 1) honest shares)
    out = run_simulation(_cfg(aggregation=aggregation, noise_multiplier=0.0 if aggregation == "fedavg" else 0.2,
                              server_learning_rate=1.0))
    hist = out["history"]
    assert [h["round"] for h in hist] == [1, 2, 3]
    assert all(h["accepted"] == 6 for h in hist)
    assert hist[-1]["test_accuracy"] > 0.25  # 10 classes: chance is 0.1
    if aggregation != "fedavg":
        assert out["epsilon"] < math.inf and out["delta"] == 1e-5


def test_dropout_and_mid_upload_truncation_are_excluded(ray_cluster) -> None:
    out = run_simulation(_cfg(aggregation="dpftrl-ssa", noise_multiplier=0.3, dropout=0.3, mid_upload_dropout=0.3, seed=4))
    for h in out["history"]:
        assert h["accepted"] < h["cohort"]
    assert out["rejected_uploads"] > 0  # truncated uploads reached the server and were refused


def test_stragglers_past_deadline_are_discarded(ray_cluster) -> None:
    out = run_simulation(_cfg(aggregation="fedavg", straggler_mean_s=10.0, deadline_s=5.0, rounds=1))
    h = out["history"][0]
    assert h["late"] > 0 and h["accepted"] == h["cohort"] - h["late"]


def test_server_restart_with_rotating_committee_matches_an_undisturbed_run(ray_cluster) -> None:
    # Deterministic PRNGs: a server restart after round 1 (its state travels through Ray) must give
    # exactly the model of the same run without restart; the committee hands off after every round.
    base = run_simulation(_cfg(aggregation="dpftrl-ssa", noise_multiplier=0.3, rotate_every=1))
    restarted = run_simulation(_cfg(aggregation="dpftrl-ssa", noise_multiplier=0.3, rotate_every=1, server_restart_round=1))
    assert [h["test_accuracy"] for h in restarted["history"]] == [h["test_accuracy"] for h in base["history"]]
    assert restarted["committee_epoch"] == 2


def test_committee_above_threshold_keeps_releasing(ray_cluster) -> None:
    # 4 of 5 members left from round 2 on (t = 2, h = 2): a round needs h + t - 1 = 3 noise shares and t
    # partials, so noise and releases still work. (With n = 4, t = 3 every member's share is needed: fewer
    # than t = 3 malicious leaves only n - t + 1 = 2 honest, and a round must hold h + t - 1 = 4 shares.)
    out = run_simulation(_cfg(aggregation="dpftrl-ssa", noise_multiplier=0.2, committee_size=5, threshold=2,
                              committee_offline_round=2, committee_offline=(2,)))
    assert [h["accepted"] for h in out["history"]] == [6, 6, 6]
    assert out["history"][-1]["test_accuracy"] > 0.25


def test_committee_below_threshold_stops_the_run(ray_cluster) -> None:
    with pytest.raises(Exception, match="needs threshold=3 live committee members, got 2"):
        run_simulation(_cfg(aggregation="dpftrl-ssa", noise_multiplier=0.3, committee_offline_round=2,
                            committee_offline=(1, 2)))


def test_too_few_eligible_clients_is_a_clear_error(ray_cluster) -> None:
    with pytest.raises(SimulationError, match="only 0 clients are online and within the participation limit"):
        run_simulation(_cfg(aggregation="fedavg", clients_per_round=15, participations=1, min_separation=1))


def test_sim_run_writes_accuracy_and_loss_curves(ray_cluster, tmp_path) -> None:
    from unittest import mock

    from loyal.sim import experiment

    drawn = {}
    real = experiment.plot_runs

    def spy(curves, path, title, baseline=None, ylabel="test accuracy", dashed=None):
        drawn[path.name] = (curves, dashed)
        return real(curves, path, title, baseline, ylabel, dashed)

    with mock.patch.object(experiment, "plot_runs", spy):
        metrics = experiment.run_experiment(_cfg(aggregation="fedavg", rounds=2), tmp_path)
    history = metrics["history"]
    for name in ("accuracy.png", "loss.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The loss plot shows each round's test loss, with the clients' train loss dashed.
    curves, dashed = drawn["loss.png"]
    assert curves == {"fedavg": [[h["test_loss"] for h in history]]}
    assert dashed == {"fedavg": [[h["train_loss"] for h in history]]}
    assert all(math.isfinite(h["test_loss"]) and h["test_loss"] > 0 for h in history)
