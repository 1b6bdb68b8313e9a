# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal chain`: the on-chain OML registry (deploy, register, join, license, serve, challenge, finalize, status,
demo)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from loyal.cli._common import emit_json, non_negative_int, positive_int

_EPILOG = (
    "The embedded chain (default) is persisted as a transaction journal in the state file "
    "($LOYAL_CACHE_DIR/chain/embedded.json) and replayed on every call; --rpc-url uses a JSON-RPC node. "
    "Default keys are PUBLIC dev keys (test chains only): pass --owner-key/--host-key or "
    "LOYAL_CHAIN_OWNER_KEY/LOYAL_CHAIN_HOST_KEY otherwise."
)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rpc-url", default=None, help="JSON-RPC node URL (default: the embedded py-evm chain)")
    p.add_argument("--state", type=Path, default=None, help="state file (default under $LOYAL_CACHE_DIR/chain/)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _owner_secret(p: argparse.ArgumentParser) -> None:
    p.add_argument("--owner-key", default=None, help="owner private key (hex)")
    p.add_argument("--secret-file", type=Path, default=None,
                   help="owner's salt secret (hex); default next to the state file")


def register(subparsers: Any, help_text: str) -> None:
    """Adds `loyal chain` and its subcommands."""
    parser = subparsers.add_parser("chain", help=help_text, description=help_text, epilog=_EPILOG)
    sub = parser.add_subparsers(dest="chain_command", metavar="SUBCOMMAND", parser_class=type(parser))
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    p = sub.add_parser("deploy", help="deploy a registry and remember it in the state file")
    _common(p)
    p.add_argument("--owner-key", default=None, help="deployer private key (hex)")
    p.add_argument("--arbiter", action="append", default=None,
                   help="arbiter address (repeat); default: the public dev arbiters 1..3")
    p.add_argument("--quorum", type=positive_int, default=2, help="votes that decide a dispute (default 2)")
    p.add_argument("--min-stake", type=positive_int, default=10**15, help="wei a host bonds to join (default 1e15)")
    p.add_argument("--notice-period", type=positive_int, default=3 * 86400, help="exit notice, s (default 3 days)")
    p.add_argument("--reveal-window", type=positive_int, default=86400, help="s to reveal a commit (default 1 day)")
    p.add_argument("--dispute-window", type=positive_int, default=86400, help="s to dispute a claim (default 1 day)")
    p.add_argument("--voting-window", type=positive_int, default=86400, help="s for the arbiters (default 1 day)")
    p.set_defaults(func=_deploy)

    p = sub.add_parser("register-model", help="commit to a model's fingerprints on chain")
    _common(p)
    _owner_secret(p)
    p.add_argument("--model", type=Path, required=True, help="model directory (hashed with SHA-256)")
    p.add_argument("--fingerprints", type=Path, required=True, help="fingerprint JSONL ({key, response} per line)")
    p.add_argument("--p0", type=float, default=0.01, help="per-key chance-match bound, ≤ 1/2 (default 0.01)")
    p.add_argument("--target-fpr", type=float, default=1e-6, help="false-claim bound per challenge (default 1e-6)")
    p.add_argument("--slash-cap", type=non_negative_int, default=10**18, help="most wei one claim slashes")
    p.add_argument("--queries", type=positive_int, default=8, help="challenge size n whose τ(n) is reported")
    p.add_argument("--metadata-uri", default="", help="off-chain metadata URI")
    p.set_defaults(func=_register_model)

    p = sub.add_parser("join", help="join the platform as a host, bonding one stake for all licences")
    _common(p)
    p.add_argument("--host-key", default=None, help="host private key (hex)")
    p.add_argument("--endpoint", required=True, help="the endpoint URL the host signs into every answer")
    p.add_argument("--stake", type=positive_int, default=10**18, help="stake in wei (default 1 ether)")
    p.set_defaults(func=_join)

    p = sub.add_parser("license-host", help="license a host: the owner signs an offer, the host checks and takes it")
    _common(p)
    _owner_secret(p)
    p.add_argument("--model-id", type=positive_int, required=True)
    p.add_argument("--fingerprints", type=Path, required=True)
    p.add_argument("--host-key", default=None, help="host private key (hex)")
    p.add_argument("--term", type=positive_int, default=30 * 86400, help="licence length, s (default 30 days)")
    p.add_argument("--fee", type=non_negative_int, default=0, help="licence fee in wei (default 0)")
    p.add_argument("--offer-valid", type=positive_int, default=3600, help="s the offer can be accepted (default 1 h)")
    p.add_argument("--assignment-size", type=positive_int, default=None, help="fingerprints in the host's copy")
    p.add_argument("--seed", type=int, default=0, help="seed of the assignment draw")
    p.set_defaults(func=_license_host)

    p = sub.add_parser("serve-host", help="serve the stand-in model over HTTP, signing every answer")
    _common(p)
    p.add_argument("--fingerprints", type=Path, required=True)
    p.add_argument("--host-key", default=None, help="host private key (hex)")
    p.add_argument("--endpoint", required=True, help="the endpoint registered with `loyal chain join`")
    p.add_argument("--port", type=int, default=8600)
    p.set_defaults(func=_serve_host)

    p = sub.add_parser("challenge", help="commit to fingerprint keys, query an unlicensed host, reveal every answer")
    _common(p)
    _owner_secret(p)
    p.add_argument("--model-id", type=positive_int, required=True)
    p.add_argument("--fingerprints", type=Path, required=True)
    p.add_argument("--host-url", required=True, help="the host's base URL, e.g. http://127.0.0.1:8600")
    p.add_argument("--queries", type=positive_int, default=8, help="keys committed and revealed (default 8)")
    p.set_defaults(func=_challenge)

    p = sub.add_parser("finalize", help="finalize a claim whose dispute or voting window has closed")
    _common(p)
    p.add_argument("--owner-key", default=None, help="sender private key (hex)")
    p.add_argument("--challenge-id", type=positive_int, required=True)
    p.set_defaults(func=_finalize)

    p = sub.add_parser("status", help="chain, registry, models and challenges")
    _common(p)
    p.set_defaults(func=_status)

    p = sub.add_parser("demo", help="the whole ownership proof on a fresh embedded chain")
    p.add_argument("--rpc-url", default=None, help="run on a JSON-RPC node instead")
    p.add_argument("--json", action="store_true")
    p.add_argument("--fingerprints", type=positive_int, default=32, help="stand-in fingerprints (default 32)")
    p.add_argument("--assignment-size", type=positive_int, default=16)
    p.add_argument("--queries", type=positive_int, default=8)
    p.set_defaults(func=_demo)


def _open(args: argparse.Namespace):
    from loyal.contracts.chain import open_chain

    return open_chain(args.rpc_url, args.state if args.state is not None else "default")


def _secret(args: argparse.Namespace, chain, create: bool) -> bytes:
    from loyal.contracts.chain import default_state_path
    from loyal.contracts.operations import load_secret

    path = args.secret_file
    if path is None:
        base = chain.state_path or default_state_path(args.rpc_url)
        path = base.with_name(base.stem + ".owner-secret.hex")
    return load_secret(path, create=create)


def _print(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from loyal.contracts import operations
    from loyal.contracts.client import ConfigRecord

    config = ConfigRecord(args.min_stake, args.notice_period, args.reveal_window, args.dispute_window,
                          args.voting_window)
    chain = _open(args)
    return _print(args, operations.deploy(chain, operations.account_from(args.owner_key, "owner"), args.arbiter,
                                          args.quorum, config))


def _register_model(args: argparse.Namespace) -> int:
    from loyal.contracts import operations

    chain = _open(args)
    result = operations.register_model(
        chain, operations.account_from(args.owner_key, "owner"), args.model, args.fingerprints,
        _secret(args, chain, create=True), args.p0, args.target_fpr, args.slash_cap, args.metadata_uri, args.queries,
    )
    return _print(args, result)


def _join(args: argparse.Namespace) -> int:
    from loyal.contracts import operations

    chain = _open(args)
    return _print(args, operations.join(chain, operations.account_from(args.host_key, "host"), args.endpoint,
                                        args.stake))


def _license_host(args: argparse.Namespace) -> int:
    from loyal.contracts import operations

    chain = _open(args)
    result = operations.license(
        chain, operations.account_from(args.owner_key, "owner"), operations.account_from(args.host_key, "host"),
        args.model_id, args.fingerprints, _secret(args, chain, create=False), args.term, args.fee, args.offer_valid,
        args.assignment_size, args.seed,
    )
    return _print(args, result)


def _serve_host(args: argparse.Namespace) -> int:
    from loyal.contracts import operations

    chain = _open(args)
    server = operations.serve_host(chain, operations.account_from(args.host_key, "host"), args.fingerprints,
                                   args.endpoint, args.port)
    print(f"serving at {server.url} as endpoint {args.endpoint} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def _challenge(args: argparse.Namespace) -> int:
    from loyal.contracts import operations

    chain = _open(args)
    result = operations.challenge(
        chain, operations.account_from(args.owner_key, "owner"), args.model_id, args.fingerprints,
        _secret(args, chain, create=False), args.host_url, args.queries,
    )
    return _print(args, result)


def _finalize(args: argparse.Namespace) -> int:
    from loyal.contracts import operations

    chain = _open(args)
    return _print(args, operations.finalize(chain, operations.account_from(args.owner_key, "owner"),
                                            args.challenge_id))


def _status(args: argparse.Namespace) -> int:
    from loyal.contracts import operations

    return _print(args, operations.status(_open(args)))


def _demo(args: argparse.Namespace) -> int:
    from loyal.contracts.demo import run_chain_demo

    result = run_chain_demo(num_fingerprints=args.fingerprints, assignment_size=args.assignment_size,
                            queries=args.queries, rpc_url=args.rpc_url)
    if args.json:
        emit_json(result)
    else:
        print(f"model {result['model_id']}: {result['verdict']} ({result['matches']}/{result['queries']} matches, "
              f"τ={result['threshold']}), slashed {result['slashed']} wei, "
              f"{result['spent_fingerprints']} fingerprints spent")
    return 0
