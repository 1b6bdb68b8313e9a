# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal demo`: the main job on embedded defaults, with a progress bar and a results table."""

from __future__ import annotations

import argparse
import dataclasses
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
    p.add_argument("--model", choices=("char-transformer", "char-lstm"), default=d.model, help=f"model (default {d.model})")
    p.add_argument("--seed", type=int, default=d.seed, help="seed (default 0)")
    p.add_argument("--out", default="runs", help="folder for runs/<timestamp>/ (default ./runs)")
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout instead of a table")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from loyal.sim.demo import DemoConfig, new_run_dir, run_demo

    config = dataclasses.replace(
        DemoConfig(), rounds=args.rounds, clients_per_round=args.clients_per_round, local_steps=args.local_steps,
        batch_size=args.batch_size, learning_rate=args.learning_rate, model=args.model, seed=args.seed,
    )
    config.round_config()  # validate before any work
    run_dir = new_run_dir(args.out)
    console = Console(file=sys.stderr)
    with Progress(
        TextColumn("[bold]federated training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"), console=console, transient=args.json,
    ) as progress:
        task = progress.add_task("rounds", total=config.rounds, status="")

        def on_round(record: dict) -> None:
            progress.update(task, advance=1, status=f"acc {record['test_accuracy']:.3f} loss {record['test_loss']:.3f}")

        metrics = run_demo(config, run_dir, on_round=on_round)
    if args.json:
        emit_json(metrics)
        return 0
    table = Table(title="loyal demo")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("aggregation", "model", "parameters", "rounds", "clients_per_round", "test_accuracy", "unigram_accuracy", "run_dir"):
        if key in metrics:
            value = metrics[key]
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)
    return 0
