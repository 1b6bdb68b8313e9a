# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal dpftrl`: mechanism errors, privacy accounting, noise calibration and error plots."""

from __future__ import annotations

import argparse

from loyal.cli._common import emit_json, positive_float, positive_int


def _add_mechanism_args(p: argparse.ArgumentParser, *, with_name: bool = True) -> None:
    if with_name:
        p.add_argument("--mechanism", required=True, help="identity|tree|tree-honaker|banded-toeplitz|blt|dense")
    p.add_argument("--steps", type=positive_int, required=True, help="number of rounds n")
    p.add_argument("--participations", type=positive_int, default=1, help="k (default 1)")
    p.add_argument("--min-separation", type=positive_int, default=None, help="b (default n // k)")
    p.add_argument("--bands", type=positive_int, default=None, help="banded-toeplitz: bands in [1, n]")
    p.add_argument("--buffers", type=positive_int, default=None, help="blt: buffers m (default 4)")
    p.add_argument("--optimize", choices=("mean", "max"), default="mean", help="error to optimize")


def _build(args: argparse.Namespace, name: str):
    from loyal.protocols.dpftrl import build_mechanism

    return build_mechanism(
        name,
        args.steps,
        participations=args.participations,
        min_separation=args.min_separation,
        bands=args.bands,
        buffers=args.buffers,
        optimize=args.optimize,
    )


def _rmse(args: argparse.Namespace) -> int:
    mechanism = _build(args, args.mechanism)
    out = mechanism.summary()
    if args.json:
        emit_json(out)
    else:
        bound = "" if mechanism.sensitivity_is_exact() else " (sensitivity is an upper bound)"
        print(" ".join(f"{k}={v}" for k, v in out.items()) + bound)
    return 0


def _epsilon(args: argparse.Namespace) -> int:
    from loyal.protocols.dpftrl import accounting

    if args.rho is not None:
        if args.noise_multiplier is not None:
            raise ValueError("give either --rho or --noise-multiplier, not both")
        out = {"epsilon": accounting.zcdp_epsilon(args.rho, args.delta), "rho": args.rho, "accountant": "zcdp"}
    else:
        if args.noise_multiplier is None:
            raise ValueError("--noise-multiplier (or --rho) is required")
        eps = accounting.epsilon(
            args.noise_multiplier, args.delta, sensitivity=args.sensitivity, accountant=args.accountant
        )
        out = {
            "epsilon": eps,
            "rho": accounting.rho(args.noise_multiplier, sensitivity=args.sensitivity),
            "accountant": args.accountant,
        }
    if args.json:
        emit_json(out)
    else:
        print(f"epsilon={out['epsilon']:.6g} rho={out['rho']:.6g} ({out['accountant']})")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from loyal.protocols.dpftrl import accounting

    mechanism = _build(args, args.mechanism)
    sens = mechanism.sensitivity()
    effective = accounting.calibrate_noise_multiplier(args.epsilon, args.delta, accountant=args.accountant)
    out = {
        "mechanism": mechanism.name,
        "steps": mechanism.steps,
        "epsilon": args.epsilon,
        "delta": args.delta,
        "accountant": args.accountant,
        "noise_multiplier": effective,
        "sensitivity": sens,
        "noise_stddev": effective * sens,
        "achieved_epsilon": accounting.epsilon(effective, args.delta, accountant=args.accountant),
        "rmse": mechanism.rmse() * effective,
    }
    if args.json:
        emit_json(out)
    else:
        print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def _plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.strip() for s in args.mechanisms.split(",") if s.strip()]
    if not names:
        raise ValueError("--mechanisms must name at least one mechanism")
    mechanisms = [_build(args, name) for name in names]  # validates every name before drawing
    fig, ax = plt.subplots(figsize=(7, 4))
    for m in mechanisms:
        ax.plot(range(1, m.steps + 1), m.per_step_error(), label=f"{m.name} (rmse {m.rmse():.3g})")
    ax.set_xlabel("step t")
    ax.set_ylabel("error std of prefix sum (unit noise multiplier)")
    ax.set_title(f"n={args.steps}, k={args.participations}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    plt.close(fig)
    out = {"out": str(args.out), "mechanisms": [m.summary() for m in mechanisms]}
    if args.json:
        emit_json(out)
    else:
        print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    """Adds `loyal dpftrl {rmse,epsilon,calibrate,plot}`."""
    group = subparsers.add_parser("dpftrl", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])

    p = sub.add_parser("rmse", help="rmse, max error and sensitivity of a mechanism")
    _add_mechanism_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_rmse)

    p = sub.add_parser("epsilon", help="epsilon of the Gaussian release (or of rho-zCDP)")
    p.add_argument("--noise-multiplier", type=float, default=None, help="noise std in clip norms, >= 0")
    p.add_argument("--sensitivity", type=float, default=1.0, help="sens(C) (default 1)")
    p.add_argument("--rho", type=float, default=None, help="convert rho-zCDP instead")
    p.add_argument("--delta", type=float, required=True)
    p.add_argument("--accountant", choices=("pld", "rdp"), default="pld")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_epsilon)

    p = sub.add_parser("calibrate", help="smallest noise multiplier reaching a target epsilon")
    p.add_argument("--epsilon", type=positive_float, required=True)
    p.add_argument("--delta", type=float, required=True)
    p.add_argument("--accountant", choices=("pld", "rdp"), default="pld")
    _add_mechanism_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("plot", help="per-step error curves as a PNG")
    p.add_argument("--mechanisms", required=True, help="comma-separated names")
    _add_mechanism_args(p, with_name=False)
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_plot)
