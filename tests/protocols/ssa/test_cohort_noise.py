# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Issue 15, deliverable 2: noise-only shares from the round's cohort. The overhead falls from
sqrt(n/h) to sqrt((n + n_c)/(h + h_c)); the server takes a cohort share only from a data uploader of the
round, once, up to n_c; a round does not close without them; members' audits check them."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from loyal.protocols.proto.convert import job_from_proto, job_to_proto
from loyal.protocols.rlwe.params import INSECURE_TEST_N1024
from loyal.protocols.rlwe.testing import InsecureFakePrng
from loyal.protocols.ssa.audit import RoundParts, check_round_parts
from loyal.protocols.ssa.client import SsaClient, create_cohort_noise
from loyal.protocols.ssa.committee import LocalCommittee, serve
from loyal.protocols.ssa.driver import RoundDriver
from loyal.protocols.ssa.errors import LogIntegrityError, ProtocolStateError, ReplayError
from loyal.protocols.ssa.messages import Kind, parse_contribution
from loyal.protocols.ssa.rounds import RoundStage
from loyal.protocols.ssa.selftest import make_job

DIM = 1024


def _job(n_c: int, h_c: int, *, clients: int = 4, prove: bool = False, z: float = 1.0):
    return make_job(InsecureFakePrng(7), dim=DIM, clients=clients, committee=3, threshold=2, noise_multiplier=z,
                    rounds=2, params_name=INSECURE_TEST_N1024.name, prove_uploads=prove, noise_contributors=n_c,
                    honest_noise_contributors=h_c)


def test_overhead_and_floor_follow_the_shares() -> None:
    """n = 3 members with h = 2 assumed honest; 50 cohort noise shares, 45 assumed honest (90 %)."""
    base, cohort = _job(0, 0, clients=60).config_for_epoch(0), _job(50, 45, clients=60).config_for_epoch(0)
    assert base.noise_overhead == pytest.approx(math.sqrt(3 / 2))
    assert cohort.noise_overhead == pytest.approx(math.sqrt(53 / 47))  # 1.062, from 1.225
    # Every share has variance sigma^2/(h + h_c): h + h_c honest shares carry the whole sigma.
    assert cohort.member_noise_sigma ** 2 * 47 == pytest.approx((1.0 * 1.0 * 2.0 ** 10) ** 2)
    assert base.floor_noise_multiplier == 1.0
    assert cohort.floor_noise_multiplier == pytest.approx(math.sqrt(2 / 47))


def test_job_validates_binds_and_serializes_the_cohort_noise() -> None:
    with pytest.raises(ValueError, match="honest_noise_contributors <= noise_contributors <= cohort size 4"):
        _job(2, 3)
    with pytest.raises(ValueError, match="noise_contributors <= cohort size 4"):
        _job(5, 0)
    with pytest.raises(ValueError, match="noise_contributors needs noise_multiplier > 0"):
        _job(1, 0, z=0.0)
    with pytest.raises(ValueError, match="noise_contributors must be an integer >= 0"):
        _job(-1, 0)
    job = _job(2, 1)
    assert job.genesis != _job(2, 2).genesis != _job(0, 0).genesis  # the genesis pins n_c and h_c
    assert job_from_proto(job_to_proto(job)) == job
    issue = [i for i in job.security_issues() if "trusts clients for noise" in i]
    assert len(issue) == 1 and f"{job.config_for_epoch(0).floor_noise_multiplier:.3g}" in issue[0]
    assert not [i for i in _job(2, 0).security_issues() if "trusts clients" in i]


def _start(job, member_noise: bool = True):
    driver, committee = RoundDriver(job), LocalCommittee(job)
    st = driver.create_state()
    driver.start(st, committee.keygen(job.committee(0)[0]), time.time())
    if member_noise:
        serve(driver, st, committee, time.time())  # every member's noise share
    return driver, committee, st


def _noise(job, st, client_id: int, seed: int = 100) -> bytes:
    return create_cohort_noise(job.config_for_epoch(0), round_index=st.round_index, client_id=client_id,
                               public_key_hat=st.core.public_key_hat, prng=InsecureFakePrng(seed + client_id))


def test_the_round_takes_cohort_noise_only_from_its_data_uploaders_and_waits_for_it() -> None:
    job = _job(2, 2)
    driver, committee, st = _start(job)
    client = SsaClient(job.config_for_epoch(0))
    with pytest.raises(ProtocolStateError, match="client 0 sent no data to round 0"):
        driver.check_upload(st, Kind.COHORT_NOISE, 0, _noise(job, st, 0))
    for cid in range(4):  # the cohort is full and every member's share is in ...
        data = client.create_contribution(np.zeros(DIM), round_index=0, client_id=cid,
                                          public_key_hat=st.core.public_key_hat, prng=InsecureFakePrng(cid))
        driver.include_upload(st, driver.check_upload(st, Kind.CLIENT_CONTRIBUTION, cid, data), time.time())
    assert st.stage == RoundStage.COLLECTING and driver.noise_wanted(st)  # ... but the cohort noise is not
    assert not driver.ready_to_close(st, time.time() + 1e9)  # not even at the deadline
    with pytest.raises(ProtocolStateError, match="needs noise_contributors = 2"):
        driver.close(st, time.time())
    driver.include_upload(st, driver.check_upload(st, Kind.COHORT_NOISE, 0, _noise(job, st, 0)), time.time())
    with pytest.raises(ReplayError, match="client 0 already sent a noise share for round 0"):
        driver.check_upload(st, Kind.COHORT_NOISE, 0, _noise(job, st, 0, seed=200))
    member_share = committee.noise([1], 0, st.core.public_key_hat)[0]  # a member's share is not a cohort share
    with pytest.raises(Exception, match="wrong message kind"):
        driver.check_upload(st, Kind.COHORT_NOISE, 1, member_share)
    driver.include_upload(st, driver.check_upload(st, Kind.COHORT_NOISE, 1, _noise(job, st, 1)), time.time())
    assert not driver.noise_wanted(st) and st.round_index == 0 and st.stage != RoundStage.COLLECTING
    assert st.core.log[0].header.num_noise == 3 + 2
    serve(driver, st, committee, time.time())  # partial decryptions
    release = st.releases[0]
    # Zero updates: the release is the round's noise alone, with std z·C·sqrt((n + n_c)/(h + h_c)).
    cfg = job.config_for_epoch(0)
    assert np.std(release.values) == pytest.approx(cfg.noise_overhead, rel=0.12)
    assert cfg.noise_overhead == pytest.approx(math.sqrt(5 / 4))


def test_members_audit_the_cohort_shares() -> None:
    """A server that counts a cohort share from a client with no data in the round, hides one, or passes
    a member's share off as a cohort share is caught by every member before any partial."""
    job = _job(1, 1, clients=2, prove=True)
    driver, committee, st = _start(job, member_noise=False)
    cfg, pk = job.config_for_epoch(0), st.core.public_key_hat
    shares = committee.noise(list(cfg.committee), 0, pk)
    for m, share in zip(cfg.committee, shares):
        driver.include_upload(st, driver.check_upload(st, Kind.NOISE_CONTRIBUTION, m, share), 0.0)
    frames = {}
    for cid in range(2):
        frames[("client", cid)] = SsaClient(cfg).create_contribution(
            np.zeros(DIM), round_index=0, client_id=cid, public_key_hat=pk, prng=InsecureFakePrng(cid))
        driver.include_upload(st, driver.check_upload(st, Kind.CLIENT_CONTRIBUTION, cid, frames[("client", cid)]), 0.0)
    frames[("cohort", 1)] = _noise(job, st, 1)
    driver.include_upload(st, driver.check_upload(st, Kind.COHORT_NOISE, 1, frames[("cohort", 1)]), 0.0)
    header = st.core.log[0].header

    def part(frame: bytes, kind: Kind):
        m, _ = parse_contribution(frame, job_id=cfg.job_id, kahe_ring=cfg.kahe.ring, ahe_ring=cfg.ahe.ring,
                                  num_polys=cfg.num_polys, kind=kind)
        return (m.sender, m.ahe, m.proof)

    members = tuple(part(f, Kind.NOISE_CONTRIBUTION) for f in shares)
    data = tuple(part(frames[("client", c)], Kind.CLIENT_CONTRIBUTION) for c in range(2))
    honest = RoundParts(0, data, members, (part(frames[("cohort", 1)], Kind.COHORT_NOISE),))
    check_round_parts(cfg, header, honest, pk, None)
    with pytest.raises(LogIntegrityError, match="has 3 member and 0 cohort noise parts; the log says 4 in all"):
        check_round_parts(cfg, header, dataclasses.replace(honest, cohort_noise=()), pk, None)
    outsider = ((7,) + honest.cohort_noise[0][1:],)
    with pytest.raises(LogIntegrityError, match=r"cohort_noise parts from \[7\], not data uploaders"):
        check_round_parts(cfg, header, dataclasses.replace(honest, cohort_noise=outsider), pk, None)
    disguised = RoundParts(0, data, members[1:], (members[0], honest.cohort_noise[0]))
    with pytest.raises(LogIntegrityError):
        check_round_parts(cfg, header, disguised, pk, None)


def test_a_restored_round_replays_its_cohort_noise_in_arrival_order() -> None:
    """What a restarted server does with its stored uploads (`RoundDriver.replay`): the cohort share counts
    again; stored out of order (noise before its data) it is refused, not silently counted."""
    from loyal.protocols.ssa.rounds import StoredRound

    job = _job(2, 2)
    driver, committee, st = _start(job, member_noise=False)
    pk, cfg = st.core.public_key_hat, job.config_for_epoch(0)
    uploads = [(Kind.NOISE_CONTRIBUTION, m, f) for m, f in zip(cfg.committee, committee.noise(list(cfg.committee), 0, pk))]
    uploads += [(Kind.CLIENT_CONTRIBUTION, c, SsaClient(cfg).create_contribution(
        np.zeros(DIM), round_index=0, client_id=c, public_key_hat=pk, prng=InsecureFakePrng(c))) for c in range(2)]
    uploads.append((Kind.COHORT_NOISE, 1, _noise(job, st, 1)))

    def restored(order):
        state = driver.create_state()
        state.replaying = True
        driver.start(state, pk, 0.0)
        driver.replay(state, StoredRound(0, RoundStage.COLLECTING, 0.0, uploads=tuple(order)), 0.0)
        return state

    again = restored(uploads)
    assert (again.clients, again.noise_shares, again.cohort_noise) == (2, 3, 1) and driver.noise_wanted(again)
    with pytest.raises(ProtocolStateError, match="client 1 sent no data to round 0"):
        restored([uploads[-1], *uploads[:-1]])
