# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal methods list` and `loyal methods run NAME`: the research-methods library (loyal.methods.harness)."""

from __future__ import annotations

import argparse
import sys

from loyal.cli._common import emit_json


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    group = sub.add_parser("methods", help=help_text, description=help_text)
    cmds = group.add_subparsers(dest="methods_command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = cmds.add_parser("list", help="every method: name, paper, what it reproduces, --quick runtime")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=_list)
    p = cmds.add_parser("run", help="run one method; writes runs/methods/NAME/<timestamp>/{result.json, *.png}")
    p.add_argument("name", help="a method name from `loyal methods list`")
    p.add_argument("--quick", action="store_true", help="the small settings (<= 5 minutes on 2 cores)")
    p.add_argument("--config", default=None, help="a TOML file of config keys overriding the defaults")
    p.add_argument("--ray-address", default=None,
                   help="run arms on Ray actors: 'local' starts a local cluster, 'auto' or HOST:PORT joins one")
    p.add_argument("--out", default="runs", help="root of runs/methods/NAME/<timestamp>/ (default ./runs)")
    p.add_argument("--json", action="store_true", help="print result.json to stdout")
    p.set_defaults(func=_run)


def _list(args: argparse.Namespace) -> int:
    from loyal.methods.harness import list_methods

    rows = [
        {"name": s.name, "paper": f"arXiv {s.paper}", "title": s.title, "reproduces": s.claim, "quick_runtime": s.quick_runtime}
        for s in list_methods()
    ]
    if args.json:
        emit_json(rows)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="loyal methods")
    for column in ("name", "paper", "reproduces", "quick_runtime"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["paper"], row["reproduces"], row["quick_runtime"])
    Console().print(table)
    return 0


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from loyal.methods.harness import get_method, load_config, run_method

    spec = get_method(args.name)
    config = load_config(spec.config_cls, args.config, spec.quick if args.quick else None)  # validates first
    use_ray = args.ray_address is not None
    if use_ray:
        import ray

        if not ray.is_initialized():
            address = None if args.ray_address == "local" else args.ray_address
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    with Progress(
        TextColumn("[bold]{task.fields[label]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(file=sys.stderr), transient=args.json,
    ) as progress:
        task = progress.add_task("arms", total=None, label=args.name)

        def on_arm(done: int, total: int, arm: dict) -> None:
            label = ", ".join(f"{k}={v}" for k, v in arm.items())
            progress.update(task, completed=done, total=total, label=f"{args.name}: {label}")

        result, run_dir = run_method(args.name, config, out=args.out, quick=args.quick, use_ray=use_ray, on_arm=on_arm)
    payload = result.to_json() | {"run_dir": str(run_dir)}
    if args.json:
        emit_json(payload)
    else:
        Console().print({"method": result.method, "paper": result.paper, "metrics": result.metrics, "run_dir": str(run_dir)})
    return 0
