# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The whole SSA protocol in one process (no I/O): `run_selftest` drives the round driver with an
in-process committee, as the gRPC server and the simulations do; `loyal ssa selftest` prints it.

`setup_job`, `run_round` and `release_all` wire the bare roles together without the driver: tests
use them as the pure-protocol reference the driver's shells must reproduce.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from loyal.protocols.rlwe.params import RlweParameterSet
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.client import SsaClient
from loyal.protocols.ssa.committee import LocalCommittee, serve
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.decryptor import MemberState, SsaCommitteeMember
from loyal.protocols.ssa.driver import RoundDriver
from loyal.protocols.ssa.job import Job, cheapest_params_name
from loyal.protocols.ssa.messages import Kind
from loyal.protocols.ssa.policy import ReleasePolicy, quantized_rows
from loyal.protocols.ssa.server import ServerState, SsaServer
from loyal.protocols.ssa.verifier import SsaVerifier


@dataclasses.dataclass
class JobRoles:
    """All roles and states of an in-process job (the bare-roles reference of tests)."""

    job: Job
    config: SsaConfig
    policy: ReleasePolicy
    server: SsaServer
    server_state: ServerState
    members: dict[int, SsaCommitteeMember]
    member_states: dict[int, MemberState]
    client: SsaClient
    prng: AesCtrPrng


def make_job(
    prng: AesCtrPrng, *, dim: int, clients: int, committee: int = 5, threshold: int = 3, noise_multiplier: float = 0.0,
    clip_norm: float = 1.0, scale: float = 2.0**10, policy_spec: str = "", rounds: int = 1 << 10,
    params_name: str | None = None, prove_uploads: bool = False, noise_contributors: int = 0,
    honest_noise_contributors: int = 0,
) -> Job:
    """A job with a random id and seed from `prng` (the cheapest 128-bit parameter set unless named)."""
    from loyal.protocols.proto.policies import policy_schema

    fields = dict(dim=dim, cohort_size=clients, clip_norm=clip_norm, scale=scale, committee_size=committee,
                  threshold=threshold, noise_multiplier=noise_multiplier, rounds=rounds, policy_spec=policy_spec,
                  prove_uploads=prove_uploads, noise_contributors=noise_contributors,
                  honest_noise_contributors=honest_noise_contributors)
    k, b = policy_schema(policy_spec) or (1, 1)
    return Job(job_id=prng.random_bytes(16), public_seed=prng.random_bytes(32), participations=k, min_separation=b,
               params_name=params_name or cheapest_params_name(**fields), **fields)


def setup_job(
    *, dim: int, clients: int, committee: int = 5, threshold: int = 3, noise_multiplier: float = 0.0,
    clip_norm: float = 1.0, scale: float = 2.0**10, policy: ReleasePolicy | None = None, policy_spec: str = "",
    params: RlweParameterSet | None = None, prng: AesCtrPrng | None = None, rounds: int = 1 << 10,
    prove_uploads: bool = False, noise_contributors: int = 0, honest_noise_contributors: int = 0,
) -> JobRoles:
    """Creates the job, runs the committee's distributed key generation, and the server state.

    Args:
      prove_uploads: uploads carry zero-knowledge proofs (off by default: ~0.4 s per upload).
      policy: a policy object the roles enforce instead of the job's (tests of custom policies; the
        job's `rounds` then only sizes the plaintext space).
    """
    prng = prng or AesCtrPrng.from_os(b"loyal/ssa/selftest")
    job = make_job(prng, dim=dim, clients=clients, committee=committee, threshold=threshold,
                   noise_multiplier=noise_multiplier, clip_norm=clip_norm, scale=scale, policy_spec=policy_spec,
                   rounds=rounds, params_name=None if params is None else params.name, prove_uploads=prove_uploads,
                   noise_contributors=noise_contributors, honest_noise_contributors=honest_noise_contributors)
    config, policy = job.config_for_epoch(0), policy or job.policy
    members = {i: SsaCommitteeMember(config, i, policy) for i in config.committee}
    contribs = [m.create_keygen_contribution(prng) for m in members.values()]
    states = {i: m.handle_keygen(MemberState(), contribs) for i, m in members.items()}
    server = SsaServer(config, policy)
    return JobRoles(
        job, config, policy, server, server.create_state(config.ahe.combine_public_key(contribs)),
        members, states, SsaClient(config), prng,
    )


def run_round(job: JobRoles, updates: np.ndarray) -> None:
    """Clients upload `updates` (clients × d), every member uploads noise, the server stores the round."""
    st = job.server_state
    rnd = st.open_round.round_index
    pk = st.public_key_hat
    for cid, u in enumerate(updates):
        data = job.client.create_contribution(u, round_index=rnd, client_id=cid, public_key_hat=pk, prng=job.prng)
        job.server.handle_client_contribution(st, data)
    for i, m in job.members.items():
        job.server.handle_noise_contribution(st, m.create_noise_contribution(rnd, pk, job.prng))
    job.server.close_round(st)


def release_all(job: JobRoles, round_index: int) -> list:
    """Releases every policy row for `round_index` through the first t committee members."""
    out = []
    for row in quantized_rows(job.policy, round_index):
        req = job.server.create_release_request(job.server_state, row)
        for i in req.subset:
            job.member_states[i], part = job.members[i].handle_release_request(job.member_states[i], req, job.server_state.head)
            job.server.handle_partial_decryption(job.server_state, part)
        job.server_state, rel = job.server.recover_release(job.server_state, req.request_id)
        out.append(rel)
    return out


def run_selftest(
    *, clients: int, dim: int, rounds: int, noise_multiplier: float = 0.0, committee: int = 5, threshold: int = 3,
    scale: float = 2.0**10,
) -> dict[str, float | int | str]:
    """Runs `rounds` rounds of the prefix-sum policy through the round driver and compares releases with
    plaintext prefix sums.

    With noise_multiplier = 0 the decrypted integers equal the sum of the encoded updates exactly, so
    the only error is randomized rounding: |release - true prefix sum| <= clients·(t+1)/scale per
    coordinate (each encoded coordinate is within one quantization step of the clipped value). The
    result reports that bound as `error_bound`.
    """
    for name, v in (("clients", clients), ("dim", dim), ("rounds", rounds)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    prng = AesCtrPrng.from_os(b"loyal/ssa/selftest")
    job = make_job(prng, dim=dim, clients=clients, committee=committee, threshold=threshold,
                   noise_multiplier=noise_multiplier, scale=scale, rounds=rounds)
    driver, committee_ = RoundDriver(job), LocalCommittee(job)
    st, client, encoder = driver.create_state(), SsaClient(job.config_for_epoch(0)), job.config_for_epoch(0).encoder
    driver.start(st, committee_.keygen(job.committee(0)[0]), time.time())
    truth, max_err, releases = np.zeros(dim), 0.0, 0
    for t in range(rounds):
        u = (prng.unit_floats(clients * dim).reshape(clients, dim) * 2 - 1) / math.sqrt(dim)
        truth += np.array([encoder.clip(x) for x in u]).sum(axis=0)
        serve(driver, st, committee_, time.time())  # noise shares
        for i, x in enumerate(u):
            cid = t * clients + i  # a fresh client per upload (single participation)
            data = client.create_contribution(x, round_index=t, client_id=cid, public_key_hat=st.core.public_key_hat, prng=prng)
            driver.include_upload(st, driver.check_upload(st, Kind.CLIENT_CONTRIBUTION, cid, data), time.time())
        serve(driver, st, committee_, time.time())  # partial decryptions
        for rel in st.releases[releases:]:
            max_err = max(max_err, float(np.abs(rel.values - truth).max()))
            releases += 1
    SsaVerifier(job.config_for_epoch(0), job.policy).verify_releases(st.core.releases, len(st.core.log))
    cfg = job.config_for_epoch(0)
    return {
        "max_abs_error": max_err,
        "quantization_step": cfg.encoder.quantization_step,
        "error_bound": clients * rounds * cfg.encoder.quantization_step,
        "release_count": releases,
        "bytes_per_client": cfg.bytes_per_client(),
        "expansion": cfg.expansion(),
        "parameter_set": job.params_name,
    }


__all__ = ["JobRoles", "make_job", "release_all", "run_round", "run_selftest", "setup_job"]
