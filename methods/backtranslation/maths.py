# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Embedding-space comparisons of arXiv 2408.04614 Sec. 4.2 (rewritten vs distilled responses), in numpy.

The paper plots both response sets in embedding space (t-SNE) and finds them distinct, with rewritten
responses more diverse. We report: row-wise cosine similarity of each response to its source document,
diversity as the mean pairwise cosine distance within a set, the held-out accuracy of a linear probe telling
the two sets apart, and a 2-D PCA projection for the figure.
"""

from __future__ import annotations

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("embeddings must have no zero rows")
    return x / norms


def paired_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """cos(a_i, b_i) for each row i; `a` and `b` have the same shape (n, d)."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"a and b must have the same shape, got {np.shape(a)} and {np.shape(b)}")
    return np.sum(_unit(a) * _unit(b), axis=1)


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Diversity: mean of 1 − cos(x_i, x_j) over the n(n−1)/2 pairs i < j; needs n >= 2.

    Uses Σ_{i≠j} cos = ‖Σ_i u_i‖² − n for unit rows u_i, so it is O(n d) rather than O(n² d).
    """
    u = _unit(x)
    n = len(u)
    if n < 2:
        raise ValueError(f"need at least 2 embeddings, got {n}")
    off_diagonal = float(np.sum(u.sum(axis=0) ** 2)) - n
    return 1.0 - off_diagonal / (n * (n - 1))


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Projection of the centred rows of `x` on its two leading principal axes (SVD), shape (n, 2).

    The sign of each axis is fixed so that its largest-magnitude loading is positive (deterministic output).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"need an (n >= 2, d >= 2) array, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    signs = np.sign(axes[np.arange(2), np.argmax(np.abs(axes), axis=1)])
    return centred @ (axes * signs[:, None]).T


def probe_accuracy(a: np.ndarray, b: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a logistic-regression probe separating rows of `a` from rows of `b`
    (0.5: indistinguishable; 1.0: linearly separable); stratified `folds`-fold, each set needs >= folds rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    if min(len(a), len(b)) < folds:
        raise ValueError(f"each set needs >= folds={folds} rows, got {len(a)} and {len(b)}")
    x = np.concatenate([_unit(a), _unit(b)])
    y = np.array([0] * len(a) + [1] * len(b))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(LogisticRegression(max_iter=2000), x, y, cv=split)))
