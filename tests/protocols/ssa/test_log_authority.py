# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Issue 14, attack 2, run as the malicious server would: rewrite stored round 1 with honestly formed
ciphertexts (data = -X_0 + one victim's upload, noise = -Z_0), re-chain, and ask for the ordinary
prefix-sum row. Without a log authority a member that never saw the original chain answers and the
release is the victim's exact update; with the anchored heads every member refuses."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.rlwe.kahe import KaheCiphertext
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.committee import CommitteeMember
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.messages import Kind, RoundAggregate, parse_contribution
from loyal.protocols.ssa.policy import quantized_rows
from loyal.protocols.ssa.selftest import run_round

from .conftest import make_job, updates


def _as_int(ct):
    if isinstance(ct, KaheCiphertext):
        return KaheCiphertext(ct.b_hat.astype(np.int64))
    return AheCiphertext(ct.c0_hat.astype(np.int64), ct.c1_hat.astype(np.int64))


def _stored_two_rounds(authority):
    job = make_job(seed=7, noise_multiplier=1.0)
    for _ in range(2):
        run_round(job, updates(job))
        h = job.server_state.log[-1].header
        authority.anchor(job.job.genesis, h.round_index, h.entry_hash, h.num_clients, h.num_noise)
    return job


def _forged_state(job, victim_update):
    """The server's rewritten history: round 1 := (victim - X_0, -Z_0), re-chained from round 0."""
    cfg, st = job.config, job.server_state
    data = job.client.create_contribution(victim_update, round_index=1, client_id=99, public_key_hat=st.public_key_hat,
                                          prng=job.prng)
    victim, _ = parse_contribution(data, job_id=cfg.job_id, kahe_ring=cfg.kahe.ring, ahe_ring=cfg.ahe.ring,
                                   num_polys=cfg.num_polys, kind=Kind.CLIENT_CONTRIBUTION)
    r0 = st.log[0]
    kahe, ahe = cfg.kahe, cfg.ahe
    forged_data_kahe = kahe.linear_combination([(1, _as_int(victim.kahe)), (-1, r0.data_kahe)])
    forged_noise_kahe = kahe.linear_combination([(-1, r0.noise_kahe)])
    forged_data_ahe = ahe.linear_combination([(1, _as_int(victim.ahe)), (-1, r0.data_ahe)])
    forged_noise_ahe = ahe.linear_combination([(-1, r0.noise_ahe)])
    header = ssalog.make_header(r0.header.entry_hash, 1, cfg.min_cohort, cfg.min_noise_shares,
                                forged_data_kahe, forged_noise_kahe, forged_data_ahe, forged_noise_ahe)
    forged = copy.deepcopy(st)
    forged.log[1] = RoundAggregate(header, forged_data_kahe, forged_noise_kahe, forged_data_ahe, forged_noise_ahe)
    forged.head = header.entry_hash
    return forged


def _answer(job, forged, authority):
    """The forged prefix-sum row at round 1, answered by members 1..t that never saw round 1's header."""
    row = quantized_rows(job.policy, 1)[0]
    req = job.server.create_release_request(forged, row)
    for i in req.subset:
        member = CommitteeMember(job.job, i, authority=authority)
        member.state = job.member_states[i]
        job.server.handle_partial_decryption(forged, member.handle_release_request(req))
    return job.server.recover_release(forged, req.request_id)[1]


def test_without_an_authority_the_rewrite_releases_one_clients_exact_update():
    """The control: the attack works when members trust the server's chain (why the authority exists)."""
    job = _stored_two_rounds(ssalog.MemoryLogAuthority())
    victim = updates(job, 1)[0] * 0.5
    release = _answer(job, _forged_state(job, victim), authority=None)
    want = job.config.encoder.encode(victim, job.prng)  # clipped, scaled, stochastically rounded
    assert np.abs(release.integer_values - want).max() <= 1  # no noise at all: the victim's update
    assert np.abs(release.values - victim).max() < 2 / job.config.encoder.scale


def test_anchored_heads_make_every_member_refuse_the_rewritten_log():
    authority = ssalog.MemoryLogAuthority()
    job = _stored_two_rounds(authority)
    forged = _forged_state(job, updates(job, 1)[0] * 0.5)
    with pytest.raises(LogIntegrityError, match="is not the anchored head .*rewrote or forked"):
        _answer(job, forged, authority)
    # The authority keeps one head per round, in order: the server cannot re-anchor round 1.
    h = forged.log[1].header
    with pytest.raises(LogIntegrityError, match="next round to anchor is 2"):
        authority.anchor(job.job.genesis, 1, h.entry_hash, h.num_clients, h.num_noise)
    # The honest log still releases.
    assert _answer(job, job.server_state, authority).round_index == 1


def test_an_unanchored_round_is_refused():
    authority = ssalog.MemoryLogAuthority()
    job = make_job(seed=8, noise_multiplier=1.0)
    run_round(job, updates(job))
    with pytest.raises(LogIntegrityError, match="not anchored"):
        _answer_row0(job, authority)


def _answer_row0(job, authority):
    req = job.server.create_release_request(job.server_state, quantized_rows(job.policy, 0)[0])
    member = CommitteeMember(job.job, req.subset[0], authority=authority)
    member.state = job.member_states[req.subset[0]]
    return member.handle_release_request(dataclasses.replace(req))
