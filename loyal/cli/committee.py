# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal committee run`: a committee member process (key generation, noise shares, partial decryptions)."""

from __future__ import annotations

import argparse

from loyal.cli._common import emit_json, positive_float, positive_int


def _run(args: argparse.Namespace) -> int:
    from loyal.client.committee import CommitteeRunner
    from loyal.protocols.ssa.committee import insecure_member_seed
    seed = insecure_member_seed(args.insecure_seed) if args.insecure_seed is not None else None
    try:
        digest = bytes.fromhex(args.policy_digest) if args.policy_digest else None
    except ValueError:
        raise ValueError(f"--policy-digest must be hex (from `loyal server policy`), got {args.policy_digest!r}") from None
    result = CommitteeRunner(args.server, args.member_id, ca_file=args.ca, insecure_seed=seed,
                             policy_digest=digest).run(args.timeout)
    emit_json({str(k): v for k, v in result.items()}) if args.json else print(result)
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
    p.add_argument("--policy-digest", help="published policy digest (hex, `loyal server policy`); refuse other jobs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def main(argv: list[str] | None = None) -> int:
    """`python -m loyal.cli.committee run ...`: this group alone (fast start for supervisors and tests)."""
    import sys

    parser = argparse.ArgumentParser(prog="python -m loyal.cli.committee")
    register(parser.add_subparsers(dest="group"), "A decryptor committee member.")
    args = parser.parse_args(["committee", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
