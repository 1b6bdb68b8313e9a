# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal ssa`: parameter selection and the in-process protocol self-test."""

from __future__ import annotations

import argparse

from loyal.cli._common import emit_json, positive_int


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _params(args: argparse.Namespace) -> int:
    from loyal.protocols.rlwe.selection import Workload, select_parameters

    work = Workload(
        dim=args.dim, clients=args.clients, value_bound=(1 << (args.value_bits - 1)),
        coefficient_l1=args.coefficient_l1, committee_size=args.committee, releases=args.releases,
    )
    sel = select_parameters(work)
    p = sel.params
    out = {
        "ring_degree": p.ring_degree,
        "moduli_bits": {"kahe": round(p.kahe_ring.modulus_bits, 1), "ahe": round(p.ahe_ring.modulus_bits, 1)},
        "plaintext_bits": sel.kahe_plaintext_bits,
        "bytes_per_client": sel.bytes_per_client(args.dim),
        "expansion": round(sel.expansion(args.dim), 4),
        "security_bits": p.security_bits,
        "parameter_set": p.name,
        "ahe_plaintext_bits": sel.ahe_plaintext_bits,
        "smudging_bits": sel.smudging_bits,
        "security_margin_bits": round(p.security_margin_bits, 1),
    }
    if args.json:
        emit_json(out)
    else:
        print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def _selftest(args: argparse.Namespace) -> int:
    from loyal.protocols.ssa.selftest import run_selftest

    out = run_selftest(
        clients=args.clients, dim=args.dim, rounds=args.rounds, noise_multiplier=args.noise_multiplier,
        committee=args.committee, threshold=args.threshold, scale=float(1 << args.scale_bits),
    )
    if args.json:
        emit_json(out)
    else:
        print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    """Adds `loyal ssa params` and `loyal ssa selftest`."""
    group = subparsers.add_parser("ssa", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])

    p = sub.add_parser("params", help="the cheapest 128-bit RLWE parameter set for a workload")
    p.add_argument("--dim", type=positive_int, required=True, help="vector length d (<= 1e8)")
    p.add_argument("--clients", type=positive_int, required=True, help="clients per round (<= 1e7)")
    p.add_argument("--committee", type=positive_int, default=5, help="committee size (default 5)")
    p.add_argument("--releases", type=positive_int, default=1000,
                   help="release rows the job decrypts; sizes the smudging for the whole job (default 1000)")
    p.add_argument("--value-bits", type=positive_int, default=16, help="bits of one encoded coordinate incl. sign (default 16)")
    p.add_argument("--coefficient-l1", type=positive_int, default=1 << 10, help="max ||c||_1 of a release row (default 1024)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_params)

    s = sub.add_parser("selftest", help="run the whole protocol in one process and check prefix sums")
    s.add_argument("--clients", type=positive_int, required=True)
    s.add_argument("--dim", type=positive_int, required=True)
    s.add_argument("--rounds", type=positive_int, required=True)
    s.add_argument("--noise-multiplier", type=_non_negative_float, default=0.0, help="z >= 0 (default 0)")
    s.add_argument("--committee", type=positive_int, default=5, help="committee size (default 5)")
    s.add_argument("--threshold", type=positive_int, default=3, help="t of the t-of-n sharing (default 3)")
    s.add_argument("--scale-bits", type=positive_int, default=10, help="fixed-point scale 2^bits (default 10)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_selftest)
