# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Committee enrollment against a malicious server and squatters (issue 14, attack 3 and deliverable 4),
run over gRPC as the adversary would: pinned member keys, authenticated exchange keys, commit-then-reveal
key generation, and clients that encrypt only under a key t pinned members signed."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import threading

import grpc
import numpy as np
import pytest

from loyal.client.committee import CommitteeRunner
from loyal.client.grpc_client import Session
from loyal.client.runner import run_client
from loyal.client.tls import Identity
from loyal.protocols.proto import convert
from loyal.protocols.proto.loyal.v1 import committee_pb2
from loyal.protocols.ssa import enrollment
from loyal.protocols.ssa.errors import AuthenticationError, PolicyViolationError
from loyal.protocols.ssa.job import InsecureJobError
from loyal.server.limits import check_transport
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens, update_for, wait_until

CLIENTS = 2


def _pinned(n: int = 3, rounds: int = 1, **kw):
    ids = [Identity() for _ in range(n)]
    spec = make_spec(clients=CLIENTS, committee=n, rounds=rounds, member_keys=tuple(i.public_key.hex() for i in ids), **kw)
    return spec, {m + 1: ids[m] for m in range(n)}


def _members(srv, spec, ids, **kw):
    return member_threads(srv.address, list(ids), genesis=spec.genesis, insecure=True,
                          runner=lambda a, m, **k: CommitteeRunner(a, m, identity=ids[m], **k), **kw)


def test_pinned_job_runs_a_round_and_the_client_checks_t_key_signatures(tmp_path):
    spec, ids = _pinned()
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS)) as srv:
        with _members(srv, spec, ids) as results:
            for c in range(CLIENTS):
                run_client(srv.address, lambda t, c=c: update_for(0, c), token=f"tok-{c}", round_index=0,
                           genesis=spec.genesis, insecure=True)
        pk, sigs = srv.coord.state.core.public_key_hat, dict(srv.coord.key_signatures)
    assert all(isinstance(r, dict) for r in results.values()), results
    assert len(srv.coord.releases) == 1
    assert enrollment.verify_committee_key(spec, pk, sigs) == (1, 2, 3)
    # Any t - 1 signatures, or signatures of another key, do not suffice.
    with pytest.raises(AuthenticationError, match="carries 1 valid member signatures, needs t=2"):
        enrollment.verify_committee_key(spec, pk, {1: sigs[1]})
    with pytest.raises(AuthenticationError, match="carries 0 valid"):
        enrollment.verify_committee_key(spec, (pk + 1) % 7, sigs)


@pytest.fixture(name="anchor", scope="module")
def _anchor():
    from loyal.contracts.anchor import AnchorClient
    from loyal.contracts.chain import insecure_dev_account, open_chain

    chain = open_chain(None, state_path=None)
    account = insecure_dev_account("ssa-server")
    chain.fund(account.address, 10**18)
    return AnchorClient.deploy(chain, account)


def test_server_anchors_every_round_on_chain_and_members_check_it(tmp_path, anchor):
    spec, ids = _pinned(rounds=2)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(2 * CLIENTS), authority=anchor) as srv:
        with _members(srv, spec, ids, authority=anchor) as results:
            for r in range(2):
                for c in range(CLIENTS):
                    run_client(srv.address, lambda t, r=r, c=c: update_for(r, c), token=f"tok-{r * CLIENTS + c}",
                               round_index=r, genesis=spec.genesis, insecure=True)
        log = srv.coord.state.core.log
    assert all(isinstance(r, dict) for r in results.values()), results
    assert len(srv.coord.releases) == 2 and anchor.rounds(spec.genesis) == 2
    assert [anchor.head_at(spec.genesis, r) for r in range(2)] == [a.header.entry_hash for a in log]


def test_a_job_with_every_defence_on_releases(tmp_path, anchor, monkeypatch):
    """Pinned member keys, signed committee key, anchored heads, proven uploads and the members' audit together.

    The audit reads the round's parts one per page: a round of proven uploads outgrows one gRPC message
    (~0.95 MB a part at rlwe-n8192-wide), so members fetch them page by page (`GetRoundParts` with start)."""
    from loyal.server import limits

    monkeypatch.setattr(limits, "PARTS_PAGE_BYTES", 1)
    spec, ids = _pinned(rounds=1, prove_uploads=True, noise=0.5, model_seed=9)
    audits: list[tuple[int, int, int]] = []
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS), authority=anchor) as srv:
        real = srv.coord.round_parts
        srv.coord.round_parts = lambda m, r, start=0: audits.append((m, r, start)) or real(m, r, start)
        with _members(srv, spec, ids, authority=anchor) as results:
            for c in range(CLIENTS):
                run_client(srv.address, lambda t, c=c: update_for(0, c), token=f"tok-{c}", round_index=0,
                           genesis=spec.genesis, insecure=True)
        parts = srv.coord.store.parts(0)[1]
        with pytest.raises(ValueError, match="past the round's"):
            real(audits[0][0], 0, parts + 1)
    assert all(isinstance(r, dict) for r in results.values()), results
    assert len(srv.coord.releases) == 1 and anchor.rounds(spec.genesis) == 1
    auditors = {m for m, _, _ in audits}
    assert len(auditors) >= spec.threshold and {r for _, r, _ in audits} == {0}  # each decrypting member audited round 0
    assert parts >= CLIENTS + 1  # the data parts and at least one noise share
    for m in auditors:  # each audit read the pages 0, 1, ..., parts - 1 (one part each)
        assert sorted(s for mm, _, s in audits if mm == m)[:parts] == list(range(parts))
    assert spec.security_issues() == ("parameter set 'insecure-test-n1024' is below 128-bit security (tests only)",
                                      "min_cohort=1: a one-client round releases that client's exact update")


def test_members_refuse_a_server_that_does_not_anchor(tmp_path, anchor):
    spec, ids = _pinned(rounds=1, model_seed=5)  # another genesis: nothing anchored for it
    stop = threading.Event()
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS)) as srv:  # no authority
        with _members(srv, spec, ids, authority=anchor, stop=stop) as results:
            for c in range(CLIENTS):
                run_client(srv.address, lambda t, c=c: update_for(0, c), token=f"tok-{c}", round_index=0,
                           genesis=spec.genesis, insecure=True)
            wait_until(lambda: sum(len(v) for v in _refusals(srv).values()) >= 2)
            stop.set()
    reasons = [r for v in _refusals(srv).values() for r in v]
    assert reasons and all("is not anchored" in r for r in reasons)
    assert srv.coord.releases == []


def _refusals(srv) -> dict[bytes, list[str]]:
    import sqlite3

    out: dict[bytes, list[str]] = {}
    with contextlib.closing(sqlite3.connect(srv.coord.store.path)) as db:  # the store's connection is the server thread's
        for rid, reason in db.execute("SELECT request_id, reason FROM refusals"):
            out.setdefault(rid, []).append(reason)
    return out


def test_squatter_cannot_join_as_a_pinned_member_and_the_real_member_still_joins(tmp_path):
    spec, ids = _pinned()
    with InProcessServer(str(tmp_path / "s.db"), spec) as srv, Session(srv.address, max_attempts=1) as s:
        squatter = CommitteeRunner(srv.address, 1, insecure=True)  # a fresh key, not the pinned one
        with pytest.raises(grpc.RpcError) as e:
            squatter._join(s, os.urandom(32))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED and "pinned to another key" in e.value.details()
        assert srv.coord.members == {}  # the squatter is not a member
        CommitteeRunner(srv.address, 1, identity=ids[1], insecure=True)._join(s, os.urandom(32))
        assert srv.coord.members[1][0] == ids[1].public_key


def test_member_refuses_an_exchange_key_the_server_substituted(tmp_path):
    spec, ids = _pinned()
    with InProcessServer(str(tmp_path / "s.db"), spec) as srv:
        real = srv.coord.roster

        def mitm():  # the server relays its own exchange key for member 2 (to read 2's shares)
            complete, joined, commits = real()
            if 2 in joined:
                joined[2] = (os.urandom(32), joined[2][1])
            return complete, joined, commits

        srv.coord.roster = mitm
        with _members(srv, spec, ids) as results:
            pass
    assert all(isinstance(results[m], AuthenticationError) for m in (1, 2, 3)), results
    assert srv.coord.keygen == {}  # nobody sealed a share to the server's key


def test_reveals_wait_for_every_commitment_and_must_open_them(tmp_path):
    """A rushing dealer may not choose b_j after seeing the others' parts (Gennaro et al. 2007)."""
    spec, ids = _pinned()
    ring = spec.config_for_epoch(0).ahe.ring
    part = convert.residues_to_bytes(np.zeros((ring.num_moduli, ring.degree), dtype=np.int64))
    with InProcessServer(str(tmp_path / "s.db"), spec) as srv, Session(srv.address, max_attempts=1) as s:
        for m in (1, 2, 3):
            CommitteeRunner(srv.address, m, identity=ids[m], insecure=True)._join(s, os.urandom(32))
        dealer = CommitteeRunner(srv.address, 1, identity=ids[1], insecure=True)
        reveal = committee_pb2.KeyGenSubmission(member_id=1, public_part=part, signature=dealer._sign(
            "keygen", spec.job_id, part, b""))
        with pytest.raises(grpc.RpcError) as e:
            s.call(s.committee.SubmitKeyGen, reveal)
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "wait for every dealer's commitment" in e.value.details()
        for m in (1, 2, 3):
            digest = enrollment.commitment(spec, m, os.urandom(len(part)))  # committed to some other part
            runner = CommitteeRunner(srv.address, m, identity=ids[m], insecure=True)
            s.call(s.committee.SubmitKeyGen, committee_pb2.KeyGenSubmission(
                member_id=m, commitment=digest, signature=runner._sign("keygen-commit", spec.job_id, digest)))
        with pytest.raises(grpc.RpcError) as e:
            s.call(s.committee.SubmitKeyGen, reveal)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED and "does not open the commitment" in e.value.details()
        assert srv.coord.keygen == {}


def test_client_refuses_a_key_the_committee_did_not_sign_and_a_job_it_did_not_pin(tmp_path):
    spec, ids = _pinned()
    stop = threading.Event()
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(3)) as srv:
        with _members(srv, spec, ids, stop=stop):
            real = srv.coord.task

            def swapped():  # the server hands clients a key whose secret it knows
                t = real()
                return dict(t, public_key_hat=np.zeros_like(t["public_key_hat"]))

            srv.coord.task = swapped
            with pytest.raises(AuthenticationError, match="did not sign"):
                run_client(srv.address, lambda t: update_for(0, 0), token="tok-0", round_index=0, timeout_s=3,
                           genesis=spec.genesis, insecure=True)
            srv.coord.task = real
            other = dataclasses.replace(spec, noise_multiplier=0.25).genesis
            with pytest.raises(PolicyViolationError, match="not the published"):
                run_client(srv.address, lambda t: update_for(0, 1), token="tok-1", round_index=0, timeout_s=3,
                           genesis=other, insecure=True)
            # Unpinned and unsafe jobs are refused without --insecure, naming every issue.
            with pytest.raises(InsecureJobError, match="noise_multiplier is 0.*min_cohort=1"):
                run_client(srv.address, lambda t: update_for(0, 1), token="tok-2", round_index=0, timeout_s=3,
                           genesis=spec.genesis)
            stop.set()
        assert srv.coord.state.clients == 0


def test_job_security_issues_name_every_unsafe_choice():
    spec = make_spec()
    issues = " | ".join(spec.security_issues())
    for text in ("below 128-bit security", "noise_multiplier is 0", "min_cohort=1", "member_keys are not pinned",
                 "prove_uploads is off"):
        assert text in issues
    with pytest.raises(InsecureJobError, match="pass --insecure"):
        spec.check_secure()
    spec.check_secure(insecure=True)
    ok = dataclasses.replace(spec, params_name="rlwe-n8192", noise_multiplier=1.0, min_cohort=2, prove_uploads=True,
                             member_keys=tuple(Identity().public_key.hex() for _ in range(3)))
    assert ok.security_issues() == ()
    with pytest.raises(ValueError, match="member_keys must pin all 3 members"):
        dataclasses.replace(ok, member_keys=ok.member_keys[:2])


@pytest.mark.parametrize("address, tls, insecure, ok", [
    ("127.0.0.1:5", False, False, True), ("localhost:5", False, False, True), ("[::1]:5", False, False, True),
    ("10.1.2.3:5", False, False, False), ("example.org:443", False, False, False), ("0.0.0.0", False, False, False),
    ("10.1.2.3:5", True, False, True), ("10.1.2.3:5", False, True, True),
])
def test_plaintext_grpc_is_refused_off_loopback(address, tls, insecure, ok):
    if ok:
        check_transport(address, tls, insecure)
    else:
        with pytest.raises(ValueError, match="not loopback"):
            check_transport(address, tls, insecure)


def test_key_files_are_private_from_creation(tmp_path):
    path = tmp_path / "key.json"
    path.write_text("old")
    path.chmod(0o644)
    Identity().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load(path).public_key
