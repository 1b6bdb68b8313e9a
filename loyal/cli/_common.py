# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Helpers shared by command modules: JSON output and argument types."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def emit_json(obj: Any) -> None:
    """Prints `obj` as JSON on stdout (the machine-readable contract of `--json`)."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=_default)
    sys.stdout.write("\n")


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be ≥ {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (e.g. an amount in wei)."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """argparse type: a float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def parse_genesis(text: str | None) -> bytes | None:
    """--genesis HEX (32 bytes) or None."""
    if text is None:
        return None
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise ValueError(f"--genesis must be 64 hex characters (`loyal server job` prints it), got {text!r}")
    return value


def add_anchor_flags(p) -> None:
    """--anchor ADDRESS and --chain-rpc URL: the job's log authority (`SsaLogAnchor`)."""
    p.add_argument("--anchor", help="SsaLogAnchor contract address: the job's log authority (`loyal server anchor`)")
    p.add_argument("--chain-rpc", help="JSON-RPC URL of the chain holding --anchor (e.g. a hardhat node)")


def anchor_account(args):
    """The server's chain account for anchoring: $LOYAL_ANCHOR_KEY (hex), or the public dev key with --insecure."""
    import os

    key = os.environ.get("LOYAL_ANCHOR_KEY")
    if key:
        from eth_account import Account

        return Account.from_key(key)
    if getattr(args, "insecure", False):
        from loyal.contracts.chain import insecure_dev_account

        return insecure_dev_account("ssa-server")
    raise ValueError("set LOYAL_ANCHOR_KEY to the server's chain key (or --insecure for the public dev key)")


def anchor_client(args, *, write: bool):
    """The `AnchorClient` of --anchor/--chain-rpc, or None without --anchor; `write` signs with `anchor_account`."""
    if not getattr(args, "anchor", None):
        return None
    from loyal.contracts.anchor import AnchorClient
    from loyal.contracts.chain import open_chain

    if not args.chain_rpc:
        raise ValueError("--anchor needs --chain-rpc URL (the embedded chain lives in one process only)")
    return AnchorClient(open_chain(args.chain_rpc, state_path=None), args.anchor, anchor_account(args) if write else None)


def tcp_port(text: str) -> int:
    """argparse type: a TCP port in [0, 65535] (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is in [0, 65535], got {value}")
    return value
