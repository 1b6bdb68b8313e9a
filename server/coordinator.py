# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The job coordinator: drives the SSA core roles (`loyal.protocols.ssa`) through the round state
machine, with every accepted input written to the durable store first.

No protocol math here: uploads go to `SsaServer.handle_*`, rounds to `close_round`, releases to
`create_release_request` / `handle_partial_decryption` / `recover_release`. This class is sync and
I/O-free apart from the store; the gRPC servicers (server/servicer.py) call it.

Crash safety: the in-memory `ServerState` is never saved; `restore` rebuilds it from the store:
closed rounds from their aggregate snapshots (hash-checked against the log, `server/snapshots.py`),
the open round by replaying its uploads through the same core calls in the same order. Aggregation
is exact modular addition and release requests are deterministic functions of the log, so the
rebuilt state — and every later release — equals that of an uninterrupted run.

Committee epochs: the job's rotations hand the key off (proactive resharing) after a round's
release: the first t live members of the outgoing committee re-share to the incoming one through
the server (sealed member to member) and retire. Reissue: a request whose named members stay silent
past `reissue_seconds` (or refuse) is replaced by a fresh request (new id) to t live members that
have not answered this row yet — a member never gives two differently weighted views of one row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from typing import Any

import numpy as np

from loyal.protocols.proto import policies
from loyal.protocols.proto.convert import JobSpec, member_message, residues_from_bytes, submit_message
from loyal.protocols.rlwe.ahe import KeyGenContribution
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.errors import LogIntegrityError, MessageFormatError, ProtocolStateError
from loyal.protocols.ssa.messages import Kind, Release, ReleaseRequest, parse_contribution, parse_partial, serialize_release_request
from loyal.protocols.ssa.server import ServerState, SsaServer
from loyal.server import limits, snapshots
from loyal.server.errors import AuthenticationError, DuplicateError, SizeLimitError, WrongRoundError
from loyal.server.handoff import HandOffMixin
from loyal.server.rounds import ACCEPTING, RoundStage, check_accepting, check_transition
from loyal.server.store import Store

logger = logging.getLogger(__name__)

NONCE_BYTES = 16


def _verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise AuthenticationError("signature does not verify under the sender's enrolled Ed25519 key") from None


@dataclasses.dataclass
class _Pending:
    """A release request of the current round (bytes cached for members)."""

    request: ReleaseRequest
    row_index: int
    frame: bytes = dataclasses.field(repr=False)
    issued_at: float = 0.0


@dataclasses.dataclass(frozen=True)
class Upload:
    """A complete streamed upload (header fields + the SSA frame)."""

    round_index: int
    public_key: bytes
    nonce: bytes
    payload_sha256: bytes
    signature: bytes
    payload: bytes = dataclasses.field(repr=False)


class Coordinator(HandOffMixin):
    """One served job.

    Args:
      store: the open store (its job row must exist; see `open_job`).
      spec: the job.
      max_rounds: rounds to run before the job is done (>= 1).
      round_seconds: deadline of a round after it opens (> 0); at the deadline a round with
        >= min_cohort clients (and >= h noise shares when noise is on) closes early.
      reissue_seconds: a release request whose named members stay silent this long is reissued to
        another subset of t live members (> 0; default 60). Members seen polling within this time are live.
    """

    def __init__(self, store: Store, spec: JobSpec, max_rounds: int, round_seconds: float,
                 reissue_seconds: float = 60.0) -> None:
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
        if not round_seconds > 0:
            raise ValueError(f"round_seconds must be > 0, got {round_seconds}")
        if not reissue_seconds > 0:
            raise ValueError(f"reissue_seconds must be > 0, got {reissue_seconds}")
        steps = policies.policy_steps(spec.policy_spec)
        if steps is not None and max_rounds > steps:
            raise ValueError(f"max_rounds must be <= the policy's steps={steps}, got {max_rounds}")
        if spec.rotations and spec.rotations[-1][0] >= max_rounds - 1:
            raise ValueError(
                f"rotation after round {spec.rotations[-1][0]} leaves no round for the new committee (max_rounds={max_rounds})"
            )
        self.store = store
        self.spec = spec
        self.policy = spec.policy()
        self._set_epoch(0)
        self.genesis = spec.genesis(self.config)
        self.server.genesis = self.genesis
        self.reissue_seconds = reissue_seconds
        self.last_seen: dict[int, float] = {}
        self.refused: dict[bytes, set[int]] = {}
        self.row_answered: dict[tuple[int, int], set[int]] = {}
        self.row_excluded: dict[tuple[int, int], set[int]] = {}
        self.handoff_ready: set[int] = set()
        self.handoff_subset: tuple[int, ...] | None = None
        self.handoff_done: set[int] = set()
        self.max_rounds = max_rounds
        self.round_seconds = round_seconds
        self.state: ServerState | None = None
        self.stage = RoundStage.KEYGEN
        self.round_index = 0
        self.opened_at = time.time()
        self.members: dict[int, tuple[bytes, bytes]] = {}
        self.keygen: dict[int, tuple[bytes, dict[int, bytes]]] = {}
        self.pending: dict[bytes, _Pending] = {}
        self.releases: list[Release] = []
        self.clients_in_round = 0
        self.noise_in_round = 0
        self.max_upload_bytes = self.config.bytes_per_client() + limits.SUBMISSION_SLACK_BYTES
        self._replaying = False

    def _set_epoch(self, epoch: int) -> None:
        """Serves committee `epoch`: same job keys and log, the epoch's members and threshold."""
        self.epoch = epoch
        self.config: SsaConfig = self.spec.config_for_epoch(epoch)
        self.server = SsaServer(self.config, self.policy)
        if hasattr(self, "genesis"):
            self.server.genesis = self.genesis

    # ---- construction and restore ------------------------------------------------------------------
    @classmethod
    def open_job(
        cls, store: Store, *, spec: JobSpec | None, max_rounds: int, round_seconds: float, tokens: list[str] = (),
        reissue_seconds: float = 60.0,
    ) -> Coordinator:
        """Restores the job in `store`, or creates it from `spec` if the store is new.

        Raises:
          ValueError: if the store is new and no spec is given.
        """
        saved = store.load_job()
        if saved is None:
            if spec is None:
                raise ValueError(f"store {store.path} holds no job and no job spec was given")
            d = dataclasses.asdict(spec)
            d["job_id"], d["public_seed"] = spec.job_id.hex(), spec.public_seed.hex()
            store.save_job(d, max_rounds, round_seconds, list(tokens))
        else:
            d, max_rounds, round_seconds = saved
            d = dict(d, job_id=bytes.fromhex(d["job_id"]), public_seed=bytes.fromhex(d["public_seed"]))
            d["rotations"] = tuple(tuple(r) for r in d.get("rotations", ()))
            spec = JobSpec(**d)
            if tokens:
                store.add_tokens(list(tokens))
        coord = cls(store, spec, max_rounds, round_seconds, reissue_seconds)
        coord.restore()
        return coord

    def restore(self) -> None:
        """Rebuilds the in-memory state from the store (see module doc)."""
        self._replaying = True
        try:
            self.members = self.store.members()
            self.keygen = self.store.keygen()
            for rid, member, _ in self.store.refusals():
                self.refused.setdefault(rid, set()).add(member)
            if len(self.keygen) < len(self.spec.committee(0)[0]):
                return
            self._start_rounds(persist=False)
            digests = self.store.release_digests()
            for round_index, stage in self.store.rounds():
                if round_index != self.round_index or self.stage != RoundStage.OPEN:
                    raise ProtocolStateError(f"stored round {round_index} does not follow round {self.round_index}")
                self.opened_at = self.store.opened_at(round_index) or time.time()
                snap = None if RoundStage(stage) in ACCEPTING else self.store.snapshot(round_index)
                if snap is None:  # the open round, or a round stored by schema 1: replay its uploads
                    for kind, payload in self.store.submissions(round_index):
                        self._apply_upload(kind, payload)
                    if RoundStage(stage) in ACCEPTING:
                        break
                    self._close_round(persist=False)
                else:
                    self._restore_snapshot(round_index, snap)
                published = self.store.release_values(round_index)
                if published and stage in (RoundStage.RELEASED, RoundStage.DONE, RoundStage.HANDOFF):
                    # Published: load the releases (digest-checked) instead of re-decrypting rounds that
                    # compaction may have dropped since.
                    self.stage = check_transition(self.stage, RoundStage.RELEASE_REQUESTED)
                    self._finish_release([_release_from_store(row, digests, round_index) for row in published], persist=False)
                    continue
                for rid, row_index, subset in self.store.requests(round_index):
                    p = self._create_request(row_index, subset)
                    if p.request.request_id != rid:
                        raise ProtocolStateError(f"replayed request {p.request.request_id.hex()[:16]} != stored {rid.hex()[:16]}")
                    for member, payload in self.store.partials(rid):
                        self.server.handle_partial_decryption(self.state, payload)
                        self.row_answered.setdefault((round_index, row_index), set()).add(member)
                self.stage = check_transition(self.stage, RoundStage.RELEASE_REQUESTED)
                if stage in (RoundStage.RELEASED, RoundStage.DONE, RoundStage.HANDOFF) or self._ready_to_release():
                    self._release(persist=rid_missing(digests, self.pending))
            logger.info("restored job at round %d stage %s (%d releases)", self.round_index, self.stage, len(self.releases))
        finally:
            self._replaying = False
        self.advance()

    def _restore_snapshot(self, round_index: int, snap: tuple) -> None:
        """Appends a stored round from its snapshot, checking digests and the hash chain."""
        agg = snapshots.decode(self.config, *snap)
        h = agg.header
        digests = (h.data_kahe_digest, h.noise_kahe_digest, h.data_ahe_digest, h.noise_ahe_digest)
        if h.round_index != round_index or h.prev_hash != self.state.head or h.entry_hash != ssalog.entry_hash(
            self.state.head, round_index, h.num_clients, h.num_noise, digests
        ):
            raise LogIntegrityError(f"snapshot of round {round_index} does not hash-chain to the restored log")
        for target in (RoundStage.COLLECTING, RoundStage.CLOSED, RoundStage.AGGREGATED):
            self.stage = check_transition(self.stage, target)
        self.state.log.append(agg)
        self.state.head = h.entry_hash
        # The open round's accumulator is still empty (no upload was replayed): it becomes round r+1's.
        self.state.open_round.round_index = round_index + 1
        self.clients_in_round, self.noise_in_round = h.num_clients, h.num_noise

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
        """What GetTask returns (public data only)."""
        delta = None
        if self.releases:
            delta = self.spec.server_learning_rate * self.releases[-1].values / self.spec.clients_per_round
        return {
            "round": self.round_index, "stage": self.stage, "model_version": len(self.releases),
            "public_key_hat": None if self.state is None else self.state.public_key_hat, "model_delta": delta,
            "max_submission_bytes": self.max_upload_bytes,
        }

    def check_upload_header(self, round_index: int, total_bytes: int) -> None:
        """Cheap checks before any payload byte is read (size, round)."""
        if total_bytes > self.max_upload_bytes or total_bytes <= 0:
            raise SizeLimitError(f"upload of {total_bytes} bytes outside (0, {self.max_upload_bytes}] for this job")
        if round_index != self.round_index:
            raise WrongRoundError(f"upload for round {round_index}, but round {self.round_index} is {self.stage.value!r}")
        check_accepting(self.stage, round_index)

    def submit_client(self, up: Upload) -> tuple[bool, int]:
        """Authenticates and stores one client contribution; returns (duplicate, clients in round)."""
        cid = self.store.client_id(up.public_key)
        if cid is None:
            raise AuthenticationError("public key is not enrolled")
        return self._submit(up, "client", cid)

    def submit_noise(self, up: Upload) -> tuple[bool, int]:
        """Authenticates and stores one committee member's noise share."""
        member = next((m for m, (sk, _) in self.members.items() if sk == up.public_key), None)
        if member is None:
            raise AuthenticationError("public key is not a joined committee member's signing key")
        if self.config.noise_multiplier == 0:
            raise ProtocolStateError("this job has noise_multiplier 0 and takes no noise shares")
        return self._submit(up, "noise", member)

    def _submit(self, up: Upload, kind: str, sender: int) -> tuple[bool, int]:
        self.check_upload_header(up.round_index, len(up.payload))
        if len(up.nonce) != NONCE_BYTES:
            raise MessageFormatError(f"nonce must be {NONCE_BYTES} bytes, got {len(up.nonce)}")
        digest = hashlib.sha256(up.payload).digest()
        if digest != up.payload_sha256:
            raise MessageFormatError("payload does not match payload_sha256 (truncated or corrupted upload)")
        _verify(up.public_key, up.signature, submit_message(self.config.job_id, up.round_index, up.nonce, digest, kind))
        seen = self.store.find_submission(up.round_index, up.public_key, up.nonce)
        if seen is not None:
            if seen != digest:
                raise DuplicateError(f"nonce already used in round {up.round_index} with different bytes")
            return True, self.clients_in_round
        msg, _ = parse_contribution(
            up.payload, job_id=self.config.job_id, kahe_ring=self.config.kahe.ring, ahe_ring=self.config.ahe.ring,
            num_polys=self.config.num_polys, kind=Kind.CLIENT_CONTRIBUTION if kind == "client" else Kind.NOISE_CONTRIBUTION,
            verify_digest=False,
        )
        frame_sender = msg.client_id if kind == "client" else msg.member_index
        if frame_sender != sender:
            raise AuthenticationError(f"upload names sender {frame_sender}, but the key belongs to {kind} {sender}")
        if kind == "client" and self.clients_in_round >= self.spec.clients_per_round:
            raise WrongRoundError(f"round {self.round_index} is full ({self.spec.clients_per_round} clients)")
        self._apply_upload(kind, up.payload)  # validates fully; mutates memory only on success
        with self.store.transaction() as db:
            self.store.add_submission(db, up.round_index, kind, sender, up.public_key, up.nonce, digest, up.payload)
            if self.stage == RoundStage.COLLECTING and self.clients_in_round + self.noise_in_round == 1:
                self.store.set_stage(db, self.round_index, RoundStage.COLLECTING)
        logger.info("stored %s upload", kind, extra={"event": "upload", "round": up.round_index, "kind": kind, "sender": sender})
        self.advance()
        return False, self.clients_in_round

    def _apply_upload(self, kind: str, payload: bytes) -> None:
        if kind == "client":
            self.server.handle_client_contribution(self.state, payload)
            self.clients_in_round += 1
        else:
            self.server.handle_noise_contribution(self.state, payload)
            self.noise_in_round += 1
        if self.stage == RoundStage.OPEN:
            self.stage = check_transition(self.stage, RoundStage.COLLECTING)

    # ---- committee ---------------------------------------------------------------------------------
    def join(self, member_id: int, signing_key: bytes, exchange_key: bytes, signature: bytes) -> None:
        try:
            self.spec.epoch_of_member(member_id)
        except ValueError as e:
            raise PermissionError(str(e)) from None
        if len(signing_key) != 32 or len(exchange_key) != 32:
            raise ValueError(f"signing_key and exchange_key must be 32 bytes, got {len(signing_key)}, {len(exchange_key)}")
        _verify(signing_key, signature, member_message("join", member_id, self.config.job_id, exchange_key))
        if member_id in self.members:
            if self.members[member_id] != (signing_key, exchange_key):
                raise AuthenticationError(f"member {member_id} already joined with other keys")
            return
        self.store.add_member(member_id, signing_key, exchange_key)
        self.members[member_id] = (signing_key, exchange_key)
        logger.info("member %d joined", member_id, extra={"event": "join", "member": member_id})

    def roster(self) -> tuple[bool, dict[int, bytes]]:
        """(complete, exchange keys) of the key-generation committee (epoch 0)."""
        first = self.spec.committee(0)[0]
        return all(m in self.members for m in first), {m: self.members[m][1] for m in first if m in self.members}

    def _signed_member(self, member_id: int, signature: bytes, kind: str, *parts: bytes) -> None:
        if member_id not in self.members:
            raise AuthenticationError(f"member {member_id} has not joined")
        _verify(self.members[member_id][0], signature, member_message(kind, member_id, self.config.job_id, *parts))

    def submit_keygen(self, member_id: int, public_part: bytes, shares: dict[int, bytes], signature: bytes) -> None:
        """Stores dealer `member_id`'s public key part and its end-to-end encrypted Shamir shares."""
        body = b"".join(r.to_bytes(4, "little") + c for r, c in sorted(shares.items()))
        self._signed_member(member_id, signature, "keygen", public_part, body)
        if self.stage != RoundStage.KEYGEN:
            raise ProtocolStateError("key generation is over")
        first = self.spec.committee(0)[0]
        if member_id not in first:
            raise PermissionError(f"member {member_id} is not in the key-generation committee {first}")
        if member_id in self.keygen:
            raise DuplicateError(f"member {member_id} already sent its key-generation contribution")
        residues_from_bytes(public_part, self.config.ahe.ring, "public_part")
        if set(shares) != set(first) or any(len(c) > 1 << 20 for c in shares.values()):
            raise ValueError(f"shares must be addressed to every member {first}, got {sorted(shares)}")
        self.store.add_keygen(member_id, public_part, shares)
        self.keygen[member_id] = (public_part, shares)
        if len(self.keygen) == len(first):
            self._start_rounds(persist=True)

    def key_shares(self, member_id: int) -> tuple[bool, list[tuple[int, bytes, bytes]], np.ndarray | None]:
        """(complete, [(dealer, dealer exchange key, ciphertext for member_id)], public key)."""
        if member_id not in self.spec.committee(0)[0]:
            raise PermissionError(f"member {member_id} joined a later committee: it gets its share by hand-off")
        if self.state is None:
            return False, [], None
        out = [(d, self.members[d][1], shares[member_id]) for d, (_, shares) in sorted(self.keygen.items())]
        return True, out, self.state.public_key_hat

    def work(self, member_id: int, now: float | None = None) -> tuple[str, Any]:
        """("noise", round) | ("decrypt", frame) | ("handoff", task) | ("wait", None) | ("done", None)."""
        if member_id not in self.members:
            raise AuthenticationError(f"member {member_id} has not joined")
        now = time.time() if now is None else now
        self.last_seen[member_id] = now
        epoch = self.spec.epoch_of_member(member_id)
        if self.stage == RoundStage.DONE or epoch < self.epoch:
            return "done", None  # finished, or retired by a hand-off: old members never return
        if epoch > self.epoch or self.state is None:
            return "wait", None
        if self.stage == RoundStage.HANDOFF:
            return self._handoff_work(member_id, now)
        if self.stage in ACCEPTING and self.config.noise_multiplier > 0 and member_id not in self.state.open_round.noise_members:
            return "noise", self.round_index
        if self.stage == RoundStage.RELEASE_REQUESTED:
            for rid, p in self.pending.items():
                if (member_id in p.request.subset and member_id not in self.state.pending[rid][1]
                        and member_id not in self.refused.get(rid, ())):
                    return "decrypt", p.frame
        return "wait", None

    def submit_partial(self, member_id: int, payload: bytes, signature: bytes) -> None:
        self._signed_member(member_id, signature, "partial", payload)
        if self.stage != RoundStage.RELEASE_REQUESTED:
            raise ProtocolStateError(f"round {self.round_index} is {self.stage.value!r}, no partial decryptions expected")
        part = parse_partial(payload, job_id=self.config.job_id, ahe_ring=self.config.ahe.ring)
        if part.member_index != member_id:
            raise AuthenticationError(f"partial names member {part.member_index}, signed by member {member_id}")
        if part.request_id not in self.pending:
            raise ProtocolStateError(f"request {part.request_id.hex()[:16]}… is not pending (superseded by a reissue or done)")
        self.server.handle_partial_decryption(self.state, payload)
        with self.store.transaction() as db:
            self.store.add_partial(db, part.request_id, member_id, payload)
        self.row_answered.setdefault((self.round_index, self.pending[part.request_id].row_index), set()).add(member_id)
        self.advance()

    def refuse(self, member_id: int, request_id: bytes, reason: str, signature: bytes) -> None:
        """Records a member's signed refusal of a request; the request is then reissued without it."""
        reason = reason[: limits.MAX_SMALL_FIELD]
        self._signed_member(member_id, signature, "refuse", request_id, reason.encode())
        if request_id not in self.pending:
            raise ProtocolStateError(f"request {request_id.hex()[:16]}… is not pending")
        with self.store.transaction() as db:
            if self.store.add_refusal(db, request_id, member_id, reason):
                self.store.add_event(db, self.round_index, "refused", f"member {member_id}: {reason}")
        self.refused.setdefault(request_id, set()).add(member_id)
        logger.warning("member %d refused request %s: %s", member_id, request_id.hex()[:16], reason,
                       extra={"event": "refused", "member": member_id})
        self.advance()

    # ---- the state machine ---------------------------------------------------------------------------
    def _start_rounds(self, *, persist: bool) -> None:
        parts = [KeyGenContribution(d, residues_from_bytes(p, self.config.ahe.ring, "public_part"), {}) for d, (p, _) in sorted(self.keygen.items())]
        self.state = self.server.create_state(self.config.ahe.combine_public_key(parts))  # head: the job genesis
        self._open(0, persist=persist)

    def _open(self, round_index: int, *, persist: bool) -> None:
        self.stage = check_transition(self.stage, RoundStage.OPEN)
        self.round_index = round_index
        self.clients_in_round = self.noise_in_round = 0
        self.opened_at = time.time()
        self.pending = {}
        if persist:
            with self.store.transaction() as db:
                self.store.set_stage(db, round_index, RoundStage.OPEN)

    def _ready_to_close(self, now: float) -> bool:
        noise_on = self.config.noise_multiplier > 0
        if self.clients_in_round >= self.spec.clients_per_round and (
            not noise_on or self.noise_in_round >= len(self.config.committee)
        ):
            return True
        late = now - self.opened_at >= self.round_seconds
        return late and self.clients_in_round >= self.spec.min_cohort and (
            not noise_on or self.noise_in_round >= self.config.honest_members
        )

    def _close_round(self, *, persist: bool) -> None:
        self.stage = check_transition(self.stage, RoundStage.CLOSED)
        self.server.close_round(self.state)
        self.stage = check_transition(self.stage, RoundStage.AGGREGATED)
        rows = self.policy.release_rows(self.round_index)
        if not persist:
            return
        subset = tuple(self.config.committee[: self.config.threshold])
        with self.store.transaction() as db:
            self.store.add_snapshot(db, self.round_index, *snapshots.encode(self.state.log[-1]))
            for i in range(len(rows)):
                p = self._create_request(i, subset)
                self.store.add_request(db, p.request.request_id, self.round_index, i, subset)
            self.store.set_stage(db, self.round_index, RoundStage.RELEASE_REQUESTED)
        self.stage = check_transition(self.stage, RoundStage.RELEASE_REQUESTED)
        logger.info("round %d aggregated; %d release request(s)", self.round_index, len(rows),
                    extra={"event": "aggregated", "round": self.round_index})

    def _create_request(self, row_index: int, subset: tuple[int, ...]) -> _Pending:
        """A request for one policy row; it supersedes a pending request of the same row (reissue)."""
        row = self.policy.release_rows(self.round_index)[row_index]
        req = self.server.create_release_request(self.state, row, subset)
        for rid in [rid for rid, p in self.pending.items() if p.row_index == row_index]:
            silent = set(self.pending.pop(rid).request.subset) - set(self.state.pending[rid][1])
            self.row_excluded.setdefault((self.round_index, row_index), set()).update(silent)
        p = _Pending(req, row_index, serialize_release_request(req, self.config.job_id), time.time())
        self.pending[req.request_id] = p
        return p

    def _ready_to_release(self) -> bool:
        return bool(self.pending) and all(
            set(p.request.subset) <= set(self.state.pending[rid][1]) for rid, p in self.pending.items()
        )

    def _reissue_stalled(self, now: float) -> None:
        """Replaces each request whose named members refused or stayed silent past the deadline by a
        fresh request (new id) to t live members that have not answered this row (module doc)."""
        for rid, p in list(self.pending.items()):
            answered = set(self.state.pending[rid][1])
            missing = set(p.request.subset) - answered
            refused = missing & self.refused.get(rid, set())
            if not missing or (not refused and now - p.issued_at < self.reissue_seconds):
                continue
            key = (self.round_index, p.row_index)
            excluded = self.row_answered.get(key, set()) | self.row_excluded.get(key, set()) | missing
            live = [m for m in self.config.committee
                    if m in self.members and now - self.last_seen.get(m, float("-inf")) < self.reissue_seconds]
            candidates = [m for m in live if m not in excluded]
            if len(candidates) < self.config.threshold:
                if now - p.issued_at >= self.reissue_seconds:
                    p.issued_at = now  # log once per deadline; a hand-off or the member's return unblocks it
                    logger.warning("request %s stalled: %d live members have not answered its row, need %d",
                                   rid.hex()[:16], len(candidates), self.config.threshold, extra={"event": "stalled"})
                continue
            subset = tuple(candidates[: self.config.threshold])
            new = self._create_request(p.row_index, subset)
            with self.store.transaction() as db:
                self.store.add_request(db, new.request.request_id, self.round_index, p.row_index, subset)
                self.store.add_event(db, self.round_index, "reissued", f"row {p.row_index}: {list(p.request.subset)} -> {list(subset)}")
            logger.info("reissued row %d of round %d to %s (silent or refused: %s)", p.row_index, self.round_index,
                        subset, sorted(missing), extra={"event": "reissued", "round": self.round_index})

    def _release(self, *, persist: bool) -> None:
        out = []
        for rid in list(self.pending):
            self.state, rel = self.server.recover_release(self.state, rid)
            out.append(rel)
        self._finish_release(out, persist=persist)

    def _finish_release(self, out: list[Release], *, persist: bool) -> None:
        self.pending = {}
        self.releases.extend(out)
        self.stage = check_transition(self.stage, RoundStage.RELEASED)
        if self.round_index + 1 >= self.max_rounds:
            nxt = RoundStage.DONE
        elif any(after == self.round_index for after, _, _ in self.spec.rotations):
            nxt = RoundStage.HANDOFF
        else:
            nxt = RoundStage.OPEN
        if persist:
            with self.store.transaction() as db:
                for rel in out:
                    self.store.add_release(db, rel.request_id, rel.round_index, _int_digest(rel))
                    self.store.add_release_values(db, rel.request_id, rel.round_index, *_release_to_store(rel))
                self.store.set_stage(db, self.round_index, RoundStage.RELEASED)
                if nxt == RoundStage.OPEN:
                    self.store.set_stage(db, self.round_index + 1, RoundStage.OPEN)
                else:
                    self.store.set_stage(db, self.round_index, nxt)
        else:
            digests = self.store.release_digests()
            for rel in out:
                if rel.request_id in digests and digests[rel.request_id] != _int_digest(rel):
                    raise ProtocolStateError(f"replayed release {rel.request_id.hex()[:16]} differs from the stored one")
        logger.info("round %d released", self.round_index, extra={"event": "released", "round": self.round_index})
        self._compact()
        if nxt == RoundStage.DONE:
            self.stage = check_transition(self.stage, RoundStage.DONE)
        elif nxt == RoundStage.HANDOFF:
            self._enter_handoff()
        else:
            self._open(self.round_index + 1, persist=False)

    def _compact(self) -> None:
        """Drops KAHE sums (memory) and uploads + KAHE snapshots (store) of rounds before the policy window."""
        self.server.compact(self.state)
        before = self.policy.window_start(self.round_index)
        if before > 0 and self.store.compact(before):
            logger.info("compacted rounds < %d", before, extra={"event": "compacted", "round": self.round_index})

    def advance(self, now: float | None = None) -> None:
        """Takes every transition whose condition holds (called after each input and periodically)."""
        if self._replaying or self.state is None:
            return
        now = time.time() if now is None else now
        if self.stage == RoundStage.COLLECTING and self._ready_to_close(now):
            self._close_round(persist=True)
        if self.stage == RoundStage.RELEASE_REQUESTED:
            self._reissue_stalled(now)
        if self.stage == RoundStage.RELEASE_REQUESTED and self._ready_to_release():
            self._release(persist=True)

    # ---- observer ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "round": self.round_index, "state": self.stage.value,
            "stored_rounds": 0 if self.state is None else len(self.state.log),
            "submissions": self.clients_in_round, "releases": len(self.releases),
            "head": b"" if self.state is None else self.state.head, "epoch": self.epoch,
        }


def _release_to_store(rel: Release) -> tuple[str, bytes, bytes]:
    meta = json.dumps({"policy_id": rel.policy_id, "data": sorted(rel.data.items()), "noise": sorted(rel.noise.items())})
    return (meta, np.ascontiguousarray(rel.integer_values, dtype="<i8").tobytes(),
            np.ascontiguousarray(rel.values, dtype="<f8").tobytes())


def _release_from_store(row: tuple[bytes, str, bytes, bytes], digests: dict[bytes, bytes], round_index: int) -> Release:
    """A published release from the store; its integers must hash to the digest stored with it."""
    rid, meta, ints, values = row
    m = json.loads(meta)
    rel = Release(rid, m["policy_id"], round_index, dict(map(tuple, m["data"])), dict(map(tuple, m["noise"])),
                  np.frombuffer(ints, dtype="<i8").copy(), np.frombuffer(values, dtype="<f8").copy())
    if digests.get(rid) != _int_digest(rel):
        raise LogIntegrityError(f"stored release {rid.hex()[:16]}… does not match its digest")
    return rel


def _int_digest(rel: Release) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(rel.integer_values, dtype="<i8").tobytes()).digest()


def rid_missing(digests: dict[bytes, bytes], pending: dict[bytes, _Pending]) -> bool:
    """True if some pending request has no stored release yet (so the replayed release must be persisted)."""
    return any(rid not in digests for rid in pending)
