# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A committee member process: join, distributed key generation (first committee) or a hand-off
from the outgoing committee (later ones) through the server (shares sealed end to end), then noise
shares and policy-checked partial decryptions until the job is done — or, for an outgoing member,
until it re-shared its key to the next committee and retired (it never returns).

This is a gRPC transport around the one committee member (`loyal.protocols.ssa.committee.CommitteeMember`:
role, state, PRNG streams and the log checks a member runs before any partial). A request that fails
a check is refused with a signed `Refuse` (the server then asks other members).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import grpc
import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from loyal.client import constants
from loyal.client.constants import Key, MemberStage
from loyal.client.grpc_client import Session
from loyal.client.tls import Identity, decrypt_share, encrypt_share, raw_public
from loyal.protocols.proto import convert
from loyal.protocols.proto.loyal.v1 import committee_pb2, common_pb2
from loyal.protocols.rlwe.ahe import KeyGenContribution, ThresholdError
from loyal.protocols.ssa.audit import RoundParts, decode_part
from loyal.protocols.ssa.committee import CommitteeMember
from loyal.protocols.ssa.log import LogAuthority
from loyal.protocols.ssa import enrollment
from loyal.protocols.ssa.errors import AuthenticationError, LogIntegrityError, PolicyViolationError
from loyal.protocols.ssa.messages import parse_release_request

logger = logging.getLogger(__name__)

#: Answers that settle a noise share or partial without it counting: already stored (a retry), or too
#: late (the round closed with enough shares, the request was superseded). Anything else is an error.
_SETTLED = frozenset({grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION})


class CommitteeRunner:
    """Member `member_id` of the job served at `address`.

    Args:
      address: HOST:PORT.
      member_id: this member's index in the job's committee (1..n).
      ca_file: CA certificate for TLS (None: plaintext on loopback).
      insecure_seed: 32 bytes seeding key generation, noise and smudging (TESTS ONLY: anyone with
        the seed knows this member's share and noise).
      identity: this member's Ed25519 key (the one the job pins; default a fresh key, for unpinned jobs).
      genesis: the published genesis of the job this member serves (`Job.genesis`, which binds the whole
        pinned configuration); a server offering any other job is refused at join.
      insecure: serve without a pinned genesis and accept a job with `Job.security_issues` (TESTS ONLY).
      authority: where the job's log heads are anchored (`loyal.contracts.anchor.AnchorClient`); a request
        whose head is not the anchored one is refused. None trusts the server's chain (needs `insecure`).
      stop: set it to make the member vanish (fault injection in simulations; `run` returns at once).
    """

    def __init__(self, address: str, member_id: int, *, ca_file: str | None = None, insecure_seed: bytes | None = None,
                 identity: Identity | None = None, genesis: bytes | None = None, insecure: bool = False,
                 authority: LogAuthority | None = None, stop: threading.Event | None = None) -> None:
        if genesis is None and not insecure:
            raise ValueError("a committee member needs the job's published genesis (--genesis), or --insecure")
        if authority is None and not insecure:
            raise ValueError("a committee member needs the job's log authority (--anchor), or --insecure")
        self.genesis, self.insecure, self.authority = genesis, insecure, authority
        self.stop = stop or threading.Event()
        self.address = address
        self.member_id = member_id
        self.ca_file = ca_file
        self.seed = insecure_seed
        self.identity = identity or Identity()
        self._relayed: dict[int, bytes] = {}  # joined members' keys as the server relays them (unpinned jobs only)
        self.exchange = X25519PrivateKey.generate()
        self._noise: dict[int, tuple[bytes, bytes]] = {}
        self._partials: dict[bytes, bytes] = {}
        self._handoff: tuple[int, dict[int, bytes]] | None = None

    def _sign(self, kind: str, *parts: bytes) -> bytes:
        return self.identity.sign(convert.member_message(kind, self.member_id, *parts))

    def run(self, timeout_s: float = 600.0) -> dict[str, Any]:
        """Serves until the job is done; returns counts of noise shares and partials sent.

        Raises:
          TimeoutError: if the job is not done within `timeout_s`.
        """
        end = time.monotonic() + timeout_s
        with Session(self.address, self.ca_file) as s:
            logger.info("stage %s", MemberStage.JOIN)
            ex = raw_public(self.exchange)
            job = self._join(s, ex)
            self.job = job = convert.job_from_proto(job)
            if self.genesis is not None and job.genesis != self.genesis:
                raise PolicyViolationError(
                    f"the server's job has genesis {job.genesis.hex()[:16]}…, not the published {self.genesis.hex()[:16]}…: "
                    "another configuration (noise, clip norm, committee, policy, …) than the one this member serves"
                )
            job.check_secure(self.insecure)
            pinned = job.member_key(self.member_id)
            if pinned is not None and pinned != self.identity.public_key:
                raise AuthenticationError(f"this member's key is not the one the job pins for member {self.member_id}")

            self.member = CommitteeMember(job, self.member_id, self.seed, self.authority, parts=lambda r: self._parts(s, r))
            self.epoch, self.config = self.member.epoch, self.member.config
            if self.epoch == 0:
                logger.info("stage %s", MemberStage.KEYGEN)
                self._keygen(s, end)
            else:
                logger.info("stage %s (epoch %d)", MemberStage.HANDOFF, self.epoch)
                self._receive_handoff(s, end)
                self.member.public_key_hat = self._signed_key(s)
            counts = {Key.NOISE_SHARES: 0, Key.PARTIALS: 0, Key.REFUSALS: 0, Key.HANDOFFS: 0}
            idle = constants.POLL_S
            while time.monotonic() < end:
                if self.stop.is_set():
                    return counts
                work = s.call(s.committee.GetWork, committee_pb2.MemberRequest(member_id=self.member_id))
                which = work.WhichOneof("task")
                if which == "done":
                    return counts
                idle = constants.POLL_S if which != "wait" else idle
                if which == "noise":
                    self._send_noise(s, work.noise)
                    counts[Key.NOISE_SHARES] += 1
                elif which == "decrypt":
                    counts[Key.PARTIALS if self._send_partial(s, work.decrypt.request) else Key.REFUSALS] += 1
                elif which == "handoff":
                    self._send_handoff(s, work.handoff)
                    counts[Key.HANDOFFS] += 1
                else:
                    time.sleep(idle)
                    idle = min(2 * idle, constants.MAX_IDLE_POLL_S)
        raise TimeoutError(f"member {self.member_id}: job not done within {timeout_s} s")

    def _parts(self, s: Session, round_index: int) -> RoundParts:
        """Round `round_index`'s AHE parts and proofs, fetched for the audit (`audit.check_round_parts`)."""
        config = self.job.config_for_epoch(self.job.epoch_of_round(round_index))
        data, noise, cohort = [], [], []
        total = None
        while total is None or len(data) + len(noise) + len(cohort) < total:  # one page per call
            start = len(data) + len(noise) + len(cohort)
            got = s.call(s.committee.GetRoundParts,
                         committee_pb2.RoundPartsRequest(member_id=self.member_id, round=round_index, start=start))
            size = len(got.data) + len(got.noise) + len(got.cohort_noise)
            if got.start != start or (total is not None and got.total != total) or (size == 0 and start < got.total):
                raise LogIntegrityError(f"round {round_index}'s parts: the server paged inconsistently "
                                        f"(start {got.start} for {start}, total {got.total}, {size} parts)")
            total = got.total
            for out, items in ((data, got.data), (noise, got.noise), (cohort, got.cohort_noise)):
                out.extend((p.sender, *decode_part(bytes(p.part), config)) for p in items)
        if len(data) + len(noise) + len(cohort) != total:
            raise LogIntegrityError(f"round {round_index}'s parts: {len(data) + len(noise) + len(cohort)} for a total of {total}")
        return RoundParts(round_index, tuple(data), tuple(noise), tuple(cohort))

    def _signed_key(self, s: Session) -> np.ndarray:
        """The committee key with t valid signatures of key-generation members (a later epoch's member)."""
        from loyal.protocols.proto.loyal.v1 import client_pb2

        task = s.call(s.client.GetTask, client_pb2.GetTaskRequest())
        pk = convert.residues_from_bytes(bytes(task.public_key_hat), self.config.ahe.ring, "public_key_hat")
        self._refresh_relayed(s)
        enrollment.verify_committee_key(self.job, pk, {g.member_id: bytes(g.signature) for g in task.key_signatures},
                                        self._relayed)
        return pk

    def _refresh_relayed(self, s: Session) -> None:
        """Joined members' keys as the server relays them: all an unpinned (insecure) job has to check."""
        from loyal.protocols.proto.loyal.v1 import client_pb2

        if not self.job.member_keys:
            task = s.call(s.client.GetTask, client_pb2.GetTaskRequest())
            self._relayed = {k.member_id: bytes(k.signing_key) for k in task.member_keys}

    def _join(self, s: Session, ex: bytes):
        # The join signature binds the (public) job id, read from GetTask, and the exchange key.
        from loyal.protocols.proto.loyal.v1 import client_pb2

        job_id = bytes(s.call(s.client.GetTask, client_pb2.GetTaskRequest()).job.job_id)
        sig = self._sign("join", job_id, ex)
        return s.call(s.committee.Join, committee_pb2.JoinRequest(
            member_id=self.member_id, signing_key=self.identity.public_key, exchange_key=ex, signature=sig,
        )).job

    def _wait(self, what: str, end: float, fetch, ready):
        idle = constants.POLL_S
        while not ready(value := fetch()):
            if time.monotonic() > end or self.stop.is_set():
                raise TimeoutError(f"member {self.member_id}: {what} incomplete")
            time.sleep(idle)
            idle = min(2 * idle, constants.MAX_IDLE_POLL_S)
        return value

    def _keygen(self, s: Session, end: float) -> None:
        """Distributed key generation (`loyal.protocols.ssa.enrollment`): authenticated exchange keys, a
        signed commitment to b_j, the reveal only once every dealer committed, then a signature of the key."""
        req = committee_pb2.MemberRequest(member_id=self.member_id)
        job, job_id, first = self.job, self.config.job_id, self.job.committee(0)[0]
        roster = self._wait("committee roster", end, lambda: s.call(s.committee.GetRoster, req), lambda r: r.complete)
        self._refresh_relayed(s)
        peers = {}
        for m in roster.members:
            enrollment.verify_join(job, m.member_id, self._relayed.get(m.member_id), bytes(m.exchange_key), bytes(m.join_signature))
            peers[m.member_id] = bytes(m.exchange_key)
        contrib = self.member.create_keygen_contribution()
        public = convert.residues_to_bytes(contrib.public_part_hat)
        digest = enrollment.commitment(job, self.member_id, public)
        self._settle(lambda: s.call(s.committee.SubmitKeyGen, committee_pb2.KeyGenSubmission(
            member_id=self.member_id, commitment=digest, signature=self._sign("keygen-commit", job_id, digest))))
        # Reveal only once every dealer's signed commitment is in: nobody chooses b_j after seeing ours.
        roster = self._wait("key-generation commitments", end, lambda: s.call(s.committee.GetRoster, req),
                            lambda r: {c.dealer for c in r.commitments} >= set(first))
        committed = {}
        for c in roster.commitments:
            key = enrollment.member_key(job, c.dealer, self._relayed.get(c.dealer))
            enrollment.verify_signature(key, bytes(c.signature), enrollment.commitment_message(job, c.dealer, bytes(c.commitment)))
            committed[c.dealer] = bytes(c.commitment)
        shares = {
            r: encrypt_share(self.exchange, peers[r], job_id, self.member_id, r, convert.residues_to_bytes(sh))
            for r, sh in contrib.shares.items()
        }
        body = b"".join(r.to_bytes(4, "little") + c for r, c in sorted(shares.items()))
        self._settle(lambda: s.call(s.committee.SubmitKeyGen, committee_pb2.KeyGenSubmission(
            member_id=self.member_id, public_part=public, signature=self._sign("keygen", job_id, public, body),
            shares=[committee_pb2.EncryptedShare(recipient=r, ciphertext=c) for r, c in sorted(shares.items())],
        )))
        ks = self._wait("key generation", end, lambda: s.call(s.committee.GetKeyShares, req), lambda k: k.complete)
        ring = self.config.ahe.ring
        received, parts = [], []
        for d in ks.shares:
            enrollment.verify_join(job, d.dealer, self._relayed.get(d.dealer), bytes(d.dealer_exchange_key),
                                   bytes(d.dealer_join_signature))
            enrollment.verify_reveal(job, d.dealer, bytes(d.public_part), committed[d.dealer])
            parts.append(KeyGenContribution(d.dealer, convert.residues_from_bytes(bytes(d.public_part), ring, "public_part"), {}))
            received.append(KeyGenContribution(d.dealer, np.zeros(0), {self.member_id: convert.residues_from_bytes(
                decrypt_share(self.exchange, bytes(d.dealer_exchange_key), job_id, d.dealer, self.member_id, bytes(d.ciphertext)),
                ring, "share")}))
        if {p.dealer for p in parts} != set(first):
            raise LogIntegrityError(f"key generation shows dealers {sorted(p.dealer for p in parts)}, the committee is {first}")
        public_key = self.config.ahe.combine_public_key(parts)
        if not np.array_equal(public_key, convert.residues_from_bytes(bytes(ks.public_key_hat), ring, "public_key_hat")):
            raise LogIntegrityError("the server's committee public key is not the sum of the committed dealers' parts")
        self.member.handle_keygen(received)
        self.member.public_key_hat = public_key
        s.call(s.committee.SignKey, common_pb2.KeySignature(member_id=self.member_id, signature=self.identity.sign(
            enrollment.key_message(job, self.member_id, public_key))))

    @staticmethod
    def _settle(call) -> None:
        try:
            call()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise

    def _send_noise(self, s: Session, task: committee_pb2.NoiseTask) -> None:
        if task.round not in self._noise:  # same bytes and nonce on every retry (idempotent)
            pk = convert.residues_from_bytes(task.public_key_hat, self.config.ahe.ring, "public_key_hat")
            nonce = self.member.prng(f"nonce/{task.round}").random_bytes(16)
            self._noise[task.round] = (self.member.create_noise_contribution(task.round, pk), nonce)
        payload, nonce = self._noise[task.round]
        try:
            s.upload(s.committee.SubmitNoise, round_index=task.round, payload=payload, identity=self.identity,
                     kind="noise", job_id=self.config.job_id, nonce=nonce)
        except grpc.RpcError as e:
            if e.code() not in _SETTLED:
                raise
            if e.code() == grpc.StatusCode.ALREADY_EXISTS:  # a retry of a stored share
                self.member.noise_stored(task.round, payload)
            logger.info("member %d: noise for round %d not needed: %s", self.member_id, task.round, e.details())
            return
        self.member.noise_stored(task.round, payload)

    def _send_partial(self, s: Session, frame: bytes) -> bool:
        """Answers one request, or refuses it (signed) if a check fails; True if a partial was sent."""
        req = parse_release_request(frame, job_id=self.config.job_id, ahe_ring=self.config.ahe.ring)
        if req.request_id not in self._partials:
            try:
                part = self.member.handle_release_request(req)
            except (PolicyViolationError, LogIntegrityError, ThresholdError) as e:
                reason = f"{type(e).__name__}: {e}"[:200]
                logger.warning("member %d refuses request %s: %s", self.member_id, req.request_id.hex()[:16], reason)
                s.call(s.committee.Refuse, committee_pb2.Refusal(
                    member_id=self.member_id, request_id=req.request_id, reason=reason,
                    signature=self._sign("refuse", self.config.job_id, req.request_id, reason.encode()),
                ))
                return False
            self._partials[req.request_id] = part
        part = self._partials[req.request_id]
        try:
            s.call(s.committee.SubmitPartial, committee_pb2.PartialSubmission(
                member_id=self.member_id, partial=part, signature=self._sign("partial", self.config.job_id, part),
            ))
        except grpc.RpcError as e:
            if e.code() not in _SETTLED:
                raise
            logger.info("member %d: partial for %s not needed: %s", self.member_id, req.request_id.hex()[:16], e.details())
        return True

    # ---- hand-off ------------------------------------------------------------------------------------
    def _send_handoff(self, s: Session, task: committee_pb2.HandOffTask) -> None:
        """Re-shares λ_i^S·s(i) to the incoming committee (sealed to each new member), then forgets it."""
        if self._handoff is None:
            self._refresh_relayed(s)
            new = {}
            for e in task.new_members:
                enrollment.verify_join(self.job, e.member_id, self._relayed.get(e.member_id), bytes(e.exchange_key),
                                       bytes(e.join_signature))
                new[e.member_id] = bytes(e.exchange_key)
            (rounds, head), subs = self.member.create_handoff(task.epoch, tuple(task.subset), task.new_threshold)
            if set(subs) != set(new):
                raise PolicyViolationError(f"hand-off task names members {sorted(new)}, the job's epoch {task.epoch} has {sorted(subs)}")
            ctx = b"handoff/" + task.epoch.to_bytes(4, "little")
            pin = rounds.to_bytes(4, "little") + head
            self._handoff = (task.epoch, {
                k: encrypt_share(self.exchange, new[k], self.config.job_id, self.member_id, k,
                                 pin + convert.residues_to_bytes(sub), ctx)
                for k, sub in subs.items()
            })
        epoch, sealed = self._handoff
        body = b"".join(r.to_bytes(4, "little") + c for r, c in sorted(sealed.items()))
        self._settle(lambda: s.call(s.committee.SubmitHandOff, committee_pb2.HandOffSubmission(
            member_id=self.member_id, epoch=epoch,
            subshares=[committee_pb2.EncryptedShare(recipient=r, ciphertext=c) for r, c in sorted(sealed.items())],
            signature=self._sign("handoff", self.config.job_id, epoch.to_bytes(4, "little"), body),
        )))

    def _receive_handoff(self, s: Session, end: float) -> None:
        """Waits for the outgoing subset's sealed sub-shares and combines them into this member's share."""
        req = committee_pb2.MemberRequest(member_id=self.member_id)
        h = self._wait(f"hand-off into epoch {self.epoch}", end, lambda: s.call(s.committee.GetHandOff, req),
                       lambda got: got.complete)
        ctx = b"handoff/" + self.epoch.to_bytes(4, "little")
        self._refresh_relayed(s)
        subs, pins = [], []
        for d in h.subshares:
            enrollment.verify_join(self.job, d.dealer, self._relayed.get(d.dealer), bytes(d.dealer_exchange_key),
                                   bytes(d.dealer_join_signature))
            plain = decrypt_share(self.exchange, bytes(d.dealer_exchange_key), self.config.job_id, d.dealer,
                                  self.member_id, bytes(d.ciphertext), ctx)
            pins.append((int.from_bytes(plain[:4], "little"), plain[4:36]))
            subs.append(convert.residues_from_bytes(plain[36:], self.config.ahe.ring, "sub-share"))
        self.member.handle_handoff(subs, pins)
