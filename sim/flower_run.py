# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal flower run`: the same task through `flwr.simulation.run_simulation` (Ray backend), twice:
SSA + DP-FTRL (ours) and Flower's SecAgg+ with client-side fixed clipping + central noise. Reports round
time, bytes, accuracy and ε side by side. FLWR_HOME is pointed at a temporary folder; `flwr run` is never used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
import time
from typing import Any

import numpy as np
import ray
import torch

from loyal.methods.kit.train import LocalTrainConfig
from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa
from loyal.sim.config import SimConfig
from loyal.sim.inprocess import RoundConfig, evaluation_set
from loyal.sim.runner import load_task, ssa_settings

logger = logging.getLogger(__name__)

_TASKS: dict = {}


@dataclasses.dataclass(frozen=True)
class FlowerConfig:
    """A Flower comparison run.

    Attributes:
      sim: the task, local training, clip and SSA settings (a `SimConfig`; its aggregation is ignored).
      clients: supernodes, every one trains every round (>= 2).
      rounds: rounds (>= 1).
      per_round_noise_multiplier: std of each round's noise on the sum / clip (both paths), > 0.
      num_shares: SecAgg+ shares per client; must be odd (Flower's secaggplus_mod fails on even values)
        and in [3, clients].
      reconstruction_threshold: SecAgg+ threshold in [2, num_shares].
      mechanism: DP-FTRL mechanism of our path.
    """

    sim: SimConfig
    clients: int = 5
    rounds: int = 2
    per_round_noise_multiplier: float = 1.0
    num_shares: int = 3
    reconstruction_threshold: int = 2
    mechanism: str = "blt"

    def __post_init__(self) -> None:
        if self.clients < 2:
            raise ValueError(f"clients must be >= 2, got clients={self.clients}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got rounds={self.rounds}")
        if not self.per_round_noise_multiplier > 0:
            raise ValueError(f"per_round_noise_multiplier must be > 0, got {self.per_round_noise_multiplier}")
        if self.num_shares % 2 == 0 or not 3 <= self.num_shares <= self.clients:
            raise ValueError(
                f"num_shares must be odd and in [3, clients={self.clients}] (an even value crashes Flower's "
                f"secaggplus_mod), got num_shares={self.num_shares}"
            )
        if not 2 <= self.reconstruction_threshold <= self.num_shares:
            raise ValueError(
                f"reconstruction_threshold must be in [2, num_shares={self.num_shares}], got {self.reconstruction_threshold}"
            )

    def privacy(self, mechanism: str) -> PrivacyConfig:
        """Every client joins every round: k = rounds, b = 1; z_eff = per-round multiplier / sens(C)."""
        kw = dict(clip_norm=self.sim.clip_norm, rounds=self.rounds, expected_clients=self.clients,
                  participations=self.rounds, min_separation=1, mechanism=mechanism, delta=self.sim.delta)
        sens = PrivacyConfig(noise_multiplier=0.0, **kw).build().sensitivity()
        return PrivacyConfig(noise_multiplier=self.per_round_noise_multiplier / sens, **kw)


class TaskFactory:
    """Picklable loader of (data, model spec, client ids), cached per process."""

    def __init__(self, sim: SimConfig) -> None:
        self.sim = sim

    def __call__(self):
        key = (self.sim.task, self.sim.digits_clients, self.sim.width, self.sim.layers, self.sim.heads)
        if key not in _TASKS:
            data, spec = load_task(self.sim)
            _TASKS[key] = (data, spec, [c for c in data.client_ids if data.num_train(c) > 0])
        return _TASKS[key]


@contextlib.contextmanager
def _flower_env(keep_cluster: bool):
    """FLWR_HOME in a temp dir; keeps a cluster Flower did not start alive (its Ray backend calls
    `ray.shutdown()` on exit whether or not it started the cluster)."""
    old_home = os.environ.get("FLWR_HOME")
    shutdown = ray.shutdown
    with tempfile.TemporaryDirectory(prefix="flwr-home-") as home:
        os.environ["FLWR_HOME"] = home
        if keep_cluster:
            ray.shutdown = lambda *a, **k: None
        try:
            yield
        finally:
            ray.shutdown = shutdown
            if old_home is None:
                os.environ.pop("FLWR_HOME", None)
            else:
                os.environ["FLWR_HOME"] = old_home


def _counter():
    from loyal.sim.flower_apps import COUNTER, ByteCounter

    with contextlib.suppress(ValueError):
        ray.kill(ray.get_actor(COUNTER))
    return ByteCounter.options(name=COUNTER).remote()


def _simulate(server_app, client_app, clients: int) -> None:
    from flwr.simulation import run_simulation

    backend = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": {"logging_level": "ERROR"}}
    run_simulation(server_app=server_app, client_app=client_app, num_supernodes=clients, backend_config=backend)


def run_ssa(fc: FlowerConfig, eval_set, local: LocalTrainConfig) -> dict[str, Any]:
    from flwr.clientapp import ClientApp
    from flwr.serverapp import ServerApp

    from loyal.sim.flower_apps import bytes_mod, make_train_fn, ssa_dpftrl_mod, ssa_server_main

    factory = TaskFactory(fc.sim)
    privacy = fc.privacy(fc.mechanism)
    settings = ssa_settings(fc.sim)

    def aggregator(dim: int) -> DPFTRLSsa:
        return DPFTRLSsa(privacy, dim, settings, fc.sim.server_learning_rate, fc.sim.momentum, max_clients=fc.clients)

    report: dict = {}
    server = ServerApp()
    server.main()(ssa_server_main(aggregator, factory, fc.rounds, report, eval_set, fc.sim.seed))
    client = ClientApp(mods=[bytes_mod, ssa_dpftrl_mod])
    client.train()(make_train_fn(factory, local))
    counter = _counter()
    t0 = time.perf_counter()
    _simulate(server, client, fc.clients)
    report["wall_s"] = time.perf_counter() - t0
    report["bytes_down"], report["bytes_up"] = ray.get(counter.totals.remote())
    return report


def run_secaggplus(fc: FlowerConfig, eval_set, local: LocalTrainConfig) -> dict[str, Any]:
    from flwr.client import NumPyClient
    from flwr.client.mod import fixedclipping_mod, secaggplus_mod
    from flwr.clientapp import ClientApp
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    from loyal.methods.kit.train import evaluate, get_flat_params, local_update, set_flat_params
    from loyal.sim.flower_apps import bytes_mod

    factory = TaskFactory(fc.sim)
    _, spec, _ = factory()
    torch.manual_seed(fc.sim.seed)
    init = get_flat_params(spec.build()).numpy()

    class Client(NumPyClient):
        def __init__(self, partition: int) -> None:
            self.partition = partition

        def fit(self, parameters, config):
            torch.set_num_threads(1)
            data, spec_, clients = factory()
            model = spec_.build()
            start = torch.tensor(parameters[0])
            set_flat_params(model, start)
            x, y = data.train_arrays(clients[self.partition % len(clients)])
            delta, _ = local_update(model, x, y, local, seed=self.partition)
            return [(start + delta).numpy()], 1, {}

    def client_fn(context):
        return Client(int(context.node_config["partition-id"])).to_client()

    history: list[dict] = []
    marks = [time.perf_counter()]
    model = spec.build()

    def evaluate_fn(server_round, parameters, config):
        if server_round == 0:
            marks[0] = time.perf_counter()
            return None
        set_flat_params(model, torch.tensor(parameters[0]))
        loss, acc = evaluate(model, *eval_set)
        now = time.perf_counter()
        history.append({"round": server_round, "test_accuracy": acc, "test_loss": loss, "seconds": now - marks[-1]})
        marks.append(now)
        return loss, {"accuracy": acc}

    strategy = DifferentialPrivacyClientSideFixedClipping(
        FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=fc.clients, min_available_clients=fc.clients,
               evaluate_fn=evaluate_fn, initial_parameters=ndarrays_to_parameters([init])),
        noise_multiplier=fc.per_round_noise_multiplier, clipping_norm=fc.sim.clip_norm, num_sampled_clients=fc.clients,
    )
    server = ServerApp()

    @server.main()
    def main(grid, context) -> None:
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=fc.rounds), strategy=strategy)
        DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(
            num_shares=fc.num_shares, reconstruction_threshold=fc.reconstruction_threshold,
        ))(grid, legacy)

    client = ClientApp(client_fn=client_fn, mods=[bytes_mod, secaggplus_mod, fixedclipping_mod])
    counter = _counter()
    t0 = time.perf_counter()
    _simulate(server, client, fc.clients)
    privacy = fc.privacy("identity")
    down, up = ray.get(counter.totals.remote())
    return {"history": history, "wall_s": time.perf_counter() - t0, "bytes_down": down, "bytes_up": up,
            "privacy": privacy.report(privacy.build("identity"))}


def run_flower(fc: FlowerConfig, ray_address: str | None = None) -> dict[str, Any]:
    """Runs both paths on the same clients and task; returns the side-by-side report."""
    from loyal.sim.runner import connect, release_actors

    connect(ray_address, num_cpus=None)
    release_actors()  # Flower sizes its actor pool from the cluster; idle reservations would starve it
    data, _, _ = TaskFactory(fc.sim)()
    eval_set = evaluation_set(data, RoundConfig(
        rounds=1, clients_per_round=1, eval_clients=fc.sim.eval_clients,
        eval_samples_per_client=fc.sim.eval_samples_per_client, seed=fc.sim.seed,
    ))
    local = LocalTrainConfig(learning_rate=fc.sim.learning_rate, batch_size=fc.sim.batch_size,
                             max_steps=fc.sim.local_steps, optimizer=fc.sim.optimizer)
    with _flower_env(keep_cluster=True):
        ours = run_ssa(fc, eval_set, local)
        theirs = run_secaggplus(fc, eval_set, local)
    rows = {}
    for name, r in (("ssa+dpftrl", ours), ("secagg+ + dp", theirs)):
        h = r["history"]
        steady = h[1:] or h  # round 1 includes starting Flower's Ray actors
        rows[name] = {
            "round_s_mean": float(np.mean([x["seconds"] for x in steady])) if h else float("nan"),
            "bytes_up_per_client_round": r["bytes_up"] / (fc.clients * fc.rounds),
            "bytes_down_per_client_round": r["bytes_down"] / (fc.clients * fc.rounds),
            "test_accuracy": h[-1]["test_accuracy"] if h else float("nan"),
            "epsilon": r["privacy"]["epsilon"],
            "delta": r["privacy"]["delta"],
            "mechanism": r["privacy"]["mechanism"],
            "wall_s": r["wall_s"],
            "history": h,
        }
    ratio = rows["ssa+dpftrl"]["round_s_mean"] / rows["secagg+ + dp"]["round_s_mean"]
    return {"clients": fc.clients, "rounds": fc.rounds, "num_shares": fc.num_shares,
            "reconstruction_threshold": fc.reconstruction_threshold, "task": fc.sim.task, "paths": rows,
            "round_time_ratio_ssa_vs_secaggplus": ratio, "round_time_note": "mean over rounds >= 2 (round 1 starts actors)"}
