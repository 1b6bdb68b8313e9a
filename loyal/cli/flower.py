# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal flower run`: the task on Flower 1.41 (run_simulation, Ray): SSA + DP-FTRL vs SecAgg+ + DP side by side."""

from __future__ import annotations

import argparse
import json
import math

from loyal.cli._common import emit_json, positive_float, positive_int


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    group = sub.add_parser("flower", help=help_text, description=help_text)
    cmds = group.add_subparsers(dest="flower_command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = cmds.add_parser("run", help="run both paths through flwr.simulation.run_simulation")
    p.add_argument("--config", default=None, help="a sim TOML (task, local training, clip, SSA); default: digits")
    p.add_argument("--clients", type=positive_int, default=10, help="supernodes, all train every round (default 10)")
    p.add_argument("--rounds", type=positive_int, default=3, help="rounds (default 3)")
    p.add_argument("--noise-multiplier", type=positive_float, default=1.0, help="per-round noise multiplier on the sum (default 1)")
    p.add_argument("--num-shares", type=int, default=5, help="SecAgg+ shares, odd (default 5)")
    p.add_argument("--threshold", type=int, default=3, help="SecAgg+ reconstruction threshold (default 3)")
    p.add_argument("--ray-address", default=None, help="'auto' or HOST:PORT (default: start a local cluster)")
    p.add_argument("--out", default=None, help="also write the report to this JSON file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from loyal.sim.config import SimConfig, load_config
    from loyal.sim.flower_run import FlowerConfig, run_flower

    sim = load_config(args.config) if args.config else SimConfig(
        task="digits", digits_clients=100, local_steps=10, learning_rate=0.5, optimizer="sgd", eval_clients=100,
    )
    fc = FlowerConfig(sim=sim, clients=args.clients, rounds=args.rounds, per_round_noise_multiplier=args.noise_multiplier,
                      num_shares=args.num_shares, reconstruction_threshold=args.threshold)
    report = run_flower(fc, ray_address=args.ray_address)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    if args.json:
        emit_json(report)
        return 0
    table = Table(title=f"Flower: {fc.clients} clients × {fc.rounds} rounds ({sim.task})")
    for col in ("path", "round s", "up B/client/round", "down B/client/round", "accuracy", "ε"):
        table.add_column(col, justify="right")
    for name, r in report["paths"].items():
        eps = r["epsilon"]
        table.add_row(name, f"{r['round_s_mean']:.2f}", f"{r['bytes_up_per_client_round']:.0f}",
                      f"{r['bytes_down_per_client_round']:.0f}", f"{r['test_accuracy']:.3f}",
                      f"{eps:.3g}" if math.isfinite(eps) else "inf")
    Console().print(table)
    return 0
