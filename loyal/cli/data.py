# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal data`: statistics of the federated data sets (builds and caches them on first use)."""

from __future__ import annotations

import argparse

from loyal.cli._common import emit_json, positive_float, positive_int


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    parser = sub.add_parser("data", help=help_text, description=help_text)
    data_sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    stats = data_sub.add_parser("stats", help="client and sample counts of a federated data set")
    stats.add_argument("dataset", choices=("shakespeare", "digits"), help="which data set")
    stats.add_argument("--clients", type=positive_int, default=100, help="digits: number of clients (default 100)")
    stats.add_argument("--alpha", type=positive_float, default=0.5, help="digits: Dirichlet alpha > 0 (default 0.5)")
    stats.add_argument("--seed", type=int, default=0, help="digits: partition seed (default 0)")
    stats.add_argument("--min-lines", type=int, default=2, help="shakespeare: min speeches per role (default 2)")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=_stats)


def _stats(args: argparse.Namespace) -> int:
    from loyal.methods.kit.data import load_digits_federated, load_shakespeare

    if args.dataset == "shakespeare":
        stats = load_shakespeare(min_lines=args.min_lines).stats()
    else:
        stats = load_digits_federated(num_clients=args.clients, alpha=args.alpha, seed=args.seed).stats()
    if args.json:
        emit_json(stats)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{args.dataset} statistics")
        table.add_column("statistic")
        table.add_column("value", justify="right")
        for k, v in stats.items():
            table.add_row(k, f"{v:,}" if isinstance(v, int) else f"{v:g}")
        Console().print(table)
    return 0
