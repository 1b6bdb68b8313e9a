# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The restore path of `RoundDriver` (a base class, so the driver module keeps one job): a restoring
shell feeds the stored inputs of each round back through the same checks and `include_*` calls that
accepted them, then lets `advance` redo any transition it lost (driver module doc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loyal.protocols.ssa.errors import LogIntegrityError, ProtocolStateError
from loyal.protocols.ssa.rounds import ACCEPTING, DriverState, RoundStage, StoredRound, check_transition

if TYPE_CHECKING:
    from loyal.protocols.ssa.driver import RoundDriver


class Restore:
    """`replay` and `replay_handoff` of `RoundDriver`."""

    def replay(self: RoundDriver, state: DriverState, stored: StoredRound, now: float) -> None:
        """Feeds one stored round to a restoring driver (`state.replaying`), in round order.

        Raises:
          LogIntegrityError: the stored round does not follow the log, a replayed request id differs.
        """
        if not state.replaying or state.core is None or stored.round_index != state.round_index:
            raise ProtocolStateError(f"stored round {stored.round_index} does not follow round {state.round_index}")
        state.opened_at = stored.opened_at
        if stored.aggregate is not None:
            for target in (RoundStage.COLLECTING, RoundStage.CLOSED, RoundStage.AGGREGATED):
                state.stage = check_transition(state.stage, target)
            self.server(state).append_stored_round(state.core, stored.aggregate)
        else:
            for kind, sender, payload in stored.uploads:
                self.include_upload(state, self.check_upload(state, kind, sender, payload), now)
            if stored.stage not in ACCEPTING:
                raise LogIntegrityError(f"round {stored.round_index} is {stored.stage!r} but its log entry is missing")
            return
        if stored.requests or stored.releases:
            state.stage = check_transition(state.stage, RoundStage.RELEASE_REQUESTED)
        if stored.releases:  # published: loaded, not decrypted again (compaction may have dropped rounds since)
            state.core.releases.extend(stored.releases)
            self._finish_release(state, list(stored.releases), now, [])
            return
        for rid, row_index, subset, partials in stored.requests:
            if self.issue(state, row_index, subset, stored.opened_at).request.request_id != rid:
                raise LogIntegrityError(f"replayed request of round {stored.round_index} row {row_index} != stored {rid.hex()[:16]}")
            for member, payload in partials:
                self.include_partial(state, self.check_partial(state, member, payload), now)

    def replay_handoff(self: RoundDriver, state: DriverState, subset: tuple[int, ...] | None, done: set[int], now: float) -> None:
        """Restores a running hand-off (its subset and the members whose sub-shares are stored)."""
        state.handoff_subset = subset
        for member in sorted(done):
            self.include_handoff(state, member, now)
