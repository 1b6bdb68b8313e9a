# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The in-process federated loop (the reference the Ray simulation follows)."""

from __future__ import annotations


import pytest
import torch

from loyal.methods.kit.data import load_digits_federated
from loyal.methods.kit.models import build_model
from loyal.methods.kit.train import LocalTrainConfig, evaluate, local_update
from loyal.methods.fl.fedavg import FedAvg
from loyal.sim.inprocess import RoundConfig, evaluation_set, run_federated


def test_one_federated_round_lowers_the_loss():
    # Prepare
    data = load_digits_federated(num_clients=20, alpha=0.5, seed=0)
    torch.manual_seed(0)
    model = build_model("digits-mlp")
    config = RoundConfig(rounds=1, clients_per_round=10, local=LocalTrainConfig(learning_rate=0.5, max_steps=10), eval_clients=20, eval_samples_per_client=100)
    x_eval, y_eval = evaluation_set(data, config)
    before, _ = evaluate(model, x_eval, y_eval)
    # Execute
    history = run_federated(model, data, FedAvg(), config)
    # Assert
    assert history[0]["test_loss"] < before
    assert history[0]["test_loss"] == pytest.approx(evaluate(model, x_eval, y_eval)[0])


def test_local_update_restores_the_starting_weights():
    data = load_digits_federated(num_clients=5, alpha=1.0, seed=0)
    model = build_model("digits-cnn")
    start = [p.detach().clone() for p in model.parameters()]
    delta, _ = local_update(model, *data.train_arrays("client_00000"), LocalTrainConfig(max_steps=3), seed=0)
    assert delta.abs().sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(start, model.parameters()))


def test_run_federated_fails_if_cohort_larger_than_population():
    data = load_digits_federated(num_clients=5, alpha=1.0, seed=0)
    with pytest.raises(ValueError, match="clients_per_round must be <= 5"):
        run_federated(build_model("digits-mlp"), data, FedAvg(), RoundConfig(clients_per_round=6))


@pytest.mark.parametrize("field", ["rounds", "clients_per_round", "eval_clients", "eval_samples_per_client"])
def test_round_config_fails_if_not_positive(field):
    with pytest.raises(ValueError, match=f"{field} must be >= 1, got 0"):
        RoundConfig(**{field: 0})


@pytest.mark.parametrize("kwargs,message", [
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"max_steps": 0}, "max_steps must be >= 1"),
    ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
    ({"optimizer": "lion"}, "optimizer must be 'sgd' or 'adam'"),
])
def test_local_train_config_fails_if_out_of_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalTrainConfig(**kwargs)
