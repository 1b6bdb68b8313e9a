# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Shared fixtures and hypothesis profiles for the whole suite."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("default", max_examples=25, derandomize=True, deadline=None)
settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None)
settings.register_profile("thorough", max_examples=500, derandomize=False, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session writes caches, runs and FLWR_HOME under a temporary folder."""
    root = tmp_path_factory.mktemp("loyal-home")
    os.environ.setdefault("LOYAL_CACHE_DIR", str(root / "cache"))
    os.environ.setdefault("FLWR_HOME", str(root / "flwr"))


@pytest.fixture(scope="session")
def ray_cluster():
    """One local 2-CPU Ray cluster for the whole session, started only when a test asks for it."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()
