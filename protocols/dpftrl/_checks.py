# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Shared validators for the DP-FTRL package (as jax_privacy/matrix_factorization/_checks.py)."""

from __future__ import annotations

import math

import numpy as np


def check_positive_int(value: int, name: str) -> None:
    """Raises ValueError unless `value` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {name}={value!r}")


def check_schema(steps: int, participations: int, min_separation: int) -> None:
    """Checks that k participations separated by >= b fit in n steps: (k - 1) * b + 1 <= n."""
    check_positive_int(steps, "steps")
    check_positive_int(participations, "participations")
    check_positive_int(min_separation, "min_separation")
    if min_separation > steps:
        raise ValueError(
            f"min_separation must be in [1, steps], got min_separation={min_separation}, steps={steps}"
        )
    if (participations - 1) * min_separation + 1 > steps:
        raise ValueError(
            f"impossible participation schema: {participations} participations separated by >= "
            f"{min_separation} steps need (k-1)*b+1 = {(participations - 1) * min_separation + 1} steps, "
            f"but steps={steps}"
        )


def check_noise_multiplier(value: float, name: str = "noise_multiplier") -> None:
    """Raises ValueError unless `value` is a finite number >= 0."""
    if not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {name}={value!r}")


def check_delta(delta: float) -> None:
    """Raises ValueError unless 0 < delta < 1."""
    if not isinstance(delta, (int, float, np.floating)) or not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got delta={delta!r}")


def check_positive(value: float, name: str) -> None:
    """Raises ValueError unless `value` is a finite number > 0."""
    if not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")


def check_lower_triangular(matrix: np.ndarray, name: str) -> None:
    """Raises ValueError unless `matrix` is square, finite and lower-triangular with non-zero diagonal."""
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name} must be finite")
    if np.any(np.triu(matrix, 1) != 0):
        raise ValueError(f"{name} must be lower-triangular (a streaming mechanism)")
    if np.any(np.diag(matrix) == 0):
        raise ValueError(f"{name} must have a non-zero diagonal (invertible)")
