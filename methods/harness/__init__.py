# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The shared experiment harness of the methods library: registry, configs, seeds, timing, results, plots, Ray."""

from loyal.methods.harness.config import ConfigError, load_config
from loyal.methods.harness.registry import METHODS, MethodSpec, get_method, list_methods
from loyal.methods.harness.result import RunResult, environment, new_run_dir, write_run
from loyal.methods.harness.runner import run_method
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.harness.timing import Timer

__all__ = [
    "METHODS", "ConfigError", "MethodSpec", "RunResult", "Timer", "environment", "get_method", "list_methods",
    "load_config", "new_run_dir", "run_method", "seed_everything", "write_run",
]
