# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Flower benchmark: one SSA + DP-FTRL round vs one SecAgg+ (+ client-side clipping DP) round, same clients.

Run with `loyal bench flower --json [--clients N] [--dim D] [--num-shares S] [--threshold T]`. Both paths
run through `flwr.simulation.run_simulation` on Ray with synthetic client updates of length d (seeded
Gaussian, so the measure is the protocol, not training). Each path runs 2 rounds; the second is timed
(the first starts Flower's actors). The ratio is ours / SecAgg+ measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _synthetic(dim: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(dim) * 1e-3).astype(np.float32)


def _ours(args, marks: list, prove: bool = False) -> dict:
    from flwr.app import Array, ArrayRecord, ConfigRecord, Message, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import ServerApp

    from loyal.methods.fl.dp_common import PrivacyConfig
    from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa, SsaSettings
    from loyal.sim.flower_apps import SSA_KEY, bytes_mod, ssa_dpftrl_mod

    def train(msg, context):
        delta = _synthetic(args.dim, int(context.node_config["partition-id"]))
        return Message(content=RecordDict({"update": ArrayRecord({"delta": Array(delta)})}), reply_to=msg)

    client = ClientApp(mods=[bytes_mod, ssa_dpftrl_mod])
    client.train()(train)
    server = ServerApp()
    info: dict = {}

    @server.main()
    def main(grid, context):
        privacy = PrivacyConfig(clip_norm=1.0, noise_multiplier=1.0, rounds=2, expected_clients=args.clients,
                                participations=2, min_separation=1, mechanism="blt")
        agg = DPFTRLSsa(privacy, args.dim, SsaSettings(prove_uploads=prove), max_clients=args.clients)
        info["parameter_set"] = agg.config.selection.params.name
        while len(grid.get_node_ids()) < args.clients:
            time.sleep(0.05)
        nodes = sorted(grid.get_node_ids())
        params = np.zeros(args.dim, dtype=np.float64)
        for _ in range(2):
            t0 = time.perf_counter()
            ticket = agg.ticket_bytes()
            msgs = [Message(content=RecordDict({SSA_KEY: ConfigRecord({"ticket": ticket, "client-id": i})}),
                            dst_node_id=n, message_type="train") for i, n in enumerate(nodes)]
            replies = list(grid.send_and_receive(msgs))
            info["accepted"] = sum(agg.handle_upload(r.content.config_records[SSA_KEY]["upload"]) for r in replies if r.has_content())
            import torch

            params = agg.finish_round(torch.as_tensor(params)).numpy()
            marks.append(time.perf_counter() - t0)

    _run(server, client, args.clients)
    return info


def _secaggplus(args, marks: list) -> dict:
    from flwr.client import NumPyClient
    from flwr.client.mod import fixedclipping_mod, secaggplus_mod
    from flwr.clientapp import ClientApp
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    from loyal.sim.flower_apps import bytes_mod

    class Client(NumPyClient):
        def __init__(self, pid: int) -> None:
            self.pid = pid

        def fit(self, parameters, config):
            return [parameters[0] + _synthetic(args.dim, self.pid)], 1, {}

    stamps = [time.perf_counter()]

    def evaluate_fn(server_round, parameters, config):
        now = time.perf_counter()
        if server_round > 0:
            marks.append(now - stamps[-1])
        stamps.append(now)
        return None

    strategy = DifferentialPrivacyClientSideFixedClipping(
        FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=args.clients, min_available_clients=args.clients,
               evaluate_fn=evaluate_fn, initial_parameters=ndarrays_to_parameters([np.zeros(args.dim, np.float32)])),
        noise_multiplier=1.0, clipping_norm=1.0, num_sampled_clients=args.clients,
    )
    server = ServerApp()

    @server.main()
    def main(grid, context):
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=2), strategy=strategy)
        DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(num_shares=args.num_shares,
                                                        reconstruction_threshold=args.threshold))(grid, legacy)

    client = ClientApp(client_fn=lambda ctx: Client(int(ctx.node_config["partition-id"])).to_client(),
                       mods=[bytes_mod, secaggplus_mod, fixedclipping_mod])
    _run(server, client, args.clients)
    return {}


def _run(server, client, clients: int) -> None:
    from flwr.simulation import run_simulation

    run_simulation(server_app=server, client_app=client, num_supernodes=clients,
                   backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"logging_level": "ERROR"}})


def run(args: argparse.Namespace) -> dict:
    import ray

    from loyal.sim.flower_run import _counter, _flower_env
    from loyal.sim.runner import release_actors

    if args.num_shares % 2 == 0 or not 3 <= args.num_shares <= args.clients:
        raise ValueError(f"--num-shares must be odd and in [3, clients={args.clients}], got {args.num_shares}")
    if not 2 <= args.threshold <= args.num_shares:
        raise ValueError(f"--threshold must be in [2, num_shares={args.num_shares}], got {args.threshold}")
    t0 = time.perf_counter()
    started = not ray.is_initialized()
    if started:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    release_actors()
    results = {}
    try:
        with _flower_env(keep_cluster=True):
            arms = (("ssa_dpftrl", _ours), ("ssa_dpftrl_proofs", lambda a, m: _ours(a, m, prove=True)),
                    ("secaggplus_dp", _secaggplus))
            for name, fn in arms:
                marks: list[float] = []
                counter = _counter()
                info = fn(args, marks)
                down, up = ray.get(counter.totals.remote())
                results[name] = {"round_s": marks[-1], "first_round_s": marks[0],
                                 "bytes_up_per_client": up / (2 * args.clients),
                                 "bytes_down_per_client": down / (2 * args.clients), **info}
    finally:
        if started:
            ray.shutdown()
    o, pr, s = results["ssa_dpftrl"], results["ssa_dpftrl_proofs"], results["secaggplus_dp"]
    return {
        "clients": args.clients, "dim": args.dim, "num_shares": args.num_shares, "threshold": args.threshold,
        **results,
        "ratio_round_time_ours_vs_secaggplus": o["round_s"] / s["round_s"],
        "ratio_round_time_ours_with_proofs_vs_secaggplus": pr["round_s"] / s["round_s"],
        "target": "ratio <= 0.25 at 100 clients x 1e5 dims, with proofs on (issue 14)",
        "bench_wall_s": time.perf_counter() - t0,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }


def markdown(results: dict) -> str:
    r, o, s = results, results["ssa_dpftrl"], results["secaggplus_dp"]
    pr = results["ssa_dpftrl_proofs"]
    return "\n".join([
        f"# Flower: one round, {r['clients']} clients × d = {r['dim']:,} (SecAgg+ num_shares {r['num_shares']}, threshold {r['threshold']})",
        "",
        "| path | round time (s) | up bytes / client | down bytes / client |",
        "|---|---|---|---|",
        f"| SSA + DP-FTRL (ours, {o.get('parameter_set', '')}) | {o['round_s']:.2f} | {o['bytes_up_per_client']:,.0f} | {o['bytes_down_per_client']:,.0f} |",
        f"| SSA + DP-FTRL with upload proofs (clients prove, server verifies) | {pr['round_s']:.2f} | {pr['bytes_up_per_client']:,.0f} | {pr['bytes_down_per_client']:,.0f} |",
        f"| SecAgg+ + client-side clipping DP | {s['round_s']:.2f} | {s['bytes_up_per_client']:,.0f} | {s['bytes_down_per_client']:,.0f} |",
        "",
        f"Ratio ours / SecAgg+: **{r['ratio_round_time_ours_vs_secaggplus']:.3f}×** without proofs, "
        f"**{r['ratio_round_time_ours_with_proofs_vs_secaggplus']:.3f}×** with proofs (target {r['target']}); "
        "in the simulation every client's proof runs on the same 2 cores, which a deployment spreads over the clients' "
        "own machines. "
        f"Second of two rounds timed; synthetic updates; wall {r['bench_wall_s']:.0f} s; {r['machine']}.",
        "",
    ])
