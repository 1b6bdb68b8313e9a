# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Flower benchmark: one SSA + DP-FTRL round vs one SecAgg+ (+ client-side clipping DP) round, same clients.

Run with `loyal bench flower --json [--clients N] [--dim D] [--num-shares S] [--threshold T]`. Every arm
is the packaged Flower App (`loyal.sim.flower_app`, `loyal.sim.flower_secaggplus`, the apps
`examples/flower-app` names) submitted with `flwr run` to one local simulation SuperLink, with the
synthetic task (seeded Gaussian updates of length d, so the measure is the protocol, not training).
Each arm runs 3 rounds; the mean of rounds 2 and 3 is reported (the first starts Flower's actors; one
round of SecAgg+ moved by up to 20 % between runs on this VM). Our committee is 5
ClientApp nodes (threshold 3) besides the N training nodes. The ratio is ours / SecAgg+, same run.

Every arm gets the same Ray resources: `--actors` ClientApp actors of one CPU each (default: one per core).
Flower's own default gives each ClientApp 2 CPUs, so on a 2-core machine one client runs at a time and
its BLAS spins a second thread; session 7's 0.391× with proofs was measured that way (docs/flower.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time

#: Rounds per arm: the first starts the actors, the others are timed (their mean is reported).
ROUNDS = 3


def run(args: argparse.Namespace) -> dict:
    from loyal.sim.flower_app import AppConfig
    from loyal.sim.flower_run import app_dir, flwr_run, local_superlink

    if args.num_shares % 2 == 0 or not 3 <= args.num_shares <= args.clients:
        raise ValueError(f"--num-shares must be odd and in [3, clients={args.clients}], got {args.num_shares}")
    if not 2 <= args.threshold <= args.num_shares:
        raise ValueError(f"--threshold must be in [2, num_shares={args.num_shares}], got {args.threshold}")
    t0 = time.perf_counter()
    app = AppConfig(task="synthetic", dim=args.dim, num_rounds=ROUNDS, noise_multiplier=1.0, committee_size=5, threshold=3,
                    num_shares=args.num_shares, reconstruction_threshold=args.threshold,
                    insecure=True)  # a local simulation: its nodes cannot hold pinned member keys (docs/flower.md, Trust)
    actors = getattr(args, "actors", 0)
    if actors < 0:
        raise ValueError(f"--actors must be >= 0 (0: one per core), got {actors}")
    actors = actors or os.cpu_count() or 1
    ssa_nodes = args.clients + app.committee_size
    arms = (("ssa_dpftrl", "loyal", dataclasses.replace(app, min_nodes=ssa_nodes), ssa_nodes),
            ("ssa_dpftrl_proofs", "loyal", dataclasses.replace(app, min_nodes=ssa_nodes, prove_uploads=True), ssa_nodes),
            ("secaggplus_dp", "secaggplus", dataclasses.replace(app, min_nodes=args.clients), args.clients))
    results = {}
    with local_superlink() as env:
        for name, which, cfg, nodes in arms:
            r = flwr_run(app_dir(which), cfg, nodes, env, actors)
            h = r["history"]
            results[name] = {"round_s": statistics.mean(x["seconds"] for x in h[1:]), "first_round_s": h[0]["seconds"],
                             "rounds_s": [round(x["seconds"], 3) for x in h],
                             "bytes_up_per_client": r["bytes_up_per_client_round"],
                             "bytes_down_per_client": r["bytes_down_per_client_round"], "flwr_run_wall_s": r["flwr_run_wall_s"]}
            if which == "loyal":  # where the timed rounds go (`SsaDpftrl.history`)
                results[name]["stages_s"] = {k: round(statistics.mean(x[k] for x in h[1:]), 3)
                                             for k in ("train_s", "uploads_s", "release_s")}
                results[name].update(parameter_set=r["privacy"]["parameter_set"], accepted=h[-1]["accepted"],
                                     committee_bytes_up=r["committee_bytes_up"], committee_bytes_down=r["committee_bytes_down"])
    o, pr, s = results["ssa_dpftrl"], results["ssa_dpftrl_proofs"], results["secaggplus_dp"]
    return {
        "clients": args.clients, "dim": args.dim, "num_shares": args.num_shares, "threshold": args.threshold,
        "actors": actors,
        **results,
        "ratio_round_time_ours_vs_secaggplus": o["round_s"] / s["round_s"],
        "ratio_round_time_ours_with_proofs_vs_secaggplus": pr["round_s"] / s["round_s"],
        "target": "ratio <= 0.25 at 100 clients x 1e5 dims, with proofs on (issue 14)",
        "bench_wall_s": time.perf_counter() - t0,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }


def _stages(o: dict, pr: dict) -> str:
    """Our rounds split into train replies / upload checks / release (absent in results of older runs)."""
    if "stages_s" not in pr:
        return ""
    f = lambda d: " / ".join(f"{d['stages_s'][k]:.2f}" for k in ("train_s", "uploads_s", "release_s"))  # noqa: E731
    return (f"our rounds split into the clients' train replies / the server's upload checks / committee release "
            f"and step: {f(o)} s without proofs, {f(pr)} s with them; ")


def markdown(results: dict) -> str:
    r, o, s = results, results["ssa_dpftrl"], results["secaggplus_dp"]
    pr = results["ssa_dpftrl_proofs"]
    return "\n".join([
        f"# Flower: one round, {r['clients']} clients × d = {r['dim']:,} (SecAgg+ num_shares {r['num_shares']}, threshold {r['threshold']})",
        "",
        "| path | round time (s) | up bytes / client | down bytes / client |",
        "|---|---|---|---|",
        f"| SSA + DP-FTRL (ours, {o.get('parameter_set', '')}, committee of 5 ClientApp nodes) | {o['round_s']:.2f} | {o['bytes_up_per_client']:,.0f} | {o['bytes_down_per_client']:,.0f} |",
        f"| SSA + DP-FTRL with upload proofs (clients prove, the server verifies, one thread per core, members audit) | {pr['round_s']:.2f} | {pr['bytes_up_per_client']:,.0f} | {pr['bytes_down_per_client']:,.0f} |",
        f"| SecAgg+ + client-side clipping DP | {s['round_s']:.2f} | {s['bytes_up_per_client']:,.0f} | {s['bytes_down_per_client']:,.0f} |",
        "",
        f"Ratio ours / SecAgg+: **{r['ratio_round_time_ours_vs_secaggplus']:.3f}×** without proofs, "
        f"**{r['ratio_round_time_ours_with_proofs_vs_secaggplus']:.3f}×** with proofs (target {r['target']}); "
        + _stages(o, pr) +
        "in the simulation every client's proof runs on the same cores, which a deployment spreads over the clients' "
        "own machines. With proofs, each committee member that decrypts first audits every proof of the round "
        "(sent with the release request, docs/flower.md, Trust), as the gRPC server's members do: in the simulation "
        f"those audits share the same cores too (a deployment runs each on its member's machine). Every arm ran {r.get('actors', 0)} ClientApp actors of one CPU each. "
        "Every arm ran with `flwr run` on a local simulation SuperLink (the packaged apps). "
        f"Mean of rounds 2 and 3 (round 1 starts the actors); synthetic updates; wall {r['bench_wall_s']:.0f} s; {r['machine']}.",
        "",
    ])
