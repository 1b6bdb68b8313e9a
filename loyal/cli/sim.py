# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal sim run --config configs/NAME.toml`: a Ray simulation with metrics.json, PNG and ε report;
`loyal sim headline --task shakespeare-bigram|digits`: the tuned, paired-seed headline experiment."""

from __future__ import annotations

import argparse
import json
import sys

from loyal.cli._common import emit_json


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    group = sub.add_parser("sim", help=help_text, description=help_text)
    cmds = group.add_subparsers(dest="sim_command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = cmds.add_parser("run", help="run configs/NAME.toml on Ray")
    p.add_argument("--config", required=True, help="a TOML file (see configs/)")
    p.add_argument("--ray-address", default=None, help="'auto' or HOST:PORT of a running cluster (default: start a local one)")
    p.add_argument("--aggregation", default=None, help="override [aggregation] aggregation")
    p.add_argument("--rounds", type=int, default=None, help="override [rounds] rounds")
    p.add_argument("--seed", type=int, default=None, help="override [rounds] seed")
    p.add_argument("--out", default="runs", help="folder for runs/<timestamp>/ (default ./runs)")
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout")
    p.set_defaults(func=_run)
    h = cmds.add_parser("headline", help="the headline experiment: per-arm tuning, paired seeds, CIs (docs/sim.md)")
    h.add_argument("--task", required=True, choices=("shakespeare-bigram", "digits"), help="headline A or B")
    h.add_argument("--quick", action="store_true", help="fewer rounds, seeds and grid points (<= 3 min; labelled quick)")
    h.add_argument("--out", default="docs/headline", help="folder for TASK.json, TASK.md, TASK-epsE.png (default docs/headline)")
    h.add_argument("--json", action="store_true", help="print the results JSON to stdout")
    h.add_argument("--reuse", default=None,
                   help="TASK.json of a finished run of the same experiment: its arms are kept, only new arms run")
    h.set_defaults(func=_headline)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from loyal.sim.config import load_config
    from loyal.sim.demo import new_run_dir
    from loyal.sim.experiment import run_experiment

    overrides = {k: v for k, v in (("rounds", args.rounds), ("seed", args.seed), ("aggregation", args.aggregation)) if v is not None}
    config = load_config(args.config, overrides)  # validates before any work
    runs = max(1, len(config.compare_aggregations) * len(config.compare_seeds))
    run_dir = new_run_dir(args.out)
    with Progress(
        TextColumn("[bold]{task.fields[label]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"), console=Console(file=sys.stderr), transient=args.json,
    ) as progress:
        task = progress.add_task("rounds", total=config.rounds * runs, label="simulation", status="")

        def on_round(label: str, record: dict) -> None:
            progress.update(task, advance=1, label=label, status=f"acc {record['test_accuracy']:.3f}")

        metrics = run_experiment(config, run_dir, ray_address=args.ray_address, on_round=on_round)
    metrics["run_dir"] = str(run_dir)
    if args.json:
        emit_json({k: v for k, v in metrics.items() if k != "runs"})
    else:
        Console().print(metrics.get("table") or {k: metrics.get(k) for k in ("aggregation", "test_accuracy", "epsilon", "delta", "run_dir")})
    return 0


def _headline(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from loyal.sim.headline_run import finite, preset, reusable_arms, run_headline, total_rounds, write_outputs

    config, _ = preset(args.task, args.quick)  # validates before any work
    try:
        previous = json.loads(Path(args.reuse).read_text()) if args.reuse else None
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"--reuse {args.reuse}: {e}") from None
    reused = reusable_arms(previous, config)
    with Progress(
        TextColumn("[bold]headline"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(file=sys.stderr), transient=args.json,
    ) as progress:
        task = progress.add_task("rounds", total=total_rounds(config, reused))
        stem = f"{args.task}{'-quick' if args.quick else ''}"
        result = run_headline(args.task, args.quick, on_round=lambda: progress.advance(task),
                              checkpoint=Path(args.out) / f"{stem}.partial.json", reuse=previous)
    paths = write_outputs(result, Path(args.out))
    if args.json:
        emit_json(finite(result))
    else:
        Console().print(paths[1].read_text())
        Console().print("wrote " + ", ".join(str(p) for p in paths))
    return 0
