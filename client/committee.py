# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A committee member process: join, distributed key generation through the server (shares sealed
end to end), then noise shares and policy-checked partial decryptions until the job is done.

The member never trusts the server's log head: it keeps the headers it has already verified and
accepts a request only if its chain extends them (append-only), then lets the core
(`SsaCommitteeMember.handle_release_request`) check the chain, the policy row and the AHE sums.
"""

from __future__ import annotations

import hashlib
import logging
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
from loyal.protocols.proto.loyal.v1 import committee_pb2
from loyal.protocols.rlwe.ahe import KeyGenContribution
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.decryptor import MemberState, SsaCommitteeMember
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.messages import parse_release_request

logger = logging.getLogger(__name__)


class CommitteeRunner:
    """Member `member_id` of the job served at `address`.

    Args:
      address: HOST:PORT.
      member_id: this member's index in the job's committee (1..n).
      ca_file: CA certificate for TLS (None: plaintext on loopback).
      insecure_seed: 32 bytes seeding key generation, noise and smudging (TESTS ONLY: anyone with
        the seed knows this member's share and noise).
    """

    def __init__(self, address: str, member_id: int, *, ca_file: str | None = None, insecure_seed: bytes | None = None) -> None:
        self.address = address
        self.member_id = member_id
        self.ca_file = ca_file
        self.seed = insecure_seed
        self.identity = Identity()
        self.exchange = X25519PrivateKey.generate()
        self.state = MemberState()
        self.known_headers: tuple = ()
        self._noise: dict[int, tuple[bytes, bytes]] = {}
        self._partials: dict[bytes, bytes] = {}

    def _prng(self, label: str) -> AesCtrPrng:
        if self.seed is not None:
            return AesCtrPrng(self.seed, f"loyal/member/{self.member_id}/{label}".encode())
        return AesCtrPrng.from_os(f"loyal/member/{label}".encode())

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
            spec = convert.job_from_proto(job)
            self.config, self.policy = spec.to_config(), spec.policy()
            self.role = SsaCommitteeMember(self.config, self.member_id, self.policy)
            logger.info("stage %s", MemberStage.KEYGEN)
            self._keygen(s, end)
            noise = partials = 0
            while time.monotonic() < end:
                work = s.call(s.committee.GetWork, committee_pb2.MemberRequest(member_id=self.member_id))
                which = work.WhichOneof("task")
                if which == "done":
                    return {Key.NOISE_SHARES: noise, Key.PARTIALS: partials}
                if which == "noise":
                    self._send_noise(s, work.noise)
                    noise += 1
                elif which == "decrypt":
                    self._send_partial(s, work.decrypt.request)
                    partials += 1
                else:
                    time.sleep(constants.POLL_S)
        raise TimeoutError(f"member {self.member_id}: job not done within {timeout_s} s")

    def _join(self, s: Session, ex: bytes):
        # The join signature binds the (public) job id, read from GetTask, and the exchange key.
        from loyal.protocols.proto.loyal.v1 import client_pb2

        job_id = bytes(s.call(s.client.GetTask, client_pb2.GetTaskRequest()).job.job_id)
        sig = self._sign("join", job_id, ex)
        return s.call(s.committee.Join, committee_pb2.JoinRequest(
            member_id=self.member_id, signing_key=self.identity.public_key, exchange_key=ex, signature=sig,
        )).job

    def _keygen(self, s: Session, end: float) -> None:
        req = committee_pb2.MemberRequest(member_id=self.member_id)
        while not (roster := s.call(s.committee.GetRoster, req)).complete:
            if time.monotonic() > end:
                raise TimeoutError("committee roster incomplete")
            time.sleep(constants.POLL_S)
        peers = {m.member_id: bytes(m.exchange_key) for m in roster.members}
        contrib = self.role.create_keygen_contribution(self._prng("keygen"))
        job_id = self.config.job_id
        shares = {
            r: encrypt_share(self.exchange, peers[r], job_id, self.member_id, r, convert.residues_to_bytes(sh))
            for r, sh in contrib.shares.items()
        }
        public = convert.residues_to_bytes(contrib.public_part_hat)
        body = b"".join(r.to_bytes(4, "little") + c for r, c in sorted(shares.items()))
        try:
            s.call(s.committee.SubmitKeyGen, committee_pb2.KeyGenSubmission(
                member_id=self.member_id, public_part=public, signature=self._sign("keygen", job_id, public, body),
                shares=[committee_pb2.EncryptedShare(recipient=r, ciphertext=c) for r, c in sorted(shares.items())],
            ))
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        while not (ks := s.call(s.committee.GetKeyShares, req)).complete:
            if time.monotonic() > end:
                raise TimeoutError("key generation incomplete")
            time.sleep(constants.POLL_S)
        ring = self.config.ahe.ring
        received = [
            KeyGenContribution(d.dealer, np.zeros(0), {self.member_id: convert.residues_from_bytes(
                decrypt_share(self.exchange, bytes(d.dealer_exchange_key), job_id, d.dealer, self.member_id, bytes(d.ciphertext)),
                ring, "share")})
            for d in ks.shares
        ]
        self.state = self.role.handle_keygen(self.state, received)

    def _send_noise(self, s: Session, task: committee_pb2.NoiseTask) -> None:
        if task.round not in self._noise:  # same bytes and nonce on every retry (idempotent)
            pk = convert.residues_from_bytes(task.public_key_hat, self.config.ahe.ring, "public_key_hat")
            prng = self._prng(f"noise/{task.round}")
            self._noise[task.round] = (self.role.create_noise_contribution(task.round, pk, prng), prng.random_bytes(16))
        payload, nonce = self._noise[task.round]
        try:
            s.upload(s.committee.SubmitNoise, round_index=task.round, payload=payload, identity=self.identity,
                     kind="noise", job_id=self.config.job_id, nonce=nonce)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise

    def _send_partial(self, s: Session, frame: bytes) -> None:
        req = parse_release_request(frame, job_id=self.config.job_id, ahe_ring=self.config.ahe.ring)
        if req.request_id not in self._partials:
            known = self.known_headers
            if tuple(req.headers[: len(known)]) != known:
                raise LogIntegrityError("the server's log does not extend the log this member verified before")
            head = req.headers[-1].entry_hash if req.headers else self.role.genesis
            self.state, part = self.role.handle_release_request(self.state, req, head, self._prng(f"smudge/{req.request_id.hex()}"))
            self.known_headers = tuple(req.headers)
            self._partials[req.request_id] = part
        part = self._partials[req.request_id]
        try:
            s.call(s.committee.SubmitPartial, committee_pb2.PartialSubmission(
                member_id=self.member_id, partial=part, signature=self._sign("partial", self.config.job_id, part),
            ))
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise


def insecure_member_seed(seed: int) -> bytes:
    """A 32-byte seed from a small integer (TESTS ONLY)."""
    return hashlib.sha256(b"loyal/insecure-member-seed" + int(seed).to_bytes(8, "little")).digest()


