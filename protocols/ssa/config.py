# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Job configuration shared by every SSA role: parameters, encoder, committee and noise."""

from __future__ import annotations

import dataclasses
import functools
import math

from loyal.protocols.rlwe.ahe import ThresholdAhe
from loyal.protocols.rlwe.encoding import FixedPointEncoder, check_no_wraparound, plaintext_bound
from loyal.protocols.rlwe.kahe import Kahe
from loyal.protocols.rlwe.params import RlweParameterSet
from loyal.protocols.rlwe.selection import Selection, Workload, evaluate, select_parameters


@dataclasses.dataclass(frozen=True)
class SsaConfig:
    """Public configuration of one SSA job (published with the policy; identical for all roles).

    Attributes:
      job_id: 16 bytes naming the job (bound into every message and the log genesis).
      public_seed: 32-byte public seed of the common polynomials.
      dim: vector length d >= 1.
      max_clients: clients per round the parameters are sized for (>= min_cohort).
      encoder: clip norm C and scale s.
      committee: member indices (distinct, >= 1).
      threshold: t, members needed to decrypt (1 <= t <= |committee|).
      honest_members: h, honest noise shares a round must hold; each share has variance sigma^2/h (default t).
        Fewer than t members may be malicious, so a round closes only with `min_noise_shares` = h + t - 1
        shares: at least h of them are honest whoever the malicious members are.
      noise_multiplier: z >= 0; each round's DP noise has standard deviation z·C (real units).
      noise_contributors: n_c >= 0 cohort clients per round that also upload a noise-only share (issue 15,
        deliverable 2; data uploaders the server asks while it has fewer); a round closes only with n_c of them.
      honest_noise_contributors: h_c in [0, n_c], how many of those the job *assumes* honest. Every share
        (member or cohort) then has variance sigma^2/(h + h_c): the noise overhead falls from sqrt(n/h) to
        sqrt((n + n_c)/(h + h_c)), and if the assumption fails (all n_c malicious) the guaranteed noise is
        the members' alone, `floor_noise_multiplier` = z·sqrt(h/(h + h_c)).
      min_cohort: minimum clients per round before the round may be stored (default 1).
      coefficient_l1: max ||c||_1 of a release row after fixed-point scaling (sizes the parameters).
      selection: the parameter set and derived widths.
      prove_uploads: every upload carries a zero-knowledge proof of a well-formed AHE part, which the
        server checks before it touches an aggregate (`loyal.protocols.zk.ahe`).
      genesis: root of the job's log hash chain (`Job.genesis`, which binds the whole pinned
        configuration); every role checks chains from it.
    """

    job_id: bytes
    public_seed: bytes = dataclasses.field(repr=False)
    dim: int
    max_clients: int
    encoder: FixedPointEncoder
    committee: tuple[int, ...]
    threshold: int
    selection: Selection
    honest_members: int
    noise_multiplier: float = 0.0
    min_cohort: int = 1
    coefficient_l1: int = 1 << 10
    genesis: bytes = b""
    prove_uploads: bool = True
    noise_contributors: int = 0
    honest_noise_contributors: int = 0

    def __post_init__(self) -> None:
        if len(self.genesis) != 32:
            raise ValueError(f"genesis must be 32 bytes (Job.genesis), got {len(self.genesis)}")
        if len(self.job_id) != 16:
            raise ValueError(f"job_id must be 16 bytes, got {len(self.job_id)}")
        if len(self.public_seed) != 32:
            raise ValueError(f"public_seed must be 32 bytes, got {len(self.public_seed)}")
        if len(set(self.committee)) != len(self.committee) or not self.committee or min(self.committee) < 1:
            raise ValueError(f"committee must be distinct indices >= 1, got {self.committee}")
        if not 1 <= self.threshold <= len(self.committee):
            raise ValueError(f"threshold must be in [1, {len(self.committee)}], got {self.threshold}")
        if not 1 <= self.honest_members <= len(self.committee):
            raise ValueError(f"honest_members must be in [1, {len(self.committee)}], got {self.honest_members}")
        if self.noise_multiplier > 0 and self.min_noise_shares > len(self.committee):
            raise ValueError(
                f"honest_members h={self.honest_members} needs h + t - 1 = {self.min_noise_shares} noise shares per round "
                f"(fewer than t={self.threshold} members may be malicious), more than the committee's {len(self.committee)}"
            )
        if not 0 <= self.honest_noise_contributors <= self.noise_contributors <= self.max_clients:
            raise ValueError(
                f"need 0 <= honest_noise_contributors <= noise_contributors <= cohort size {self.max_clients} (noise "
                f"comes from the round's data uploaders), got {self.honest_noise_contributors} and {self.noise_contributors}")
        if self.noise_contributors and self.noise_multiplier == 0:
            raise ValueError("noise_contributors needs noise_multiplier > 0 (a job without noise takes no noise shares)")
        if not 1 <= self.min_cohort <= self.max_clients:
            raise ValueError(f"min_cohort must be in [1, max_clients={self.max_clients}], got {self.min_cohort}")
        if not (self.noise_multiplier >= 0 and math.isfinite(self.noise_multiplier)):
            raise ValueError(f"noise_multiplier must be finite and >= 0, got {self.noise_multiplier}")
        # Explicit wrap-around check (refuse, never wrap silently).
        check_no_wraparound(
            plaintext_bound(
                clients=self.max_clients,
                value_bound=self.encoder.value_bound,
                coefficient_l1=self.coefficient_l1,
                noise_sigma=self.round_noise_sigma,
            ),
            self.selection.kahe_plaintext_bits,
        )

    @classmethod
    def create(
        cls,
        *,
        job_id: bytes,
        public_seed: bytes,
        dim: int,
        max_clients: int,
        clip_norm: float,
        scale: float,
        committee_size: int = 5,
        threshold: int = 3,
        honest_members: int | None = None,
        noise_multiplier: float = 0.0,
        min_cohort: int = 1,
        coefficient_l1: int = 1 << 10,
        releases: int = 1,
        params: RlweParameterSet | None = None,
        genesis: bytes,
        prove_uploads: bool = True,
        noise_contributors: int = 0,
        honest_noise_contributors: int = 0,
    ) -> SsaConfig:
        """Builds a config, selecting the cheapest 128-bit parameter set unless `params` is given.

        Called by `Job.config_for_epoch` (the one job model); `honest_members` defaults to `threshold`.
        """
        h = threshold if honest_members is None else honest_members
        encoder = FixedPointEncoder(clip_norm, scale)
        work = Workload(
            dim=dim,
            clients=max_clients,
            value_bound=encoder.value_bound,
            coefficient_l1=coefficient_l1,
            committee_size=committee_size,
            noise_sigma=noise_multiplier * clip_norm * scale
            * math.sqrt((committee_size + noise_contributors) / (h + honest_noise_contributors)),
            releases=releases,
            proven_uploads=prove_uploads,
        )
        selection = select_parameters(work) if params is None else evaluate(params, work)
        return cls(
            job_id=job_id,
            public_seed=public_seed,
            dim=dim,
            max_clients=max_clients,
            encoder=encoder,
            committee=tuple(range(1, committee_size + 1)),
            threshold=threshold,
            selection=selection,
            honest_members=h,
            noise_multiplier=noise_multiplier,
            min_cohort=min_cohort,
            coefficient_l1=coefficient_l1,
            genesis=genesis,
            prove_uploads=prove_uploads,
            noise_contributors=noise_contributors,
            honest_noise_contributors=honest_noise_contributors,
        )

    @property
    def member_noise_sigma(self) -> float:
        """Per-share discrete-Gaussian sigma in encoded units: z·C·s / sqrt(h + h_c) (design note); members
        and cohort noise contributors draw alike."""
        honest = self.honest_members + self.honest_noise_contributors
        return self.noise_multiplier * self.encoder.clip_norm * self.encoder.scale / math.sqrt(honest)

    @property
    def noise_overhead(self) -> float:
        """sqrt((n + n_c)/(h + h_c)): a full round's noise std over the z·C the accounting needs."""
        return math.sqrt((len(self.committee) + self.noise_contributors)
                         / (self.honest_members + self.honest_noise_contributors))

    @property
    def floor_noise_multiplier(self) -> float:
        """z·sqrt(h/(h + h_c)): the noise multiplier guaranteed when every cohort noise contributor is
        malicious (only the h honest members' shares remain); equals z when h_c = 0."""
        return self.noise_multiplier * math.sqrt(self.honest_members / (self.honest_members + self.honest_noise_contributors))

    @property
    def min_noise_shares(self) -> int:
        """h + t - 1: noise shares a round needs so that >= h honest ones are in it (< t malicious members)."""
        return self.honest_members + self.threshold - 1

    @property
    def round_noise_sigma(self) -> float:
        """Sigma of a round's total noise if every member and cohort noise contributor adds a share:
        sigma_m·sqrt(|committee| + n_c)."""
        return self.member_noise_sigma * math.sqrt(len(self.committee) + self.noise_contributors)

    @property
    def num_polys(self) -> int:
        return self.selection.params.num_polys(self.dim)

    @functools.cached_property
    def kahe(self) -> Kahe:
        p = self.selection.params
        return Kahe(p.kahe_ring, self.selection.kahe_plaintext_bits, self.public_seed, p.error_eta)

    @functools.cached_property
    def ahe(self) -> ThresholdAhe:
        p = self.selection.params
        return ThresholdAhe(
            p.ahe_ring, self.selection.ahe_plaintext_bits, self.public_seed, self.selection.smudging_bits, p.error_eta
        )

    def bytes_per_client(self) -> int:
        """Upload bytes (frame, both ciphertexts and, with `prove_uploads`, the largest proof)."""
        if not self.prove_uploads:
            return self.selection.bytes_per_client(self.dim)
        from loyal.protocols.zk.ahe import max_proof_bytes

        p = self.selection.params
        return self.selection.bytes_per_client(self.dim) + max_proof_bytes(p.ahe_ring, p.error_eta) + 48

    def expansion(self) -> float:
        return self.selection.expansion(self.dim)
