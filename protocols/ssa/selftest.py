# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The whole SSA protocol in one process: committee key generation, clients, stored aggregates,
noise shares and policy releases through the committee (no I/O; `loyal ssa selftest` prints it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from loyal.protocols.rlwe.params import RlweParameterSet
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa.client import SsaClient
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.decryptor import MemberState, SsaCommitteeMember
from loyal.protocols.ssa.policy import PrefixSumPolicy, ReleasePolicy
from loyal.protocols.ssa.server import ServerState, SsaServer
from loyal.protocols.ssa.verifier import SsaVerifier


@dataclasses.dataclass
class Job:
    """All roles and states of an in-process job (used by the self-test and by tests)."""

    config: SsaConfig
    policy: ReleasePolicy
    server: SsaServer
    server_state: ServerState
    members: dict[int, SsaCommitteeMember]
    member_states: dict[int, MemberState]
    client: SsaClient
    prng: AesCtrPrng


def setup_job(
    *, dim: int, clients: int, committee: int = 5, threshold: int = 3, noise_multiplier: float = 0.0,
    clip_norm: float = 1.0, scale: float = 2.0**10, policy: ReleasePolicy | None = None,
    params: RlweParameterSet | None = None, prng: AesCtrPrng | None = None, coefficient_l1: int = 1 << 10,
) -> Job:
    """Creates the config, runs the committee's distributed key generation, and the server state."""
    prng = prng or AesCtrPrng.from_os(b"loyal/ssa/selftest")
    policy = policy or PrefixSumPolicy()
    config = SsaConfig.create(
        job_id=prng.random_bytes(16), public_seed=prng.random_bytes(32), dim=dim, max_clients=clients,
        clip_norm=clip_norm, scale=scale, committee_size=committee, threshold=threshold,
        noise_multiplier=noise_multiplier, coefficient_l1=coefficient_l1, params=params,
    )
    members = {i: SsaCommitteeMember(config, i, policy) for i in config.committee}
    contribs = [m.create_keygen_contribution(prng) for m in members.values()]
    states = {i: m.handle_keygen(MemberState(), contribs) for i, m in members.items()}
    server = SsaServer(config, policy)
    return Job(
        config, policy, server, server.create_state(config.ahe.combine_public_key(contribs)),
        members, states, SsaClient(config), prng,
    )


def run_round(job: Job, updates: np.ndarray) -> None:
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


def release_all(job: Job, round_index: int) -> list:
    """Releases every policy row for `round_index` through the first t committee members."""
    out = []
    for row in job.policy.release_rows(round_index):
        req = job.server.create_release_request(job.server_state, row)
        for i in req.subset:
            job.member_states[i], part = job.members[i].handle_release_request(
                job.member_states[i], req, job.server_state.head, job.prng
            )
            job.server.handle_partial_decryption(job.server_state, part)
        job.server_state, rel = job.server.recover_release(job.server_state, req.request_id)
        out.append(rel)
    return out


def run_selftest(
    *, clients: int, dim: int, rounds: int, noise_multiplier: float = 0.0, committee: int = 5, threshold: int = 3,
    scale: float = 2.0**10,
) -> dict[str, float | int | str]:
    """Runs `rounds` rounds of the prefix-sum policy and compares releases with plaintext prefix sums.

    With noise_multiplier = 0 the decrypted integers equal the sum of the encoded updates exactly, so
    the only error is randomized rounding: |release - true prefix sum| <= (clients·(t+1))/scale per
    coordinate (each encoded coordinate is within one quantization step of the clipped value). The
    result reports that bound as `error_bound`.
    """
    for name, v in (("clients", clients), ("dim", dim), ("rounds", rounds)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    job = setup_job(
        dim=dim, clients=clients, committee=committee, threshold=threshold, noise_multiplier=noise_multiplier,
        scale=scale, coefficient_l1=max(rounds, 1),
    )
    truth = np.zeros(dim)
    max_err = 0.0
    releases = 0
    for t in range(rounds):
        u = (job.prng.unit_floats(clients * dim).reshape(clients, dim) * 2 - 1) / math.sqrt(dim)
        truth += np.array([job.config.encoder.clip(x) for x in u]).sum(axis=0)
        run_round(job, u)
        for rel in release_all(job, t):
            max_err = max(max_err, float(np.abs(rel.values - truth).max()))
            releases += 1
    SsaVerifier(job.config, job.policy).verify_releases(job.server_state.releases, len(job.server_state.log))
    return {
        "max_abs_error": max_err,
        "quantization_step": job.config.encoder.quantization_step,
        "error_bound": clients * rounds * job.config.encoder.quantization_step,
        "release_count": releases,
        "bytes_per_client": job.config.bytes_per_client(),
        "expansion": job.config.expansion(),
        "parameter_set": job.config.selection.params.name,
    }


__all__ = ["Job", "release_all", "run_round", "run_selftest", "setup_job"]
