# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Flower 1.41 apps for the same federated task: SSA + DP-FTRL over Flower messages, and Flower's SecAgg+ + DP.

Ours: a `ServerApp` whose main loop is the SSA server (`methods.dpftrl_ssa.DPFTRLSsa`, committee in process)
and a `ClientApp` whose `ssa_dpftrl_mod` clips, encodes and encrypts the update the train function returns,
so only the encrypted upload leaves the client (cf. `flwr/client/mod/secure_aggregation/secaggplus_mod.py`,
which masks the same way: the mod wraps the training callable). Theirs: `SecAggPlusWorkflow` with
`DifferentialPrivacyClientSideFixedClipping` and the client mods `secaggplus_mod` + `fixedclipping_mod`.
`bytes_mod` (outermost on both) counts message bytes in a named Ray actor, so counts travel through Ray.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import ray
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict

from loyal.methods.kit.train import LocalTrainConfig, evaluate, get_flat_params, local_update, set_flat_params
from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa, create_upload, ticket_from_bytes

SSA_KEY = "loyal.ssa"
COUNTER = "loyal-flower-bytes"

#: job id -> SsaConfig, per process: public polynomials and NTT tables are expanded once per job, as a
#: long-running client library would (the configuration is public and identical for every client).
_CONFIGS: dict[bytes, object] = {}


@ray.remote(num_cpus=0)
class ByteCounter:
    """Sums message bytes reported by client mods (a named actor: `ray.get_actor(COUNTER)`)."""

    def __init__(self) -> None:
        self.down = self.up = 0

    def add(self, down: int, up: int) -> None:
        self.down += down
        self.up += up

    def totals(self) -> tuple[int, int]:
        return self.down, self.up


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


def bytes_mod(msg: Message, context: Context, call_next) -> Message:
    """Counts the bytes a client receives and sends (outermost mod)."""
    reply = call_next(msg, context)
    down = content_bytes(msg.content) if msg.has_content() else 0
    up = content_bytes(reply.content) if reply.has_content() else 0
    try:
        ray.get_actor(COUNTER).add.remote(down, up)
    except ValueError:
        pass  # no counter in this run
    return reply


def ssa_dpftrl_mod(msg: Message, context: Context, call_next) -> Message:
    """Client mod: replaces the plaintext update by its SSA upload (clip + encode + KAHE/AHE encrypt)."""
    if not msg.has_content() or SSA_KEY not in msg.content.config_records:
        return call_next(msg, context)
    cfg = msg.content.config_records[SSA_KEY]
    ticket = ticket_from_bytes(cfg["ticket"])  # data, validated; never unpickled (the server is untrusted)
    config = _CONFIGS.setdefault(ticket.config.genesis, ticket.config)  # keeps the NTT tables warm
    ticket = dataclasses.replace(ticket, config=config)
    reply = call_next(msg, context)
    update = reply.content.array_records["update"]["delta"].numpy()
    upload = create_upload(ticket, update.astype(np.float64), int(cfg["client-id"]))  # fresh CSPRNG
    reply.content = RecordDict({SSA_KEY: ConfigRecord({"upload": upload})})
    return reply


def _partition(context: Context) -> int:
    return int(context.node_config["partition-id"])


def make_train_fn(task_factory: Callable, local: LocalTrainConfig):
    """The ClientApp train function: local training from the received weights; returns the delta."""

    def train(msg: Message, context: Context) -> Message:
        torch.set_num_threads(1)
        data, spec, clients = task_factory()
        model = spec.build()
        params = msg.content.array_records["arrays"]["params"].numpy()
        set_flat_params(model, torch.tensor(params))
        x, y = data.train_arrays(clients[_partition(context) % len(clients)])
        delta, loss = local_update(model, x, y, local, seed=int(msg.content.config_records["config"]["seed"]))
        content = RecordDict({
            "update": ArrayRecord({"delta": Array(delta.numpy().astype(np.float32))}),
            "metrics": MetricRecord({"train_loss": float(loss), "num-examples": len(y)}),
        })
        return Message(content=content, reply_to=msg)

    return train


def ssa_server_main(
    aggregator_factory: Callable[[int], DPFTRLSsa], task_factory: Callable, rounds: int, report: dict,
    eval_set: tuple[np.ndarray, np.ndarray], seed: int,
):
    """The ServerApp main loop of the SSA + DP-FTRL path (fills `report` in place)."""

    def main(grid, context: Context) -> None:
        _, spec, _ = task_factory()
        torch.manual_seed(seed)
        model = spec.build()
        agg = aggregator_factory(get_flat_params(model).numel())
        while len(grid.get_node_ids()) == 0:
            time.sleep(0.05)
        nodes = sorted(grid.get_node_ids())
        rng = np.random.default_rng(seed)
        history = []
        for rnd in range(rounds):
            t0 = time.perf_counter()
            ticket = agg.ticket_bytes()
            params = get_flat_params(model).numpy()
            msgs = []
            for cid, node in enumerate(nodes):
                content = RecordDict({
                    "arrays": ArrayRecord({"params": Array(params)}),
                    "config": ConfigRecord({"seed": int(rng.integers(2**31))}),
                    SSA_KEY: ConfigRecord({"ticket": ticket, "client-id": cid}),
                })
                msgs.append(Message(content=content, dst_node_id=node, message_type="train"))
            replies = list(grid.send_and_receive(msgs))
            accepted = sum(
                agg.handle_upload(r.content.config_records[SSA_KEY]["upload"]) for r in replies if r.has_content()
            )
            set_flat_params(model, agg.finish_round(get_flat_params(model).double()).float())
            loss, acc = evaluate(model, *eval_set)
            history.append({"round": rnd + 1, "test_accuracy": acc, "test_loss": loss, "accepted": int(accepted),
                            "seconds": time.perf_counter() - t0})
        report.update(history=history, privacy=agg.privacy_report())

    return main
