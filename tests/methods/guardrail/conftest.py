# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A fast stand-in embedder for tests that do not need the real model: hashed bag of words, unit norm."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest


def hashed_bow(texts: Sequence[str], dim: int = 256) -> np.ndarray:
    """Each word adds 1 at a hash-chosen coordinate; rows are L2-normalised (zero rows stay zero)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in re.findall(r"[a-z']+", t.lower()):
            out[i, int(hashlib.blake2b(w.encode(), digest_size=4).hexdigest(), 16) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


@pytest.fixture
def fake_embed():
    return hashed_bow
