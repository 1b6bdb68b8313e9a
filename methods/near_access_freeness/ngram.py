# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Character n-gram models with interpolated Witten-Bell smoothing (Witten & Bell 1991; Chen & Goodman 1998, Sec. 2.5).

P_0(y) = (c(y) + 1) / (N + V) and, for a context h of length j ≥ 1 with suffix h' of length j − 1,
P_j(y|h) = (c(h, y) + T(h)·P_{j−1}(y|h')) / (c(h) + T(h)), T(h) the number of distinct y seen after h
(P_j = P_{j−1} when h was never seen). Every probability is > 0, so every max-divergence is finite.
Counts are stored as sorted int64 keys (context id · V + y), looked up with `np.searchsorted`.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class NgramModel:
    """A trained order-n character model.

    Attributes:
      order: n, in [1, 8] (contexts of n − 1 characters; 81⁸ keys still fit int64).
      vocab_size: V ≥ 2.
      unigram: (V,) counts c(y).
      keys, counts: per context length j = 1..n−1, sorted keys h_id·V + y and their counts.
    """

    order: int
    vocab_size: int
    unigram: np.ndarray = dataclasses.field(repr=False)
    keys: tuple[np.ndarray, ...] = dataclasses.field(repr=False)
    counts: tuple[np.ndarray, ...] = dataclasses.field(repr=False)

    @classmethod
    def fit(cls, ids: np.ndarray, order: int, vocab_size: int) -> NgramModel:
        """Counts every n-gram of `ids` (uint8 character ids < vocab_size).

        Raises:
          ValueError: order outside [1, 8], vocab_size < 2, or an id ≥ vocab_size.
        """
        if not 1 <= order <= 8:
            raise ValueError(f"order must be in [1, 8], got {order}")
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and ids.max() >= vocab_size:
            raise ValueError(f"ids must be < vocab_size={vocab_size}, got max {ids.max()}")
        unigram = np.bincount(ids, minlength=vocab_size).astype(float)
        keys, counts = [], []
        for j in range(1, order):
            h = _context_ids(ids, j, vocab_size)  # id of ids[t-j:t] for t >= j
            k, c = np.unique(h * vocab_size + ids[j:], return_counts=True)
            keys.append(k)
            counts.append(c.astype(float))
        return cls(order, vocab_size, unigram, tuple(keys), tuple(counts))

    def probs(self, contexts: np.ndarray) -> np.ndarray:
        """(N, V) next-character distributions given (N, ≥ order−1) contexts (only the last order−1 are read)."""
        contexts = np.asarray(contexts, dtype=np.int64)
        V = self.vocab_size
        n_rows = contexts.shape[0]
        P = np.broadcast_to((self.unigram + 1.0) / (self.unigram.sum() + V), (n_rows, V)).copy()
        ys = np.arange(V)
        for j in range(1, self.order):
            if contexts.shape[1] < j:
                break
            h = _context_ids(contexts[:, -j:], j, V, rows=True)
            k = (h * V)[:, None] + ys[None, :]
            pos = np.minimum(np.searchsorted(self.keys[j - 1], k), max(len(self.keys[j - 1]) - 1, 0))
            c = np.where(self.keys[j - 1][pos] == k, self.counts[j - 1][pos], 0.0) if len(self.keys[j - 1]) else np.zeros_like(P)
            total, types = c.sum(1, keepdims=True), (c > 0).sum(1, keepdims=True)
            seen = total > 0
            P = np.where(seen, (c + types * P) / np.maximum(total + types, 1.0), P)
        return P


def _context_ids(ids: np.ndarray, j: int, V: int, rows: bool = False) -> np.ndarray:
    """Base-V ids of length-j windows: of each row of a (N, j) array, or of ids[t−j:t] for every t ≥ j."""
    if rows:
        out = np.zeros(ids.shape[0], dtype=np.int64)
        for i in range(j):
            out = out * V + ids[:, i]
        return out
    n = len(ids) - j
    out = np.zeros(max(n, 0), dtype=np.int64)
    for i in range(j):
        out = out * V + ids[i : i + n]
    return out
