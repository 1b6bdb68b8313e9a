# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Loyal Flower App: `server_app` and `client_app`, named `loyal.sim.flower_app:server_app` /
`:client_app` in `[tool.flwr.app.components]` (examples/flower-app, and the copy `loyal flower run` and
`loyal bench flower` submit with `flwr run`).

A plain Flower app on the digits task (or synthetic updates of length `dim` for the benchmark) whose
strategy is `SsaDpftrl` and whose ClientApp adds `ssa_dpftrl_mod` and the committee handler; everything
else (standard records, `Strategy.start`, run config) is Flower's. The ServerApp writes a JSON report to
the run config's `report-path` (if set): per-round times, accepted uploads, accuracy, ε and message bytes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from loyal.sim.flower_client import committee_member, ssa_dpftrl_mod
from loyal.sim.flower_constants import COMMITTEE_ACTION

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """The app's run config (`[tool.flwr.app.config]`; override with `flwr run . --run-config 'k=v'`).

    Attributes:
      task: "digits" (an MLP on federated sklearn digits) or "synthetic" (seeded Gaussian updates, no training).
      num_rounds: rounds >= 1.
      noise_multiplier: effective z >= 0 of the whole release (`PrivacyConfig`).
      clip_norm: C > 0.
      mechanism: DP-FTRL mechanism.
      committee_size, threshold: committee n >= 1 and t in [1, n]; committee nodes do not train.
      min_nodes: nodes to wait for before round 1 (0: committee_size + 2; the SecAgg+ app: 3).
      num_shares, reconstruction_threshold: SecAgg+ only (`loyal.sim.flower_secaggplus`); num_shares odd.
      params: an RLWE parameter-set name, "" for the cheapest 128-bit set.
      prove_uploads: clients prove their uploads well formed, the server verifies.
      dim: update length of the synthetic task (>= 1).
      local_steps, learning_rate, batch_size: local SGD of the digits task.
      digits_clients: partitions of the digits data (node i trains on partition i mod digits_clients).
      eval_clients, eval_samples_per_client: the server's evaluation set (digits).
      seed: model initialisation and batch order (not a cryptographic seed).
      report_path: where the ServerApp writes its JSON report ("" = nowhere).
      member_keys: the committee's Ed25519 public keys, hex, comma-separated (members 1..n): the job pins
        them, and nodes that read them here (or from their node config) refuse any other committee.
      insecure: nodes accept a job no pinned committee vouches for, or with `Job.security_issues`
        (a simulation's own nodes; docs/flower.md, Trust).
    """

    task: str = "digits"
    num_rounds: int = 3
    noise_multiplier: float = 1.0
    clip_norm: float = 1.0
    mechanism: str = "blt"
    committee_size: int = 3
    threshold: int = 2
    min_nodes: int = 0
    num_shares: int = 3
    reconstruction_threshold: int = 2
    params: str = ""
    prove_uploads: bool = False
    dim: int = 1000
    local_steps: int = 10
    learning_rate: float = 0.5
    batch_size: int = 16
    digits_clients: int = 100
    eval_clients: int = 100
    eval_samples_per_client: int = 10
    seed: int = 0
    report_path: str = ""
    member_keys: str = ""
    insecure: bool = False

    def __post_init__(self) -> None:
        if self.task not in ("digits", "synthetic"):
            raise ValueError(f"task must be 'digits' or 'synthetic', got task={self.task!r}")
        for name in ("num_rounds", "dim", "local_steps", "batch_size", "digits_clients", "eval_clients",
                     "eval_samples_per_client"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {name}={getattr(self, name)}")

    @classmethod
    def from_run_config(cls, run_config: dict[str, Any]) -> AppConfig:
        """From Flower's run config (kebab-case keys); unknown keys raise ValueError."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kw = {}
        for key, value in run_config.items():
            name = key.replace("-", "_")
            if name not in fields:
                raise ValueError(f"unknown run config key {key!r}; known: {', '.join(sorted(k.replace('_', '-') for k in fields))}")
            kw[name] = type(getattr(cls, name))(value)
        return cls(**kw)

    def sim(self):
        """The digits task as a `SimConfig` (data, model, local training)."""
        from loyal.sim.config import SimConfig

        return SimConfig(task="digits", digits_clients=self.digits_clients, local_steps=self.local_steps,
                         learning_rate=self.learning_rate, batch_size=self.batch_size, optimizer="sgd",
                         eval_clients=self.eval_clients, eval_samples_per_client=self.eval_samples_per_client, seed=self.seed)


def content_bytes(content: RecordDict) -> int:
    """Payload bytes of a Flower RecordDict (arrays' buffers, bytes/str values, 8 bytes per number)."""
    total = 0
    for record in content.array_records.values():
        total += sum(len(a.data) for a in record.values())
    for record in [*content.config_records.values(), *content.metric_records.values()]:
        for v in record.values():
            items = v if isinstance(v, list) else [v]
            total += sum(len(x) if isinstance(x, bytes | str) else 8 for x in items)
    return total


class CountingGrid:
    """A `Grid` that counts the payload bytes of every message sent and received, per node."""

    def __init__(self, grid: Grid) -> None:
        self._grid = grid
        self.down: dict[int, int] = {}
        self.up: dict[int, int] = {}

    def __getattr__(self, name: str):
        return getattr(self._grid, name)

    def send_and_receive(self, messages, *, timeout: float | None = None):
        messages = list(messages)
        for m in messages:
            n = m.metadata.dst_node_id
            self.down[n] = self.down.get(n, 0) + (content_bytes(m.content) if m.has_content() else 0)
        replies = list(self._grid.send_and_receive(messages, timeout=timeout))
        for r in replies:
            n = r.metadata.src_node_id
            self.up[n] = self.up.get(n, 0) + (content_bytes(r.content) if r.has_content() else 0)
        return replies

    def totals(self, nodes) -> tuple[int, int]:
        """(bytes down, bytes up) summed over `nodes`."""
        return sum(self.down.get(n, 0) for n in nodes), sum(self.up.get(n, 0) for n in nodes)


_TASK: dict = {}


def _task(cfg: AppConfig):
    """(data, model spec, client ids with training data) of the digits task, cached per process."""
    key = (cfg.digits_clients,)
    if key not in _TASK:
        from loyal.sim.runner import load_task

        data, spec = load_task(cfg.sim())
        _TASK[key] = (data, spec, [c for c in data.client_ids if data.num_train(c) > 0])
    return _TASK[key]


def synthetic_update(dim: int, seed: int) -> np.ndarray:
    """The synthetic task's update of one client (seeded Gaussian, std 1e-3)."""
    return (np.random.default_rng(seed).standard_normal(dim) * 1e-3).astype(np.float32)


# ---- ClientApp ----------------------------------------------------------------------------------------
client_app = ClientApp(mods=[ssa_dpftrl_mod])
client_app.query(COMMITTEE_ACTION)(committee_member)


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    """Standard Flower train function: global model in, local model + metrics out (no Loyal code here)."""
    cfg = AppConfig.from_run_config(dict(context.run_config))
    partition = int(context.node_config.get("partition-id", context.node_id))
    arrays = msg.content.array_records["arrays"]
    if cfg.task == "synthetic":
        start = arrays["w"].numpy()
        local = ArrayRecord({"w": Array(start + synthetic_update(start.size, partition))})
        return Message(RecordDict({"arrays": local, "metrics": MetricRecord({"num-examples": 1})}), reply_to=msg)
    import torch

    from loyal.methods.kit.train import LocalTrainConfig, get_flat_params, local_update, set_flat_params

    torch.set_num_threads(1)
    data, spec, clients = _task(cfg)
    model = spec.build()
    model.load_state_dict(arrays.to_torch_state_dict())
    x, y = data.train_arrays(clients[partition % len(clients)])
    local = LocalTrainConfig(learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, max_steps=cfg.local_steps,
                             optimizer="sgd")
    seed = int(msg.content.config_records["config"].get("server-round", 0)) * 100003 + partition
    delta, loss = local_update(model, x, y, local, seed=seed)
    set_flat_params(model, get_flat_params(model) + delta)
    content = RecordDict({"arrays": ArrayRecord(model.state_dict()),
                          "metrics": MetricRecord({"train-loss": float(loss), "num-examples": len(y)})})
    return Message(content, reply_to=msg)


# ---- ServerApp ----------------------------------------------------------------------------------------
server_app = ServerApp()


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Runs `SsaDpftrl` for `num-rounds` rounds; writes the report to `report-path` if set."""
    report = run_server(grid, AppConfig.from_run_config(dict(context.run_config)))
    logger.info("Loyal report: %s", json.dumps({k: v for k, v in report.items() if k != "history"}))


def run_server(grid: Grid, cfg: AppConfig) -> dict[str, Any]:
    """The ServerApp body: strategy, initial model, centralized evaluation, report."""
    from loyal.methods.fl.dpftrl_ssa import SsaSettings
    from loyal.sim.flower_strategy import SsaDpftrl

    counting = CountingGrid(grid)
    strategy = SsaDpftrl(cfg.num_rounds, cfg.noise_multiplier, cfg.clip_norm, cfg.mechanism,
                         committee_size=cfg.committee_size, threshold=cfg.threshold, min_nodes=cfg.min_nodes or None,
                         settings=SsaSettings(params=cfg.params or None, prove_uploads=cfg.prove_uploads,
                                              member_keys=tuple(k.strip() for k in cfg.member_keys.split(",") if k.strip())))
    accuracy: dict[int, tuple[float, float]] = {}
    evaluate_fn = None
    if cfg.task == "synthetic":
        initial = ArrayRecord({"w": Array(np.zeros(cfg.dim, np.float32))})
    else:
        import torch

        from loyal.methods.kit.train import evaluate
        from loyal.sim.inprocess import RoundConfig, evaluation_set

        data, spec, _ = _task(cfg)
        torch.manual_seed(cfg.seed)
        model = spec.build()
        initial = ArrayRecord(model.state_dict())
        eval_set = evaluation_set(data, RoundConfig(rounds=1, clients_per_round=1, eval_clients=cfg.eval_clients,
                                                    eval_samples_per_client=cfg.eval_samples_per_client, seed=cfg.seed))

        def _evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            model.load_state_dict(arrays.to_torch_state_dict())
            loss, acc = evaluate(model, *eval_set)
            accuracy[server_round] = (float(loss), float(acc))
            return MetricRecord({"test-loss": float(loss), "test-accuracy": float(acc)})

        evaluate_fn = _evaluate

    t0 = time.perf_counter()
    strategy.start(grid=counting, initial_arrays=initial, num_rounds=cfg.num_rounds, timeout=strategy.timeout,
                   evaluate_fn=evaluate_fn)
    wall = time.perf_counter() - t0
    history = [{**h, **({"test_loss": accuracy[h["round"]][0], "test_accuracy": accuracy[h["round"]][1]}
                        if h["round"] in accuracy else {})} for h in strategy.history]
    committee = [n for n in counting.down if n not in strategy.train_nodes]
    down, up = counting.totals(strategy.train_nodes)
    c_down, c_up = counting.totals(committee)
    per = max(1, len(strategy.train_nodes) * cfg.num_rounds)
    report = {
        "task": cfg.task, "rounds": cfg.num_rounds, "train_nodes": len(strategy.train_nodes),
        "committee_nodes": len(committee), "history": history, "privacy": strategy.privacy_report(),
        "bytes_down_per_client_round": down / per, "bytes_up_per_client_round": up / per,
        "committee_bytes_down": c_down, "committee_bytes_up": c_up, "wall_s": wall,
    }
    if cfg.report_path:
        with open(cfg.report_path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report
