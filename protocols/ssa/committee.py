# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The one committee: each member's role, private state and PRNG streams (`CommitteeMember`), an
in-process set of them (`LocalCommittee`), and the loop that lets a committee serve a round driver
(`serve`) the way gRPC members poll the server.

Transports wrap `CommitteeMember` and add nothing to it: the gRPC member process
(`loyal.client.committee.CommitteeRunner`) and the Ray member hosts (`loyal.sim.committee`). A member
never trusts the server's log head: it keeps the headers it verified and accepts a request only if its
chain extends them and contains the heads the outgoing members sealed into its hand-off; the core role
(`SsaCommitteeMember.handle_release_request`) then checks the chain from the job's genesis, the
policy row and the AHE sums.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import numpy as np

from loyal.protocols.rlwe.ahe import KeyGenContribution, ThresholdError
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.audit import RoundParts, check_round_parts
from loyal.protocols.ssa.decryptor import MemberState, SsaCommitteeMember
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.messages import Kind, LogHeader, ReleaseRequest, parse_contribution, parse_release_request
from loyal.protocols.ssa.rounds import RoundStage

#: A sealed hand-off pin: (rounds the outgoing member verified, its log head).
Pin = tuple[int, bytes]


def member_prng(insecure_seed: bytes | None, member_id: int, label: str) -> AesCtrPrng:
    """The one PRNG scheme of committee members: label `loyal/member/{id}/{label}`.

    Args:
      insecure_seed: None (default) draws from os.urandom, as a deployment must. A 32-byte seed makes
        the member's key shares, noise and smudging reproducible: TESTS AND SIMULATION ONLY (anyone
        with the seed knows the member's share and noise).
    """
    if insecure_seed is None:
        return AesCtrPrng.from_os(f"loyal/member/{label}".encode())
    return AesCtrPrng(insecure_seed, f"loyal/member/{member_id}/{label}".encode())


def insecure_member_seed(seed: int | bytes, member_id: int | None = None) -> bytes:
    """A 32-byte member seed from a small integer or a committee seed (TESTS AND SIMULATION ONLY)."""
    base = seed if isinstance(seed, bytes) else int(seed).to_bytes(8, "little")
    tail = b"" if member_id is None else int(member_id).to_bytes(4, "little")
    return hashlib.sha256(b"loyal/insecure-member-seed" + base + tail).digest()


class CommitteeMember:
    """Member `member_id` of a job (any epoch): role, private `MemberState` and verified log.

    Args:
      job: the job.
      member_id: an id of one of the job's committees.
      insecure_seed: see `member_prng` (None in deployments).
      authority: where the job's log heads are anchored (`log.LogAuthority`); a request whose head is
        not the anchored one is refused. None trusts the server's chain (in-process simulations only).
      parts: round -> its `audit.RoundParts` from the server; with `job.prove_uploads`, every round a
        request touches is audited once (`audit.check_round_parts`) before any partial. None trusts the
        server's verification (in-process simulations only).
    """

    def __init__(self, job: Job, member_id: int, insecure_seed: bytes | None = None,
                 authority: ssalog.LogAuthority | None = None, parts: Callable[[int], RoundParts] | None = None) -> None:
        self.job, self.member_id, self._seed, self.authority, self.parts = job, member_id, insecure_seed, authority, parts
        #: the committee key t members signed (set by the transport; the audit verifies proofs under it)
        self.public_key_hat: np.ndarray | None = None
        self.own_noise: dict[int, bytes] = {}  # round -> digest of this member's stored noise part
        self.audited: set[bytes] = set()  # entry hashes of rounds whose parts this member checked
        self.epoch = job.epoch_of_member(member_id)
        self.config = job.config_for_epoch(self.epoch)
        self.role = SsaCommitteeMember(self.config, member_id, job.policy)
        self.state = MemberState()
        self.known_headers: tuple[LogHeader, ...] = ()
        self.pins: list[Pin] = []

    def prng(self, label: str) -> AesCtrPrng:
        return member_prng(self._seed, self.member_id, label)

    # ---- key generation and hand-off -----------------------------------------------------------------
    def create_keygen_contribution(self) -> KeyGenContribution:
        return self.role.create_keygen_contribution(self.prng("keygen"))

    def handle_keygen(self, contributions: list[KeyGenContribution]) -> None:
        self.state = self.role.handle_keygen(self.state, contributions)

    def create_handoff(self, epoch: int, subset: tuple[int, ...], new_threshold: int) -> tuple[Pin, dict[int, np.ndarray]]:
        """(pin, sub-shares for the incoming members of `epoch`); then this member forgets its share."""
        new_members = self.job.committee(epoch)[0]
        rounds = len(self.known_headers)
        pin = (rounds, self.known_headers[-1].entry_hash if rounds else self.config.genesis)
        subs = self.role.create_handoff(self.state, subset, new_members, new_threshold, self.prng(f"handoff/{epoch}"))
        return pin, subs

    def handle_handoff(self, subshares: list[np.ndarray], pins: list[Pin]) -> None:
        """Combines the outgoing subset's sub-shares into this member's share; keeps their pins."""
        self.pins.extend(pins)
        old_threshold = self.job.committee(self.epoch - 1)[1]
        self.state = self.role.handle_handoff(MemberState(), subshares, old_threshold)

    # ---- rounds --------------------------------------------------------------------------------------
    def create_noise_contribution(self, round_index: int, public_key_hat: np.ndarray) -> bytes:
        return self.role.create_noise_contribution(round_index, public_key_hat, self.prng(f"noise/{round_index}"))

    def noise_stored(self, round_index: int, frame: bytes) -> None:
        """The transport reports that the server accepted this member's noise share for `round_index`:
        the audit then requires it in that round exactly once."""
        cfg = self.config
        msg, _ = parse_contribution(frame, job_id=cfg.job_id, kahe_ring=cfg.kahe.ring, ahe_ring=cfg.ahe.ring,
                                    num_polys=cfg.num_polys, kind=Kind.NOISE_CONTRIBUTION)
        self.own_noise[round_index] = ssalog.digest_ahe(msg.ahe)

    def _audit(self, request: ReleaseRequest) -> None:
        if self.parts is None or not self.job.prove_uploads:
            return
        if self.public_key_hat is None:
            raise LogIntegrityError("this member does not hold the committee's signed public key: cannot audit rounds")
        for r in sorted(set(request.data) | set(request.noise)):
            header = request.headers[r]
            if header.entry_hash not in self.audited:
                config = self.job.config_for_epoch(self.job.epoch_of_round(r))
                check_round_parts(config, header, self.parts(r), self.public_key_hat, self.own_noise.get(r))
                self.audited.add(header.entry_hash)

    def _check_extends(self, headers: tuple[LogHeader, ...]) -> None:
        if headers[: len(self.known_headers)] != self.known_headers:
            raise LogIntegrityError("the server's log does not extend the log this member verified before")
        for rounds, head in self.pins:
            if len(headers) < rounds or (headers[rounds - 1].entry_hash if rounds else self.config.genesis) != head:
                raise LogIntegrityError(f"the server's log does not contain the head the outgoing committee verified at round {rounds}")

    def handle_release_request(self, request: ReleaseRequest | bytes) -> bytes:
        """Checks a request (frame or parsed) against this member's log and the policy; returns the framed
        partial decryption.

        Raises:
          LogIntegrityError, PolicyViolationError, ThresholdError: the member refuses.
        """
        if isinstance(request, (bytes, bytearray, memoryview)):
            request = parse_release_request(bytes(request), job_id=self.config.job_id, ahe_ring=self.config.ahe.ring)
        headers = tuple(request.headers)
        self._check_extends(headers)
        if self.authority is not None:
            ssalog.check_anchored(self.authority, self.job.genesis, headers)
        head = headers[-1].entry_hash if headers else self.config.genesis
        self.role.check_request(request, head)  # the chain and the row first: the audit reads their headers
        self._audit(request)
        self.state, part = self.role.handle_release_request(self.state, request, head)
        self.known_headers = headers
        return part


class Transport(Protocol):
    """How a shell reaches its members (in process here; Ray actors in `loyal.sim.committee`)."""

    def keygen(self, members: Sequence[int]) -> np.ndarray: ...
    def noise(self, members: Sequence[int], round_index: int, public_key_hat: np.ndarray) -> list[bytes]: ...
    def partials(self, members: Sequence[int], frame: bytes) -> list[bytes]: ...
    def handoff(self, subset: Sequence[int], epoch: int, new_threshold: int) -> None: ...
    def live(self, members: Iterable[int]) -> list[int]: ...


class LocalCommittee:
    """Every member of every epoch of a job as in-process `CommitteeMember`s (a `Transport`).

    Args:
      job: the job.
      insecure_seed: committee seed for reproducible members (TESTS AND SIMULATION ONLY; None: os.urandom).
    """

    def __init__(self, job: Job, insecure_seed: bytes | None = None) -> None:
        self.job, self.seed = job, insecure_seed
        self.members: dict[int, CommitteeMember] = {}
        self.offline: set[int] = set()

    def member(self, member_id: int) -> CommitteeMember:
        if member_id not in self.members:
            seed = None if self.seed is None else insecure_member_seed(self.seed, member_id)
            self.members[member_id] = CommitteeMember(self.job, member_id, seed)
        return self.members[member_id]

    def take_offline(self, members: Iterable[int]) -> None:
        """Fault injection: these members vanish with their shares."""
        for m in members:
            self.offline.add(m)
            self.members.pop(m, None)

    def live(self, members: Iterable[int]) -> list[int]:
        return [m for m in members if m not in self.offline]

    def keygen(self, members: Sequence[int]) -> np.ndarray:
        contribs = [self.member(m).create_keygen_contribution() for m in members]
        for m in members:
            self.member(m).handle_keygen(contribs)
        return self.member(members[0]).config.ahe.combine_public_key(contribs)

    def noise(self, members: Sequence[int], round_index: int, public_key_hat: np.ndarray) -> list[bytes]:
        return [self.member(m).create_noise_contribution(round_index, public_key_hat) for m in members]

    def partials(self, members: Sequence[int], frame: bytes) -> list[bytes]:
        return [self.member(m).handle_release_request(frame) for m in members]

    def handoff(self, subset: Sequence[int], epoch: int, new_threshold: int) -> None:
        out = {i: self.member(i).create_handoff(epoch, tuple(subset), new_threshold) for i in subset}
        for k in self.job.committee(epoch)[0]:
            self.member(k).handle_handoff([out[i][1][k] for i in subset], [out[i][0] for i in subset])
        for i in self.job.committee(epoch - 1)[0]:
            self.members.pop(i, None)  # outgoing members never return


def serve(driver, state, transport: Transport, now: float) -> list:
    """Lets the serving committee do everything the driver asks of it now (noise shares, partial
    decryptions, hand-offs), as gRPC members do by polling; returns the driver's effects.

    Raises:
      ThresholdError: a release or hand-off needs more live members than the committee has.
    """
    effects: list = []
    everyone = [m for e in range(len(driver.job.rotations) + 1) for m in driver.job.committee(e)[0]]
    while True:
        members = driver.job.committee(state.epoch)[0]
        live = transport.live(members)
        for m in sorted(set(members) - set(live)):
            effects += driver.forget(state, m, now)  # the transport lost it: not live, whenever it was last seen
        joined = set(transport.live(everyone))
        work = {m: driver.work(state, m, now, joined) for m in live}
        for w in work.values():
            effects.extend(w.effects)
        by_kind: dict[str, list[int]] = {}
        for m, w in work.items():
            by_kind.setdefault(w.kind, []).append(m)
        if "noise" in by_kind:
            ms = by_kind["noise"]
            for m, data in zip(ms, transport.noise(ms, state.round_index, state.core.public_key_hat)):
                effects += driver.include_upload(state, driver.check_upload(state, Kind.NOISE_CONTRIBUTION, m, data), now)
        elif "decrypt" in by_kind:
            frames: dict[bytes, list[int]] = {}
            for m in by_kind["decrypt"]:
                frames.setdefault(work[m].payload, []).append(m)
            for frame, ms in frames.items():
                for m, part in zip(ms, transport.partials(ms, frame)):
                    effects += driver.include_partial(state, driver.check_partial(state, m, part), now)
        elif "handoff" in by_kind:
            epoch, subset, _, new_t = work[by_kind["handoff"][0]].payload
            transport.handoff(subset, epoch, new_t)
            for m in subset:
                driver.check_handoff(state, m, epoch)
                effects += driver.include_handoff(state, m, now)
        else:
            t = driver.server(state).config.threshold
            if state.stage == RoundStage.RELEASE_REQUESTED and len(live) < t:
                raise ThresholdError(f"release of round {state.round_index} needs threshold={t} live committee members, got {len(live)}")
            return effects


__all__ = ["CommitteeMember", "LocalCommittee", "Transport", "insecure_member_seed", "member_prng", "serve"]
