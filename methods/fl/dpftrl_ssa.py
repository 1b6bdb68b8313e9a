# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FTRL under secure stateful aggregation (arXiv 2410.11368): the untrusted server stores encrypted
round aggregates and learns only the policy rows the committee releases.

Per round: clients clip + encode + encrypt (`create_upload`, run wherever the client runs); the server
validates and sums uploads; the committee adds encrypted noise shares Z_t; the server stores the round,
asks the committee for the mechanism's prefix-form row t and decrypts

    s_t = Σ_j A_tj x_j + Σ_j sens·L_tj Z_j   (coefficients rounded to multiples of 2^-scale_bits),

which feeds the same DP-FTRL learner as `dpftrl-plaintext`. All protocol math is in protocols/ssa and
protocols/dpftrl; this module only wires the roles together. Committees rotate every `rotate_every`
rounds through the proactive hand-off (`SsaCommitteeMember.create_handoff`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import pickle
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dpftrl_plaintext import LearnerState
from loyal.protocols.dpftrl.policy import MatrixMechanismPolicy
from loyal.protocols.rlwe.ahe import ThresholdError
from loyal.protocols.rlwe.params import BY_NAME
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.client import SsaClient
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.decryptor import MemberState, SsaCommitteeMember
from loyal.protocols.ssa.errors import MessageFormatError
from loyal.protocols.ssa.policy import quantize
from loyal.protocols.ssa.server import ServerState, SsaServer

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SsaSettings:
    """Encryption, committee and reproducibility settings of `dpftrl-ssa`.

    Attributes:
      scale: fixed-point scale s of client values (step 1/s), > 0 (default 2^10).
      scale_bits: f in [0, 24], release coefficients are rounded to multiples of 2^-f (default 8).
      committee_size: members n >= 1 (default 5).
      threshold: t in [1, n], members needed for a release; also h, the honest members assumed for noise.
      rotate_every: R >= 0; a new committee takes over through the hand-off every R rounds (0 = never).
      params: an RLWE parameter-set name (default: the cheapest 128-bit set for the workload).
      deterministic_seed: simulation only. Derives every PRNG from this seed so runs repeat exactly;
        None (default) draws fresh seeds from os.urandom, as a real deployment must.
    """

    scale: float = 2.0**10
    scale_bits: int = 8
    committee_size: int = 5
    threshold: int = 3
    rotate_every: int = 0
    params: str | None = None
    deterministic_seed: int | None = None

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got scale={self.scale}")
        if not 0 <= self.scale_bits <= 24:
            raise ValueError(f"scale_bits must be in [0, 24], got scale_bits={self.scale_bits}")
        if self.committee_size < 1:
            raise ValueError(f"committee_size must be >= 1, got committee_size={self.committee_size}")
        if not 1 <= self.threshold <= self.committee_size:
            raise ValueError(f"threshold must be in [1, committee_size={self.committee_size}], got threshold={self.threshold}")
        if self.rotate_every < 0:
            raise ValueError(f"rotate_every must be >= 0, got rotate_every={self.rotate_every}")
        if self.params is not None and self.params not in BY_NAME:
            raise ValueError(f"params must be one of {sorted(BY_NAME)}, got params={self.params!r}")

    def prng(self, label: str) -> AesCtrPrng:
        """A CSPRNG stream: from os.urandom, or (simulation) derived from `deterministic_seed` and `label`."""
        if self.deterministic_seed is None:
            return AesCtrPrng.from_os(label.encode())
        seed = hashlib.sha256(f"loyal/sim/{self.deterministic_seed}/{label}".encode()).digest()
        return AesCtrPrng(seed, label.encode())


@dataclasses.dataclass(frozen=True)
class RoundTicket:
    """What a client needs to contribute to the open round (public; travels to client processes)."""

    config: SsaConfig
    round_index: int
    public_key_hat: np.ndarray = dataclasses.field(repr=False)


def create_upload(ticket: RoundTicket, update: np.ndarray, client_id: int, prng: AesCtrPrng | None = None) -> bytes:
    """The client step: clip, encode, encrypt `update`; returns the framed upload (then the client leaves)."""
    return SsaClient(ticket.config).create_contribution(
        np.asarray(update, dtype=np.float64).reshape(-1), round_index=ticket.round_index, client_id=client_id,
        public_key_hat=ticket.public_key_hat, prng=prng,
    )


class Committee(Protocol):
    """The decryptor committee as the server sees it (in process here; Ray actors in `loyal.sim`)."""

    def setup(self) -> np.ndarray:
        """Runs key generation; returns the AHE public key (NTT form)."""
        ...

    def live_members(self) -> tuple[int, ...]: ...

    def noise_contributions(self, round_index: int, public_key_hat: np.ndarray) -> list[bytes]: ...

    def partial_decryptions(self, request, trusted_head: bytes, subset: tuple[int, ...]) -> list[bytes]: ...

    def rotate(self, generation: int) -> None:
        """Hands the key shares to a fresh committee (same Shamir indices, new members)."""
        ...


class LocalCommittee:
    """Committee members as in-process objects (each keeps its own `MemberState`).

    Args:
      config: the job configuration; policy: the published release policy; settings: for PRNGs.
    """

    def __init__(self, config: SsaConfig, policy: MatrixMechanismPolicy, settings: SsaSettings) -> None:
        self.config, self.policy, self.settings = config, policy, settings
        self.generation = 0
        self.members = {i: SsaCommitteeMember(config, i, policy) for i in config.committee}
        self.states = {i: MemberState() for i in config.committee}
        self.offline: set[int] = set()

    def _prng(self, index: int, what: str) -> AesCtrPrng:
        return self.settings.prng(f"member/{self.generation}/{index}/{what}")

    def setup(self) -> np.ndarray:
        contribs = [m.create_keygen_contribution(self._prng(i, "keygen")) for i, m in self.members.items()]
        for i, m in self.members.items():
            self.states[i] = m.handle_keygen(self.states[i], contribs)
        return self.config.ahe.combine_public_key(contribs)

    def live_members(self) -> tuple[int, ...]:
        return tuple(i for i in self.config.committee if i not in self.offline)

    def take_offline(self, members: Sequence[int]) -> None:
        """Fault injection: these members stop answering (until the next hand-off)."""
        self.offline |= set(members)

    def noise_contributions(self, round_index: int, public_key_hat: np.ndarray) -> list[bytes]:
        return [
            self.members[i].create_noise_contribution(round_index, public_key_hat, self._prng(i, f"noise/{round_index}"))
            for i in self.live_members()
        ]

    def partial_decryptions(self, request, trusted_head: bytes, subset: tuple[int, ...]) -> list[bytes]:
        out = []
        for i in subset:
            prng = self._prng(i, f"partial/{request.round_index}")
            self.states[i], part = self.members[i].handle_release_request(self.states[i], request, trusted_head, prng)
            out.append(part)
        return out

    def rotate(self, generation: int) -> None:
        live = self.live_members()
        t = self.config.threshold
        if len(live) < t:
            raise ThresholdError(f"hand-off needs threshold={t} live members, got {len(live)}")
        subset = live[:t]
        subs = {
            i: self.members[i].create_handoff(self.states[i], subset, self.config.committee, t, self._prng(i, "handoff"))
            for i in subset
        }
        self.generation = generation
        self.members = {k: SsaCommitteeMember(self.config, k, self.policy) for k in self.config.committee}
        self.states = {
            k: m.handle_handoff(MemberState(), [subs[i][k] for i in subset], t) for k, m in self.members.items()
        }
        self.offline = set()


def noise_from_committee(settings: SsaSettings, config: SsaConfig, round_index: int, members: Sequence[int]) -> np.ndarray:
    """Replays the members' noise draws in clip-norm units (tests: lets `dpftrl-plaintext` use identical noise).

    Only possible with `deterministic_seed`; members draw their discrete Gaussian first from their noise PRNG.
    """
    from loyal.protocols.rlwe.sampling import discrete_gaussian

    total = np.zeros(config.dim)
    for i in members:
        prng = settings.prng(f"member/0/{i}/noise/{round_index}")
        total += discrete_gaussian(prng, config.member_noise_sigma, (config.dim,))
    return total / config.encoder.scale


class DPFTRLSsa:
    """`Aggregator` for DP-FTRL under SSA, with the server's state kept apart for restarts.

    Args:
      privacy: clip norm, effective noise multiplier z, rounds, cohort m, schema, mechanism name, δ.
      dim: update length d.
      settings: encryption / committee settings.
      server_learning_rate, momentum: the DP-FTRL learner (as in `dpftrl-plaintext`).
      committee_factory: builds the committee from (config, policy, settings) (default `LocalCommittee`;
        `loyal.sim.committee.RayCommittee` runs members as Ray actors).
      max_clients: clients per round the parameters are sized for (default 2·m).
    """

    name = "dpftrl-ssa"

    def __init__(
        self, privacy: PrivacyConfig, dim: int, settings: SsaSettings = SsaSettings(), server_learning_rate: float = 1.0,
        momentum: float = 0.0, committee_factory: Callable[..., Committee] | None = None, max_clients: int | None = None,
    ) -> None:
        self.privacy, self.settings = privacy, settings
        self.mechanism = privacy.build()
        self.policy = MatrixMechanismPolicy(self.mechanism, form="prefix", scale_bits=settings.scale_bits)
        l1 = max(
            sum(abs(v) for v in quantize(r.data, settings.scale_bits).values())
            + sum(abs(v) for v in quantize(r.noise, settings.scale_bits).values())
            for t in range(privacy.rounds) for r in self.policy.release_rows(t)
        )
        job = settings.prng("job")
        self.config = SsaConfig.create(
            job_id=job.random_bytes(16), public_seed=job.random_bytes(32), dim=dim,
            max_clients=max_clients or 2 * privacy.expected_clients, clip_norm=privacy.clip_norm, scale=settings.scale,
            committee_size=settings.committee_size, threshold=settings.threshold,
            noise_multiplier=privacy.noise_multiplier, coefficient_l1=l1,
            params=None if settings.params is None else BY_NAME[settings.params],
        )
        self.server = SsaServer(self.config, self.policy)
        self.committee: Committee = (committee_factory or LocalCommittee)(self.config, self.policy, settings)
        self.state: ServerState = self.server.create_state(self.committee.setup())
        self.learner = LearnerState(server_learning_rate, momentum)
        self.rejected = 0
        self.last_release = None

    # ---- client side -------------------------------------------------------------------------
    def ticket(self) -> RoundTicket:
        return RoundTicket(self.config, self.state.open_round.round_index, self.state.public_key_hat)

    def client_prng(self, round_index: int, client_id: int) -> AesCtrPrng:
        return self.settings.prng(f"client/{round_index}/{client_id}")

    # ---- server side -------------------------------------------------------------------------
    def handle_upload(self, data: bytes) -> bool:
        """Adds a client's upload to the open round; False (and nothing added) if it is rejected."""
        try:
            self.server.handle_client_contribution(self.state, data)
            return True
        except MessageFormatError as e:  # truncated, replayed, wrong round: excluded atomically
            self.rejected += 1
            logger.warning("rejected upload: %s", e)
            return False

    def finish_round(self, params: torch.Tensor) -> torch.Tensor:
        """Committee noise, store the round, release the policy row, learner step; maybe rotate the committee."""
        rnd = self.state.open_round.round_index
        if rnd >= self.privacy.rounds:
            raise ValueError(f"the mechanism covers rounds={self.privacy.rounds}; round {rnd + 1} is beyond it")
        live = self.committee.live_members()
        t = self.config.threshold
        if len(live) < t:  # checked before storing: the open round stays open for a recovered committee
            raise ThresholdError(f"release of round {rnd} needs threshold={t} live committee members, got {len(live)}")
        for data in self.committee.noise_contributions(rnd, self.state.public_key_hat):
            self.server.handle_noise_contribution(self.state, data)
        self.server.close_round(self.state)
        (row,) = self.policy.release_rows(rnd)
        req = self.server.create_release_request(self.state, row, subset=live[:t])
        for part in self.committee.partial_decryptions(req, self.state.head, req.subset):
            self.server.handle_partial_decryption(self.state, part)
        self.state, release = self.server.recover_release(self.state, req.request_id)
        self.server.compact(self.state)
        self.last_release = release
        new = self.learner.step(params, release.values, self.privacy.expected_clients)
        r = self.settings.rotate_every
        if r and (rnd + 1) % r == 0 and rnd + 1 < self.privacy.rounds:
            self.committee.rotate((rnd + 1) // r)
            logger.info("committee rotated after round %d", rnd)
        return new

    def apply(self, params: torch.Tensor, updates: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """In-process round: every client encrypts its update, the server aggregates and releases."""
        ticket = self.ticket()
        for cid, u in enumerate(updates):
            self.handle_upload(create_upload(ticket, u.detach().double().numpy(), cid, self.client_prng(ticket.round_index, cid)))
        return self.finish_round(params)

    # ---- restart -----------------------------------------------------------------------------
    def save_state(self) -> bytes:
        """The server's database and learner as bytes (what survives a server restart)."""
        return pickle.dumps({"server": self.state, "learner": self.learner.state_dict(), "rejected": self.rejected})

    def restore_state(self, blob: bytes) -> None:
        """Restores `save_state` output into a freshly constructed server (same config and committee)."""
        saved = pickle.loads(blob)  # noqa: S301 - the server's own state file, never client input
        self.server = SsaServer(self.config, self.policy)
        self.state = saved["server"]
        self.learner.load_state_dict(saved["learner"])
        self.rejected = saved["rejected"]

    def privacy_report(self) -> dict:
        out = self.privacy.report(self.mechanism)
        out.update(
            parameter_set=self.config.selection.params.name, bytes_per_client=self.config.bytes_per_client(),
            committee_size=self.settings.committee_size, threshold=self.settings.threshold,
            quantization_step=self.config.encoder.quantization_step, coefficient_scale_bits=self.settings.scale_bits,
        )
        return out
