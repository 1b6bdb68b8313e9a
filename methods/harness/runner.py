# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Runs one method end to end: arms (plain functions or Ray actors), summary, figures, result.json."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loyal.methods.harness.registry import get_method
from loyal.methods.harness.result import RunResult, environment, new_run_dir, write_run
from loyal.methods.harness.timing import Timer

logger = logging.getLogger(__name__)


def run_method(
    name: str,
    config: Any,
    *,
    out: str | Path = "runs",
    quick: bool = False,
    use_ray: bool = False,
    max_actors: int = 4,
    on_arm: Callable[[int, int, dict], None] | None = None,
) -> tuple[RunResult, Path]:
    """Runs method `name` with `config` and writes `out/methods/NAME/<timestamp>/{result.json, *.png}`.

    Args:
      name: registry name.
      config: an instance of the method's config class (see `load_config`).
      out: root of the run folders.
      quick: recorded in the result (the caller chose the quick config).
      use_ray: run each arm in a `MethodActor` on the already-initialised Ray; else plain function calls.
      max_actors: size of the actor pool when `use_ray`.
      on_arm: progress callback `(done, total, arm)` after each arm.

    Returns:
      The result and the run folder.
    """
    spec = get_method(name)
    if not isinstance(config, spec.config_cls):
        raise TypeError(f"config must be a {spec.config_cls.__name__}, got {type(config).__name__}")
    timer = Timer()
    start = time.perf_counter()
    arms = spec.arms(config)
    done = 0

    def progress(i: int, _result: dict) -> None:
        nonlocal done
        done += 1
        if on_arm is not None:
            on_arm(done, len(arms), arms[i])

    with timer.section("arms"):
        if use_ray:
            from loyal.methods.harness.actor import run_arms_on_ray

            results = run_arms_on_ray(name, config, arms, max_actors=max_actors, on_arm=progress)
        else:
            results = []
            for i, arm in enumerate(arms):
                results.append(spec.run_arm(config, arm))
                progress(i, results[-1])
    run_dir = new_run_dir(out, name)
    with timer.section("summarize"):
        metrics, figures = spec.summarize(config, results, run_dir)
    timer.seconds["total"] = time.perf_counter() - start
    seeds = sorted({int(a["seed"]) for a in arms if "seed" in a})
    result = RunResult(
        method=name, paper=spec.paper, claim=spec.claim, quick=quick, config=dataclasses.asdict(config), seeds=seeds,
        timings=timer.seconds, metrics=metrics, figures=figures, environment=environment(),
        executor="ray" if use_ray else "local",
    )
    write_run(run_dir, result)
    logger.info("%s: wrote %s", name, run_dir)
    return result, run_dir
