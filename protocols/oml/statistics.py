# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Verification statistics: exact binomial tail, Hoeffding bound, thresholds and the ownership verdict.

Under the null hypothesis "the suspect model was never fingerprinted", each of the M queried keys yields
the fingerprint response independently with probability at most p₀, so the match count m is stochastically
dominated by Bin(M, p₀). The false-positive rate of the rule "claim when m ≥ τ" is P[Bin(M, p₀) ≥ τ]
(Sec. 2 of arXiv 2502.07760; design note `shared/design/oml.md`, Verification).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


def _check_trials(trials: int, p0: float) -> None:
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 0:
        raise ValueError(f"trials M must be an integer ≥ 0, got M={trials!r}")
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"p0 must be in [0, 1], got p0={p0!r}")


def binomial_tail(trials: int, p0: float, matches: int) -> float:
    """Exact P[Bin(M, p₀) ≥ m], summed in log space (stable for M in the tens of thousands).

    Args:
      trials: M ≥ 0.
      p0: per-query chance-match probability in [0, 1].
      matches: m; m ≤ 0 gives 1 and m > M gives 0.
    """
    _check_trials(trials, p0)
    if matches <= 0:
        return 1.0
    if matches > trials:
        return 0.0
    if p0 == 0.0:
        return 0.0
    if p0 == 1.0:
        return 1.0
    log_p, log_q = math.log(p0), math.log1p(-p0)
    lg_m1 = math.lgamma(trials + 1)
    terms = [lg_m1 - math.lgamma(j + 1) - math.lgamma(trials - j + 1) + j * log_p + (trials - j) * log_q
             for j in range(matches, trials + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def hoeffding_bound(trials: int, p0: float, matches: int) -> float:
    """Hoeffding's bound P[Bin(M, p₀) ≥ m] ≤ exp(−2M(m/M − p₀)²) for m/M > p₀ (1 otherwise)."""
    _check_trials(trials, p0)
    if trials == 0 or matches / trials <= p0:
        return 1.0
    return math.exp(-2.0 * trials * (matches / trials - p0) ** 2)


def match_threshold(trials: int, p0: float, target_fpr: float) -> int:
    """The smallest τ with P[Bin(M, p₀) ≥ τ] ≤ target FPR; M + 1 when no τ ≤ M reaches it.

    Args:
      trials: M ≥ 0 queried fingerprints.
      p0: chance-match probability.
      target_fpr: in (0, 1).
    """
    if not 0.0 < target_fpr < 1.0:
        raise ValueError(f"target_fpr must be in (0, 1), got {target_fpr!r}")
    _check_trials(trials, p0)
    lo, hi = 0, trials + 1  # the tail is non-increasing in τ: binary search for the first τ that passes
    while lo < hi:
        mid = (lo + hi) // 2
        if binomial_tail(trials, p0, mid) <= target_fpr:
            hi = mid
        else:
            lo = mid + 1
    return lo


def p0_upper_bound(matches: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper confidence bound on p₀ from m chance matches in M queries.

    Found by bisection on the exact binomial tail: the largest p with P[Bin(M, p) ≤ m] ≥ 1 − confidence.
    With m = 0 this is 1 − (1 − confidence)^{1/M} (≈ 3/M at 95%, the "rule of three").
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    _check_trials(trials, 0.0)
    if trials == 0:
        raise ValueError("trials M must be ≥ 1 to estimate p0")
    if not 0 <= matches <= trials:
        raise ValueError(f"matches must be in [0, M={trials}], got {matches}")
    if matches == trials:
        return 1.0
    alpha = 1.0 - confidence
    lo, hi = matches / trials, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if 1.0 - binomial_tail(trials, mid, matches + 1) >= alpha:  # P[Bin ≤ m] still ≥ α
            lo = mid
        else:
            hi = mid
    return lo


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Outcome of one verification.

    Attributes:
      queried: M keys queried.
      matches: m exact response matches.
      p0: chance-match probability used for the null.
      threshold: τ for the target FPR.
      fpr_bound: exact P[Bin(M, p₀) ≥ m], the p-value of the observed count.
      hoeffding: Hoeffding's bound on the same tail (looser, reported beside it).
      claimed: True iff m ≥ τ.
    """

    queried: int
    matches: int
    p0: float
    threshold: int
    fpr_bound: float
    hoeffding: float
    claimed: bool

    @property
    def verdict(self) -> str:
        return "fingerprinted" if self.claimed else "not-proven"


def decide(queried: int, matches: int, p0: float, target_fpr: float = 1e-6) -> Verdict:
    """Applies the rule "claim ownership when m ≥ τ(M, p₀, target FPR)".

    Args:
      queried: M ≥ 0.
      matches: m in [0, M].
      p0: chance-match probability (use `p0_upper_bound` on non-fingerprinted models).
      target_fpr: the false-claim rate the owner accepts; default 1e-6.
    """
    if not 0 <= matches <= queried:
        raise ValueError(f"matches must be in [0, queried={queried}], got {matches}")
    tau = match_threshold(queried, p0, target_fpr)
    return Verdict(queried=queried, matches=matches, p0=p0, threshold=tau,
                   fpr_bound=binomial_tail(queried, p0, matches), hoeffding=hoeffding_bound(queried, p0, matches),
                   claimed=matches >= tau and queried > 0)


#: Fixed-point one of the registry (`OMLThreshold.WAD`).
WAD = 10**18


def to_wad(value: float) -> int:
    """`value` in WAD fixed point, rounded to nearest (p₀ and FPR as the registry stores them)."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"value must be in [0, 1], got {value!r}")
    return round(value * WAD)


def chain_threshold(trials: int, p0_wad: int, fpr_wad: int) -> int:
    """τ(n) exactly as `OMLThreshold.threshold` computes it on chain; n + 1 when unreachable.

    τ(n) = min{k : U_k ≤ FPR} with U_k = 1 − Σ_{j<k} L_j an upper bound of P[Bin(n, p₀) ≥ k]: in 10^72 fixed
    point, L_0 = ⌊q^n⌋ (q = 1 − p₀, square-and-multiply with floored products) and
    L_j = ⌊L_{j-1}·(n − j + 1)·p₀ / (j·q)⌋ are lower bounds of the binomial pmf. So "claim when matches ≥ τ(n)"
    has false-claim probability ≤ FPR for every n, and τ(n) is never below the exact threshold.

    Args:
      trials: n ≥ 1.
      p0_wad: p₀·10^18 in (0, 10^18).
      fpr_wad: FPR·10^18 in (0, 10^18).
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials n must be an integer ≥ 1, got n={trials!r}")
    if not 0 < p0_wad < WAD or not 0 < fpr_wad < WAD:
        raise ValueError(f"p0_wad and fpr_wad must be in (0, 1e18), got {p0_wad}, {fpr_wad}")
    one = 10**72
    q = WAD - p0_wad
    x, e, term = q * (one // WAD), trials, one
    while e:
        if e & 1:
            term = term * x // one
        x = x * x // one
        e >>= 1
    below, target = 0, fpr_wad * (one // WAD)
    for k in range(1, trials + 1):
        below += term
        if one - below <= target:
            return k
        term = term * ((trials - k + 1) * p0_wad) // (k * q)
    return trials + 1


def false_claim_table(p0: float, target_fpr: float, sizes: Sequence[int]) -> list[dict[str, float | int]]:
    """For each n: the chain's τ(n), the exact binomial τ and the exact false-claim probability at the chain's τ.

    Exact tails come from scipy (`binom.sf`); the chain's τ(n) is never below the exact one, so its false-claim
    probability P[Bin(n, p₀) ≥ τ(n)] is ≤ FPR (a test checks both on a grid of n, p₀ and FPR).

    Returns:
      One dict per n: ``{"n", "tau_chain", "tau_exact", "fpr_at_tau_chain"}`` (τ = n + 1 means "no claim at n").
    """
    from scipy.stats import binom

    rows = []
    for n in sizes:
        tau = chain_threshold(n, to_wad(p0), to_wad(target_fpr))
        exact = next((k for k in range(1, n + 1) if binom.sf(k - 1, n, p0) <= target_fpr), n + 1)
        rows.append({"n": n, "tau_chain": tau, "tau_exact": exact,
                     "fpr_at_tau_chain": float(binom.sf(tau - 1, n, p0)) if tau <= n else 0.0})
    return rows
