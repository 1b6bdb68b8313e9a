# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Seeding: one seeded numpy Generator per arm, and torch/random seeded alike when they are in use."""

from __future__ import annotations

import random
import sys

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seeds `random`, and torch if it is already imported; returns `np.random.default_rng(seed)`.

    Args:
      seed: a non-negative integer.

    Raises:
      ValueError: `seed` is negative.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    return np.random.default_rng(seed)
