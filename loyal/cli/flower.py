# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal flower run`: the Loyal Flower App (SSA + DP-FTRL) and the SecAgg+ + DP baseline through `flwr run`
on a local simulation SuperLink, side by side; `loyal flower app-dir`: where the packaged app lives."""

from __future__ import annotations

import argparse
import json
import math

from loyal.cli._common import emit_json, positive_int


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    group = sub.add_parser("flower", help=help_text, description=help_text)
    cmds = group.add_subparsers(dest="flower_command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = cmds.add_parser("run", help="run the Loyal app and the SecAgg+ baseline with `flwr run` (local simulation SuperLink; "
                        "its nodes pin no committee: run config insecure=true, docs/flower.md, Trust)")
    p.add_argument("--task", choices=("digits", "synthetic"), default="digits", help="digits (default) or synthetic updates")
    p.add_argument("--clients", type=positive_int, default=10, help="training nodes, all train every round (default 10)")
    p.add_argument("--rounds", type=positive_int, default=3, help="rounds (default 3)")
    p.add_argument("--noise-multiplier", type=float, default=1.0,
                   help="effective noise multiplier z of the whole release, both apps (default 1; same ε)")
    p.add_argument("--committee-size", type=positive_int, default=3, help="committee nodes of the Loyal app (default 3)")
    p.add_argument("--committee-threshold", type=positive_int, default=2, help="members needed for a release (default 2)")
    p.add_argument("--params", default="", help="RLWE parameter set (default: the cheapest 128-bit set)")
    p.add_argument("--num-shares", type=int, default=5, help="SecAgg+ shares, odd (default 5)")
    p.add_argument("--threshold", type=int, default=3, help="SecAgg+ reconstruction threshold (default 3)")
    p.add_argument("--apps", default="loyal,secaggplus",
                   help="comma-separated apps to run: loyal, secaggplus (default both, side by side)")
    p.add_argument("--actors", type=int, default=0, help="Ray CPUs (ClientApp actors) per simulation (default 0: all CPUs)")
    p.add_argument("--out", default=None, help="also write the report to this JSON file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)
    d = cmds.add_parser("app-dir", help="print the packaged Flower App folder (`flwr run $(loyal flower app-dir)`)")
    d.add_argument("--app", choices=("loyal", "secaggplus"), default="loyal", help="which app (default loyal)")
    d.set_defaults(func=lambda a: print(_app_dir(a.app)) or 0)


def _app_dir(name: str):
    from loyal.sim.flower_run import app_dir

    return app_dir(name)


def _progress(total: int, *, transient: bool):
    """A progress bar on stderr over the apps `flwr run` runs; yields run_flower's `on_app` callback."""
    import contextlib
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar():
        with Progress(SpinnerColumn(), TextColumn("[bold]flwr run[/bold] {task.fields[app]}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=Console(file=sys.stderr), transient=transient) as p:
            task = p.add_task("apps", total=total, app="")
            yield lambda name, done: p.update(task, advance=1 if done else 0, app=name)

    return bar()


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from loyal.sim.flower_app import AppConfig
    from loyal.sim.flower_run import FlowerConfig, run_flower

    if not (math.isfinite(args.noise_multiplier) and args.noise_multiplier >= 0):
        raise ValueError(f"--noise-multiplier must be finite and >= 0, got {args.noise_multiplier}")
    if args.committee_threshold > args.committee_size:
        raise ValueError(f"--committee-threshold must be in [1, committee-size={args.committee_size}], got {args.committee_threshold}")
    app = AppConfig(task=args.task, num_rounds=args.rounds, noise_multiplier=args.noise_multiplier,
                    committee_size=args.committee_size, threshold=args.committee_threshold, params=args.params,
                    insecure=True)  # `flwr run` on a local simulation SuperLink: no node holds a pinned member key
    fc = FlowerConfig(app=app, clients=args.clients, num_shares=args.num_shares, reconstruction_threshold=args.threshold,
                     apps=tuple(a.strip() for a in args.apps.split(",") if a.strip()), actors=args.actors)
    with _progress(len(fc.apps), transient=args.json) as note:
        report = run_flower(fc, note)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    if args.json:
        emit_json(report)
        return 0
    table = Table(title=f"Flower (flwr run): {fc.clients} clients × {app.num_rounds} rounds ({app.task})")
    for col in ("path", "round s", "up B/client/round", "down B/client/round", "accuracy", "ε"):
        table.add_column(col, justify="right")
    for name, r in report["paths"].items():
        eps = r["epsilon"]
        table.add_row(name, f"{r['round_s_mean']:.2f}", f"{r['bytes_up_per_client_round']:.0f}",
                      f"{r['bytes_down_per_client_round']:.0f}", f"{r['test_accuracy']:.3f}",
                      f"{eps:.3g}" if math.isfinite(eps) else "inf")
    Console().print(table)
    return 0
