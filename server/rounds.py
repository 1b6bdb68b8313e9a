# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The round state machine of the SSA server, checked explicitly (as `check_stage` in Flower's
`flwr/client/mod/secure_aggregation/secaggplus_mod.py`).

    keygen → open → collecting → closed → aggregated → release_requested → released → (next round: open) | done
                                                                                released → handoff → open


A round closes once `clients_per_round` clients (and, with noise, every member's noise share) are
in, or at its deadline with at least `min_cohort` clients. `aggregated` means the core stored the
round in its hash-chained log; `release_requested` means the policy rows were sent to the committee;
`handoff` means the committee is re-sharing its key to the next committee (job's rotations).
"""

from __future__ import annotations

import enum

from loyal.protocols.ssa.errors import ProtocolStateError


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
TRANSITIONS: frozenset[tuple[RoundStage, RoundStage]] = frozenset(
    {
        (RoundStage.KEYGEN, RoundStage.OPEN),
        (RoundStage.OPEN, RoundStage.COLLECTING),
        (RoundStage.COLLECTING, RoundStage.CLOSED),
        (RoundStage.CLOSED, RoundStage.AGGREGATED),
        (RoundStage.AGGREGATED, RoundStage.RELEASE_REQUESTED),
        (RoundStage.RELEASE_REQUESTED, RoundStage.RELEASED),
        (RoundStage.RELEASED, RoundStage.OPEN),
        (RoundStage.RELEASED, RoundStage.DONE),
        (RoundStage.RELEASED, RoundStage.HANDOFF),
        (RoundStage.HANDOFF, RoundStage.OPEN),
    }
)

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
