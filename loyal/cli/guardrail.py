# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal guardrail serve|eval|check`: the K-12 guardrail service (loyal.methods.guardrail)."""

from __future__ import annotations

import argparse
import logging
import sys

from loyal.cli._common import emit_json, positive_int, tcp_port

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, help_text: str) -> None:
    group = sub.add_parser("guardrail", help=help_text, description=help_text)
    cmds = group.add_subparsers(dest="guardrail_command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    p = cmds.add_parser("serve", help="train the guard on the bundled policy and serve POST /v1/check over HTTP")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=tcp_port, default=8089, help="TCP port (default 8089; 0 = any free)")
    p.add_argument("--max-batch", type=positive_int, default=32, help="most prompts per classifier call (default 32)")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="batching window in ms (default 5)")
    p.add_argument("--torch-threads", type=positive_int, default=None,
                   help="torch intra-op threads (default: torch's choice; 1 is best on a busy 2-core machine)")
    p.set_defaults(func=_serve)
    p = cmds.add_parser("eval", help="trained head vs keyword and zero-shot baselines on the held-out prompts")
    p.add_argument("--bootstrap", type=positive_int, default=1000, help="bootstrap resamples for the CIs (>= 10)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=_eval)
    p = cmds.add_parser("check", help="classify prompts (locally, or with --url against a running server)")
    p.add_argument("prompts", nargs="+", help="prompt texts")
    p.add_argument("--url", default=None, help="a running `loyal guardrail serve`, e.g. http://127.0.0.1:8089")
    p.add_argument("--json", action="store_true", help="print verdicts as JSON")
    p.set_defaults(func=_check)


def _serve(args: argparse.Namespace) -> int:
    from loyal.methods.guardrail.experiment import trained_guard
    from loyal.methods.guardrail.server import BatchingGuard, GuardrailServer

    if args.max_wait_ms < 0:
        raise ValueError(f"--max-wait-ms must be >= 0, got {args.max_wait_ms}")
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    guard, record = trained_guard()
    logger.info("guard trained (C=%s)", record["c"])
    with BatchingGuard(guard.check, args.max_batch, args.max_wait_ms / 1e3) as batcher:
        server = GuardrailServer(batcher, args.port, args.host)
        print(f"guardrail serving on {server.url} (POST /v1/check, GET /health); Ctrl-C stops", file=sys.stderr)
        try:
            server.serve_forever()
        finally:
            server.close()
    return 0


def _eval(args: argparse.Namespace) -> int:
    from loyal.methods.guardrail.experiment import CLASSIFIERS, GuardrailConfig, evaluate

    report = evaluate(GuardrailConfig(bootstrap=args.bootstrap))
    if args.json:
        emit_json(report)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"K-12 guardrail, held-out synthetic prompts (n = {report['n_test']}), 95 % bootstrap CIs")
    for column in ("classifier", "macro F1", "false refusals (allowed)", "refusals (harmful)"):
        table.add_column(column)
    for name in CLASSIFIERS:
        cells = [f"{report[name][k]['value']:.3f} [{report[name][k]['ci95'][0]:.3f}, {report[name][k]['ci95'][1]:.3f}]"
                 for k in ("macro_f1", "false_refusal_rate", "harmful_refusal_rate")]
        table.add_row(name, *cells)
    Console().print(table)
    return 0


def _check(args: argparse.Namespace) -> int:
    import dataclasses

    if args.url:
        from loyal.methods.guardrail.server import check_remote

        verdicts = [check_remote(args.url.rstrip("/"), p) for p in args.prompts]
    else:
        from loyal.methods.guardrail.experiment import trained_guard

        verdicts = [dataclasses.asdict(v) for v in trained_guard()[0].check(args.prompts)]
    if args.json:
        emit_json(verdicts)
    else:
        for prompt, v in zip(args.prompts, verdicts):
            print(f"{'ALLOW' if v['allowed'] else 'REFUSE'}\t{v['category']}\t{v['score']:.2f}\t{prompt}")
    return 0
