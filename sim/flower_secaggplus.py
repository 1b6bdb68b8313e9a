# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The baseline Flower App: the same task and run config as `loyal.sim.flower_app`, aggregated with
Flower's `SecAggPlusWorkflow` + `DifferentialPrivacyClientSideFixedClipping` and the client mods
`secaggplus_mod` + `fixedclipping_mod` (Flower ships SecAgg+ only for its legacy strategy API).

Its noise is independent per round with std z·sqrt(k)·C on the sum (k = rounds, every node joins every
round), i.e. the same effective multiplier z, hence the same ε, as the Loyal app's identity mechanism.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
from flwr.app import Context, RecordDict
from flwr.client import NumPyClient
from flwr.client.mod import fixedclipping_mod, secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.common import ndarrays_to_parameters
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import Grid, ServerApp

from loyal.sim.flower_app import AppConfig, CountingGrid, _task, synthetic_update


class _Client(NumPyClient):
    def __init__(self, cfg: AppConfig, partition: int) -> None:
        self.cfg, self.partition = cfg, partition

    def fit(self, parameters, config):
        start = parameters[0]
        if self.cfg.task == "synthetic":
            return [start + synthetic_update(start.size, self.partition)], 1, {}
        import torch

        from loyal.methods.kit.train import LocalTrainConfig, local_update, set_flat_params

        torch.set_num_threads(1)
        data, spec, clients = _task(self.cfg)
        model = spec.build()
        set_flat_params(model, torch.tensor(start))
        x, y = data.train_arrays(clients[self.partition % len(clients)])
        local = LocalTrainConfig(learning_rate=self.cfg.learning_rate, batch_size=self.cfg.batch_size,
                                 max_steps=self.cfg.local_steps, optimizer="sgd")
        delta, _ = local_update(model, x, y, local, seed=self.partition)
        return [(torch.tensor(start) + delta).numpy()], len(y), {}


def _client_fn(context: Context):
    cfg = AppConfig.from_run_config(dict(context.run_config))
    return _Client(cfg, int(context.node_config.get("partition-id", context.node_id))).to_client()


client_app = ClientApp(client_fn=_client_fn, mods=[secaggplus_mod, fixedclipping_mod])
server_app = ServerApp()


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """SecAgg+ rounds on every connected node; writes the report to `report-path` if set."""
    run_server(grid, AppConfig.from_run_config(dict(context.run_config)), context)


def run_server(grid: Grid, cfg: AppConfig, context: Context | None = None) -> dict[str, Any]:
    """The ServerApp body: FedAvg under client-side clipping + central noise, SecAgg+ for the sum."""
    import torch

    from loyal.methods.fl.dp_common import PrivacyConfig

    counting = CountingGrid(grid)
    end = time.monotonic() + 600
    wanted = cfg.min_nodes or 3
    while len(grid.get_node_ids()) < wanted:
        if time.monotonic() > end:
            raise TimeoutError(f"waited 600 s for min-nodes={wanted} nodes")
        time.sleep(0.05)
    nodes = len(grid.get_node_ids())
    history: list[dict] = []
    marks = [time.perf_counter()]
    evaluate = None  # the global model's (loss, accuracy), digits only
    if cfg.task == "synthetic":
        init = np.zeros(cfg.dim, np.float32)
    else:
        from loyal.methods.kit.train import evaluate as eval_model, get_flat_params, set_flat_params
        from loyal.sim.inprocess import RoundConfig, evaluation_set

        data, spec, _ = _task(cfg)
        torch.manual_seed(cfg.seed)
        model = spec.build()
        init = get_flat_params(model).numpy()
        eval_set = evaluation_set(data, RoundConfig(rounds=1, clients_per_round=1, eval_clients=cfg.eval_clients,
                                                    eval_samples_per_client=cfg.eval_samples_per_client, seed=cfg.seed))

        def _evaluate(parameters):
            set_flat_params(model, torch.tensor(parameters[0]))
            return eval_model(model, *eval_set)

        evaluate = _evaluate

    def evaluate_fn(server_round, parameters, config):
        now = time.perf_counter()
        if server_round == 0:
            marks[0] = now
            return None
        row = {"round": server_round, "seconds": now - marks[-1]}
        if evaluate is not None:
            row["test_loss"], row["test_accuracy"] = (float(v) for v in evaluate(parameters))
        history.append(row)
        marks.append(time.perf_counter())
        return None

    per_round = cfg.noise_multiplier * math.sqrt(cfg.num_rounds)  # identity sensitivity with k = n, b = 1
    strategy = DifferentialPrivacyClientSideFixedClipping(
        FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=nodes, min_available_clients=nodes,
               evaluate_fn=evaluate_fn, initial_parameters=ndarrays_to_parameters([init])),
        noise_multiplier=per_round, clipping_norm=cfg.clip_norm, num_sampled_clients=nodes,
    )
    context = context or Context(run_id=0, node_id=0, node_config={}, state=RecordDict(), run_config={})
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=cfg.num_rounds), strategy=strategy)
    t0 = time.perf_counter()
    DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(num_shares=cfg.num_shares,
                                                    reconstruction_threshold=cfg.reconstruction_threshold))(counting, legacy)
    privacy = PrivacyConfig(clip_norm=cfg.clip_norm, noise_multiplier=cfg.noise_multiplier, rounds=cfg.num_rounds,
                            expected_clients=nodes, participations=cfg.num_rounds, min_separation=1,
                            mechanism="identity", delta=1e-5)
    down, up = counting.totals(counting.down)
    per = nodes * cfg.num_rounds
    report = {"task": cfg.task, "rounds": cfg.num_rounds, "train_nodes": nodes, "history": history,
              "privacy": privacy.report(privacy.build("identity")), "bytes_down_per_client_round": down / per,
              "bytes_up_per_client_round": up / per, "wall_s": time.perf_counter() - t0}
    if cfg.report_path:
        with open(cfg.report_path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report
