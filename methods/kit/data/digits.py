# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""sklearn's bundled digits (8x8, 10 classes) split non-IID across clients by Dirichlet label skew.

The split follows Hsu et al., "Measuring the Effects of Non-Identical Data Distribution for Federated
Visual Classification" (arXiv 1909.06335): for every class, the class's samples are divided among
clients in proportions drawn from Dir(alpha); small alpha gives each client few classes. Each client's
samples are then split 80/20 into train and test.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from loyal.methods.kit.data.cache import cache_dir, cache_key, scratch_path

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1
#: Attempts at a Dirichlet draw in which every client gets at least `min_samples` samples.
_MAX_DRAWS = 1000


@dataclasses.dataclass(frozen=True)
class FederatedDigits:
    """Per-client arrays: x float32 in [0, 1] of shape (n, 64), y int64 labels."""

    client_ids: tuple[str, ...]
    train: dict[str, tuple[np.ndarray, np.ndarray]] = dataclasses.field(repr=False)
    test: dict[str, tuple[np.ndarray, np.ndarray]] = dataclasses.field(repr=False)
    num_classes: int = 10

    def num_train(self, client_id: str) -> int:
        return len(self.train[client_id][1])

    def num_test(self, client_id: str) -> int:
        return len(self.test[client_id][1])

    def train_arrays(self, client_id: str) -> tuple[np.ndarray, np.ndarray]:
        return self.train[client_id]

    def test_arrays(self, client_id: str) -> tuple[np.ndarray, np.ndarray]:
        return self.test[client_id]

    def stats(self) -> dict[str, float | int]:
        train = [self.num_train(c) for c in self.client_ids]
        test = [self.num_test(c) for c in self.client_ids]
        labels = [len(np.unique(np.concatenate([self.train[c][1], self.test[c][1]]))) for c in self.client_ids]
        return {
            "clients": len(self.client_ids),
            "train_samples": int(sum(train)),
            "test_samples": int(sum(test)),
            "num_classes": self.num_classes,
            "median_samples_per_client": float(np.median(np.add(train, test))),
            "median_classes_per_client": float(np.median(labels)),
        }


def dirichlet_partition(
    labels: np.ndarray, num_clients: int, alpha: float, rng: np.random.Generator, min_samples: int
) -> list[np.ndarray]:
    """Splits sample indices among clients with per-class proportions ~ Dir(alpha).

    Redraws (up to a fixed number of attempts) until every client holds at least `min_samples`.

    Raises:
      ValueError: no draw gave every client `min_samples` samples.
    """
    classes = np.unique(labels)
    for _ in range(_MAX_DRAWS):
        draws, sizes = [], np.zeros(num_clients, dtype=np.int64)
        for c in classes:
            idx = rng.permutation(np.flatnonzero(labels == c))
            props = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(props)[:-1] * len(idx)).astype(int)
            sizes += np.diff(np.concatenate([[0], cuts, [len(idx)]]))
            draws.append((idx, cuts))
        if sizes.min() >= min_samples:
            parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
            for idx, cuts in draws:
                for client, chunk in enumerate(np.split(idx, cuts)):
                    parts[client].append(chunk)
            return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]
    raise ValueError(
        f"could not give each of {num_clients} clients >= {min_samples} samples with alpha={alpha} "
        f"in {_MAX_DRAWS} draws; use fewer clients or a larger alpha"
    )


def load_digits_federated(
    num_clients: int = 100, alpha: float = 0.5, seed: int = 0, min_samples: int = 2, train_fraction: float = 0.8
) -> FederatedDigits:
    """Builds (or reads from the cache) the federated digits data set.

    Args:
      num_clients: number of clients, in [1, 1797 // min_samples].
      alpha: Dirichlet concentration, > 0; small values skew labels more. Default 0.5.
      seed: seed of the partition (deterministic).
      min_samples: minimum samples per client (>= 2 so train and test are non-empty).
      train_fraction: per-client train fraction in (0, 1).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    total = len(digits.target)
    if min_samples < 2:
        raise ValueError(f"min_samples must be >= 2 (one train and one test sample), got {min_samples}")
    if not 1 <= num_clients <= total // min_samples:
        raise ValueError(
            f"clients must be in [1, {total // min_samples}] for {total} digits with >= {min_samples} "
            f"samples each, got {num_clients}"
        )
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")

    key = cache_key(kind="digits", v=_FORMAT_VERSION, n=num_clients, a=alpha, s=seed, m=min_samples, f=train_fraction)
    path = cache_dir() / f"digits-{key}.npz"
    x_all = (digits.data / 16.0).astype(np.float32)
    y_all = digits.target.astype(np.int64)
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            parts = np.split(z["order"], z["offsets"][1:-1])
            cuts = z["cuts"]
    else:
        rng = np.random.default_rng(seed)  # data split only: not cryptographic
        parts = dirichlet_partition(y_all, num_clients, alpha, rng, min_samples)
        parts = [rng.permutation(p) for p in parts]
        cuts = np.array([min(len(p) - 1, max(1, int(round(train_fraction * len(p))))) for p in parts])
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
        tmp = scratch_path(path, ".npz")
        np.savez(tmp, order=np.concatenate(parts), offsets=offsets, cuts=cuts)
        tmp.replace(path)
    ids = tuple(f"client_{i:05d}" for i in range(num_clients))
    train = {c: (x_all[p[:k]], y_all[p[:k]]) for c, p, k in zip(ids, parts, cuts)}
    test = {c: (x_all[p[k:]], y_all[p[k:]]) for c, p, k in zip(ids, parts, cuts)}
    return FederatedDigits(ids, train, test)
