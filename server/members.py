# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The committee side of the coordinator: joins (pinned member keys), key generation (signed commitments,
then reveals with sealed shares stored for their recipients; `loyal.protocols.ssa.enrollment`),
members' signatures of the committee key, work for members, partial decryptions, refusals and
hand-offs; each authenticated by the member's pinned key and handed to the round driver like every
other input."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from loyal.protocols.proto.convert import member_message, residues_from_bytes
from loyal.protocols.ssa import enrollment
from loyal.protocols.ssa.enrollment import verify_signature
from loyal.protocols.ssa.driver import Work
from loyal.protocols.ssa.rounds import RoundStage
from loyal.server import limits
from loyal.server.errors import AuthenticationError, DuplicateError, WrongRoundError

logger = logging.getLogger(__name__)


class MemberDesk:
    """Committee-facing methods of `server.coordinator.Coordinator` (uses its job, store, driver, state)."""

    # ---- committee ---------------------------------------------------------------------------------
    def round_parts(self, member_id: int, round_index: int, start: int = 0) -> tuple[list[tuple[str, int, bytes]], int]:
        """One page of [(kind, sender, AHE part and proof)] of a stored round from index `start` (at most
        `limits.PARTS_PAGE_BYTES`, at least one part), and the round's number of parts, for a member's audit
        (`protocols.ssa.audit`): a round of proven uploads outgrows one gRPC message (~0.95 MB a part)."""
        if member_id not in self.members:
            raise AuthenticationError(f"member {member_id} has not joined")
        if self.state.core is None or not 0 <= round_index < len(self.state.core.log):
            raise WrongRoundError(f"round {round_index} is not stored")
        rows, total = self.store.parts(round_index, start, limits.PARTS_PAGE_BYTES)
        if start > total:
            raise ValueError(f"start={start} is past the round's {total} parts")
        return rows, total

    def join(self, member_id: int, signing_key: bytes, exchange_key: bytes, signature: bytes) -> None:
        """Joins `member_id` under `signing_key` (which must be the pinned key of a pinned job)."""
        try:
            self.job.epoch_of_member(member_id)
        except ValueError as e:
            raise PermissionError(str(e)) from None
        if len(signing_key) != 32 or len(exchange_key) != 32:
            raise ValueError(f"signing_key and exchange_key must be 32 bytes, got {len(signing_key)}, {len(exchange_key)}")
        pinned = self.job.member_key(member_id)
        if pinned is not None and pinned != signing_key:
            raise PermissionError(f"member {member_id} is pinned to another key: this job's committee is fixed")
        enrollment.verify_join(self.job, member_id, signing_key, exchange_key, signature)
        if member_id in self.members:
            if self.members[member_id] != (signing_key, exchange_key):
                raise AuthenticationError(f"member {member_id} already joined with other keys")
            return
        self.store.add_member(member_id, signing_key, exchange_key, signature)
        self.members[member_id] = (signing_key, exchange_key)
        self.join_signatures[member_id] = signature
        logger.info("member %d joined", member_id, extra={"event": "join", "member": member_id})

    def roster(self) -> tuple[bool, dict[int, tuple[bytes, bytes]], dict[int, tuple[bytes, bytes]]]:
        """(complete, {member: (exchange key, join signature)}, {dealer: (commitment, signature)}) of the
        key-generation committee (epoch 0)."""
        first = self.job.committee(0)[0]
        joined = {m: (self.members[m][1], self.join_signatures[m]) for m in first if m in self.members}
        return len(joined) == len(first), joined, dict(self.commitments)

    def _signed_member(self, member_id: int, signature: bytes, kind: str, *parts: bytes) -> None:
        if member_id not in self.members:
            raise AuthenticationError(f"member {member_id} has not joined")
        verify_signature(self.members[member_id][0], signature, member_message(kind, member_id, self.job.job_id, *parts))

    def _dealer(self, member_id: int) -> tuple[int, ...]:
        if self.state.stage != RoundStage.KEYGEN:
            raise WrongRoundError("key generation is over")
        first = self.job.committee(0)[0]
        if member_id not in first:
            raise PermissionError(f"member {member_id} is not in the key-generation committee {first}")
        return first

    def commit_keygen(self, member_id: int, digest: bytes, signature: bytes) -> None:
        """Stores dealer `member_id`'s signed commitment to its public-key part (before any part is revealed)."""
        if len(digest) != 32:
            raise ValueError(f"a key-generation commitment is 32 bytes, got {len(digest)}")
        self._signed_member(member_id, signature, "keygen-commit", digest)
        self._dealer(member_id)
        if member_id in self.commitments:
            if self.commitments[member_id][0] != digest:
                raise DuplicateError(f"member {member_id} already committed to another public-key part")
            return
        self.store.add_commitment(member_id, digest, signature)
        self.commitments[member_id] = (digest, signature)

    def submit_keygen(self, member_id: int, public_part: bytes, shares: dict[int, bytes], signature: bytes) -> None:
        """Stores dealer `member_id`'s revealed public key part and its end-to-end encrypted Shamir shares;
        refused until every dealer has committed, and unless the part opens this dealer's commitment."""
        body = b"".join(r.to_bytes(4, "little") + c for r, c in sorted(shares.items()))
        self._signed_member(member_id, signature, "keygen", public_part, body)
        first = self._dealer(member_id)
        if member_id in self.keygen:
            raise DuplicateError(f"member {member_id} already sent its key-generation contribution")
        if set(self.commitments) != set(first):
            raise WrongRoundError(f"reveals wait for every dealer's commitment ({len(self.commitments)}/{len(first)} in)")
        enrollment.verify_reveal(self.job, member_id, public_part, self.commitments[member_id][0])
        residues_from_bytes(public_part, self.config.ahe.ring, "public_part")
        if set(shares) != set(first) or any(len(c) > 1 << 20 for c in shares.values()):
            raise ValueError(f"shares must be addressed to every member {first}, got {sorted(shares)}")
        self.store.add_keygen(member_id, public_part, shares)
        self.keygen[member_id] = (public_part, shares)
        if len(self.keygen) == len(first):
            self._persist(self.driver.start(self.state, self._public_key(), time.time()))

    def key_shares(self, member_id: int) -> tuple[bool, list[tuple[int, bytes, bytes, bytes, bytes]], np.ndarray | None]:
        """(complete, [(dealer, dealer exchange key, dealer join signature, dealer public part, ciphertext for
        member_id)], public key)."""
        if member_id not in self.job.committee(0)[0]:
            raise PermissionError(f"member {member_id} joined a later committee: it gets its share by hand-off")
        if self.state.core is None:
            return False, [], None
        out = [(d, self.members[d][1], self.join_signatures[d], public, shares[member_id])
               for d, (public, shares) in sorted(self.keygen.items())]
        return True, out, self.state.core.public_key_hat

    def sign_key(self, member_id: int, signature: bytes) -> None:
        """Stores member `member_id`'s signature of the committee public key (clients check t of them)."""
        if self.state.core is None:
            raise WrongRoundError("the committee key does not exist yet")
        if member_id not in self.job.committee(0)[0] or member_id not in self.members:
            raise PermissionError(f"member {member_id} is not a joined member of the key-generation committee")
        verify_signature(self.members[member_id][0], signature,
                         enrollment.key_message(self.job, member_id, self.state.core.public_key_hat))
        if member_id not in self.key_signatures:
            self.store.add_key_signature(member_id, signature)
            self.key_signatures[member_id] = signature

    def work(self, member_id: int, now: float | None = None) -> tuple[str, Any]:
        """("noise", round) | ("decrypt", frame) | ("handoff", task) | ("wait", None) | ("done", None)."""
        if member_id not in self.members:
            raise AuthenticationError(f"member {member_id} has not joined")
        w: Work = self.driver.work(self.state, member_id, time.time() if now is None else now, set(self.members))
        self._persist(w.effects)
        if w.kind == "handoff":
            epoch, subset, new_members, new_t = w.payload
            return "handoff", {"epoch": epoch, "subset": subset, "new_threshold": new_t,
                               "new_members": {k: (self.members[k][1], self.join_signatures[k]) for k in new_members}}
        return w.kind, w.payload

    def submit_partial(self, member_id: int, payload: bytes, signature: bytes) -> None:
        self._signed_member(member_id, signature, "partial", payload)
        part = self.driver.check_partial(self.state, member_id, payload)
        with self.store.transaction() as db:
            self.store.add_partial(db, part.request_id, member_id, payload)
        self._persist(self.driver.include_partial(self.state, part, time.time()))

    def refuse(self, member_id: int, request_id: bytes, reason: str, signature: bytes) -> None:
        """Records a member's signed refusal of a request; the request is then reissued without it."""
        reason = reason[: limits.MAX_SMALL_FIELD]
        self._signed_member(member_id, signature, "refuse", request_id, reason.encode())
        if request_id not in self.state.requests:
            raise WrongRoundError(f"request {request_id.hex()[:16]}… is not pending")
        with self.store.transaction() as db:
            if self.store.add_refusal(db, request_id, member_id, reason):
                self.store.add_event(db, self.state.round_index, "refused", f"member {member_id}: {reason}")
        logger.warning("member %d refused request %s: %s", member_id, request_id.hex()[:16], reason,
                       extra={"event": "refused", "member": member_id})
        self._persist(self.driver.include_refusal(self.state, member_id, request_id, time.time()))

    def submit_handoff(self, member_id: int, epoch: int, subshares: dict[int, bytes], signature: bytes) -> None:
        """Stores an outgoing member's sealed sub-shares; the last one of the subset completes the hand-off."""
        body = b"".join(r.to_bytes(4, "little") + c for r, c in sorted(subshares.items()))
        self._signed_member(member_id, signature, "handoff", epoch.to_bytes(4, "little"), body)
        self.driver.check_handoff(self.state, member_id, epoch)
        new_members = self.job.committee(epoch)[0]
        if set(subshares) != set(new_members) or any(len(c) > 1 << 20 for c in subshares.values()):
            raise ValueError(f"sub-shares must be addressed to every incoming member {new_members}, got {sorted(subshares)}")
        with self.store.transaction() as db:
            self.store.add_handoff(db, epoch, member_id, subshares)
        self._persist(self.driver.include_handoff(self.state, member_id, time.time()))

    def handoff(self, member_id: int) -> tuple[bool, int, list[tuple[int, bytes, bytes, bytes]]]:
        """(complete, epoch, [(dealer, dealer exchange key, dealer join signature, sealed sub-share for member_id)])."""
        epoch = self.job.epoch_of_member(member_id)
        if member_id not in self.members:
            raise AuthenticationError(f"member {member_id} has not joined")
        if epoch == 0:
            raise PermissionError(f"member {member_id} is in the key-generation committee: it gets no hand-off")
        subset, subs = self.store.handoff_subset(epoch), self.store.handoffs(epoch)
        if subset is None or not set(subset) <= set(subs):
            return False, epoch, []
        return True, epoch, [(d, self.members[d][1], self.join_signatures[d], subs[d][member_id]) for d in sorted(subs)]

