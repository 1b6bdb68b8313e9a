# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The persistent SSA server: validates and sums uploads, stores per-round aggregates in a
hash-chained log, asks the committee for releases of policy rows, and decrypts only those.

Mirrors `willow/src/willow_v1/server.rs` (`handle_client_message`, `handle_partial_decryption`,
`recover`), extended with state across rounds (arXiv 2410.11368, "append-only data structure").
The role holds configuration only; all state is in `ServerState`, passed in and returned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

import numpy as np

from loyal.protocols.rlwe.ahe import AheCiphertext, ThresholdError
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.accumulator import Accumulator
from loyal.protocols.ssa.audit import verify_part
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.errors import LogIntegrityError, ProtocolStateError, ReplayError
from loyal.protocols.ssa.messages import (
    ClientContribution,
    Kind,
    NoiseContribution,
    PartialDecryption,
    Release,
    ReleaseRequest,
    RoundAggregate,
    parse_contribution,
    parse_partial,
)
from loyal.protocols.ssa.policy import QuantizedRow, ReleasePolicy

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Contribution:
    """A parsed upload checked against the open round (`SsaServer.check_contribution`)."""

    kind: Kind
    message: ClientContribution | NoiseContribution = dataclasses.field(repr=False)
    digest: bytes

    @property
    def sender(self) -> int:
        """The member index (member noise shares) or client id (data and cohort noise) the frame names."""
        return self.message.sender


@dataclasses.dataclass(frozen=True)
class Parsed:
    """An upload parsed (and its proof verified) for one serving epoch and key (`RoundDriver.parse_upload`);
    `RoundDriver.check_upload` uses it only while that epoch and key still serve."""

    epoch: int
    public_key_hat: np.ndarray = dataclasses.field(repr=False)
    contribution: Contribution = dataclasses.field(repr=False)


@dataclasses.dataclass
class OpenRound:
    """Contributions of the round being collected."""

    round_index: int
    data: Accumulator = dataclasses.field(repr=False)
    noise: Accumulator = dataclasses.field(repr=False)
    client_ids: set[int] = dataclasses.field(default_factory=set)
    noise_members: set[int] = dataclasses.field(default_factory=set)
    cohort_noise: set[int] = dataclasses.field(default_factory=set)  # clients that sent a noise-only share


@dataclasses.dataclass
class ServerState:
    """Everything the server keeps (its database).

    Attributes:
      public_key_hat: the committee's AHE public key (NTT form), published to clients.
      open_round: accumulator of the round being collected.
      log: stored rounds, append-only.
      head: hash of the last log entry (genesis hash before round 0).
      seen_digests: digests of every accepted upload (replay protection across rounds).
      pending: request id -> (request, partial decryptions received).
      releases: published releases, in order.
    """

    public_key_hat: np.ndarray = dataclasses.field(repr=False)
    open_round: OpenRound
    log: list[RoundAggregate]
    head: bytes
    seen_digests: set[bytes] = dataclasses.field(default_factory=set, repr=False)
    pending: dict[bytes, tuple[ReleaseRequest, dict[int, np.ndarray]]] = dataclasses.field(default_factory=dict)
    releases: list[Release] = dataclasses.field(default_factory=list)


def request_id(
    policy_id: str, round_index: int, data: dict[int, int], noise: dict[int, int], scale_bits: int,
    subset: tuple[int, ...], head: bytes,
) -> bytes:
    """Binding identifier of a release request (members recompute it)."""
    blob = json.dumps(
        [policy_id, round_index, sorted(data.items()), sorted(noise.items()), scale_bits, list(subset), head.hex()]
    )
    return hashlib.sha256(b"loyal/ssa/request/v1" + blob.encode()).digest()


class SsaServer:
    """The server role for one job.

    Args:
      config: job configuration.
      policy: the published release policy (the server only builds requests for its rows).
      verify_digests: recompute each upload's BLAKE3 trailer (default True). Set False only behind
        a transport that guarantees integrity; shapes, ranges, rounds and duplicates are always checked.
    """

    def __init__(self, config: SsaConfig, policy: ReleasePolicy, *, verify_digests: bool = True) -> None:
        self.config = config
        self.policy = policy
        self.verify_digests = verify_digests

    # ---- state -------------------------------------------------------------------------------
    def _new_round(self, round_index: int) -> OpenRound:
        k, a = self.config.kahe.ring, self.config.ahe.ring
        def acc() -> Accumulator:
            return Accumulator(
                np.zeros((self.config.num_polys, k.num_moduli, k.degree), dtype=np.uint32),
                np.zeros((a.num_moduli, a.degree), dtype=np.uint32),
                np.zeros((a.num_moduli, a.degree), dtype=np.uint32),
                k.q.astype(np.uint32),
                a.q.astype(np.uint32),
            )
        return OpenRound(round_index, acc(), acc())

    def create_state(self, public_key_hat: np.ndarray) -> ServerState:
        """Initial state once the committee published its public key."""
        self.config.ahe.ring.check_shape(public_key_hat, "public_key_hat")
        return ServerState(public_key_hat, self._new_round(0), [], self.config.genesis)

    # ---- uploads -----------------------------------------------------------------------------
    def parse_contribution(self, public_key_hat: np.ndarray, data: bytes, kind: Kind) -> Contribution:
        """The state-free part of `check_contribution`: parse (digest, shapes, residue ranges) and, for a job
        with `prove_uploads`, verify the AHE part's proof under `public_key_hat`. Pure, so a shell may run it
        in a worker thread while it serves other uploads (the costly part: BLAKE3, range scan, proof).

        Raises:
          MessageFormatError: malformed bytes; ProofError: no valid proof of the AHE part (`audit.verify_part`).
        """
        msg, digest = parse_contribution(
            data, job_id=self.config.job_id, kahe_ring=self.config.kahe.ring, ahe_ring=self.config.ahe.ring,
            num_polys=self.config.num_polys, kind=kind, verify_digest=self.verify_digests,
        )
        if self.config.prove_uploads:  # before any aggregate changes (issue 14, attack 1)
            verify_part(self.config, public_key_hat, kind, msg.round_index, msg.sender, msg.ahe, msg.proof)
        return Contribution(kind, msg, digest)

    def check_contribution(self, state: ServerState, data: bytes, kind: Kind, parsed: Contribution | None = None) -> Contribution:
        """Parses and validates an upload against the open round without changing `state`.

        The caller may then make it durable and `include` it: validation never runs twice.

        Args:
          parsed: `parse_contribution(state.public_key_hat, data, kind)` done earlier (e.g. in a thread), or None.

        Raises:
          MessageFormatError: malformed bytes; ReplayError: wrong round, replayed bytes or sender;
          ProofError: a job with `prove_uploads` and no valid proof of the AHE part (`audit.verify_part`).
        """
        c = parsed if parsed is not None else self.parse_contribution(state.public_key_hat, data, kind)
        msg, digest = c.message, c.digest
        if c.kind != kind:
            raise ValueError(f"a {c.kind.name} was parsed, {kind.name} checked")
        rnd = state.open_round
        if msg.round_index != rnd.round_index:
            raise ReplayError(f"contribution for round {msg.round_index}, but round {rnd.round_index} is open")
        if digest in state.seen_digests:
            raise ReplayError("contribution already received (replayed bytes)")
        if kind == Kind.CLIENT_CONTRIBUTION:
            if msg.client_id in rnd.client_ids:
                raise ReplayError(f"client {msg.client_id} already contributed to round {rnd.round_index}")
        elif kind == Kind.COHORT_NOISE:
            self._check_cohort_noise(rnd, msg.client_id)
        else:
            if msg.member_index not in self.config.committee:
                raise ReplayError(f"noise from {msg.member_index}, not a committee member {self.config.committee}")
            if msg.member_index in rnd.noise_members:
                raise ReplayError(f"member {msg.member_index} already sent noise for round {rnd.round_index}")
        return c

    def _check_cohort_noise(self, rnd: OpenRound, client_id: int) -> None:
        """A cohort noise share (issue 15) comes from a client whose data this round holds, once, while the
        round has fewer than `noise_contributors` of them."""
        n_c = self.config.noise_contributors
        if n_c == 0:
            raise ProtocolStateError("this job takes no cohort noise shares (noise_contributors = 0)")
        if client_id not in rnd.client_ids:
            raise ProtocolStateError(f"client {client_id} sent no data to round {rnd.round_index}: only the round's "
                                     f"data uploaders may add noise shares")
        if client_id in rnd.cohort_noise:
            raise ReplayError(f"client {client_id} already sent a noise share for round {rnd.round_index}")
        if len(rnd.cohort_noise) >= n_c:
            raise ProtocolStateError(f"round {rnd.round_index} already holds its {n_c} cohort noise shares")

    def include(self, state: ServerState, contribution: Contribution) -> ServerState:
        """Adds a checked contribution's two parts to the open round (both or neither)."""
        msg, rnd = contribution.message, state.open_round
        if msg.round_index != rnd.round_index or contribution.digest in state.seen_digests:
            raise ReplayError(f"contribution for round {msg.round_index} was checked against another state")
        if contribution.kind == Kind.CLIENT_CONTRIBUTION:
            rnd.client_ids.add(msg.client_id)
            target = rnd.data
        elif contribution.kind == Kind.COHORT_NOISE:
            rnd.cohort_noise.add(msg.client_id)
            target = rnd.noise
        else:
            rnd.noise_members.add(msg.member_index)
            target = rnd.noise
        target.add(msg.kahe.b_hat, msg.ahe.c0_hat, msg.ahe.c1_hat)
        state.seen_digests.add(contribution.digest)
        return state

    def handle_client_contribution(self, state: ServerState, data: bytes) -> ServerState:
        """Validates a client's bytes and adds both parts to the open round (atomically)."""
        return self.include(state, self.check_contribution(state, data, Kind.CLIENT_CONTRIBUTION))

    def handle_noise_contribution(self, state: ServerState, data: bytes) -> ServerState:
        """Validates a committee member's encrypted noise share and adds it to the open round."""
        return self.include(state, self.check_contribution(state, data, Kind.NOISE_CONTRIBUTION))

    def close_round(self, state: ServerState) -> ServerState:
        """Stores the open round's aggregates as a new log entry and opens the next round.

        Raises:
          ProtocolStateError: if fewer than min_cohort clients, or (with noise) fewer than h noise shares.
        """
        rnd, cfg = state.open_round, self.config
        if rnd.data.count < cfg.min_cohort:
            raise ProtocolStateError(
                f"round {rnd.round_index} has {rnd.data.count} clients, fewer than min_cohort={cfg.min_cohort}"
            )
        if cfg.noise_multiplier > 0 and len(rnd.noise_members) < cfg.min_noise_shares:
            raise ProtocolStateError(
                f"round {rnd.round_index} has {len(rnd.noise_members)} member noise shares, needs >= h + t - 1 = "
                f"{cfg.min_noise_shares}")
        if len(rnd.cohort_noise) < cfg.noise_contributors:
            raise ProtocolStateError(f"round {rnd.round_index} has {len(rnd.cohort_noise)} cohort noise shares, "
                                     f"needs noise_contributors = {cfg.noise_contributors}")
        rnd.data.reduce()
        rnd.noise.reduce()
        x = KaheCiphertext(rnd.data.kahe.astype(np.int64))
        z = KaheCiphertext(rnd.noise.kahe.astype(np.int64))
        xa = AheCiphertext(rnd.data.c0.astype(np.int64), rnd.data.c1.astype(np.int64))
        za = AheCiphertext(rnd.noise.c0.astype(np.int64), rnd.noise.c1.astype(np.int64))
        header = ssalog.make_header(state.head, rnd.round_index, rnd.data.count, rnd.noise.count, x, z, xa, za)
        state.log.append(RoundAggregate(header, x, z, xa, za))
        state.head = header.entry_hash
        state.open_round = self._new_round(rnd.round_index + 1)
        logger.info("stored round %d (%d clients, %d noise shares)", rnd.round_index, rnd.data.count, rnd.noise.count)
        return state

    def append_stored_round(self, state: ServerState, aggregate: RoundAggregate) -> ServerState:
        """Restore: appends a round `close_round` stored earlier (e.g. its snapshot), checking that it
        is the next round and hash-chains to the log; the next round opens empty.

        Raises:
          LogIntegrityError: wrong round, or a header that does not chain to the current head.
        """
        h = aggregate.header
        digests = (h.data_kahe_digest, h.noise_kahe_digest, h.data_ahe_digest, h.noise_ahe_digest)
        if h.round_index != state.open_round.round_index or h.prev_hash != state.head or h.entry_hash != ssalog.entry_hash(
            state.head, h.round_index, h.num_clients, h.num_noise, digests
        ):
            raise LogIntegrityError(f"stored round {h.round_index} does not hash-chain to the log")
        if state.open_round.data.count or state.open_round.noise.count:
            raise ProtocolStateError(f"round {h.round_index} already has contributions in memory")
        state.log.append(aggregate)
        state.head = h.entry_hash
        state.open_round = self._new_round(h.round_index + 1)
        return state

    def compact(self, state: ServerState) -> ServerState:
        """Drops the KAHE payload of rounds no release at or after the last stored round needs.

        Headers and AHE sums stay (they are small and keep the chain verifiable); storage of the
        large KAHE part becomes O(window·d) for banded/BLT policies instead of O(T·d).
        """
        if not state.log:
            return state
        start = self.policy.window_start(len(state.log) - 1)
        for i in range(min(start, len(state.log))):
            e = state.log[i]
            if not e.compacted:
                state.log[i] = dataclasses.replace(e, data_kahe=None, noise_kahe=None)
        return state

    # ---- releases ----------------------------------------------------------------------------
    def create_release_request(
        self, state: ServerState, row: QuantizedRow, subset: tuple[int, ...] | None = None
    ) -> ReleaseRequest:
        """Builds the request for one quantized policy row (`policy.quantized_rows`), naming the
        decrypting subset (default: first t members)."""
        if row.round_index >= len(state.log):
            raise ProtocolStateError(f"row for round {row.round_index}, but only {len(state.log)} rounds are stored")
        subset = tuple(subset or self.config.committee[: self.config.threshold])
        if len(subset) < self.config.threshold or not set(subset) <= set(self.config.committee):
            raise ValueError(f"subset must be >= threshold={self.config.threshold} committee members, got {subset}")
        sb = self.policy.scale_bits
        data, noise = row.data, row.noise
        touched = sorted(set(data) | set(noise))
        for r in touched:
            if state.log[r].compacted:
                raise ProtocolStateError(f"round {r} was compacted; the row needs it")
        rid = request_id(self.policy.policy_id, row.round_index, data, noise, sb, subset, state.head)
        entries = {r: (state.log[r].data_ahe, state.log[r].noise_ahe) for r in touched}
        req = ReleaseRequest(
            rid, self.policy.policy_id, row.round_index, data, noise, sb, subset,
            tuple(e.header for e in state.log), entries,
        )
        state.pending[rid] = (req, {})
        return req

    def check_partial(self, state: ServerState, data: bytes) -> PartialDecryption:
        """Parses a member's partial decryption and checks it answers a pending request (no state change)."""
        part = parse_partial(data, job_id=self.config.job_id, ahe_ring=self.config.ahe.ring)
        if part.request_id not in state.pending:
            raise ProtocolStateError(f"partial decryption for unknown request {part.request_id.hex()[:16]}…")
        req, parts = state.pending[part.request_id]
        if part.member_index not in req.subset:
            raise ReplayError(f"member {part.member_index} is not in the request's subset {req.subset}")
        if part.member_index in parts:
            raise ReplayError(f"member {part.member_index} already answered this request")
        return part

    def include_partial(self, state: ServerState, part: PartialDecryption) -> ServerState:
        """Stores a checked partial decryption with its request."""
        state.pending[part.request_id][1][part.member_index] = part.share
        return state

    def handle_partial_decryption(self, state: ServerState, data: bytes) -> ServerState:
        """Validates and stores a member's partial decryption for a pending request."""
        return self.include_partial(state, self.check_partial(state, data))

    def recover_release(self, state: ServerState, rid: bytes) -> tuple[ServerState, Release]:
        """Combines the partials of one request and decrypts the row's linear combination only.

        Raises:
          ThresholdError: fewer than t partials, or some of the named subset missing.
        """
        if rid not in state.pending:
            raise ProtocolStateError(f"no pending request {rid.hex()[:16]}…")
        req, parts = state.pending[rid]
        cfg = self.config
        if len(parts) < cfg.threshold:
            raise ThresholdError(f"need at least threshold={cfg.threshold} partial decryptions, got {len(parts)}")
        missing = set(req.subset) - set(parts)
        if missing:
            raise ThresholdError(f"partials missing from subset members {sorted(missing)}; reissue with another subset")
        k_ct = key_combination(cfg, req)
        key_ints = cfg.ahe.combine(k_ct, parts, cfg.threshold)
        terms = [(c, state.log[r].data_kahe) for r, c in req.data.items()]
        terms += [(c, state.log[r].noise_kahe) for r, c in req.noise.items()]
        b_star = cfg.kahe.linear_combination(terms)
        ints = cfg.kahe.decrypt(cfg.kahe.key_from_integers(key_ints), b_star, cfg.dim)
        values = cfg.encoder.decode(ints, float(1 << req.scale_bits))
        rel = Release(rid, req.policy_id, req.round_index, req.data, req.noise, ints, values)
        state.releases.append(rel)
        del state.pending[rid]
        return state, rel


def key_combination(config: SsaConfig, req: ReleaseRequest) -> AheCiphertext:
    """K* = sum_t c_t·K_t + sum_t c'_t·K^Z_t from the request's AHE entries (server and members)."""
    terms = [(c, req.ahe_entries[r][0]) for r, c in req.data.items()]
    terms += [(c, req.ahe_entries[r][1]) for r, c in req.noise.items()]
    return config.ahe.linear_combination(terms)
