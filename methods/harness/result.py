# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The result schema of a method run and the run-folder writer (`runs/methods/NAME/<timestamp>/`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: Bump when the layout of result.json changes.
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class RunResult:
    """Everything `result.json` holds.

    Attributes:
      method: registry name.
      paper: arXiv id.
      claim: the paper's headline claim (what the metrics are compared with).
      quick: whether the `--quick` settings were used.
      config: the config dataclass as a dict.
      seeds: every seed the arms used.
      timings: seconds per section ("total", "arms", "summarize", per-arm sums ...).
      metrics: the method's measured numbers.
      figures: PNG file names in the run folder.
      environment: versions and devices (see `environment`).
      executor: "local" (plain functions) or "ray" (one actor per arm).
    """

    method: str
    paper: str
    claim: str
    quick: bool
    config: dict
    seeds: list[int]
    timings: dict[str, float]
    metrics: dict[str, Any]
    figures: list[str]
    environment: dict[str, Any]
    executor: str
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(obj: Any) -> Any:
    """Converts numpy scalars/arrays and tuples to JSON types, recursively."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def environment() -> dict[str, Any]:
    """Python, platform and library versions, and whether CUDA is present (torch only if already imported)."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    for name in ("torch", "scipy", "sklearn", "tokenizers", "ray"):
        module = sys.modules.get(name)
        if module is not None:
            env[name] = getattr(module, "__version__", "?")
    torch = sys.modules.get("torch")
    env["cuda"] = bool(torch is not None and torch.cuda.is_available())
    return env


def new_run_dir(out: str | Path, method: str) -> Path:
    """Creates and returns `out/methods/<method>/<UTC timestamp>/` (a suffix keeps concurrent runs apart)."""
    base = Path(out) / "methods" / method
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for i in range(1000):
        path = base / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a fresh run folder under {base}")


def write_run(run_dir: Path, result: RunResult) -> Path:
    """Writes `run_dir/result.json`; returns its path."""
    path = Path(run_dir) / "result.json"
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return path
