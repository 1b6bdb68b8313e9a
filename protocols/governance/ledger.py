# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The contributor ledger of an SSA job: who contributed in which rounds, never what (Loyal AI, arXiv 2502.15720:
community ownership; contributor motivation, arXiv 2502.07732).

Derived from the server's participation log ((contributor, round) per accepted client upload) and nothing else:
an entry holds a contributor id — SHA-256 of the contributor's enrolled Ed25519 key (`contributor_id`) — the
sorted rounds it took part in, and, if the contributor signed one, the address its share of licence fees is paid
to (`PayeeStatement`). Upload contents never enter: two runs of one job whose clients send different updates give
the same ledger. `ContributorLedger.sol` commits the entries' Merkle root (`loyal.contracts.ledger`) and splits
deposits pro rata to the round counts of the entries with a payee (`entitlement`).

Example:
  >>> a, b = bytes([1]) * 32, bytes([2]) * 32
  >>> ledger = derive_ledger(job_id=bytes(16), rounds=3, participations=[(a, 0), (b, 0), (a, 2)])
  >>> [(e.contributor[:1], e.rounds) for e in ledger.entries]
  [(b'\\x01', (0, 2)), (b'\\x02', (0,))]
  >>> entitlement(deposited=10, weight=2, total_weight=3)
  6
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping

CONTRIBUTOR_DOMAIN = b"loyal/contributor/v1"
PAYEE_DOMAIN = b"loyal/ledger/payee/v1"


def contributor_id(public_key: bytes) -> bytes:
    """SHA-256(domain | enrolled Ed25519 key): the contributor's 32-byte id in ledgers and on chain."""
    if len(public_key) != 32:
        raise ValueError(f"public_key must be a 32-byte Ed25519 key, got {len(public_key)} bytes")
    return hashlib.sha256(CONTRIBUTOR_DOMAIN + public_key).digest()


def payee_message(job_id: bytes, public_key: bytes, payee: bytes) -> bytes:
    """What a contributor signs with its enrolled key to name `payee` (20 bytes) for job `job_id`."""
    if len(job_id) != 16 or len(payee) != 20:
        raise ValueError(f"job_id must be 16 and payee 20 bytes, got {len(job_id)} and {len(payee)}")
    return PAYEE_DOMAIN + job_id + public_key + payee


@dataclasses.dataclass(frozen=True)
class PayeeStatement:
    """A contributor's signed choice of payout address for one job.

    Attributes:
      public_key: the contributor's enrolled Ed25519 key (32 bytes).
      payee: the 20-byte address paid its share.
      signature: Ed25519 signature of `payee_message(job_id, public_key, payee)` under `public_key`.
    """

    public_key: bytes
    payee: bytes
    signature: bytes = dataclasses.field(repr=False)

    @property
    def contributor(self) -> bytes:
        return contributor_id(self.public_key)

    def verify(self, job_id: bytes) -> None:
        """Raises AuthenticationError unless the signature binds `payee` to this key and job."""
        from loyal.protocols.ssa.enrollment import verify_signature

        verify_signature(self.public_key, self.signature, payee_message(job_id, self.public_key, self.payee))


@dataclasses.dataclass(frozen=True)
class ContributorEntry:
    """One contributor: its id, its rounds (sorted, distinct) and its payee (None: attribution only)."""

    contributor: bytes
    rounds: tuple[int, ...]
    payee: bytes | None = None

    @property
    def weight(self) -> int:
        """Its share weight: the number of rounds it contributed to."""
        return len(self.rounds)


@dataclasses.dataclass(frozen=True)
class ContributorLedger:
    """The ledger of one job over its rounds [0, rounds).

    Attributes:
      rounds: rounds covered (the ledger is committed on chain only once they are all anchored).
      entries: one per contributor, sorted by contributor id.
    """

    rounds: int
    entries: tuple[ContributorEntry, ...]

    @property
    def payable(self) -> tuple[ContributorEntry, ...]:
        """Entries with a payee: the leaves of the on-chain commitment."""
        return tuple(e for e in self.entries if e.payee is not None)

    @property
    def total_weight(self) -> int:
        """Sum of the payable entries' weights (the W of `entitlement`)."""
        return sum(e.weight for e in self.payable)

    def to_json(self) -> dict:
        """Data-only JSON: ids and payees as hex, rounds as integers."""
        return {"rounds": self.rounds, "entries": [
            {"contributor": e.contributor.hex(), "rounds": list(e.rounds), "payee": e.payee.hex() if e.payee else None}
            for e in self.entries]}

    @classmethod
    def from_json(cls, d: dict) -> ContributorLedger:
        """Inverse of `to_json`. Raises ValueError on a malformed ledger."""
        try:
            entries = tuple(ContributorEntry(bytes.fromhex(e["contributor"]), tuple(int(r) for r in e["rounds"]),
                                             bytes.fromhex(e["payee"]) if e["payee"] else None) for e in d["entries"])
            return cls(int(d["rounds"]), entries)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed contributor ledger: {type(e).__name__}: {e}") from None


def derive_ledger(
    *, job_id: bytes, rounds: int, participations: Iterable[tuple[bytes, int]],
    payees: Iterable[PayeeStatement] = (),
) -> ContributorLedger:
    """The contributor ledger of a job from its participation log and its contributors' payee statements.

    Args:
      job_id: the job's 16-byte id (payee statements are bound to it).
      rounds: rounds covered, >= 1; participations of later rounds are left out (not yet anchored).
      participations: (contributor id, round) pairs, any order; a repeated pair is an error.
      payees: signed statements; each must verify and name a contributor of the ledger, at most one per contributor.

    Raises:
      ValueError: a malformed id, a round < 0, a repeated participation or payee, or a payee of a non-contributor.
      AuthenticationError: a payee statement whose signature does not verify.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1, got rounds={rounds!r}")
    by_contributor: dict[bytes, list[int]] = {}
    for contributor, round_index in participations:
        if len(contributor) != 32 or round_index < 0:
            raise ValueError(f"a participation is (32-byte contributor id, round >= 0), got ({contributor!r}, {round_index})")
        if round_index >= rounds:
            continue
        seen = by_contributor.setdefault(bytes(contributor), [])
        if round_index in seen:
            raise ValueError(f"contributor {contributor.hex()[:16]}… is listed twice in round {round_index}")
        seen.append(int(round_index))
    chosen: dict[bytes, bytes] = {}
    for statement in payees:
        statement.verify(job_id)
        who = statement.contributor
        if who not in by_contributor:
            raise ValueError(f"a payee statement names contributor {who.hex()[:16]}…, who took part in no round < {rounds}")
        if who in chosen:
            raise ValueError(f"contributor {who.hex()[:16]}… has two payee statements")
        chosen[who] = statement.payee
    entries = tuple(ContributorEntry(c, tuple(sorted(r)), chosen.get(c)) for c, r in sorted(by_contributor.items()))
    return ContributorLedger(rounds, entries)


def entitlement(*, deposited: int, weight: int, total_weight: int) -> int:
    """floor(deposited * weight / total_weight): a contributor's cumulative share (the contract's `_entitlement`).

    Summed over contributors it never exceeds `deposited` (a sum of floors is at most the floor of the sum), and
    it is non-decreasing in `deposited`, so claiming the difference after each deposit never over-pays.
    """
    if deposited < 0 or weight < 0 or total_weight < 1 or weight > total_weight:
        raise ValueError(f"need deposited >= 0 and 0 <= weight <= total_weight >= 1, got {deposited}, {weight}, {total_weight}")
    return deposited * weight // total_weight


def contributors_of(ledger: ContributorLedger) -> Mapping[bytes, int]:
    """Contributor id -> round count (the attribution signal beside the money)."""
    return {e.contributor: e.weight for e in ledger.entries}


__all__ = ["ContributorEntry", "ContributorLedger", "PayeeStatement", "contributor_id", "contributors_of",
           "derive_ledger", "entitlement", "payee_message"]
