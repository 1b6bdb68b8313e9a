# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The server's running sums of one round's uploads: uint32 residues with lazy modular reduction."""

from __future__ import annotations

import dataclasses

import numpy as np

#: Uploads added between halvings of the uint32 sums, for every modulus q < 2^30 (`RnsRing` primes):
#: `_adds_between_halvings`. Sums stay below 2·LAZY_ADDS·q < 2^32, so no addition wraps.
LAZY_ADDS = 2


def _adds_between_halvings(q: np.ndarray) -> int:
    """H = floor(2^32 / (2·max q - 1)): sums below H·q plus H residues below q stay below 2^32
    (H·q - 1 + H·(q - 1) <= 2^32 - 1), and one conditional subtraction of H·q brings them back below H·q."""
    return int(2**32 // (2 * int(np.max(q)) - 1))


def _subtract_where_above(acc: np.ndarray, c: np.ndarray, tmp: np.ndarray) -> None:
    """acc <- acc - c where acc >= c (uint32, in place): a - c wraps to a huge value exactly when
    a < c, so min(a, a - c) subtracts c only where a >= c; values below 2c end below c."""
    np.subtract(acc, c, out=tmp)
    np.minimum(acc, tmp, out=acc)


@dataclasses.dataclass
class Accumulator:
    """uint32 sums of residues (half the memory traffic of int64), kept below 2H·q by lazy halving.

    After every H = `_adds_between_halvings(q)` uploads (LAZY_ADDS = 2 for 30-bit moduli) one
    conditional subtraction of H·q (two passes over the sums, which the adds keep in cache) brings the
    sums below H·q: per upload one add plus 2/H passes, against 4/3 for a full reduction every three
    uploads (a uint64 total folded every fourth upload was slower: it falls out of cache in between).
    Between halvings the sums are congruent to the aggregate but may exceed q; `reduce` (called by
    `close_round`) brings them to [0, q).
    """

    kahe: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    kahe_q: np.ndarray = dataclasses.field(repr=False)
    ahe_q: np.ndarray = dataclasses.field(repr=False)
    count: int = 0
    pending: int = 0

    def __post_init__(self) -> None:
        self.lazy_adds = min(_adds_between_halvings(self.kahe_q), _adds_between_halvings(self.ahe_q))
        self._tmp = (np.empty_like(self.kahe), np.empty_like(self.c0))
        self._qs = (self.kahe_q, self.ahe_q, self.ahe_q)

    def _subtract(self, multiple: int) -> None:
        for acc, q, tmp in zip((self.kahe, self.c0, self.c1), self._qs, (self._tmp[0], self._tmp[1], self._tmp[1])):
            _subtract_where_above(acc, q * np.uint32(multiple), tmp)

    def reduce(self) -> None:
        """Brings every sum to [0, q) (idempotent): sums below 2^b·q lose 2^(b-1)·q, ..., q where above."""
        if self.pending:
            for k in reversed(range((2 * self.lazy_adds - 1).bit_length())):
                self._subtract(1 << k)
            self.pending = 0

    def add(self, kahe: np.ndarray, c0: np.ndarray, c1: np.ndarray) -> None:
        """Adds one validated upload (residues < q)."""
        if self.pending == self.lazy_adds:
            self._subtract(self.lazy_adds)  # below 2H·q -> below H·q
            self.pending = 0
        np.add(self.kahe, kahe, out=self.kahe)
        np.add(self.c0, c0, out=self.c0)
        np.add(self.c1, c1, out=self.c1)
        self.pending += 1
        self.count += 1
