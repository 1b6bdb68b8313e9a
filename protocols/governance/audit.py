# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The public audit of an SSA job (technical governance, arXiv 2407.14981: the "verification" capacity of its
taxonomy, checking from public artifacts that a system was used as claimed; the auditor needs no access to the
server).

From the job's public release log (`release_log.ReleaseLog`) and the heads the chain anchors for the log's genesis
(the hash of the pinned configuration, `Job.genesis`), `audit` recomputes and checks:

1. configuration: the log names the job asked about, and the chain anchors rounds for its genesis;
2. log: the headers hash-chain from the genesis, one per anchored round, each equal to its anchored head;
3. releases: every release is a row the pinned policy allows after its round (`ssa.policy.quantized_rows`),
   under the pinned policy id, of a stored round, each allowed row at most once;
4. participation: the participation log agrees with the anchored client counts of every round, and no contributor
   joined more than k rounds or two rounds fewer than b apart (`dpftrl.ledger.ParticipationLedger`);
5. epsilon: the epsilon spent by the rounds released so far (`epsilon_spent`) is within the auditor's budget.

Pure: the caller reads the chain (`loyal.contracts.anchor.AnchorClient`) and the file; `loyal audit` does both.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
from collections.abc import Sequence

from loyal.protocols.dpftrl import accounting
from loyal.protocols.dpftrl.base import ParticipationSchema
from loyal.protocols.dpftrl.ledger import ParticipationError, ParticipationLedger
from loyal.protocols.dpftrl.sensitivity import sensitivity, true_max_participations
from loyal.protocols.governance.release_log import ReleaseLog
from loyal.protocols.ssa import log as ssalog
from loyal.protocols.ssa.errors import LogIntegrityError
from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.policy import quantized_rows

CHECKS = ("configuration", "log", "releases", "participation", "epsilon")


@dataclasses.dataclass(frozen=True)
class AuditPolicy:
    """What the auditor holds the job to beyond its pinned configuration.

    Attributes:
      max_epsilon: the epsilon budget, > 0.
      delta: the delta epsilon is computed at, in (0, 1).
      accountant: "pld" (tight, default) or "rdp" (`dpftrl.accounting`).
    """

    max_epsilon: float
    delta: float = 1e-6
    accountant: str = "pld"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_epsilon) and self.max_epsilon > 0):
            raise ValueError(f"max_epsilon must be finite and > 0, got max_epsilon={self.max_epsilon}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got delta={self.delta}")
        if self.accountant not in accounting.ACCOUNTANTS:
            raise ValueError(f"accountant must be one of {accounting.ACCOUNTANTS}, got {self.accountant!r}")


@dataclasses.dataclass(frozen=True)
class Check:
    """One verdict: its name (one of `CHECKS`), pass or fail, and what was found."""

    name: str
    passed: bool
    detail: str


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """The audit's findings; `passed` only if every check passed."""

    job_id: bytes
    genesis: bytes
    anchored_rounds: int
    releases: int
    epsilon: float
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        return {"job_id": self.job_id.hex(), "genesis": self.genesis.hex(), "anchored_rounds": self.anchored_rounds,
                "releases": self.releases, "epsilon": self.epsilon, "passed": self.passed,
                "checks": [dataclasses.asdict(c) for c in self.checks]}


@functools.lru_cache(maxsize=64)
def epsilon_spent(job: Job, rounds: int, *, delta: float, accountant: str = "pld") -> float:
    """epsilon of the releases of rounds 0..rounds-1 of `job` (0 for none; inf without noise).

    The releases of rounds < T are a post-processing of (C x + sens(C) z)[:T] = C[:T, :T] x[:T] + ... for a square
    lower-triangular C (every form of `dpftrl.policy`), one Gaussian mechanism whose sensitivity under the schema
    restricted to T rounds is sens(C[:T, :T]); the noise was scaled for sens(C), so the effective multiplier is
    z sens(C) / sens(C[:T, :T]) (arXiv 2202.08312, Sec. 2; arXiv 2211.06530, Sec. 2). The prefix-sum policy is
    C = I: sens = sqrt(min(k, ceil(T / b))). Trees (non-square C) are charged the whole job's epsilon. Cached: the
    PLD accountant takes about a second.

    Args:
      job: the pinned job.
      rounds: T in [0, job.rounds].
      delta: in (0, 1).
      accountant: "pld" or "rdp".
    """
    if not 0 <= rounds <= job.rounds:
        raise ValueError(f"rounds must be in [0, {job.rounds}], got rounds={rounds}")
    if rounds == 0:
        return 0.0
    if job.noise_multiplier == 0:
        return math.inf
    k, b = job.participations, job.min_separation
    k_t = true_max_participations(rounds, k, b)
    mechanism = getattr(job.policy, "mechanism", None)
    if mechanism is None:
        ratio = math.sqrt(k_t)
    else:
        C = mechanism.strategy_matrix()  # pylint: disable=invalid-name
        full = mechanism.sensitivity()
        square = C.shape[0] == C.shape[1]
        ratio = sensitivity(C[:rounds, :rounds], k_t, min(b, rounds)).value / full if square else 1.0
    return accounting.epsilon(job.noise_multiplier, delta, sensitivity=ratio, accountant=accountant)


def _configuration(log: ReleaseLog, job_id: bytes, anchored: Sequence[bytes]) -> Check:
    if log.job.job_id != job_id:
        return Check("configuration", False, f"the release log is of job {log.job.job_id.hex()}, not {job_id.hex()}")
    if not anchored:
        return Check("configuration", False, f"no round of genesis {log.job.genesis.hex()[:16]}… is anchored: the "
                                             "chain does not know this pinned configuration")
    return Check("configuration", True, f"pinned configuration (policy {log.job.policy_id}) has genesis "
                                        f"{log.job.genesis.hex()[:16]}…, anchored for {len(anchored)} rounds")


def _log(log: ReleaseLog, anchored: Sequence[bytes]) -> Check:
    if len(log.headers) != len(anchored):
        return Check("log", False, f"the release log shows {len(log.headers)} rounds; the chain anchors {len(anchored)}")
    if not anchored:
        return Check("log", False, "no anchored round to check")
    try:
        ssalog.verify_chain(log.headers, log.job.genesis, anchored[-1])
    except LogIntegrityError as e:
        return Check("log", False, str(e))
    for h, head in zip(log.headers, anchored, strict=True):
        if h.entry_hash != head:
            return Check("log", False, f"round {h.round_index}'s header is not its anchored head {head.hex()[:16]}…")
    return Check("log", True, f"{len(anchored)} headers hash-chain from the genesis to the anchored head")


def _releases(log: ReleaseLog) -> Check:
    job, stored = log.job, len(log.headers)
    seen: set[tuple[int, int]] = set()
    for n, rel in enumerate(log.releases):
        where = f"release {n} (round {rel.round_index})"
        if not 0 <= rel.round_index < stored:
            return Check("releases", False, f"{where} is of a round that is not stored (rounds 0..{stored - 1})")
        if rel.policy_id != job.policy_id:
            return Check("releases", False, f"{where} names policy {rel.policy_id!r}, the job pins {job.policy_id!r}")
        rows = quantized_rows(job.policy, rel.round_index)
        match = [i for i, row in enumerate(rows) if row.data == rel.data and row.noise == rel.noise]
        if not match:
            return Check("releases", False, f"{where} decrypts a row the policy does not allow after round {rel.round_index}")
        if (rel.round_index, match[0]) in seen:
            return Check("releases", False, f"{where} repeats row {match[0]} of round {rel.round_index}, already released")
        seen.add((rel.round_index, match[0]))
    return Check("releases", True, f"{len(log.releases)} releases, each an allowed row of {job.policy_id}, none repeated")


def _participation(log: ReleaseLog) -> Check:
    job = log.job
    counts = collections.Counter(r for _, r in log.participations)
    for h in log.headers:
        if counts.get(h.round_index, 0) != h.num_clients:
            return Check("participation", False, f"round {h.round_index} lists {counts.get(h.round_index, 0)} "
                                                 f"participations; its anchored header counts {h.num_clients} clients")
    extra = sorted(set(counts) - {h.round_index for h in log.headers})
    if extra:
        return Check("participation", False, f"participations in rounds {extra}, which the log does not store")
    schema = ParticipationSchema(job.rounds, job.participations, job.min_separation)
    try:
        ParticipationLedger.from_history(schema, log.participations)
    except ParticipationError as e:
        return Check("participation", False, str(e))
    contributors = len({c for c, _ in log.participations})
    return Check("participation", True, f"{len(log.participations)} participations of {contributors} contributors "
                                        f"within k={job.participations}, b={job.min_separation}")


def audit(log: ReleaseLog, *, job_id: bytes, anchored: Sequence[bytes], policy: AuditPolicy) -> AuditReport:
    """Runs every check of the module doc.

    Args:
      log: the job's public release log.
      job_id: the job the auditor asks about (16 bytes).
      anchored: the heads the chain anchors for `log.job.genesis`, rounds 0..R-1.
      policy: the auditor's budget.

    Returns:
      The report; a failed check does not stop the others.
    """
    released = 1 + max((r.round_index for r in log.releases), default=-1)
    rounds = min(released, log.job.rounds)
    eps = epsilon_spent(log.job, rounds, delta=policy.delta, accountant=policy.accountant)
    within = eps <= policy.max_epsilon
    checks = (
        _configuration(log, job_id, anchored), _log(log, anchored), _releases(log), _participation(log),
        Check("epsilon", within, f"epsilon={eps:.4g} at delta={policy.delta:g} after {rounds} released rounds "
                                 f"{'<=' if within else 'exceeds'} the budget {policy.max_epsilon:g}"),
    )
    return AuditReport(log.job.job_id, log.job.genesis, len(anchored), len(log.releases), eps, checks)


__all__ = ["AuditPolicy", "AuditReport", "CHECKS", "Check", "audit", "epsilon_spent"]
