# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal bench NAME`: runs benchmarks/NAME.py (`loyal.benchmarks`), writes NAME.{json,md} to --out or the user data dir.

A benchmark module defines `run(args) -> dict` and `markdown(results) -> str`. To add one, add its
name to BENCHMARKS and, if it takes options, a function to _OPTIONS.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
from importlib import resources

from loyal.cli._common import emit_json

BENCHMARKS = ("dpftrl", "gas", "ssa", "server", "sim", "flower")


def _root() -> pathlib.Path:
    """The benchmark definitions: the `loyal.benchmarks` package (the repository's benchmarks/ when editable)."""
    return pathlib.Path(str(resources.files("loyal.benchmarks")))


def __getattr__(name: str):  # `_ROOT`, resolved on first use so that `loyal --help` never imports the benchmarks
    if name == "_ROOT":
        return _root()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _dpftrl_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rounds", type=int, default=2000, help="BLT rounds (default 2000)")
    p.add_argument("--dim", type=int, default=1_000_000, help="noise dimension d (default 1e6)")
    p.add_argument("--buffers", type=int, default=4, help="BLT buffers m (default 4)")
    p.add_argument("--dense-steps", type=int, default=1024, help="n of the dense optimum (default 1024)")


def _ssa_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dim", type=int, default=100_000, help="vector length d (default 1e5)")
    p.add_argument("--clients", type=int, default=1000, help="clients the server aggregates (default 1000)")
    p.add_argument("--tenseal-clients", type=int, default=10, help="clients TenSEAL adds, scaled (default 10)")
    p.add_argument("--repeats", type=int, default=5, help="encryptions timed, median (default 5)")
    p.add_argument("--pool", type=int, default=4, help="distinct uploads re-framed as clients (default 4)")


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dim", type=int, default=100_000, help="vector length d (default 1e5)")
    p.add_argument("--submissions", type=int, default=100, help="uploads timed per server and load (default 100)")
    p.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL",
                   help="the store's durability (default FULL, as `loyal server start`; NORMAL: no fsync per answer)")


def _sim_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clients", type=int, default=10_000, help="clients in the round (default 10000)")
    p.add_argument("--dim", type=int, default=100_000, help="update length d (default 1e5)")
    p.add_argument("--baseline-clients", type=int, default=1000, help="clients the numpy baseline runs, scaled (default 1000)")


def _flower_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clients", type=int, default=20, help="clients in the round (default 20; the target is stated at 100)")
    p.add_argument("--dim", type=int, default=100_000, help="update length d (default 1e5)")
    p.add_argument("--num-shares", type=int, default=11, help="SecAgg+ shares, odd (default 11)")
    p.add_argument("--threshold", type=int, default=7, help="SecAgg+ reconstruction threshold (default 7)")
    p.add_argument("--actors", type=int, default=0,
                   help="ClientApp actors of one CPU each, the same for every arm (default 0: one per core)")


#: Benchmark name -> function adding its options (declared here so `loyal` starts without importing them).
_OPTIONS = {"dpftrl": _dpftrl_options, "ssa": _ssa_options, "server": _server_options, "sim": _sim_options, "flower": _flower_options}


def _load(name: str):
    path = _root() / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"benchmark file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"loyal_benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def default_out_dir() -> pathlib.Path:
    """Where results go without --out: `$LOYAL_CACHE_DIR/bench` or the user data dir, never the source tree
    (the committed `benchmarks/results/` are refreshed with `--out benchmarks/results`)."""
    import os

    root = os.environ.get("LOYAL_CACHE_DIR")
    if root is None:
        import platformdirs

        return pathlib.Path(platformdirs.user_data_dir("loyal")) / "bench"
    return pathlib.Path(root) / "bench"


#: Benchmarks stated "on one core": their BLAS is single-threaded from process start. A pool limited later
#: (threadpoolctl) keeps an idle OpenBLAS thread that slows the timed core by ~1.5× on this 2-vCPU VM
#: (client encryption 16.7 ms vs 10.5 ms in the same hour).
_ONE_CORE = ("ssa",)


def _run(args: argparse.Namespace) -> int:
    import os
    import sys

    if args.bench in _ONE_CORE and "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
    module = _load(args.bench)
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn(f"[bold]loyal bench {args.bench}[/bold]"), TimeElapsedColumn(),
                  console=Console(file=sys.stderr), transient=True) as progress:
        progress.add_task(args.bench, total=None)
        results = module.run(args)
    out_dir = pathlib.Path(args.out) if args.out else default_out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{args.bench}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{args.bench}.md").write_text(module.markdown(results))
    if args.json:
        emit_json(results)
    else:
        print(module.markdown(results))
    return 0


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    """Adds `loyal bench <name>` for every benchmark in BENCHMARKS."""
    group = subparsers.add_parser("bench", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="bench", metavar="BENCHMARK", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])
    for name in BENCHMARKS:
        p = sub.add_parser(name, help=f"benchmarks/{name}.py")
        p.add_argument("--json", action="store_true", help="print the results as JSON")
        p.add_argument("--out", help="folder for NAME.json and NAME.md (default: the user data dir; the committed "
                                     "results: --out benchmarks/results)")
        _OPTIONS.get(name, lambda _: None)(p)
        p.set_defaults(func=_run)
