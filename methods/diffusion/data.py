# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""sklearn's 8×8 digits (1797 images, bundled with scikit-learn) scaled to [−1, 1]."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np


@functools.lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0 * 2.0 - 1.0).astype(np.float32), data.target.astype(np.int64)


def digits(classes: Sequence[int] = tuple(range(10))) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): the images of `classes` as (n, 64) in [−1, 1], and y = the index of each label in `classes`."""
    x, y = _all_digits()
    keep = np.isin(y, list(classes))
    lookup = {c: i for i, c in enumerate(classes)}
    return x[keep], np.array([lookup[int(v)] for v in y[keep]], dtype=np.int64)
