# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal committee run`: a committee member process (key generation, noise shares, partial decryptions)."""

from __future__ import annotations

import argparse

from loyal.cli._common import add_anchor_flags, anchor_client, emit_json, parse_genesis, positive_float, positive_int


def _run(args: argparse.Namespace) -> int:
    from loyal.client.committee import CommitteeRunner
    from loyal.client.tls import Identity
    from loyal.protocols.ssa.committee import insecure_member_seed
    from loyal.server.limits import check_transport

    check_transport(args.server, args.ca is not None, args.insecure)
    seed = insecure_member_seed(args.insecure_seed) if args.insecure_seed is not None else None
    identity = Identity.load(args.key) if args.key else None
    result = CommitteeRunner(args.server, args.member_id, ca_file=args.ca, insecure_seed=seed, identity=identity,
                             genesis=parse_genesis(args.genesis), insecure=args.insecure,
                             authority=anchor_client(args, write=False)).run(args.timeout)
    emit_json({str(k): v for k, v in result.items()}) if args.json else print(result)
    return 0


def _key(args: argparse.Namespace) -> int:
    from loyal.client.tls import Identity

    identity = Identity()
    identity.save(args.out)
    out = {"public_key": identity.public_key.hex(), "key_file": args.out}
    emit_json(out) if args.json else print(out["public_key"])
    return 0


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    group = subparsers.add_parser("committee", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = sub.add_parser("run", help="serve as committee member until the job is done")
    p.add_argument("--server", required=True, help="HOST:PORT")
    p.add_argument("--member-id", type=positive_int, required=True, help="member index in 1..n")
    p.add_argument("--ca", help="CA certificate (ca.crt) for TLS")
    p.add_argument("--timeout", type=positive_float, default=3600.0, help="give up after this many seconds")
    p.add_argument("--insecure-seed", type=int, help="TESTS ONLY: seed key shares, noise and smudging")
    add_anchor_flags(p)
    p.add_argument("--key", help="this member's key file (`loyal committee key`; its public key is pinned in the job)")
    p.add_argument("--genesis", help="the job's published genesis (hex, `loyal server job`): refuse any other job")
    p.add_argument("--insecure", action="store_true",
                   help="TESTS ONLY: run without --genesis, accept an unsafe job and plaintext gRPC off loopback")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)

    p = sub.add_parser("key", help="create this member's Ed25519 key (file 0600); prints the public key to pin in the job")
    p.add_argument("--out", required=True, help="key file to write")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_key)


def main(argv: list[str] | None = None) -> int:
    """`python -m loyal.cli.committee run ...`: this group alone (fast start for supervisors and tests)."""
    import sys

    parser = argparse.ArgumentParser(prog="python -m loyal.cli.committee")
    register(parser.add_subparsers(dest="group"), "A decryptor committee member.")
    args = parser.parse_args(["committee", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
