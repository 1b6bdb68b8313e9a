# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal client run`: one ephemeral client (enroll or use an enrolled key, train, encrypt, submit, exit);
`loyal client fleet`: many of them against one server (`client/fleet.py`)."""

from __future__ import annotations

import argparse
import hashlib

from loyal.cli._common import emit_json, parse_genesis, positive_float, positive_int


def _run(args: argparse.Namespace) -> int:
    from loyal.client.runner import run_client, trainer
    from loyal.client.tls import Identity

    from loyal.server.limits import check_transport

    if not args.token and not args.key:
        raise ValueError("give --token (one-time enrollment) or --key (an enrolled key file)")
    check_transport(args.server, args.ca is not None, args.insecure)
    identity = Identity.load(args.key) if args.key and not args.token else (Identity() if args.key else None)
    seed = hashlib.sha256(b"loyal/insecure-client-seed" + args.insecure_seed.encode()).digest() if args.insecure_seed else None
    result = run_client(
        args.server, trainer(args.data, args.client_index, local_steps=args.local_steps), identity=identity,
        token=args.token, ca_file=args.ca, timeout_s=args.timeout, insecure_seed=seed,
        genesis=parse_genesis(args.genesis), insecure=args.insecure,
    )
    if args.key and args.token:
        identity.client_id = result["client_id"]
        identity.save(args.key)
    emit_json({str(k): v for k, v in result.items()}) if args.json else print(result)
    return 0


def _fleet(args: argparse.Namespace) -> int:
    import pathlib
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from loyal.client.fleet import FleetConfig, ray_module, run_fleet
    from loyal.server.limits import check_transport

    check_transport(args.server, args.ca is not None, args.insecure)
    try:
        tokens = tuple(t.strip() for t in pathlib.Path(args.tokens_file).read_text().splitlines() if t.strip())
    except OSError as e:
        raise ValueError(f"--tokens-file {args.tokens_file}: {e.strerror}") from None
    if args.clients > len(tokens):
        raise ValueError(f"--clients {args.clients} needs as many tokens, {args.tokens_file} has {len(tokens)}")
    if args.ray_wheel and not args.ray_address:
        raise ValueError("--ray-wheel ships Loyal to Ray nodes: give --ray-address too")
    runtime_env = {"py_modules": [ray_module(args.ray_wheel)]} if args.ray_wheel else None
    config = FleetConfig(
        server=args.server, tokens=tokens[: args.clients], data=args.data, rounds=args.rounds, workers=args.workers,
        local_steps=args.local_steps, ca=args.ca, genesis=parse_genesis(args.genesis), insecure=args.insecure,
        timeout_s=args.timeout, ray_address=args.ray_address, runtime_env=runtime_env,
    )
    with Progress(TextColumn("[bold]fleet"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[status]}"), console=Console(file=sys.stderr), transient=args.json) as bar:
        task = bar.add_task("clients", total=args.clients * args.rounds, status="")
        summary = run_fleet(config, lambda r: bar.update(task, advance=1, status=f"round {r['round']}: {r['status']}"))
    if args.json:
        emit_json(summary)
    else:
        print({k: v for k, v in summary.items() if k != "results"})
    return 0 if summary["accepted"] else 2


def _add_client_flags(p: argparse.ArgumentParser) -> None:
    """The flags `run` and `fleet` share: where the server is, how to trust it, what to train."""
    p.add_argument("--server", required=True, help="HOST:PORT")
    p.add_argument("--ca", help="CA certificate (ca.crt from `loyal server certs`) for TLS")
    p.add_argument("--genesis", help="the job's published genesis (hex, `loyal server job`): refuse any other job")
    p.add_argument("--data", choices=("digits", "shakespeare"), default="digits",
                   help="federated data set whose shard a client trains on (default digits)")
    p.add_argument("--local-steps", type=positive_int, default=5, help="local training steps (default 5)")
    p.add_argument("--timeout", type=positive_float, default=120.0, help="wait at most this long for a round (default 120 s)")
    p.add_argument("--insecure", action="store_true",
                   help="TESTS ONLY: run without --genesis, accept an unsafe job and plaintext gRPC off loopback")
    p.add_argument("--json", action="store_true")


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    group = subparsers.add_parser("client", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = sub.add_parser("run", help="fetch the task, train the job's model on one shard, submit once")
    _add_client_flags(p)
    p.add_argument("--token", help="one-time enrollment token")
    p.add_argument("--key", help="enrolled key file (written by an earlier run with --token --key)")
    p.add_argument("--client-index", type=int, default=0, help="shard of the data set (default 0)")
    p.add_argument("--insecure-seed", help="TESTS ONLY: seed encoding/encryption randomness (reproducible ciphertext)")
    p.set_defaults(func=_run)
    f = sub.add_parser("fleet", help="N ephemeral clients against a server, as local processes or Ray tasks")
    _add_client_flags(f)
    f.add_argument("--clients", type=positive_int, required=True, help="clients in the fleet (one token each; client i trains shard i)")
    f.add_argument("--tokens-file", required=True, help="enrollment tokens, one per line (`loyal server tokens`)")
    f.add_argument("--rounds", type=positive_int, default=1, help="rounds offered to every client (default 1)")
    f.add_argument("--workers", type=positive_int, default=2, help="clients running at once (default 2)")
    f.add_argument("--ray-address", help="run clients as Ray tasks on this cluster ('auto', HOST:PORT, or 'local')")
    f.add_argument("--ray-wheel", help="a loyal-ai wheel shipped to Ray nodes in runtime_env py_modules")
    f.set_defaults(func=_fleet)
