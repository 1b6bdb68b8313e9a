# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The audit and the contributor ledger on real jobs: two in-process gRPC jobs (tests/server/harness.py) anchored
on chain, identical but for what their clients send. The audit passes on the honest release log and fails, naming
the broken check, on tampered ones; `loyal audit` does the same from a hardhat node; the ledgers of the two jobs
are identical (participation only), and so is their on-chain commitment."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from loyal.app import main
from loyal.client.runner import run_client
from loyal.client.tls import Identity
from loyal.contracts.anchor import AnchorClient
from loyal.contracts.chain import insecure_dev_account, open_chain
from loyal.contracts.ledger import LedgerClient, LedgerCommitment
from loyal.protocols.dpftrl import accounting
from loyal.protocols.governance.audit import CHECKS, AuditPolicy, audit, epsilon_spent
from loyal.protocols.governance.ledger import PayeeStatement, contributor_id, derive_ledger, payee_message
from loyal.protocols.governance.release_log import ReleaseLog
from loyal.protocols.ssa.job import Job
from loyal.server.export import release_log
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens, update_for

ROUNDS, CLIENTS, NOISE, DELTA = 2, 2, 0.5, 1e-6
#: Round r's clients are people 2r and 2r + 1 (k = 1: nobody may join twice).
PEOPLE = [Identity() for _ in range(ROUNDS * CLIENTS)]


@dataclasses.dataclass(frozen=True)
class Run:
    job: Job
    anchor: AnchorClient
    db: Path
    log: ReleaseLog

    def heads(self) -> list[bytes]:
        return [self.anchor.head_at(self.job.genesis, r) for r in range(self.anchor.rounds(self.job.genesis))]


def _run(tmp: Path, chain, server, sign: float) -> Run:
    spec = make_spec(clients=CLIENTS, committee=3, threshold=2, noise=NOISE, rounds=ROUNDS)
    anchor = AnchorClient.deploy(chain, server)
    db = tmp / "s.db"
    with InProcessServer(str(db), spec, toks=tokens(ROUNDS * CLIENTS), authority=anchor) as srv:
        with member_threads(srv.address, 3, authority=anchor):
            for r in range(ROUNDS):
                for c in range(CLIENTS):
                    person = Identity(PEOPLE[r * CLIENTS + c].key)  # enrolls afresh in this job
                    run_client(srv.address, lambda t, r=r, c=c: sign * update_for(r, c), identity=person,
                               token=f"tok-{r * CLIENTS + c}", round_index=r, genesis=spec.genesis, insecure=True)
    return Run(spec, anchor, db, release_log(db))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Job "a" and job "b" (same pinned job and clients; b's clients send the negated updates)."""
    chain = open_chain(None, state_path=None)
    server = insecure_dev_account("ssa-server")
    chain.fund(server.address, 10**18)
    return {name: _run(tmp_path_factory.mktemp(name), chain, server, sign) for name, sign in (("a", 1.0), ("b", -1.0))}


def _policy(max_epsilon: float = 100.0) -> AuditPolicy:
    return AuditPolicy(max_epsilon=max_epsilon, delta=DELTA, accountant="rdp")  # PLD (1.5 s) in the CLI test


def test_audit_passes_on_the_honest_release_log(runs):
    run = runs["a"]
    report = audit(run.log, job_id=run.job.job_id, anchored=run.heads(), policy=_policy())
    assert [(c.name, c.passed) for c in report.checks] == [(name, True) for name in CHECKS], report.checks
    assert (report.anchored_rounds, report.releases) == (ROUNDS, ROUNDS)
    # Prefix sum, k = 1: each round's noise is independent, the sensitivity is one clip norm (sqrt(k) = 1).
    assert report.epsilon == accounting.epsilon(NOISE, DELTA, accountant="rdp")
    assert len(run.log.participations) == ROUNDS * CLIENTS


def _tamper(log: ReleaseLog, case: str) -> ReleaseLog:
    rel = log.releases
    if case == "extra release":
        return dataclasses.replace(log, releases=(*rel, dataclasses.replace(rel[0], request_id=b"\x01" * 16)))
    if case == "row not allowed":
        data = {**rel[1].data, 0: 2 * rel[1].data[0]}  # X_0 counted twice in round 1's prefix sum
        return dataclasses.replace(log, releases=(rel[0], dataclasses.replace(rel[1], data=data)))
    if case == "release of an unstored round":
        return dataclasses.replace(log, releases=(*rel, dataclasses.replace(rel[1], round_index=ROUNDS)))
    if case == "participation over k":
        (first, _), *rest = [p for p in log.participations if p[1] == 0]
        later = [p for p in log.participations if p[1] == 1]
        return dataclasses.replace(log, participations=(*[p for p in log.participations if p[1] == 0],
                                                        (first, 1), *later[1:]))
    if case == "hidden participation":
        return dataclasses.replace(log, participations=log.participations[1:])
    if case == "rewritten header":
        return dataclasses.replace(log, headers=(dataclasses.replace(log.headers[0], num_clients=1), *log.headers[1:]))
    raise AssertionError(case)


@pytest.mark.parametrize("case, checks, message", [
    ("extra release", ["releases"], "release 2 (round 0) repeats row 0 of round 0, already released"),
    ("row not allowed", ["releases"], "release 1 (round 1) decrypts a row the policy does not allow after round 1"),
    ("release of an unstored round", ["releases"], "release 2 (round 2) is of a round that is not stored"),
    ("participation over k", ["participation"], "already participated in 1 of k=1 rounds"),
    ("hidden participation", ["participation"], "round 0 lists 1 participations; its anchored header counts 2 clients"),
    # The forged count breaks the chain, and the participation log no longer matches it either.
    ("rewritten header", ["log", "participation"], "log entry for round 0 does not hash-chain to its predecessor"),
])
def test_audit_fails_on_a_tampered_log(runs, case, checks, message):
    run = runs["a"]
    report = audit(_tamper(run.log, case), job_id=run.job.job_id, anchored=run.heads(), policy=_policy())
    failed = [c for c in report.checks if not c.passed]
    assert [c.name for c in failed] == checks and message in failed[0].detail, report.checks


def test_audit_fails_over_the_epsilon_budget_or_for_another_job(runs):
    run = runs["a"]
    eps = epsilon_spent(run.job, ROUNDS, delta=DELTA, accountant="rdp")
    report = audit(run.log, job_id=run.job.job_id, anchored=run.heads(), policy=_policy(max_epsilon=eps / 2))
    assert [c.name for c in report.checks if not c.passed] == ["epsilon"]
    assert f"exceeds the budget {eps / 2:g}" in report.checks[-1].detail
    report = audit(run.log, job_id=b"\x02" * 16, anchored=run.heads(), policy=_policy())
    assert [c.name for c in report.checks if not c.passed] == ["configuration"]
    report = audit(run.log, job_id=run.job.job_id, anchored=run.heads()[:1], policy=_policy())  # a server ahead of chain
    assert [c.name for c in report.checks if not c.passed] == ["log"]
    assert report.checks[1].detail == "the release log shows 2 rounds; the chain anchors 1"


def _statements(job: Job) -> list[PayeeStatement]:
    out = []
    for i, person in enumerate(PEOPLE):
        payee = bytes.fromhex(insecure_dev_account(f"ledger-payee-{i}").address[2:])
        out.append(PayeeStatement(person.public_key, payee, person.sign(payee_message(job.job_id, person.public_key, payee))))
    return out


def test_ledgers_of_jobs_differing_only_in_updates_are_identical(runs):
    a, b = runs["a"], runs["b"]
    # The contents differed: every release of b is a different integer vector.
    assert all(x.integer_sha256 != y.integer_sha256 for x, y in zip(a.log.releases, b.log.releases, strict=True))
    ledgers = [derive_ledger(job_id=r.job.job_id, rounds=ROUNDS, participations=r.log.participations,
                             payees=_statements(r.job)) for r in (a, b)]
    assert ledgers[0] == ledgers[1]
    # Identities and round indices only: contributor ids of the enrolled keys, each person's one round.
    expected = sorted((contributor_id(p.public_key), (i // CLIENTS,)) for i, p in enumerate(PEOPLE))
    assert [(e.contributor, e.rounds) for e in ledgers[0].entries] == expected
    assert {k for e in ledgers[0].to_json()["entries"] for k in e} == {"contributor", "rounds", "payee"}
    assert LedgerCommitment.of(ledgers[0]).root == LedgerCommitment.of(ledgers[1]).root


def test_ledger_export_command_writes_the_release_log(runs, tmp_path, capsys):
    out = tmp_path / "log.json"
    assert main(["ledger", "export", "--db", str(runs["a"].db), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == runs["a"].log.to_json()
    assert ReleaseLog.from_json(json.loads(out.read_text())) == runs["a"].log
    assert "2 rounds, 2 releases, 4 participations" in capsys.readouterr().out


@pytest.mark.hardhat
def test_loyal_audit_and_ledger_commands_on_a_hardhat_node(runs, hardhat_url, tmp_path, capsys, monkeypatch):
    # Prepare: job a's anchored heads on a hardhat node (anchored by the job's server key), its log in a file.
    run = runs["a"]
    chain = open_chain(hardhat_url, state_path=None)
    server = insecure_dev_account("ssa-server")
    chain.ensure_funded(server.address, 10**18)
    anchor = AnchorClient.deploy(chain, server)
    for h in run.log.headers:
        anchor.anchor(run.job.genesis, h.round_index, h.entry_hash, h.num_clients, h.num_noise)
    good, bad = tmp_path / "log.json", tmp_path / "tampered.json"
    good.write_text(json.dumps(run.log.to_json()))
    bad.write_text(json.dumps(_tamper(run.log, "extra release").to_json()))
    argv = ["audit", "--rpc-url", hardhat_url, "--anchor", anchor.address, "--job", run.job.job_id.hex(),
            "--max-epsilon", "100"]
    # Execute / Assert: pass (0), a failed check (1), bad input (2).
    assert main([*argv, "--release-log", str(good), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] and report["epsilon"] == accounting.epsilon(NOISE, DELTA) and report["releases"] == 2  # PLD
    assert main([*argv, "--release-log", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "repeats row 0 of round 0" in out
    (tmp_path / "junk.json").write_text("{}")
    assert main([*argv, "--release-log", str(tmp_path / "junk.json")]) == 2
    assert "a release log is a JSON object" in capsys.readouterr().err
    # The ledger: deploy, commit from the release log and payee statements, one contributor claims.
    monkeypatch.setenv("LOYAL_ANCHOR_KEY", "0x" + server.key.hex())
    assert main(["ledger", "deploy", "--rpc-url", hardhat_url, "--anchor", anchor.address]) == 0
    address = capsys.readouterr().out.strip()
    payees = tmp_path / "payees.json"
    payees.write_text(json.dumps([{"public_key": s.public_key.hex(), "payee": s.payee.hex(),
                                   "signature": s.signature.hex()} for s in _statements(run.job)]))
    ledger_file = tmp_path / "ledger.json"
    common = ["--rpc-url", hardhat_url, "--ledger", address, "--ledger-file", str(ledger_file)]
    assert main(["ledger", "commit", *common, "--release-log", str(good), "--payees", str(payees), "--json"]) == 0
    committed = json.loads(capsys.readouterr().out)
    assert (committed["total_weight"], committed["contributors"], committed["payable"]) == (4, 4, 4)
    client = LedgerClient(chain, address)
    client.deposit(server, run.job.genesis, 1001)
    payee = insecure_dev_account("ledger-payee-0")
    chain.ensure_funded(payee.address, 10**18)
    monkeypatch.setenv("LOYAL_PAYEE_KEY", "0x" + payee.key.hex())
    who = contributor_id(PEOPLE[0].public_key).hex()
    assert main(["ledger", "claim", *common, "--genesis", run.job.genesis.hex(), "--contributor", who]) == 0
    assert capsys.readouterr().out.startswith(f"claimed {1001 // 4} wei")
    assert client.attribution(run.job.genesis, bytes.fromhex(who)) == 1
    assert math.isclose(client.ledger_of(run.job.genesis).paid, 250)


def test_sign_payee_command_signs_a_statement_that_verifies(tmp_path, capsys):
    person = Identity(PEOPLE[0].key, client_id=0)
    person.save(tmp_path / "id.json")
    payee = insecure_dev_account("ledger-payee-0").address
    job_id = b"\x09" * 16
    assert main(["ledger", "sign-payee", "--identity", str(tmp_path / "id.json"), "--job", job_id.hex(),
                 "--payee", payee]) == 0
    d = json.loads(capsys.readouterr().out)
    statement = PayeeStatement(bytes.fromhex(d["public_key"]), bytes.fromhex(d["payee"]), bytes.fromhex(d["signature"]))
    assert statement.payee == bytes.fromhex(payee[2:]) and statement.contributor == contributor_id(PEOPLE[0].public_key)
    statement.verify(job_id)  # raises AuthenticationError if it does not verify
