# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The SSA round driver: the one owner of the round sequence, pure (events in, effects out, no I/O).

A round (stages in `loyal.protocols.ssa.rounds`) closes, once it holds its `noise_contributors` cohort noise
shares, when `cohort_size` clients (and, with noise, every member's share) are in, or at its deadline with
at least `min_cohort` clients and h + t - 1 member shares. Closing stores the round in the core's hash-chained log and issues one release request per
policy row to t live members; a request whose named members stay silent past `reissue_seconds`, or
refuse, is replaced by a fresh request (new id) to t live members that have not answered its row (a
member never gives two differently weighted views of one row). After the release the committee hands
its key to the next one (the job's rotations; proactive resharing, Herzberg et al., CRYPTO 1995), the
next round opens, or the job is done; rounds before the policy window are compacted.

Shells are loops around it: the gRPC coordinator (`loyal.server.coordinator`), the in-process and Ray
aggregator (`loyal.methods.fl.dpftrl_ssa`) and the self-test (`loyal.protocols.ssa.selftest`). Inputs
(uploads, partials, refusals, hand-off shares) are checked here without changing state (`check_*`),
made durable by the shell, then applied (`include_*`). Transitions are deterministic functions of the
stored inputs: the shell writes the effects of one call in one transaction after they happen, and a
restore replays the stored inputs (`replay`) and then lets `advance` redo any transition it lost.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np

from loyal.protocols.dpftrl.base import ParticipationSchema
from loyal.protocols.dpftrl.ledger import ParticipationLedger
from loyal.protocols.ssa.errors import AuthenticationError, ProtocolStateError, ReplayError
from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.messages import Kind, PartialDecryption, Release, serialize_release_request
from loyal.protocols.ssa.policy import quantized_rows
from loyal.protocols.ssa.rounds import (
    ACCEPTING, Compacted, DriverState, Effect, HandOffSubset, Released, Request, RequestIssued, RoundStored, RoundStage,
    StageSet, check_accepting, check_transition,
)
from loyal.protocols.ssa.restore import Restore
from loyal.protocols.ssa.server import Contribution, Parsed, SsaServer

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Work:
    """What a committee member should do now: "noise" (payload: round), "decrypt" (the request frame),
    "handoff" (epoch, subset, incoming members, their threshold), "wait" or "done"."""

    kind: str
    payload: Any = None
    effects: tuple[Effect, ...] = ()


class RoundDriver(Restore):
    """Drives one job's rounds (configuration only; all state in `DriverState`).

    Args:
      job: the job.
      round_seconds: deadline of a round after it opens (> 0; default none: the shell calls `close`).
      reissue_seconds: a request whose named members stay silent this long is reissued; members seen
        within this time are live (> 0; default 60).
      verify_digests: recompute each upload's frame digest (False only behind a transport that
        authenticated the bytes, e.g. a signature over their SHA-256: each upload is hashed once).
    """

    def __init__(self, job: Job, *, round_seconds: float = math.inf, reissue_seconds: float = 60.0,
                 verify_digests: bool = True) -> None:
        for name, v in (("round_seconds", round_seconds), ("reissue_seconds", reissue_seconds)):
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {name}={v}")
        self.job, self.policy = job, job.policy
        self.round_seconds, self.reissue_seconds = round_seconds, reissue_seconds
        self._servers = [SsaServer(job.config_for_epoch(e), self.policy, verify_digests=verify_digests)
                         for e in range(len(job.rotations) + 1)]

    def server(self, state: DriverState) -> SsaServer:
        """The core server role of the serving committee epoch."""
        return self._servers[state.epoch]

    def create_state(self) -> DriverState:
        schema = ParticipationSchema(self.job.rounds, self.job.participations, min(self.job.min_separation, self.job.rounds))
        return DriverState(ParticipationLedger(schema))

    def _move(self, state: DriverState, target: RoundStage, effects: list[Effect]) -> None:
        state.stage = check_transition(state.stage, target)
        effects.append(StageSet(state.round_index, target))

    def _open(self, state: DriverState, round_index: int, now: float, effects: list[Effect]) -> None:
        state.round_index, state.opened_at, state.requests = round_index, now, {}
        self._move(state, RoundStage.OPEN, effects)

    def start(self, state: DriverState, public_key_hat: np.ndarray, now: float) -> list[Effect]:
        """Key generation is complete: publishes the committee key and opens round 0."""
        if state.stage != RoundStage.KEYGEN:
            raise ProtocolStateError("key generation is over")
        state.core = self.server(state).create_state(public_key_hat)
        effects: list[Effect] = []
        self._open(state, 0, now, effects)
        return effects

    # ---- uploads -------------------------------------------------------------------------------------
    def parse_upload(self, epoch: int, public_key_hat: np.ndarray, kind: Kind, payload: bytes) -> Parsed:
        """`SsaServer.parse_contribution` for `epoch` and its key (taken from the state; may run in a thread)."""
        return Parsed(epoch, public_key_hat, self._servers[epoch].parse_contribution(public_key_hat, payload, kind))

    def check_upload(self, state: DriverState, kind: Kind, sender: int, payload: bytes, parsed: Parsed | None = None) -> Contribution:
        """Parses and checks an upload (once) without changing `state`. `sender` is the id the shell
        authenticated (the frame must name it); `parsed`, `parse_upload` of the same payload done earlier.

        Raises:
          ProtocolStateError: the round does not accept it or is full; ReplayError: replayed; AuthenticationError:
          another sender; ParticipationError: it breaks the job's (k, b) schema; MessageFormatError, ProofError.
        """
        check_accepting(state.stage, state.round_index)
        if kind != Kind.CLIENT_CONTRIBUTION and self.job.noise_multiplier == 0:
            raise ProtocolStateError("this job has noise_multiplier 0 and takes no noise shares")
        if kind == Kind.CLIENT_CONTRIBUTION and state.clients >= self.job.cohort_size:
            raise ProtocolStateError(f"round {state.round_index} is full ({self.job.cohort_size} clients)")
        fresh = parsed is not None and parsed.epoch == state.epoch and parsed.public_key_hat is state.core.public_key_hat
        c = self.server(state).check_contribution(state.core, payload, kind, parsed.contribution if fresh else None)
        if c.sender != sender:
            raise AuthenticationError(f"upload names sender {c.sender}, but it was authenticated as {sender}")
        if kind == Kind.CLIENT_CONTRIBUTION:
            state.ledger.check(sender, state.round_index)
        return c

    def include_upload(self, state: DriverState, contribution: Contribution, now: float) -> list[Effect]:
        """Applies a checked upload; may close the round."""
        if contribution.kind == Kind.CLIENT_CONTRIBUTION:
            state.ledger.record(contribution.sender, state.round_index)
        self.server(state).include(state.core, contribution)
        effects: list[Effect] = []
        if state.stage == RoundStage.OPEN:
            self._move(state, RoundStage.COLLECTING, effects)
        return effects + self.advance(state, now)

    # ---- closing -------------------------------------------------------------------------------------
    def _noise_on(self, state: DriverState) -> bool:
        return self.server(state).config.noise_multiplier > 0

    def noise_wanted(self, state: DriverState) -> bool:
        """The open round still needs cohort noise shares (a data uploader is asked for one)."""
        return state.stage in ACCEPTING and state.cohort_noise < self.server(state).config.noise_contributors

    def ready_to_close(self, state: DriverState, now: float) -> bool:
        """Full (cohort and every member's noise), or past the deadline with enough to close."""
        if state.stage != RoundStage.COLLECTING:
            return False
        cfg = self.server(state).config
        if state.cohort_noise < cfg.noise_contributors:  # the trusted share of the noise is not in yet
            return False
        if state.clients >= self.job.cohort_size and (not self._noise_on(state) or state.noise_shares >= len(cfg.committee)):
            return True
        return now - state.opened_at >= self.round_seconds and state.clients >= self.job.min_cohort and (
            not self._noise_on(state) or state.noise_shares >= cfg.min_noise_shares)

    def close(self, state: DriverState, now: float) -> list[Effect]:
        """Closes the round now (the shell's deadline): stores it and issues its release requests.

        Raises:
          ProtocolStateError: not collecting, fewer than min_cohort clients or (with noise) h + t - 1 shares.
        """
        if state.stage != RoundStage.COLLECTING:
            raise ProtocolStateError(f"round {state.round_index} is {state.stage.value!r}; only a collecting round closes")
        self.server(state).close_round(state.core)  # raises (nothing changed) on too few clients / shares
        effects: list[Effect] = []
        self._move(state, RoundStage.CLOSED, effects)
        self._move(state, RoundStage.AGGREGATED, effects)
        effects.append(RoundStored(state.core.log[-1]))
        if not state.replaying:
            self._request(state, now, effects)
        return effects

    def _request(self, state: DriverState, now: float, effects: list[Effect]) -> None:
        subset = self._live_subset(state, now, set())
        for i in range(len(quantized_rows(self.policy, state.round_index))):
            effects.append(self.issue(state, i, subset, now))
        self._move(state, RoundStage.RELEASE_REQUESTED, effects)
        logger.info("round %d aggregated; %d release request(s)", state.round_index, len(state.requests))

    def _live(self, state: DriverState, member: int, now: float) -> bool:
        return now - state.last_seen.get(member, -math.inf) < self.reissue_seconds

    def _live_subset(self, state: DriverState, now: float, excluded: set[int]) -> tuple[int, ...]:
        """The first t members seen within reissue_seconds and not excluded (else the first t not excluded)."""
        cfg = self.server(state).config
        members = [m for m in cfg.committee if m not in excluded]
        live = [m for m in members if self._live(state, m, now)]
        return tuple((live if len(live) >= cfg.threshold else members)[: cfg.threshold])

    def issue(self, state: DriverState, row_index: int, subset: tuple[int, ...], now: float, note: str = "") -> RequestIssued:
        """A request for one policy row of the current round; supersedes a pending one of the same row."""
        row = quantized_rows(self.policy, state.round_index)[row_index]
        server = self.server(state)
        req = server.create_release_request(state.core, row, subset)
        for rid in [rid for rid, p in state.requests.items() if p.row_index == row_index]:
            del state.requests[rid], state.core.pending[rid]
        frame = serialize_release_request(req, server.config.job_id)
        state.requests[req.request_id] = Request(req, row_index, frame, now)
        return RequestIssued(req, row_index, frame, note)

    # ---- partials and refusals -----------------------------------------------------------------------
    def check_partial(self, state: DriverState, member: int, payload: bytes) -> PartialDecryption:
        """Parses a member's partial decryption and checks it answers a pending request (no state change)."""
        if state.stage != RoundStage.RELEASE_REQUESTED:
            raise ProtocolStateError(f"round {state.round_index} is {state.stage.value!r}, no partial decryptions expected")
        part = self.server(state).check_partial(state.core, payload)
        if part.member_index != member:
            raise AuthenticationError(f"partial names member {part.member_index}, sent by member {member}")
        if part.request_id not in state.requests:
            raise ProtocolStateError(f"request {part.request_id.hex()[:16]}… is not pending (superseded by a reissue or done)")
        return part

    def include_partial(self, state: DriverState, part: PartialDecryption, now: float) -> list[Effect]:
        """Adds a checked partial; releases the round once every pending request is answered."""
        self.server(state).include_partial(state.core, part)
        row = state.requests[part.request_id].row_index
        state.answered.setdefault((state.round_index, row), set()).add(part.member_index)
        return self.advance(state, now)

    def include_refusal(self, state: DriverState, member: int, request_id: bytes, now: float) -> list[Effect]:
        """Records a member's refusal of a pending request; it is reissued without the member."""
        if request_id not in state.requests:
            raise ProtocolStateError(f"request {request_id.hex()[:16]}… is not pending")
        state.refused.setdefault(request_id, set()).add(member)
        return self.advance(state, now)

    def _reissue_stalled(self, state: DriverState, now: float) -> list[Effect]:
        effects: list[Effect] = []
        t = self.server(state).config.threshold
        for rid, p in list(state.requests.items()):
            missing = set(p.request.subset) - set(state.core.pending[rid][1])
            refused = missing & state.refused.get(rid, set())
            if not missing or (not refused and now - p.issued_at < self.reissue_seconds):
                continue
            key = (state.round_index, p.row_index)
            # Past the deadline every named member that has not answered is silent; before it, only the
            # refusing (or lost) members are passed over: the others may still be asked.
            state.excluded.setdefault(key, set()).update(missing if now - p.issued_at >= self.reissue_seconds else refused)
            excluded = state.answered.get(key, set()) | state.excluded[key]
            subset = tuple(m for m in self._live_subset(state, now, excluded) if self._live(state, m, now))
            if len(subset) < t:
                if now - p.issued_at >= self.reissue_seconds:
                    p.issued_at = now  # log once per deadline; a hand-off or the member's return unblocks it
                    logger.warning("request %s stalled: %d live members have not answered its row, need %d",
                                   rid.hex()[:16], len(subset), t)
                continue
            note = f"row {p.row_index}: {list(p.request.subset)} -> {list(subset)} (silent or refused: {sorted(missing)})"
            effects.append(self.issue(state, p.row_index, subset, now, note))
            logger.info("reissued %s of round %d", note, state.round_index)
        return effects

    # ---- releasing -----------------------------------------------------------------------------------
    def _ready_to_release(self, state: DriverState) -> bool:
        return bool(state.requests) and all(
            set(p.request.subset) <= set(state.core.pending[rid][1]) for rid, p in state.requests.items())

    def _release(self, state: DriverState, now: float) -> list[Effect]:
        server, out = self.server(state), []
        for rid in list(state.requests):
            state.core, rel = server.recover_release(state.core, rid)
            out.append(rel)
        effects: list[Effect] = [Released(state.round_index, tuple(out))]
        self._finish_release(state, out, now, effects)
        return effects

    def _finish_release(self, state: DriverState, out: list[Release], now: float, effects: list[Effect]) -> None:
        state.requests = {}
        state.releases.extend(out)
        self._move(state, RoundStage.RELEASED, effects)
        logger.info("round %d released", state.round_index)
        self.server(state).compact(state.core)
        before = self.policy.window_start(state.round_index)
        if before > 0:
            effects.append(Compacted(before))
        if state.round_index + 1 >= self.job.rounds:
            self._move(state, RoundStage.DONE, effects)
        elif self.job.hands_off_after(state.round_index):
            self._move(state, RoundStage.HANDOFF, effects)
        else:
            self._open(state, state.round_index + 1, now, effects)

    def advance(self, state: DriverState, now: float) -> list[Effect]:
        """Takes every transition whose condition holds (after each input and periodically)."""
        if state.replaying or state.core is None:
            return []
        effects: list[Effect] = []
        if self.ready_to_close(state, now):
            effects += self.close(state, now)
        if state.stage == RoundStage.AGGREGATED:  # a restore found the round stored but no request
            self._request(state, now, effects)
        if state.stage == RoundStage.RELEASE_REQUESTED:
            effects += self._reissue_stalled(state, now)
        if state.stage == RoundStage.RELEASE_REQUESTED and self._ready_to_release(state):
            effects += self._release(state, now)
        return effects

    # ---- committee members ---------------------------------------------------------------------------
    def work(self, state: DriverState, member: int, now: float, joined: set[int]) -> Work:
        """The next task of `member` (who just asked: it counts as live). `joined`: members that joined."""
        state.last_seen[member] = now
        epoch = self.job.epoch_of_member(member)
        if state.stage == RoundStage.DONE or epoch < state.epoch:
            return Work("done")  # finished, or retired by a hand-off: old members never return
        if epoch > state.epoch or state.core is None:
            return Work("wait")
        if state.stage == RoundStage.HANDOFF:
            return self._handoff_work(state, member, now, joined)
        if state.stage in ACCEPTING and self._noise_on(state) and member not in state.core.open_round.noise_members:
            return Work("noise", state.round_index)
        if state.stage == RoundStage.RELEASE_REQUESTED:
            for rid, p in state.requests.items():
                if member in p.request.subset and member not in state.core.pending[rid][1] and member not in state.refused.get(rid, ()):
                    return Work("decrypt", p.frame)
        return Work("wait")

    def forget(self, state: DriverState, member: int, now: float) -> list[Effect]:
        """The shell lost `member` (its transport says it is gone): it is no longer live, and a pending
        request it has not answered is reissued now, as if it had refused."""
        state.last_seen.pop(member, None)
        for rid, p in state.requests.items():
            if member in p.request.subset and member not in state.core.pending[rid][1]:
                state.refused.setdefault(rid, set()).add(member)
        return self.advance(state, now)

    def _handoff_work(self, state: DriverState, member: int, now: float, joined: set[int]) -> Work:
        """Fixes the re-sharing subset (first t live outgoing members, once every incoming member
        joined) and hands its members their task; the other outgoing members retire."""
        target = state.epoch + 1
        new_members, new_t = self.job.committee(target)
        effects: tuple[Effect, ...] = ()
        if state.handoff_subset is None:
            state.handoff_ready.add(member)
            live = sorted(m for m in state.handoff_ready if self._live(state, m, now))
            t = self.server(state).config.threshold
            if len(live) < t or not set(new_members) <= joined:
                return Work("wait")
            state.handoff_subset = tuple(live[:t])
            effects = (HandOffSubset(target, state.handoff_subset),)
            logger.info("hand-off to epoch %d from subset %s", target, state.handoff_subset)
        if member not in state.handoff_subset or member in state.handoff_done:
            return Work("done", effects=effects)
        return Work("handoff", (target, state.handoff_subset, new_members, new_t), effects)

    def check_handoff(self, state: DriverState, member: int, epoch: int) -> None:
        """Checks that `member` may now hand its share into `epoch` (no state change)."""
        if state.stage != RoundStage.HANDOFF or epoch != state.epoch + 1:
            raise ProtocolStateError(f"no hand-off into epoch {epoch} is running (stage {state.stage.value!r}, epoch {state.epoch})")
        if state.handoff_subset is None or member not in state.handoff_subset:
            raise PermissionError(f"member {member} is not in the hand-off subset {state.handoff_subset}")
        if member in state.handoff_done:
            raise ReplayError(f"member {member} already sent its hand-off sub-shares")

    def include_handoff(self, state: DriverState, member: int, now: float) -> list[Effect]:
        """Counts a member's stored sub-shares; the last one of the subset switches the epoch."""
        state.handoff_done.add(member)
        if not set(state.handoff_subset) <= state.handoff_done:
            return []
        state.epoch += 1
        state.handoff_ready, state.handoff_subset, state.handoff_done = set(), None, set()
        logger.info("committee epoch %d serves from round %d", state.epoch, state.round_index + 1)
        effects: list[Effect] = []
        self._open(state, state.round_index + 1, now, effects)
        return effects

    # ---- restore -------------------------------------------------------------------------------------


__all__ = ["RoundDriver", "Work"]
