# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`python -m loyal.server start ...`: the `loyal server` commands without importing the other CLI
groups (fast start for supervisors and tests)."""

from __future__ import annotations

import argparse
import sys

from loyal.cli import server as server_cli
from loyal.errors import USER_ERRORS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loyal.server")
    sub = parser.add_subparsers(dest="group")
    server_cli.register(sub, "The persistent SSA server.")
    args = parser.parse_args(["server", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as e:
        print(f"loyal server: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
