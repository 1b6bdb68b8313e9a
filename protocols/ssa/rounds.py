# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The round state machine and the driver's effects and state (`loyal.protocols.ssa.driver` drives them).

    keygen → open → collecting → closed → aggregated → release_requested → released → open (next round)
                                                                               released → handoff → open
                                                                               released → done

Transitions are checked explicitly, as `check_stage` in Flower's
`flwr/client/mod/secure_aggregation/secaggplus_mod.py`. An `Effect` is what a shell with a store
makes durable; the effects of one driver call belong in one transaction.
"""

from __future__ import annotations

import dataclasses
import enum

from loyal.protocols.dpftrl.ledger import ParticipationLedger
from loyal.protocols.ssa.errors import ProtocolStateError
from loyal.protocols.ssa.messages import Release, ReleaseRequest, RoundAggregate
from loyal.protocols.ssa.server import ServerState


class RoundStage(enum.StrEnum):
    """Stages of the current round (`keygen` and `done` are job-level)."""

    KEYGEN = "keygen"
    OPEN = "open"
    COLLECTING = "collecting"
    CLOSED = "closed"
    AGGREGATED = "aggregated"
    RELEASE_REQUESTED = "release_requested"
    RELEASED = "released"
    DONE = "done"
    HANDOFF = "handoff"


#: Every allowed (from, to) transition; everything else raises ProtocolStateError.
TRANSITIONS: frozenset[tuple[RoundStage, RoundStage]] = frozenset({
    (RoundStage.KEYGEN, RoundStage.OPEN), (RoundStage.OPEN, RoundStage.COLLECTING), (RoundStage.COLLECTING, RoundStage.CLOSED),
    (RoundStage.CLOSED, RoundStage.AGGREGATED), (RoundStage.AGGREGATED, RoundStage.RELEASE_REQUESTED),
    (RoundStage.RELEASE_REQUESTED, RoundStage.RELEASED), (RoundStage.RELEASED, RoundStage.OPEN), (RoundStage.RELEASED, RoundStage.DONE),
    (RoundStage.RELEASED, RoundStage.HANDOFF), (RoundStage.HANDOFF, RoundStage.OPEN),
})

#: Stages in which contributions (client updates and noise shares) are accepted.
ACCEPTING = frozenset({RoundStage.OPEN, RoundStage.COLLECTING})


def check_transition(current: RoundStage, target: RoundStage) -> RoundStage:
    """Returns `target` if current → target is allowed.

    Raises:
      ProtocolStateError: naming both stages, for any other pair.
    """
    if (current, target) not in TRANSITIONS:
        raise ProtocolStateError(f"round stage cannot go from {current.value!r} to {target.value!r}")
    return target


def check_accepting(stage: RoundStage, round_index: int) -> None:
    """Raises ProtocolStateError unless the round accepts contributions."""
    if stage not in ACCEPTING:
        raise ProtocolStateError(f"round {round_index} is {stage.value!r}, not accepting contributions")


# ---- effects ------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StageSet:
    """Round `round_index` entered `stage`."""

    round_index: int
    stage: RoundStage


@dataclasses.dataclass(frozen=True)
class RoundStored:
    """A round was appended to the log (the shell snapshots it)."""

    aggregate: RoundAggregate = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class RequestIssued:
    """A release request for one policy row (`note` says why, for a reissue)."""

    request: ReleaseRequest = dataclasses.field(repr=False)
    row_index: int
    frame: bytes = dataclasses.field(repr=False)
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Released:
    """The round's releases were decrypted."""

    round_index: int
    releases: tuple[Release, ...] = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Compacted:
    """Rounds before `before` left every release window (their KAHE sums and uploads may go)."""

    before: int


@dataclasses.dataclass(frozen=True)
class HandOffSubset:
    """The outgoing members that re-share the key into `epoch`."""

    epoch: int
    subset: tuple[int, ...]


Effect = StageSet | RoundStored | RequestIssued | Released | Compacted | HandOffSubset


# ---- state --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Request:
    """A pending release request of the current round."""

    request: ReleaseRequest = dataclasses.field(repr=False)
    row_index: int
    frame: bytes = dataclasses.field(repr=False)
    issued_at: float


@dataclasses.dataclass
class DriverState:
    """Everything the driver keeps; `core` (the SSA server state) is the only copy of stored rounds.

    Attributes:
      ledger: participation of every client so far (the job's (k, b) schema).
      stage, round_index, epoch: where the job is (epoch: the serving committee).
      core: the core server state (None before key generation completes).
      opened_at: when the current round opened (the shell's clock).
      requests: pending release requests of the current round by id.
      answered / excluded: members that answered / were passed over for a (round, row).
      refused: members that refused a request, by request id.
      releases: published releases, in order.
      last_seen: when each member last asked for work (liveness).
      handoff_ready / handoff_subset / handoff_done: the running hand-off.
      replaying: a restore is feeding stored inputs (no automatic transitions).
    """

    ledger: ParticipationLedger
    stage: RoundStage = RoundStage.KEYGEN
    round_index: int = 0
    epoch: int = 0
    core: ServerState | None = None
    opened_at: float = 0.0
    requests: dict[bytes, Request] = dataclasses.field(default_factory=dict)
    answered: dict[tuple[int, int], set[int]] = dataclasses.field(default_factory=dict)
    excluded: dict[tuple[int, int], set[int]] = dataclasses.field(default_factory=dict)
    refused: dict[bytes, set[int]] = dataclasses.field(default_factory=dict)
    releases: list[Release] = dataclasses.field(default_factory=list)
    last_seen: dict[int, float] = dataclasses.field(default_factory=dict)
    handoff_ready: set[int] = dataclasses.field(default_factory=set)
    handoff_subset: tuple[int, ...] | None = None
    handoff_done: set[int] = dataclasses.field(default_factory=set)
    replaying: bool = False

    @property
    def clients(self) -> int:
        """Client uploads in the open round."""
        return 0 if self.core is None else self.core.open_round.data.count

    @property
    def noise_shares(self) -> int:
        """Committee members' noise shares in the open round."""
        return 0 if self.core is None else len(self.core.open_round.noise_members)

    @property
    def cohort_noise(self) -> int:
        """Cohort clients' noise-only shares in the open round (issue 15)."""
        return 0 if self.core is None else len(self.core.open_round.cohort_noise)


@dataclasses.dataclass(frozen=True)
class StoredRound:
    """What a shell's store holds of one round, fed to `RoundDriver.replay` on restore.

    Attributes:
      round_index, stage, opened_at: the round's row.
      aggregate: its log entry (closed rounds), else None.
      uploads: (kind, sender, payload) of an open round, in arrival order.
      requests: (request id, row index, subset, partial payloads) in issue order.
      releases: its published releases (digest-checked by the shell).
    """

    round_index: int
    stage: RoundStage
    opened_at: float
    aggregate: RoundAggregate | None = dataclasses.field(default=None, repr=False)
    uploads: tuple = dataclasses.field(default=(), repr=False)
    requests: tuple = dataclasses.field(default=(), repr=False)
    releases: tuple[Release, ...] = dataclasses.field(default=(), repr=False)
