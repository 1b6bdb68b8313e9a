# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FTRL under secure stateful aggregation (arXiv 2410.11368): the untrusted server stores encrypted
round aggregates and learns only the policy rows the committee releases.

Per round: clients clip + encode + encrypt (`ticket.create_upload`, run wherever the client runs); the server
validates and sums uploads; the committee adds encrypted noise shares Z_t; the server stores the round,
asks the committee for the mechanism's prefix-form row t and decrypts

    s_t = Σ_j A_tj x_j + Σ_j sens·L_tj Z_j   (coefficients rounded to multiples of 2^-scale_bits),

which feeds the same DP-FTRL learner as `dpftrl-plaintext`. The job is the one job model
(`loyal.protocols.ssa.job.Job`), the round sequence is the pure driver's (`RoundDriver`), and the
committee serves it through a transport (`LocalCommittee`, or Ray actors from `loyal.sim.committee`)
exactly as gRPC members poll the server; this module only feeds it uploads and closes rounds.
Committees rotate every `rotate_every` rounds through the proactive hand-off.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dpftrl_plaintext import LearnerState
from loyal.methods.fl.ticket import RoundTicket, create_upload
from loyal.protocols.dpftrl.ledger import ParticipationError
from loyal.protocols.proto.policies import canonical_policy_spec, policy_schema
from loyal.protocols.rlwe.ahe import ThresholdError
from loyal.protocols.rlwe.params import BY_NAME
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.audit import RoundParts, decode_part, encode_part, in_threads
from loyal.protocols.ssa.client import create_cohort_noise
from loyal.protocols.ssa.committee import LocalCommittee, Transport, member_prng, serve
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.driver import RoundDriver
from loyal.protocols.ssa.errors import MessageFormatError, ProtocolStateError
from loyal.protocols.ssa.job import Job, cheapest_params_name
from loyal.protocols.ssa.messages import Kind, Release
from loyal.protocols.ssa.rounds import RoundStage
from loyal.protocols.ssa.server import Parsed
from loyal.protocols.zk.errors import ProofError

logger = logging.getLogger(__name__)

#: Why an upload is excluded (atomically) rather than stopping the round: truncated, replayed, wrong round,
#: over the participation schema, or no valid proof of its AHE part.
_REJECTED = (MessageFormatError, ProtocolStateError, ParticipationError, ProofError)


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
      insecure_seed: SIMULATION AND TESTS ONLY. Derives every PRNG (clients, committee) from this seed so
        runs repeat exactly, and so anyone who knows it knows every secret;
        None (default) draws fresh seeds from os.urandom, as a real deployment must.
      prove_uploads: clients prove their AHE parts well formed and the server verifies (`loyal.protocols.zk`);
        off by default in simulations, whose clients are the simulator's own (a `Job.security_issues` entry).
      noise_contributors, honest_noise_contributors: n_c of each round's uploaders also add a noise-only share,
        h_c of them assumed honest (`Job`; issue 15): overhead sqrt((n + n_c)/(h + h_c)) instead of sqrt(n/h).
      member_keys: the pinned Ed25519 public keys (hex) of members 1..n (`Job.member_keys`); () leaves the
        committee unpinned (a `Job.security_issues` entry). Flower members and clients check them.
      min_cohort: uploads a round needs before it closes (`Job.min_cohort`; 1, the default, is a
        `Job.security_issues` entry: a one-client round releases that client's update).
    """

    scale: float = 2.0**10
    scale_bits: int = 8
    committee_size: int = 5
    threshold: int = 3
    rotate_every: int = 0
    params: str | None = None
    insecure_seed: int | None = None
    prove_uploads: bool = False
    noise_contributors: int = 0
    honest_noise_contributors: int = 0
    member_keys: tuple[str, ...] = ()
    min_cohort: int = 1

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
        if not 0 <= self.honest_noise_contributors <= self.noise_contributors:
            raise ValueError(f"need 0 <= honest_noise_contributors <= noise_contributors, got "
                             f"{self.honest_noise_contributors} and {self.noise_contributors}")
        if self.params is not None and self.params not in BY_NAME:
            raise ValueError(f"params must be one of {sorted(BY_NAME)}, got params={self.params!r}")

    def prng(self, label: str) -> AesCtrPrng:
        """A CSPRNG stream: from os.urandom, or (simulation) derived from `insecure_seed` and `label`."""
        if self.insecure_seed is None:
            return AesCtrPrng.from_os(label.encode())
        seed = hashlib.sha256(f"loyal/sim/{self.insecure_seed}/{label}".encode()).digest()
        return AesCtrPrng(seed, label.encode())

    @property
    def committee_seed(self) -> bytes | None:
        """The committee's insecure seed in simulation (`insecure_seed`), else None (os.urandom)."""
        if self.insecure_seed is None:
            return None
        return hashlib.sha256(f"loyal/sim/{self.insecure_seed}/committee".encode()).digest()


def ssa_job(privacy: PrivacyConfig, dim: int, settings: SsaSettings, cohort_size: int) -> Job:
    """The one job model for a simulated DP-FTRL-under-SSA run (prefix-form rows of the mechanism)."""
    spec = canonical_policy_spec({
        "mechanism": privacy.mechanism, "steps": privacy.rounds, "participations": privacy.participations,
        "min_separation": privacy.min_separation, "form": "prefix", "scale_bits": settings.scale_bits,
    })
    r, n = settings.rotate_every, privacy.rounds
    ids = settings.prng("job")
    fields = dict(dim=dim, cohort_size=cohort_size, clip_norm=privacy.clip_norm, scale=settings.scale,
                  committee_size=settings.committee_size, threshold=settings.threshold,
                  noise_multiplier=privacy.noise_multiplier, rounds=n, policy_spec=spec, prove_uploads=settings.prove_uploads,
                  noise_contributors=settings.noise_contributors,
                  honest_noise_contributors=settings.honest_noise_contributors)
    return Job(
        job_id=ids.random_bytes(16), public_seed=ids.random_bytes(32), params_name=settings.params or cheapest_params_name(**fields),
        participations=privacy.participations, min_separation=policy_schema(spec)[1], member_keys=settings.member_keys,
        min_cohort=settings.min_cohort,
        rotations=tuple((after, settings.committee_size, settings.threshold) for after in range(r - 1, n - 1, r)) if r else (),
        **fields,
    )


def noise_from_committee(settings: SsaSettings, config: SsaConfig, round_index: int, members: Sequence[int]) -> np.ndarray:
    """Replays the members' noise draws in clip-norm units (tests: lets `dpftrl-plaintext` use identical noise).

    Only possible with `insecure_seed`; members draw their discrete Gaussian first from their noise PRNG.
    """
    from loyal.protocols.rlwe.sampling import discrete_gaussian
    from loyal.protocols.ssa.committee import insecure_member_seed

    total = np.zeros(config.dim)
    for i in members:
        prng = member_prng(insecure_member_seed(settings.committee_seed, i), i, f"noise/{round_index}")
        total += discrete_gaussian(prng, config.member_noise_sigma, (config.dim,))
    return total / config.encoder.scale


class _AuditedDriver(RoundDriver):
    """The round driver, keeping each round's AHE parts and proofs (`audit.RoundParts`) for members that
    audit a round before decrypting it, as the gRPC server keeps them (`upload_parts`): a Flower committee
    gets them with its release requests (`loyal.sim.flower_strategy.FlowerCommittee`). They go to an
    anonymous temporary file, not memory: ~0.5 MB per proven upload at rlwe-n8192-wide is ~50 MB a round
    of 100 clients, for the whole job."""

    def __init__(self, job: Job) -> None:
        super().__init__(job)
        self._file = tempfile.TemporaryFile()  # removed by the OS when closed or when the process ends
        self._index: dict[int, list[tuple[Kind, int, int, int]]] = {}  # round -> (kind, sender, offset, bytes)
        self._end = 0

    def include_upload(self, state, contribution, now: float):
        r, m = state.round_index, contribution.message
        effects = super().include_upload(state, contribution, now)
        blob = encode_part(m.ahe, m.proof)
        self._file.seek(self._end)
        self._file.write(blob)
        self._index.setdefault(r, []).append((contribution.kind, contribution.sender, self._end, len(blob)))
        self._end += len(blob)
        return effects

    def round_parts(self, round_index: int) -> RoundParts:
        config = self.job.config_for_epoch(self.job.epoch_of_round(round_index))
        got: dict[Kind, list] = {Kind.CLIENT_CONTRIBUTION: [], Kind.NOISE_CONTRIBUTION: [], Kind.COHORT_NOISE: []}
        for kind, sender, offset, length in self._index.get(round_index, ()):
            self._file.seek(offset)
            got[kind].append((sender, *decode_part(self._file.read(length), config)))
        return RoundParts(round_index, *(tuple(v) for v in got.values()))


class DPFTRLSsa:
    """`Aggregator` for DP-FTRL under SSA: a loop around the round driver (module doc).

    Args:
      privacy: clip norm, effective noise multiplier z, rounds, cohort m, schema, mechanism name, δ.
      dim: update length d.
      settings: encryption / committee settings.
      server_learning_rate, momentum: the DP-FTRL learner (as in `dpftrl-plaintext`).
      committee_factory: builds the committee transport from (job, insecure seed) (default `LocalCommittee`;
        `loyal.sim.committee.RayCommittee` runs members as Ray actors).
      max_clients: the job's cohort size (default 2·m).
      keep_parts: with `prove_uploads`, keep every round's AHE parts and proofs (`round_parts`) for a
        committee whose members audit them (Flower); ~0.4–1 MB per upload in a temporary file, for the job.
    """

    name = "dpftrl-ssa"

    def __init__(
        self, privacy: PrivacyConfig, dim: int, settings: SsaSettings = SsaSettings(), server_learning_rate: float = 1.0,
        momentum: float = 0.0, committee_factory: Callable[..., Transport] | None = None, max_clients: int | None = None,
        keep_parts: bool = False,
    ) -> None:
        self.privacy, self.settings = privacy, settings
        self.mechanism = privacy.build()
        self.job = ssa_job(privacy, dim, settings, max_clients or 2 * privacy.expected_clients)
        self.driver = _AuditedDriver(self.job) if keep_parts and self.job.prove_uploads else RoundDriver(self.job)
        self.state = self.driver.create_state()
        self.committee: Transport = (committee_factory or LocalCommittee)(self.job, settings.committee_seed)
        self.driver.start(self.state, self.committee.keygen(self.job.committee(0)[0]), time.time())
        self.learner = LearnerState(server_learning_rate, momentum)
        self.rejected = 0
        self.last_release: Release | None = None

    def round_parts(self, round_index: int) -> RoundParts:
        """Round `round_index`'s AHE parts and proofs (`keep_parts`), for members' audits."""
        if not isinstance(self.driver, _AuditedDriver):
            raise ProtocolStateError("this aggregator keeps no round parts (keep_parts with prove_uploads)")
        return self.driver.round_parts(round_index)

    @property
    def config(self) -> SsaConfig:
        """The serving committee epoch's configuration."""
        return self.driver.server(self.state).config

    # ---- client side -------------------------------------------------------------------------
    def ticket(self) -> RoundTicket:
        """The open round's ticket (a transport that collects the members' key signatures adds them)."""
        return RoundTicket(self.config, self.state.round_index, self.state.core.public_key_hat, self.job)

    def client_prng(self, round_index: int, client_id: int) -> AesCtrPrng:
        return self.settings.prng(f"client/{round_index}/{client_id}")

    # ---- server side -------------------------------------------------------------------------
    def handle_upload(self, data: bytes, kind: Kind = Kind.CLIENT_CONTRIBUTION, parsed: Parsed | None = None) -> bool:
        """Adds a client's upload (data, or a cohort noise share) to the open round; False (and nothing
        added) if it is rejected: malformed, replayed, for another round, over the participation schema,
        or (jobs with proofs) without a valid proof, so one malicious client cannot stop the round.

        Args:
          parsed: `driver.parse_upload` of `data` done earlier (`handle_uploads`), or None.
        """
        from loyal.protocols.ssa.messages import frame_sender

        try:
            c = self.driver.check_upload(self.state, kind, frame_sender(data), data, parsed)
            self.driver.include_upload(self.state, c, time.time())
            return True
        except _REJECTED as e:
            self._reject(e)
            return False

    def handle_uploads(self, uploads: Sequence[bytes], kind: Kind = Kind.CLIENT_CONTRIBUTION) -> int:
        """`handle_upload` of a round's uploads, in order; returns how many were accepted.

        With proofs, parsing and proof verification (~40–60 ms an upload, the server's whole cost) first run
        for all of them in one thread per core (`audit.in_threads`: 1.6× on 2 cores), as the
        gRPC server verifies concurrent uploads in worker threads; then each is checked and included in
        order, the state touched by this thread only."""
        if not self.job.prove_uploads or len(uploads) < 2 or self.state.core is None:
            return sum(self.handle_upload(d, kind) for d in uploads)
        epoch, key = self.state.epoch, self.state.core.public_key_hat

        def parse(data: bytes) -> Parsed | Exception:
            try:
                return self.driver.parse_upload(epoch, key, kind, data)
            except _REJECTED as e:
                return e

        parsed = in_threads(parse, uploads)
        accepted = 0
        for data, p in zip(uploads, parsed):
            if isinstance(p, Exception):
                self._reject(p)
            else:
                accepted += self.handle_upload(data, kind, p)
        return accepted

    def _reject(self, e: Exception) -> None:
        self.rejected += 1
        logger.warning("rejected upload: %s", e)

    def finish_round(self, params: torch.Tensor) -> torch.Tensor:
        """Committee noise, close the round (the shell's deadline), release, learner step, maybe hand off."""
        st, rnd = self.state, self.state.round_index
        if rnd >= self.privacy.rounds:
            raise ValueError(f"the mechanism covers rounds={self.privacy.rounds}; round {rnd + 1} is beyond it")
        t, live = self.config.threshold, self.committee.live(self.job.committee(st.epoch)[0])
        if len(live) < t:  # checked before storing: the open round stays open for a recovered committee
            raise ThresholdError(f"release of round {rnd} needs threshold={t} live committee members, got {len(live)}")
        for cid in sorted(st.core.open_round.client_ids):  # the client step of uploaders asked for noise
            if not self.driver.noise_wanted(st):
                break
            self.handle_upload(create_cohort_noise(
                self.config, round_index=rnd, client_id=cid, public_key_hat=st.core.public_key_hat,
                prng=self.settings.prng(f"client/{rnd}/{cid}/noise")), Kind.COHORT_NOISE)
        now = time.time()
        serve(self.driver, st, self.committee, now)  # noise shares (a full round then closes by itself)
        if st.round_index == rnd and st.stage == RoundStage.COLLECTING:
            self.driver.close(st, now)  # the shell's deadline
        serve(self.driver, st, self.committee, now)  # partial decryptions, hand-off, the next round's noise
        release = st.releases[-1] if st.releases else None
        if release is None or release.round_index != rnd:
            raise ProtocolStateError(f"round {rnd} was not released (round {st.round_index} is {st.stage.value!r})")
        self.last_release = release
        prefix = self.job.policy.prefix_sum([r.values for r in st.releases])
        return self.learner.step(params, prefix, self.privacy.expected_clients)

    def apply(self, params: torch.Tensor, updates: Sequence[torch.Tensor], weights: Sequence[float],
              clients: Sequence[int] | None = None) -> torch.Tensor:
        """In-process round: every client encrypts its update, the server aggregates and releases.

        Args:
          clients: the clients' identities for the participation ledger (default: a fresh identity per
            update and round, i.e. the caller vouches for the schema).
        """
        ticket = self.ticket()
        ids = clients if clients is not None else [ticket.round_index * self.job.cohort_size + i for i in range(len(updates))]
        for cid, u in zip(ids, updates):
            self.handle_upload(create_upload(ticket, u.detach().double().numpy(), cid, self.client_prng(ticket.round_index, cid)))
        return self.finish_round(params)

    @property
    def release_digests(self) -> list[str]:
        """SHA-256 of each release's integers (what a same-seed run of another backend must reproduce)."""
        from loyal.protocols.ssa.log import release_digest

        return [release_digest(r.integer_values).hex() for r in self.state.releases]

    @property
    def epoch(self) -> int:
        """The serving committee epoch."""
        return self.state.epoch

    # ---- restart -----------------------------------------------------------------------------
    def save_state(self) -> dict:
        """A deep copy of the server's own state and learner (what survives a server restart). It crosses
        no trust boundary: the simulation hands it to Ray's object store, never to another party."""
        return copy.deepcopy({"server": self.state, "learner": self.learner.state_dict(), "rejected": self.rejected})

    def restore_state(self, saved: dict) -> None:
        """Restores `save_state` output into a freshly constructed server (same job and committee)."""
        saved = copy.deepcopy(saved)
        self.driver = RoundDriver(self.job)
        self.state = saved["server"]
        self.learner.load_state_dict(saved["learner"])
        self.rejected = saved["rejected"]

    def privacy_report(self) -> dict:
        out = self.privacy.report(self.mechanism)
        out.update(
            parameter_set=self.job.params_name, bytes_per_client=self.config.bytes_per_client(),
            committee_size=self.settings.committee_size, threshold=self.settings.threshold,
            quantization_step=self.config.encoder.quantization_step, coefficient_scale_bits=self.settings.scale_bits,
            noise_overhead=self.config.noise_overhead,
        )
        if self.settings.honest_noise_contributors:  # what holds if every cohort noise contributor lies
            floor = dataclasses.replace(self.privacy, noise_multiplier=self.config.floor_noise_multiplier)
            out.update(floor_noise_multiplier=floor.noise_multiplier, epsilon_floor=floor.epsilon())
        return out
