# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A participation ledger: each client joins at most k rounds, any two of them at least b rounds apart.

Notes:
  The schema is the multi-participation one of Choquette-Choo et al. 2023 (arXiv 2211.06530, Sec. 2) in
  jax_privacy's min-separation convention (README.md's notation table): rounds i_1 < ... < i_k with
  i_{j+1} - i_j >= b, the patterns `sensitivity.py` maximises over, so sens(C) holds only if the server refuses
  what this ledger refuses. A client's rounds are recorded in increasing order, so (count, last round) is the
  whole state. Pure logic, no I/O; `to_json`/`from_json` are data only (never pickle) for the server's store.
"""

# Paper symbols (n, k, b) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from loyal.protocols.dpftrl.base import ParticipationSchema

#: An opaque client identity: an int (numpy integers are stored as int) or bytes (e.g. a key digest).
Identity = int | bytes

_FORMAT = "loyal.dpftrl.participation_ledger.v1"


class ParticipationError(ValueError):
    """A participation would break the schema, or repeats or precedes one already recorded for that client."""


def _identity(identity: Identity) -> Identity:
    if isinstance(identity, bool) or not isinstance(identity, (int, np.integer, bytes)):
        raise TypeError(f"identity must be an int or bytes, got identity={identity!r}")
    return int(identity) if isinstance(identity, np.integer) else identity


class ParticipationLedger:
    """Per-client participation counts and last rounds under a `ParticipationSchema`.

    Rounds are 0-based indices in [0, n). A client never recorded may join any round.

    Args:
      schema: n = `steps`, k = `participations`, b = `min_separation` (validated by `ParticipationSchema`).

    Example:
      >>> ledger = ParticipationLedger(ParticipationSchema(steps=10, participations=2, min_separation=3))
      >>> ledger.record(7, 0)
      >>> ledger.eligible([7, 8], 2).tolist()
      [False, True]
      >>> ledger.record(7, 3)
      >>> ledger.participations(7), ledger.eligible([7], 9).tolist()
      (2, [False])
    """

    def __init__(self, schema: ParticipationSchema) -> None:
        if not isinstance(schema, ParticipationSchema):
            raise TypeError(f"schema must be a ParticipationSchema, got schema={schema!r}")
        self.schema = schema
        self._slot: dict[Identity, int] = {}
        # Slot 0 stands for "never recorded": count 0 and a last round b before round 0, so always eligible.
        self._count = np.zeros(1, dtype=np.int64)
        self._last = np.full(1, -schema.min_separation, dtype=np.int64)

    def _check_round(self, round_index: int) -> int:
        n = self.schema.steps
        if isinstance(round_index, bool) or not isinstance(round_index, (int, np.integer)) or not 0 <= round_index < n:
            raise ValueError(f"round_index must be an integer in [0, steps={n}), got round_index={round_index!r}")
        return round_index

    def check(self, identity: Identity, round_index: int) -> None:
        """Raises unless `identity` may participate in round `round_index`; records nothing.

        Args:
          identity: the client, an int or bytes.
          round_index: the round, in [0, steps).

        Raises:
          TypeError: `identity` is neither an int nor bytes.
          ValueError: `round_index` is not an integer in [0, steps).
          ParticipationError: the client already has this round or a later one, already has k participations,
            or its last round is fewer than b rounds before `round_index`.
        """
        identity = _identity(identity)
        self._check_round(round_index)
        slot = self._slot.get(identity, 0)
        count, last = int(self._count[slot]), int(self._last[slot])
        k, b = self.schema.participations, self.schema.min_separation
        who = "0x" + identity.hex() if isinstance(identity, bytes) else identity
        if slot and round_index == last:
            raise ParticipationError(f"client {who} already participated in round {round_index}")
        if slot and round_index < last:
            raise ParticipationError(f"client {who} participated in round {last}; rounds must be recorded in "
                                     f"increasing order, got round {round_index}")
        if count >= k:
            raise ParticipationError(f"client {who} already participated in {count} of k={k} rounds")
        if round_index - last < b:
            raise ParticipationError(f"client {who} participated in round {last}; round {round_index} is closer "
                                     f"than min_separation={b}")

    def record(self, identity: Identity, round_index: int) -> None:
        """Checks as `check` does, then records that `identity` participates in round `round_index`.

        Raises:
          TypeError, ValueError, ParticipationError: as `check`; the ledger is then unchanged.
        """
        self.check(identity, round_index)
        identity = _identity(identity)
        slot = self._slot.get(identity) or self._new_slot(identity)
        self._count[slot] += 1
        self._last[slot] = round_index

    def _new_slot(self, identity: Identity) -> int:
        slot = self._slot[identity] = len(self._slot) + 1
        if slot == len(self._count):  # double the arrays; new slots start at count 0
            self._count, self._last = np.pad(self._count, (0, slot)), np.pad(self._last, (0, slot))
        return slot

    def eligible(self, identities: Iterable[Identity], round_index: int) -> np.ndarray:
        """A bool mask, True where the client may participate in round `round_index` (as `check` would allow).

        Args:
          identities: clients, not type-checked (a value equal to a recorded int, e.g. True for 1, matches it).
          round_index: the round, in [0, steps).

        Returns:
          A bool array of shape (len(identities),).

        Raises:
          ValueError: `round_index` is not an integer in [0, steps).
        """
        self._check_round(round_index)
        slots = np.fromiter((self._slot.get(i, 0) for i in identities), dtype=np.int64)
        k, b = self.schema.participations, self.schema.min_separation
        return (self._count[slots] < k) & (round_index - self._last[slots] >= b)

    def participations(self, identity: Identity) -> int:
        """How many rounds `identity` has participated in (0 if never recorded)."""
        return int(self._count[self._slot.get(_identity(identity), 0)])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParticipationLedger) and self.to_json() == other.to_json()

    @classmethod
    def from_history(cls, schema: ParticipationSchema, history: Iterable[tuple[Identity, int]]) -> ParticipationLedger:
        """The ledger after recording every (identity, round_index) pair of `history`.

        Pairs may come in any order (e.g. as a store lists them); they are replayed in round order.

        Raises:
          TypeError, ValueError, ParticipationError: as `record`, for the first pair that breaks a rule.
        """
        ledger = cls(schema)  # sorted() computes every key (checking every round) before comparing any
        for identity, round_index in sorted(history, key=lambda pair: ledger._check_round(pair[1])):
            ledger.record(identity, round_index)
        return ledger

    def to_json(self) -> str:
        """A data-only JSON form: the schema and [identity, count, last round] per client (bytes as hex).

        Clients are sorted (ints, then bytes), so equal ledgers give equal text.
        """
        clients = sorted(([i.hex() if isinstance(i, bytes) else i, int(self._count[s]), int(self._last[s])]
                          for i, s in self._slot.items()), key=lambda entry: (isinstance(entry[0], str), entry[0]))
        return json.dumps({
            "format": _FORMAT, "steps": self.schema.steps, "participations": self.schema.participations,
            "min_separation": self.schema.min_separation, "clients": clients,
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> ParticipationLedger:
        """Parses `to_json` output, checking every entry against the schema.

        Raises:
          ValueError: malformed JSON, wrong format tag or keys, a bad schema, a repeated client, or a count
            outside [1, k] or a last round outside [(count - 1) b, n) (no valid history could produce it).
        """
        obj = json.loads(text)
        keys = {"format", "steps", "participations", "min_separation", "clients"}
        if not isinstance(obj, dict) or set(obj) != keys or obj["format"] != _FORMAT or not isinstance(
                obj["clients"], list):
            raise ValueError(f"ledger JSON must be an object with keys {sorted(keys)}, format={_FORMAT!r} and a "
                             f"list of clients, got {str(obj)[:200]}")
        n, k, b = obj["steps"], obj["participations"], obj["min_separation"]
        ledger = cls(ParticipationSchema(n, k, b))
        for entry in obj["clients"]:
            ok = isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], (int, str)) \
                and all(type(v) is int for v in entry[1:]) and not isinstance(entry[0], bool)
            if not ok or not (1 <= entry[1] <= k and (entry[1] - 1) * b <= entry[2] < n):
                raise ValueError(f"ledger client entry must be [identity, count in [1, k={k}], last round in "
                                 f"[(count-1)*b, steps={n}) with b={b}], got {entry!r}")
            identity = bytes.fromhex(entry[0]) if isinstance(entry[0], str) else entry[0]
            if identity in ledger._slot:
                raise ValueError(f"ledger JSON lists client {entry[0]!r} twice")
            slot = ledger._new_slot(identity)
            ledger._count[slot], ledger._last[slot] = entry[1], entry[2]
        return ledger
