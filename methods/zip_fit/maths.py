# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""gzip normalized compression distance and ZIP-FIT selection (arXiv 2410.18194, Sec. 2, Alg. 1).

NCD(x, y) = (C(xy) − min(C(x), C(y))) / max(C(x), C(y)) with C the gzip-compressed length (Li et al.
2004; the paper's Eq. (1)). ZIP-FIT scores a candidate by its mean alignment 1 − NCD with the target
examples and keeps the top k (Alg. 1). The paper uses gzip at a high compression level; we require ≥ 6.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import numpy as np

#: Lowest gzip level accepted: lower levels use short back-reference windows and blur NCD.
MIN_LEVEL = 6


def _check_level(level: int) -> None:
    if not MIN_LEVEL <= level <= 9:
        raise ValueError(f"level must be in [{MIN_LEVEL}, 9], got {level}")


def compressed_size(data: bytes, level: int = 9) -> int:
    """C(data): length of `gzip.compress(data, level, mtime=0)` (deterministic)."""
    _check_level(level)
    return len(gzip.compress(data, compresslevel=level, mtime=0))


def ncd(x: bytes, y: bytes, level: int = 9) -> float:
    """Normalized compression distance of x and y (Eq. (1)); ≈ 0 for identical inputs, ≈ 1 for unrelated."""
    cx, cy = compressed_size(x, level), compressed_size(y, level)
    return (compressed_size(x + y, level) - min(cx, cy)) / max(cx, cy)


def alignment_scores(candidates: Sequence[str], targets: Sequence[str], level: int = 9) -> np.ndarray:
    """ZIP-FIT alignment of every candidate: mean over targets of 1 − NCD(candidate, target).

    Args:
      candidates: texts to score (UTF-8 encoded).
      targets: target-task examples, non-empty.
      level: gzip level in [6, 9].
    """
    _check_level(level)
    if not targets:
        raise ValueError("targets must be non-empty")
    t_bytes = [t.encode("utf-8") for t in targets]
    t_sizes = [compressed_size(t, level) for t in t_bytes]
    scores = np.empty(len(candidates))
    for i, candidate in enumerate(candidates):
        c = candidate.encode("utf-8")
        cc = compressed_size(c, level)
        total = 0.0
        for t, ct in zip(t_bytes, t_sizes):
            total += 1.0 - (compressed_size(c + t, level) - min(cc, ct)) / max(cc, ct)
        scores[i] = total / len(t_bytes)
    return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first (ties: lower index first)."""
    if not 1 <= k <= len(scores):
        raise ValueError(f"k must be in [1, {len(scores)}], got {k}")
    return np.lexsort((np.arange(len(scores)), -np.asarray(scores)))[:k]
