# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal demo`: the main job (Ray + SSA + DP-FTRL training, OML fingerprints, on-chain proof) with progress bars."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

from loyal.cli._common import emit_json, positive_float, positive_int


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    from loyal.sim.demo import DemoConfig

    d = DemoConfig()
    p = sub.add_parser("demo", help=help_text, description=help_text)
    p.add_argument("--rounds", type=positive_int, default=d.rounds, help=f"federated rounds (default {d.rounds})")
    p.add_argument("--clients-per-round", type=positive_int, default=d.clients_per_round,
                   help=f"clients sampled per round (default {d.clients_per_round})")
    p.add_argument("--local-steps", type=positive_int, default=d.local_steps, help=f"client steps per round (default {d.local_steps})")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size, help=f"client batch size (default {d.batch_size})")
    p.add_argument("--learning-rate", type=positive_float, default=d.learning_rate, help=f"client learning rate (default {d.learning_rate})")
    p.add_argument("--noise-multiplier", type=positive_float, default=d.noise_multiplier,
                   help=f"effective DP-FTRL noise multiplier (default {d.noise_multiplier})")
    p.add_argument("--mechanism", choices=("blt", "banded-toeplitz"), default=d.mechanism, help=f"DP-FTRL mechanism (default {d.mechanism})")
    p.add_argument("--fingerprints", type=int, default=d.num_fingerprints,
                   help=f"OML fingerprints to embed; 0 skips the OML and chain stages (default {d.num_fingerprints})")
    p.add_argument("--ray-address", default=None, help="'auto' or HOST:PORT of a running cluster (default: start a local one)")
    p.add_argument("--server", choices=("grpc", "inprocess"), default=d.server,
                   help=f"the SSA server: the real gRPC server process or an in-process object (default {d.server})")
    p.add_argument("--seed", type=int, default=d.seed, help="seed (default 0)")
    p.add_argument("--out", default="runs", help="folder for runs/<timestamp>/ (default ./runs)")
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout instead of a table")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from loyal.sim.demo import DemoConfig, new_run_dir, run_demo

    if args.fingerprints < 0:
        raise ValueError(f"--fingerprints must be >= 0, got {args.fingerprints}")
    config = dataclasses.replace(
        DemoConfig(), rounds=args.rounds, clients_per_round=args.clients_per_round, local_steps=args.local_steps,
        batch_size=args.batch_size, learning_rate=args.learning_rate, noise_multiplier=args.noise_multiplier,
        mechanism=args.mechanism, num_fingerprints=args.fingerprints, ray_address=args.ray_address, seed=args.seed,
        server=args.server,
    )
    config.sim_config()  # validate before any work
    run_dir = new_run_dir(args.out)
    console = Console(file=sys.stderr)
    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"), console=console, transient=args.json,
    ) as progress:
        stages = {"train": progress.add_task(f"DP-FTRL under SSA on Ray ({config.server} server)", total=config.rounds, status="")}
        current: list[str] = []

        def on_stage(name: str) -> None:
            if current and current[-1] != "train":
                progress.update(stages[current[-1]], completed=1)
            if name != "train":
                stages[name] = progress.add_task({"fingerprint": "OML fingerprints", "chain": "on-chain proof"}.get(name, name), total=1, status="")
            current.append(name)

        def on_round(record: dict) -> None:
            progress.update(stages["train"], advance=1, status=f"acc {record['test_accuracy']:.3f} ({record['accepted']} uploads)")

        metrics = run_demo(config, run_dir, on_round=on_round, on_stage=on_stage)
        if current and current[-1] != "train":
            progress.update(stages[current[-1]], completed=1)
    if args.json:
        emit_json(metrics)
        return 0
    table = Table(title="loyal demo")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("aggregation", "model", "parameters", "rounds", "clients_per_round", "test_accuracy", "unigram_accuracy",
                "epsilon", "delta", "train_seconds", "run_dir"):
        if key in metrics:
            value = metrics[key]
            table.add_row(key, f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value))
    if "oml" in metrics:
        table.add_row("fingerprint verdict", str(metrics["oml"].get("verdict")))
    if "chain" in metrics:
        table.add_row("on-chain verdict", str(metrics["chain"].get("verdict")))
    Console().print(table)
    return 0
