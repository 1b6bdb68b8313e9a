# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The job coordinator: a loop around the pure round driver (`loyal.protocols.ssa.driver`) with a
durable store, authentication and the committee's sealed key material.

Every input is authenticated (Ed25519 over the frame's BLAKE3 digest), checked by the driver without
changing it (parsed and hashed once: the parse recomputes the digest the signature covers), written
to the store, and only then applied; the effects of each driver call are written in one transaction
(`_persist`). `restore` rebuilds the driver from the store: closed rounds from their snapshots
(hash-checked against the log), the open round by replaying its uploads, requests and partials as
stored, hand-offs from their sealed sub-shares; then `advance` redoes any transition whose effects a
crash lost. The core holds the only copy of round state; this class keeps only what the store holds
for the shell (joined members' keys, DKG shares).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from loyal.protocols.proto.convert import residues_from_bytes, submit_message
from loyal.protocols.rlwe.ahe import KeyGenContribution
from loyal.protocols.ssa.audit import encode_part
from loyal.protocols.ssa.driver import RoundDriver
from loyal.protocols.ssa.enrollment import verify_signature
from loyal.protocols.ssa.errors import MessageFormatError
from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.log import LogAuthority
from loyal.protocols.ssa.messages import Kind, Release
from loyal.protocols.ssa.rounds import (
    ACCEPTING, Compacted, Effect, HandOffSubset, Released, RequestIssued, RoundStored, RoundStage, StageSet, StoredRound,
)
from loyal.protocols.ssa.server import Parsed
from loyal.server import limits, snapshots
from loyal.server.errors import AuthenticationError, DuplicateError, SizeLimitError, WrongRoundError
from loyal.server.members import MemberDesk
from loyal.server.store import PayloadRef, Store

logger = logging.getLogger(__name__)

NONCE_BYTES = 16
_KINDS = {"client": Kind.CLIENT_CONTRIBUTION, "noise": Kind.NOISE_CONTRIBUTION, "cohort_noise": Kind.COHORT_NOISE}


@dataclasses.dataclass(frozen=True)
class Upload:
    """A complete streamed upload (header fields + the SSA frame)."""

    round_index: int
    public_key: bytes
    nonce: bytes
    payload_digest: bytes
    signature: bytes
    payload: bytes = dataclasses.field(repr=False)


class Coordinator(MemberDesk):
    """One served job.

    Args:
      store: the open store (its job row must exist; see `open_job`).
      job: the job.
      round_seconds: deadline of a round after it opens (> 0).
      reissue_seconds: a silent member's request is reissued after this long (> 0; default 60).
    """

    def __init__(self, store: Store, job: Job, round_seconds: float, reissue_seconds: float = 60.0,
                 authority: LogAuthority | None = None) -> None:
        self.store, self.job, self.authority = store, job, authority
        self.driver = RoundDriver(job, round_seconds=round_seconds, reissue_seconds=reissue_seconds)
        self.state = self.driver.create_state()
        self.members: dict[int, tuple[bytes, bytes]] = {}
        self.join_signatures: dict[int, bytes] = {}
        self.commitments: dict[int, tuple[bytes, bytes]] = {}
        self.key_signatures: dict[int, bytes] = {}
        self.keygen: dict[int, tuple[bytes, dict[int, bytes]]] = {}
        self.max_upload_bytes = job.config_for_epoch(0).bytes_per_client() + limits.SUBMISSION_SLACK_BYTES

    @classmethod
    def open_job(cls, store: Store, *, job: Job | None, round_seconds: float, tokens: list[str] = (),
                 reissue_seconds: float = 60.0, authority: LogAuthority | None = None) -> Coordinator:
        """Restores the job in `store`, or creates it from `job` if the store is new.

        Raises:
          ValueError: the store is new and no job is given, or the stored job is invalid.
        """
        saved = store.load_job()
        if saved is None:
            if job is None:
                raise ValueError(f"store {store.path} holds no job and no job was given")
            limits.check_release_requests(job)
            store.save_job(job.to_json(), round_seconds, list(tokens))
        else:
            job, round_seconds = Job.from_json(saved[0]), saved[1]
            if tokens:
                store.add_tokens(list(tokens))
        coord = cls(store, job, round_seconds, reissue_seconds, authority)
        coord.restore()
        return coord

    @property
    def config(self):
        return self.driver.server(self.state).config

    @property
    def releases(self) -> list[Release]:
        return self.state.releases

    def _persist(self, effects: list[Effect] | tuple[Effect, ...]) -> None:
        """Writes the effects of one driver call in one transaction."""
        if not effects:
            return
        compact_before = 0
        with self.store.transaction() as db:
            for e in effects:
                if isinstance(e, StageSet):
                    self.store.set_stage(db, e.round_index, e.stage)
                elif isinstance(e, RoundStored):
                    self.store.add_snapshot(db, e.aggregate.header.round_index, *snapshots.encode(e.aggregate))
                elif isinstance(e, RequestIssued):
                    self.store.add_request(db, e.request.request_id, e.request.round_index, e.row_index, e.request.subset)
                    if e.note:
                        self.store.add_event(db, e.request.round_index, "reissued", e.note)
                elif isinstance(e, Released):
                    for rel in e.releases:
                        self.store.add_release(db, rel.request_id, rel.round_index, snapshots.release_digest(rel))
                        self.store.add_release_values(db, rel.request_id, rel.round_index, *snapshots.release_to_store(rel))
                elif isinstance(e, Compacted):
                    compact_before = max(compact_before, self.store.compact(db, e.before) and e.before)
                elif isinstance(e, HandOffSubset):
                    self.store.set_handoff_subset(db, e.epoch, e.subset)
        if compact_before:
            logger.info("compacted rounds < %d", compact_before, extra={"event": "compacted"})
        if any(isinstance(e, RoundStored) for e in effects):
            self._anchor()

    def _anchor(self) -> None:
        """Anchors every stored round's head the authority lacks, in order (after the durable write: a
        crash in between is repaired by `restore`, which calls this again)."""
        if self.authority is None or self.state.core is None:
            return
        log, genesis = self.state.core.log, self.job.genesis
        for h in (a.header for a in log[self.authority.rounds(genesis):]):
            self.authority.anchor(genesis, h.round_index, h.entry_hash, h.num_clients, h.num_noise)
            logger.info("anchored round %d", h.round_index, extra={"event": "anchored", "round": h.round_index})

    # ---- restore -------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuilds the driver from the store (module doc)."""
        self.members, self.keygen, self.key_signatures = self.store.members(), self.store.keygen(), self.store.key_signatures()
        self.join_signatures, self.commitments = self.store.join_signatures(), self.store.commitments()
        if len(self.keygen) < len(self.job.committee(0)[0]):
            return
        now, st, drv = time.time(), self.state, self.driver
        st.replaying = True
        drv.start(st, self._public_key(), now)
        rounds = self.store.rounds()
        open_rounds = {r for r, s in rounds if RoundStage(s) in ACCEPTING}  # their uploads are replayed below
        st.ledger = type(st.ledger).from_history(
            st.ledger.schema, [(c, r) for c, r in self.store.participations() if r not in open_rounds])
        for rid, member, _ in self.store.refusals():
            st.refused.setdefault(rid, set()).add(member)
        digests = self.store.release_digests()
        for round_index, stage in rounds:
            snap = self.store.snapshot(round_index)
            stored = StoredRound(
                round_index, RoundStage(stage), self.store.opened_at(round_index) or now,
                aggregate=None if snap is None else snapshots.decode(drv.server(st).config, *snap),
                uploads=() if snap is not None else tuple(
                    (_KINDS[k], s, p) for k, s, p in self.store.submissions(round_index)),
                requests=tuple((rid, row, subset, tuple(self.store.partials(rid)))
                               for rid, row, subset in self.store.requests(round_index)),
                releases=tuple(snapshots.release_from_store(r, digests, round_index) for r in self.store.release_values(round_index)),
            )
            drv.replay(st, stored, now)
            if st.stage == RoundStage.HANDOFF:
                drv.replay_handoff(st, self.store.handoff_subset(st.epoch + 1), set(self.store.handoffs(st.epoch + 1)), now)
        st.replaying = False
        self._anchor()
        self._persist(drv.advance(st, now))
        logger.info("restored job at round %d stage %s (%d releases)", st.round_index, st.stage, len(st.releases))

    def _public_key(self) -> np.ndarray:
        ring = self.job.config_for_epoch(0).ahe.ring
        parts = [KeyGenContribution(d, residues_from_bytes(p, ring, "public_part"), {}) for d, (p, _) in sorted(self.keygen.items())]
        return self.job.config_for_epoch(0).ahe.combine_public_key(parts)

    # ---- clients -------------------------------------------------------------------------------------
    def enroll(self, token: str, public_key: bytes) -> int:
        if not token or len(token) > limits.MAX_SMALL_FIELD:
            raise AuthenticationError("enrollment token missing or too long")
        if len(public_key) != 32:
            raise ValueError(f"public_key must be a 32-byte Ed25519 key, got {len(public_key)} bytes")
        existing = self.store.client_id(public_key)
        if existing is not None:
            raise DuplicateError(f"public key already enrolled as client {existing}")
        cid = self.store.enroll(token, public_key)
        if cid is None:
            raise AuthenticationError("enrollment token is invalid or already used")
        logger.info("enrolled client %d", cid, extra={"event": "enroll", "client": cid})
        return cid

    def task(self) -> dict[str, Any]:
        """What GetTask returns (public data only): the model moves by lr · prefix sum / cohort size."""
        st, delta = self.state, None
        if st.releases:
            prefix = self.job.policy.prefix_sum([r.values for r in st.releases])
            delta = self.job.server_learning_rate * prefix / self.job.cohort_size
        return {
            "round": st.round_index, "stage": st.stage, "model_version": len(st.releases),
            "public_key_hat": None if st.core is None else st.core.public_key_hat, "model_delta": delta,
            "max_submission_bytes": self.max_upload_bytes, "key_signatures": dict(self.key_signatures),
            "member_keys": {m: k for m, (k, _) in self.members.items()},
        }

    def authenticate_upload(self, kind: str, round_index: int, total_bytes: int, public_key: bytes, nonce: bytes,
                            payload_digest: bytes, signature: bytes) -> int:
        """Checks an upload's header before any payload byte is read: size, round, nonce, the sender's
        enrolled (client) or joined (member) key and its signature over the payload digest.

        Returns:
          The sender's client id or member id.

        Raises:
          SizeLimitError, WrongRoundError, MessageFormatError, AuthenticationError.
        """
        if total_bytes > self.max_upload_bytes or total_bytes <= 0:
            raise SizeLimitError(f"upload of {total_bytes} bytes outside (0, {self.max_upload_bytes}] for this job")
        self._check_round(round_index)
        if len(nonce) != NONCE_BYTES:
            raise MessageFormatError(f"nonce must be {NONCE_BYTES} bytes, got {len(nonce)}")
        if kind != "noise":  # client data and cohort noise shares: an enrolled client
            sender = self.store.client_id(public_key)
        else:
            sender = next((m for m, (sk, _) in self.members.items() if sk == public_key), None)
        if sender is None:
            raise AuthenticationError("public key is not enrolled" if kind != "noise" else
                                      "public key is not a joined committee member's signing key")
        verify_signature(public_key, signature, submit_message(self.job.job_id, round_index, nonce, payload_digest, kind))
        return sender

    def submit_upload(self, up: Upload, kind: str) -> tuple[bool, int]:
        """Authenticates, checks, stores, then applies one whole upload (a `_KINDS` key); (duplicate, clients)."""
        return self.submit(up, kind, self.authenticate_upload(kind, up.round_index, len(up.payload), up.public_key,
                                                              up.nonce, up.payload_digest, up.signature))

    def _check_round(self, round_index: int) -> None:
        """The header's round must accept uploads now (checked again at `submit`: it may move on meanwhile)."""
        if round_index != self.state.round_index or self.state.stage not in ACCEPTING:
            raise WrongRoundError(f"upload for round {round_index}, but round {self.state.round_index} is {self.state.stage.value!r}")

    def parse(self, up: Upload, kind: str) -> Callable[[], Parsed]:
        """The upload's pure checks (parse, digest, ranges, proof) for a worker thread; epoch and key taken now."""
        core = self.state.core  # None before the committee key exists: `submit` then refuses the upload
        return (lambda: None) if core is None else functools.partial(
            self.driver.parse_upload, self.state.epoch, core.public_key_hat, _KINDS[kind], up.payload)

    def submit(self, up: Upload, kind: str, sender: int, staged: PayloadRef | None = None,
               parsed: Parsed | None = None, sync: bool = True) -> tuple[bool, int]:
        """Checks, stores, then applies an upload `authenticate_upload` accepted (payload already durable at
        `staged`, and parsed by `parse`, if given). `sync=False`: the row is flushed by the caller's
        `store.flush_rows()`, which must return before the upload is acknowledged."""
        seen = self.store.find_submission(up.round_index, up.public_key, up.nonce)
        if seen is not None:
            if seen != up.payload_digest:
                raise DuplicateError(f"nonce already used in round {up.round_index} with different bytes")
            return True, self.state.clients
        self._check_round(up.round_index)
        # The one hash of the upload: the parse recomputes the frame's BLAKE3 digest and checks its trailer.
        c = self.driver.check_upload(self.state, _KINDS[kind], sender, up.payload, parsed)
        if c.digest != up.payload_digest:
            raise MessageFormatError("payload does not match its signed payload_digest (truncated or corrupted upload)")
        ref = staged or self.store.stage_payload(up.round_index, up.payload, c.digest)
        with self.store.transaction(sync) as db:  # stored first (payload, then its row), then memory
            self.store.add_submission(db, up.round_index, kind, sender, up.public_key, up.nonce, c.digest, ref)
            if self.job.prove_uploads:
                self.store.add_part(db, up.round_index, kind, sender, encode_part(c.message.ahe, c.message.proof))
            if kind == "client":
                self.store.add_participation(db, sender, up.round_index)
        self._persist(self.driver.include_upload(self.state, c, time.time()))
        logger.debug("stored %s upload", kind, extra={"event": "upload", "round": up.round_index, "kind": kind, "sender": sender})
        return False, self.state.clients

    # ---- time and observers --------------------------------------------------------------------------
    def advance(self, now: float | None = None) -> None:
        """Takes every transition whose condition holds (the server calls it periodically)."""
        self._persist(self.driver.advance(self.state, time.time() if now is None else now))

    def status(self) -> dict[str, Any]:
        st = self.state
        return {
            "round": st.round_index, "state": st.stage.value, "stored_rounds": 0 if st.core is None else len(st.core.log),
            "submissions": st.clients, "releases": len(st.releases),
            "head": b"" if st.core is None else st.core.head, "epoch": st.epoch,
        }
