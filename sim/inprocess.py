# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""In-process federated training loop (no Ray): sample clients, train locally, aggregate, evaluate.

The Ray simulation reuses the same pieces with client actors; this loop is the reference it must match.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from loyal.methods.kit.train import LocalTrainConfig, evaluate, get_flat_params, local_update, set_flat_params

logger = logging.getLogger(__name__)


class FederatedData(Protocol):
    """What the loop needs from a data set (`FederatedShakespeare`, `FederatedDigits`)."""

    client_ids: tuple[str, ...]

    def num_train(self, client_id: str) -> int: ...
    def num_test(self, client_id: str) -> int: ...
    def train_arrays(self, client_id: str) -> tuple[np.ndarray, np.ndarray]: ...
    def test_arrays(self, client_id: str) -> tuple[np.ndarray, np.ndarray]: ...


class Aggregator(Protocol):
    """Turns the round's client updates into new global parameters (FedAvg, DP-FTRL, ...)."""

    name: str

    def apply(self, params: torch.Tensor, updates: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor: ...


@dataclasses.dataclass(frozen=True)
class RoundConfig:
    """Rounds, cohort and evaluation of a federated run.

    Attributes:
      rounds: training rounds, >= 1.
      clients_per_round: cohort size, >= 1 and at most the number of clients with training data.
      eval_clients: clients whose test windows form the fixed evaluation set, >= 1.
      eval_samples_per_client: test samples taken from each evaluation client, >= 1.
      seed: seeds client sampling, batch order and model initialisation.
    """

    rounds: int = 10
    clients_per_round: int = 20
    local: LocalTrainConfig = LocalTrainConfig()
    eval_clients: int = 100
    eval_samples_per_client: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rounds", "clients_per_round", "eval_clients", "eval_samples_per_client"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def evaluation_set(data: FederatedData, config: RoundConfig) -> tuple[np.ndarray, np.ndarray]:
    """A fixed sample of test windows from `eval_clients` clients (deterministic under the seed)."""
    rng = np.random.default_rng(config.seed + 7919)
    candidates = [c for c in data.client_ids if data.num_test(c) > 0]
    if not candidates:
        raise ValueError("no client has test samples")
    chosen = rng.choice(len(candidates), min(config.eval_clients, len(candidates)), replace=False)
    xs, ys = [], []
    for i in sorted(chosen):
        x, y = data.test_arrays(candidates[i])
        k = rng.choice(len(y), min(config.eval_samples_per_client, len(y)), replace=False)
        xs.append(x[k])
        ys.append(y[k])
    return np.concatenate(xs), np.concatenate(ys)


def run_federated(
    model: torch.nn.Module,
    data: FederatedData,
    aggregator: Aggregator,
    config: RoundConfig,
    on_round: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Trains `model` in place for `config.rounds` rounds; returns one metrics dict per round.

    Each round samples `clients_per_round` clients uniformly without replacement among those with
    training data, runs `local_update` on each (ephemeral: nothing survives but the update), and lets
    `aggregator` form the new global parameters; then evaluates on a fixed test set.
    """
    eligible = [c for c in data.client_ids if data.num_train(c) > 0]
    if config.clients_per_round > len(eligible):
        raise ValueError(
            f"clients_per_round must be <= {len(eligible)} (clients with training data), got {config.clients_per_round}"
        )
    rng = np.random.default_rng(config.seed)
    x_eval, y_eval = evaluation_set(data, config)
    history = []
    for rnd in range(config.rounds):
        t0 = time.perf_counter()
        cohort = rng.choice(len(eligible), config.clients_per_round, replace=False)
        params = get_flat_params(model)
        updates, weights, losses = [], [], []
        for i in cohort:
            x, y = data.train_arrays(eligible[i])
            delta, loss = local_update(model, x, y, config.local, seed=int(rng.integers(2**31)))
            updates.append(delta)
            weights.append(float(len(y)))
            losses.append(loss)
        set_flat_params(model, aggregator.apply(params, updates, weights))
        test_loss, test_acc = evaluate(model, x_eval, y_eval)
        record = {
            "round": rnd + 1,
            "train_loss": float(np.mean(losses)),
            "test_loss": test_loss,
            "test_accuracy": test_acc,
            "seconds": time.perf_counter() - t0,
        }
        logger.info("round %d: %s", rnd + 1, record)
        history.append(record)
        if on_round:
            on_round(record)
    return history
