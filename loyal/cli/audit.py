# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal audit`: checks an SSA job from its public release log and the chain alone (technical governance,
arXiv 2407.14981); the checks are `loyal.protocols.governance.audit`'s. Exit 0: every check passed; 1: a check
failed; 2: bad input (unreadable log, no contract, malformed flags)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from loyal.cli._common import emit_json, positive_float

_EPILOG = ("The release log is the server's public export (`loyal ledger export --db STORE --out FILE`); the chain "
           "gives the heads anchored for the genesis of the log's pinned configuration. No server access is needed.")


def _job_id(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 16:
        raise argparse.ArgumentTypeError(f"a job id is 32 hex characters, got {text!r}")
    return value


def _delta(text: str) -> float:
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return value


def register(subparsers: Any, help_text: str) -> None:
    """Adds `loyal audit`."""
    p = subparsers.add_parser("audit", help=help_text, description=help_text, epilog=_EPILOG)
    p.add_argument("--rpc-url", "--chain-rpc", dest="rpc_url", required=True, help="JSON-RPC URL of the chain")
    p.add_argument("--anchor", required=True, help="SsaLogAnchor address: the job's log authority")
    p.add_argument("--job", type=_job_id, required=True, help="the job id (32 hex characters)")
    p.add_argument("--release-log", type=Path, required=True, help="the job's public release log (JSON)")
    p.add_argument("--max-epsilon", type=positive_float, required=True, help="the epsilon budget to hold the job to")
    p.add_argument("--delta", type=_delta, default=1e-6, help="delta of the epsilon (default 1e-6)")
    p.add_argument("--accountant", choices=("pld", "rdp"), default="pld", help="privacy accountant (default pld)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_audit)


def _audit(args: argparse.Namespace) -> int:
    from loyal.contracts.anchor import AnchorClient
    from loyal.contracts.chain import open_chain
    from loyal.protocols.governance.audit import AuditPolicy, audit
    from loyal.protocols.governance.release_log import ReleaseLog

    try:
        log = ReleaseLog.from_json(json.loads(args.release_log.read_text(encoding="utf-8")))
    except json.JSONDecodeError as e:
        raise ValueError(f"--release-log {args.release_log} is not JSON ({e.msg})") from None
    policy = AuditPolicy(args.max_epsilon, args.delta, args.accountant)
    anchor = AnchorClient(open_chain(args.rpc_url, state_path=None), args.anchor)
    genesis = log.job.genesis
    anchored = [anchor.head_at(genesis, r) for r in range(anchor.rounds(genesis))]
    report = audit(log, job_id=args.job, anchored=anchored, policy=policy)
    if args.json:
        emit_json(report.to_json())
    else:
        _print(report)
    return 0 if report.passed else 1


def _print(report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"audit of job {report.job_id.hex()} (genesis {report.genesis.hex()[:16]}…)")
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("finding")
    for c in report.checks:
        table.add_row(c.name, "[green]pass[/green]" if c.passed else "[red]FAIL[/red]", c.detail)
    console = Console()
    console.print(table)
    console.print(f"verdict: {'PASS' if report.passed else 'FAIL'} ({report.anchored_rounds} anchored rounds, "
                  f"{report.releases} releases, epsilon {report.epsilon:.4g})")
