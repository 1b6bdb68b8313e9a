# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The `loyal` command: registers one module per command group (as `flwr/cli/app.py` does).

Only the group named on the command line is imported, so `loyal server start` does not pay for the
torch/ray imports of other groups; `loyal --help` lists every group without importing any.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence

from loyal import __version__
from loyal.errors import USER_ERRORS
from loyal.log import configure

#: Command group -> module under `loyal.cli` that defines `register(subparsers)`.
#: A group whose module does not exist yet answers "not available yet".
GROUPS: dict[str, str] = {
    "data": "Federated data sets: statistics and caching.",
    "sim": "Ray simulations of ephemeral clients.",
    "server": "The persistent SSA server.",
    "client": "An ephemeral client.",
    "committee": "A decryptor committee member.",
    "flower": "Flower runs with SSA + DP-FTRL and SecAgg+ side by side.",
    "dpftrl": "DP-FTRL matrix mechanisms and privacy accounting.",
    "ssa": "Secure stateful aggregation: parameters and self-test.",
    "oml": "OML fingerprints: generate, embed, verify.",
    "chain": "The on-chain OML registry.",
    "bench": "Benchmarks, written as JSON + Markdown.",
    "demo": "The main job on embedded defaults.",
    "methods": "Research methods: list them, run one as a reproducible experiment.",
    "audit": "Audit a job from its public release log and the chain (epsilon, participation, releases).",
    "ledger": "The contributor ledger: export the release log, commit it on chain, claim shares.",
    "guardrail": "The K-12 guardrail: serve it over HTTP, evaluate it against baselines.",
}


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit 2 (argparse's own code)."""

    def error(self, message: str) -> None:  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message}\n")


def _not_available(group: str):
    def run(args: argparse.Namespace) -> int:
        print(f"loyal {group}: not available yet", file=sys.stderr)
        return 2

    return run


def selected_group(argv: Sequence[str]) -> str | None:
    """The command group `argv` names: its first word that is not an option (global options take no value)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in GROUPS else None


def build_parser(group: str | None = None) -> argparse.ArgumentParser:
    """Builds the parser: every command group is listed, only `group`'s module is imported and registered.

    Args:
      group: the group whose commands to register (a key of `GROUPS`), or None to list the groups only
        (enough for `loyal --help`, `loyal --version` and an unknown group's error).
    """
    parser = _Parser(prog="loyal", description="Loyal: private, community-owned AI.")
    parser.add_argument("--version", action="version", version=f"loyal {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in GROUPS.items():
        if importlib.util.find_spec(f"loyal.cli.{name}") is None:
            p = sub.add_parser(name, help=f"{help_text} (not available yet)")
            p.set_defaults(func=_not_available(name))
        elif name == group:
            importlib.import_module(f"loyal.cli.{name}").register(sub, help_text)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def _globals_first(argv: list[str]) -> list[str]:
    """Moves the global -v/-vv/--verbose flags to the front, so they work anywhere on the command line."""
    stop = argv.index("--") if "--" in argv else len(argv)
    verbose = [a for a in argv[:stop] if a == "--verbose" or re.fullmatch(r"-v+", a)]
    return verbose + [a for i, a in enumerate(argv) if i >= stop or a not in verbose]


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `loyal`; returns the process exit code."""
    argv = _globals_first(sys.argv[1:] if argv is None else list(argv))
    group = selected_group(argv)
    parser = build_parser(group)
    try:  # a group may expand argv first (`server start --config FILE.toml`)
        argv = getattr(sys.modules.get(f"loyal.cli.{group}"), "expand_argv", lambda a: a)(argv)
    except USER_ERRORS as e:
        print(f"loyal {group}: error: {e}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    configure(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.group is None else 2
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as e:
        if os.environ.get("LOYAL_DEBUG"):
            raise
        print(f"loyal {args.group}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a gRPC status (unreachable server, refused request) or a timeout: one line too
        if os.environ.get("LOYAL_DEBUG") or not _remote_error(e):
            raise
        code = getattr(e, "code", lambda: None)()
        detail = e.details() if hasattr(e, "details") else str(e)
        print(f"loyal {args.group}: error: {getattr(code, 'name', type(e).__name__)}: {detail}", file=sys.stderr)
        return 2


def _remote_error(e: BaseException) -> bool:
    """A gRPC error (without importing grpc here) or a timeout waiting for a server."""
    return isinstance(e, TimeoutError) or (type(e).__module__.startswith("grpc") and hasattr(e, "code"))
