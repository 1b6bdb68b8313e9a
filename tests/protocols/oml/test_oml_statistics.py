# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Verification statistics against a brute-force binomial (exact rational arithmetic)."""

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.protocols.oml.statistics import (
    WAD, binomial_tail, chain_threshold, decide, false_claim_table, hoeffding_bound, match_threshold,
    p0_upper_bound, to_wad,
)


def _brute_tail(trials: int, p0: Fraction, matches: int) -> Fraction:
    return sum((Fraction(math.comb(trials, j)) * p0**j * (1 - p0) ** (trials - j)
                for j in range(max(matches, 0), trials + 1)), Fraction(0))


@given(trials=st.integers(0, 60), num=st.integers(0, 100), matches=st.integers(-2, 62))
def test_binomial_tail_matches_brute_force(trials, num, matches):
    p0 = Fraction(num, 100)
    exact = float(_brute_tail(trials, p0, matches))
    assert binomial_tail(trials, float(p0), matches) == pytest.approx(exact, rel=1e-9, abs=1e-300)
    assert hoeffding_bound(trials, float(p0), matches) >= exact - 1e-12  # Hoeffding is an upper bound


@given(trials=st.integers(1, 80), num=st.integers(1, 60), fpr_exp=st.integers(1, 9))
def test_match_threshold_is_smallest_passing_count(trials, num, fpr_exp):
    p0, fpr = num / 100, 10.0**-fpr_exp
    tau = match_threshold(trials, p0, fpr)
    if tau <= trials:
        assert float(_brute_tail(trials, Fraction(num, 100), tau)) <= fpr * (1 + 1e-9)
    if tau >= 1:
        assert float(_brute_tail(trials, Fraction(num, 100), tau - 1)) > fpr * (1 - 1e-9)


def test_binomial_tail_large_trials_is_finite_and_tiny():
    # 1,024 queries, 900 matches, p0 = 0.05: far beyond any float underflow-free direct product.
    value = binomial_tail(1024, 0.05, 900)
    assert 0.0 <= value < 1e-300 or value == 0.0
    assert binomial_tail(1024, 0.05, 40) == pytest.approx(1 - binomial_tail(1024, 0.95, 1024 - 39), rel=1e-9)


def test_p0_upper_bound_rule_of_three_and_coverage():
    assert p0_upper_bound(0, 1000) == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-6)
    bound = p0_upper_bound(7, 200)
    # At the bound, seeing ≤ 7 matches has probability exactly α = 0.05.
    assert pytest.approx(0.05, rel=1e-6) == 1 - binomial_tail(200, bound, 8)
    assert bound > 7 / 200


def test_decide_claims_only_above_threshold():
    strong = decide(100, 60, 0.05, 1e-6)
    weak = decide(100, 8, 0.05, 1e-6)
    assert strong.claimed and strong.verdict == "fingerprinted" and strong.fpr_bound < 1e-6
    assert not weak.claimed and weak.verdict == "not-proven"
    assert strong.hoeffding >= strong.fpr_bound


@pytest.mark.parametrize("fpr", [0.0, 1.0, -1e-3])
def test_match_threshold_fails_if_fpr_outside_unit_interval(fpr):
    with pytest.raises(ValueError, match=r"target_fpr must be in \(0, 1\)"):
        match_threshold(10, 0.1, fpr)


def test_decide_fails_if_matches_exceed_queries():
    with pytest.raises(ValueError, match=r"matches must be in \[0, queried=5\]"):
        decide(5, 6, 0.1)


# The registry's τ(n) (OMLThreshold.sol, mirrored bit for bit by chain_threshold) against scipy's exact tail.
_GRID_SIZES = [1, 2, 3, 5, 8, 13, 16, 32, 64, 100, 128, 256, 512, 1000, 1024]


@pytest.mark.parametrize("p0", [1e-4, 1e-3, 0.01, 0.05, 0.0625])
@pytest.mark.parametrize("fpr", [1e-2, 1e-6, 1e-9])
def test_chain_threshold_bounds_false_claims_for_every_n(p0, fpr):
    # Issue #20 finding 4: the false-claim probability at τ(n) is ≤ FPR for every n, and τ(n) is the exact
    # binomial threshold (never below it; on this grid never above it either).
    from scipy.stats import binom

    for row in false_claim_table(p0, fpr, _GRID_SIZES):
        n, tau = row["n"], row["tau_chain"]
        # scipy's float tail can sit a rounding error above an exact tie (n = 3, p0 = 0.01: P = 1e-6 exactly).
        assert row["fpr_at_tau_chain"] <= fpr * (1 + 1e-9)
        assert row["tau_chain"] in (row["tau_exact"], row["tau_exact"] - 1)
        if 1 < tau <= n:  # τ(n) − 1 would break the bound: τ is the smallest
            assert binom.sf(tau - 2, n, p0) > fpr


def test_chain_threshold_golden():
    # Golden values (scipy exact thresholds; see the docs/contracts.md table): p0 = 0.01, FPR = 1e-6.
    got = [chain_threshold(n, to_wad(0.01), to_wad(1e-6)) for n in (1, 8, 64, 256, 1024)]
    assert got == [2, 4, 8, 14, 30]


@given(n=st.integers(1, 300), p0_ppm=st.integers(1, 62_500), fpr_exp=st.integers(1, 12))
def test_chain_threshold_is_an_upper_bound_in_exact_arithmetic(n, p0_ppm, fpr_exp):
    p0, fpr = Fraction(p0_ppm, 10**6), Fraction(1, 10**fpr_exp)
    tau = chain_threshold(n, p0_ppm * 10**12, WAD // 10**fpr_exp)
    if tau <= n:
        assert _brute_tail(n, p0, tau) <= fpr


def test_chain_threshold_fails_if_out_of_range():
    with pytest.raises(ValueError, match=r"trials n must be an integer ≥ 1, got n=0"):
        chain_threshold(0, 1, 1)
    with pytest.raises(ValueError, match=r"p0_wad and fpr_wad must be in \(0, 1e18\), got 0, 1"):
        chain_threshold(4, 0, 1)
