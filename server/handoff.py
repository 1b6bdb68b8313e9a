# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The committee hand-off steps of the coordinator (proactive resharing, Herzberg et al., CRYPTO 1995).

After the release of a round named in the job's rotations, the round stage is `handoff`: the first
t live members of the outgoing committee (fixed once every incoming member has joined) receive a
`HandOffTask`, re-share λ_i^S·s(i) to the incoming members through the server (sealed member to
member; the server only stores ciphertexts) and retire; the last sub-share switches the served
committee and opens the next round in one store transaction. Stored ciphertexts do not change.
"""

from __future__ import annotations

import logging
from typing import Any

from loyal.protocols.ssa.errors import ProtocolStateError
from loyal.server.errors import AuthenticationError, DuplicateError
from loyal.server.rounds import RoundStage, check_transition

logger = logging.getLogger(__name__)


class HandOffMixin:
    """Hand-off methods of `server.coordinator.Coordinator` (uses its spec, store, members and stages)."""

    # ---- committee hand-off ----------------------------------------------------------------------------
    def _handoff_work(self, member_id: int, now: float) -> tuple[str, Any]:
        """Fixes the re-sharing subset (first t live outgoing members, once the incoming roster is
        complete) and hands its members their task; the other outgoing members retire."""
        target = self.epoch + 1
        new_members, new_t = self.spec.committee(target)
        if self.handoff_subset is None:
            self.handoff_ready.add(member_id)
            live = sorted(m for m in self.handoff_ready if now - self.last_seen.get(m, 0.0) < self.reissue_seconds)
            if len(live) < self.config.threshold or not all(k in self.members for k in new_members):
                return "wait", None
            self.handoff_subset = tuple(live[: self.config.threshold])
            self.store.set_handoff_subset(target, self.handoff_subset)
            logger.info("hand-off to epoch %d from subset %s", target, self.handoff_subset,
                        extra={"event": "handoff_subset", "epoch": target})
        if member_id not in self.handoff_subset or member_id in self.handoff_done:
            return "done", None
        task = {"epoch": target, "subset": self.handoff_subset, "new_threshold": new_t,
                "new_members": {k: self.members[k][1] for k in new_members}}
        return "handoff", task

    def submit_handoff(self, member_id: int, epoch: int, subshares: dict[int, bytes], signature: bytes) -> None:
        """Stores an outgoing member's sealed sub-shares; the last one of the subset completes the hand-off."""
        body = b"".join(r.to_bytes(4, "little") + c for r, c in sorted(subshares.items()))
        self._signed_member(member_id, signature, "handoff", epoch.to_bytes(4, "little"), body)
        if self.stage != RoundStage.HANDOFF or epoch != self.epoch + 1:
            raise ProtocolStateError(f"no hand-off into epoch {epoch} is running (stage {self.stage.value!r}, epoch {self.epoch})")
        if self.handoff_subset is None or member_id not in self.handoff_subset:
            raise PermissionError(f"member {member_id} is not in the hand-off subset {self.handoff_subset}")
        if member_id in self.handoff_done:
            raise DuplicateError(f"member {member_id} already sent its hand-off sub-shares")
        new_members = self.spec.committee(epoch)[0]
        if set(subshares) != set(new_members) or any(len(c) > 1 << 20 for c in subshares.values()):
            raise ValueError(f"sub-shares must be addressed to every incoming member {new_members}, got {sorted(subshares)}")
        complete = set(self.handoff_subset) <= self.handoff_done | {member_id}
        with self.store.transaction() as db:
            self.store.add_handoff(db, epoch, member_id, subshares)
            if complete:
                self.store.set_stage(db, self.round_index + 1, RoundStage.OPEN)
        self.handoff_done.add(member_id)
        if complete:
            self._finish_handoff()

    def _finish_handoff(self) -> None:
        self._set_epoch(self.epoch + 1)
        self.handoff_ready, self.handoff_subset, self.handoff_done = set(), None, set()
        logger.info("committee epoch %d serves from round %d", self.epoch, self.round_index + 1,
                    extra={"event": "handoff_done", "epoch": self.epoch})
        self._open(self.round_index + 1, persist=False)

    def _enter_handoff(self) -> None:
        self.stage = check_transition(self.stage, RoundStage.HANDOFF)
        target = self.epoch + 1
        self.handoff_subset = self.store.handoff_subset(target)
        self.handoff_done = set(self.store.handoffs(target))
        if self.handoff_subset is not None and set(self.handoff_subset) <= self.handoff_done:
            self._finish_handoff()  # restore: the hand-off had completed before the restart

    def handoff(self, member_id: int) -> tuple[bool, int, list[tuple[int, bytes, bytes]]]:
        """(complete, epoch, [(dealer, dealer exchange key, sealed sub-share for member_id)])."""
        epoch = self.spec.epoch_of_member(member_id)
        if member_id not in self.members:
            raise AuthenticationError(f"member {member_id} has not joined")
        if epoch == 0:
            raise PermissionError(f"member {member_id} is in the key-generation committee: it gets no hand-off")
        subset, subs = self.store.handoff_subset(epoch), self.store.handoffs(epoch)
        if subset is None or not set(subset) <= set(subs):
            return False, epoch, []
        return True, epoch, [(d, self.members[d][1], subs[d][member_id]) for d in sorted(subs)]
