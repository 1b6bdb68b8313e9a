# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Burnt-fingerprint bookkeeping: a fingerprint revealed in a query or a challenge is public and never reused.

Design note `shared/design/oml.md` (Verification): "Each revealed fingerprint is burnt". The ledger is
immutable state: every operation returns a new `BurntLedger`, as role state is kept apart in this project.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np


class FingerprintSpentError(ValueError):
    """A fingerprint that is already burnt was offered again."""


@dataclasses.dataclass(frozen=True)
class BurntLedger:
    """Which of the owner's `total` fingerprints are spent.

    Attributes:
      total: number of fingerprints the owner holds (indices 0..total−1), ≥ 1.
      spent: indices already revealed.
    """

    total: int
    spent: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.total, bool) or not isinstance(self.total, int) or self.total < 1:
            raise ValueError(f"total must be an integer ≥ 1, got {self.total!r}")
        object.__setattr__(self, "spent", frozenset(self.spent))
        bad = [i for i in self.spent if not 0 <= i < self.total]
        if bad:
            raise ValueError(f"spent indices must be in [0, {self.total}), got {sorted(bad)[:5]}")

    @property
    def remaining(self) -> int:
        return self.total - len(self.spent)

    def unspent(self) -> np.ndarray:
        """Unspent indices in increasing order."""
        mask = np.ones(self.total, dtype=bool)
        mask[list(self.spent)] = False
        return np.flatnonzero(mask)

    def to_dict(self) -> dict:
        return {"total": self.total, "spent": sorted(self.spent)}

    @classmethod
    def from_dict(cls, obj: dict) -> BurntLedger:
        return cls(total=int(obj["total"]), spent=frozenset(int(i) for i in obj["spent"]))


def spend(ledger: BurntLedger, indices: Iterable[int]) -> BurntLedger:
    """Marks `indices` as burnt and returns the new ledger.

    Raises:
      FingerprintSpentError: an index is already spent (or repeated in `indices`).
      ValueError: an index is out of range.
    """
    new = list(indices)
    for i in new:
        if not 0 <= i < ledger.total:
            raise ValueError(f"fingerprint index must be in [0, {ledger.total}), got {i}")
    reused = sorted({i for i in new if i in ledger.spent} | {i for i in new if new.count(i) > 1})
    if reused:
        raise FingerprintSpentError(f"fingerprint(s) already spent: {reused[:10]}")
    return BurntLedger(total=ledger.total, spent=ledger.spent | frozenset(new))


def choose_queries(ledger: BurntLedger, num: int, rng: np.random.Generator,
                   allowed: Iterable[int] | None = None) -> np.ndarray:
    """Draws `num` distinct unspent indices (optionally within `allowed`, e.g. one host's subset).

    Raises:
      ValueError: fewer than `num` unspent fingerprints remain.
    """
    pool = ledger.unspent()
    if allowed is not None:
        pool = np.intersect1d(pool, np.fromiter(allowed, dtype=np.int64))
    if num < 1 or num > pool.size:
        raise ValueError(f"num must be in [1, {pool.size}] (unspent fingerprints available), got {num}")
    return np.sort(rng.choice(pool, size=num, replace=False))
