# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tests of perinucleus selection (Sec. 3.1 of arXiv 2502.07760)."""

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from loyal.protocols.oml.perinucleus import (
    PerinucleusParams, nucleus_size, perinucleus_candidates, random_token, ranked_tokens, sample_token,
    select_perinucleus,
)

_probs = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=40).map(np.array).filter(
    lambda w: w.sum() > 1e-6).map(lambda w: w / w.sum())


@given(probs=_probs, t=st.floats(0.01, 0.99), k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
@example(probs=np.array([0.5, 0.3, 0.1, 0.06, 0.04]), t=0.8, k=2, seed=0)  # exact tie at the boundary
def test_perinucleus_token_lies_outside_nucleus_and_within_next_k(probs, t, k, seed):
    # Prepare
    params = PerinucleusParams(nucleus_mass=t, width=k)
    order = ranked_tokens(probs)
    n = nucleus_size(probs, t)
    assume(n < probs.size)
    # Execute
    token = select_perinucleus(probs, params, np.random.default_rng(seed))
    rank = int(np.flatnonzero(order == token)[0])
    # Assert: outside the t-nucleus (the smallest prefix with mass ≥ t) and among the next k tokens.
    assert n <= rank < n + k
    assert probs[order[:n]].sum() >= t - 1e-9
    assert n == 1 or probs[order[: n - 1]].sum() < t + 1e-9  # minimality of the nucleus


def test_perinucleus_candidates_worked_example():
    probs = np.array([0.04, 0.5, 0.06, 0.3, 0.1])  # ranks: 1, 3, 4, 2, 0
    assert perinucleus_candidates(probs, PerinucleusParams(0.8, 3)).tolist() == [4, 2, 0]
    assert perinucleus_candidates(probs, PerinucleusParams(0.4, 1)).tolist() == [3]


def test_select_perinucleus_is_uniform_over_candidates():
    probs = np.array([0.7, 0.1, 0.1, 0.05, 0.05])
    rng = np.random.default_rng(1)
    picks = [select_perinucleus(probs, PerinucleusParams(0.6, 3), rng) for _ in range(3000)]
    counts = np.bincount(picks, minlength=5)
    assert counts[0] == 0 and counts[4] == 0
    assert np.all(np.abs(counts[1:4] / 3000 - 1 / 3) < 0.04)


@pytest.mark.parametrize("t", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_perinucleus_params_fails_if_t_outside_open_unit_interval(t):
    with pytest.raises(ValueError, match=r"nucleus_mass t must be in the open interval \(0, 1\)"):
        PerinucleusParams(nucleus_mass=t, width=3)


@pytest.mark.parametrize("k", [0, -1, 2.5])
def test_perinucleus_params_fails_if_k_below_one(k):
    with pytest.raises(ValueError, match="width k must be an integer ≥ 1"):
        PerinucleusParams(nucleus_mass=0.8, width=k)


def test_select_perinucleus_fails_if_nucleus_covers_vocabulary():
    with pytest.raises(ValueError, match="no token lies outside the t-nucleus"):
        select_perinucleus(np.array([0.5, 0.5]), PerinucleusParams(0.99, 1), np.random.default_rng(0))


def test_check_probs_fails_if_not_normalised():
    with pytest.raises(ValueError, match="probs must sum to 1"):
        perinucleus_candidates(np.array([0.5, 0.2]), PerinucleusParams())


def test_sample_token_and_random_token_respect_exclusions():
    rng = np.random.default_rng(0)
    probs = np.array([0.9, 0.05, 0.05])
    assert {sample_token(probs, rng, 1.0, exclude=[0]) for _ in range(50)} <= {1, 2}
    assert {random_token(4, rng, exclude=[1, 2]) for _ in range(50)} == {0, 3}
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_token(probs, rng, 0.0)
