# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal client run`: one ephemeral client (enroll or use an enrolled key, train, encrypt, submit, exit)."""

from __future__ import annotations

import argparse
import hashlib

from loyal.cli._common import emit_json, parse_genesis, positive_float


def _run(args: argparse.Namespace) -> int:
    from loyal.client.runner import digits_trainer, run_client
    from loyal.client.tls import Identity

    from loyal.server.limits import check_transport

    if not args.token and not args.key:
        raise ValueError("give --token (one-time enrollment) or --key (an enrolled key file)")
    check_transport(args.server, args.ca is not None, args.insecure)
    identity = Identity.load(args.key) if args.key and not args.token else (Identity() if args.key else None)
    seed = hashlib.sha256(b"loyal/insecure-client-seed" + args.insecure_seed.encode()).digest() if args.insecure_seed else None
    result = run_client(
        args.server, digits_trainer(args.client_index, local_steps=args.local_steps), identity=identity,
        token=args.token, ca_file=args.ca, timeout_s=args.timeout, insecure_seed=seed,
        genesis=parse_genesis(args.genesis), insecure=args.insecure,
    )
    if args.key and args.token:
        identity.client_id = result["client_id"]
        identity.save(args.key)
    emit_json({str(k): v for k, v in result.items()}) if args.json else print(result)
    return 0


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    group = subparsers.add_parser("client", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = sub.add_parser("run", help="fetch the task, train the job's model on a digits shard, submit once")
    p.add_argument("--server", required=True, help="HOST:PORT")
    p.add_argument("--token", help="one-time enrollment token")
    p.add_argument("--key", help="enrolled key file (written by an earlier run with --token --key)")
    p.add_argument("--ca", help="CA certificate (ca.crt from `loyal server certs`) for TLS")
    p.add_argument("--client-index", type=int, default=0, help="federated-digits shard (default 0)")
    p.add_argument("--local-steps", type=int, default=5, help="local SGD steps (default 5)")
    p.add_argument("--timeout", type=positive_float, default=120.0, help="give up after this many seconds (default 120)")
    p.add_argument("--genesis", help="the job's published genesis (hex, `loyal server job`): refuse any other job")
    p.add_argument("--insecure", action="store_true",
                   help="TESTS ONLY: run without --genesis, accept an unsafe job and plaintext gRPC off loopback")
    p.add_argument("--insecure-seed", help="TESTS ONLY: seed encoding/encryption randomness (reproducible ciphertext)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)
