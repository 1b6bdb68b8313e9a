# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Sensitivity routines against brute force over every participation pattern."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from loyal.protocols.dpftrl import sensitivity as sens_lib
from loyal.protocols.dpftrl import build_mechanism
from loyal.protocols.dpftrl.base import ParticipationSchema
from loyal.protocols.dpftrl.toeplitz import ToeplitzMechanism, fhu_coefficients, materialize
from loyal.protocols.dpftrl.tree import TreeMechanism


def _brute_patterns(n: int, k: int, b: int) -> list[tuple[int, ...]]:
    """Independent oracle: all subsets of size 1..k with consecutive gaps >= b."""
    out = []
    for size in range(1, k + 1):
        for combo in itertools.combinations(range(n), size):
            if all(j - i >= b for i, j in zip(combo, combo[1:])):
                out.append(combo)
    return out


@pytest.mark.parametrize("n,k,b", [(6, 2, 2), (7, 3, 2), (9, 3, 3), (10, 2, 1), (5, 1, 1)])
def test_iter_patterns_matches_combinations(n: int, k: int, b: int) -> None:
    got = sorted(sens_lib.iter_patterns(n, k, b))
    assert got == sorted(_brute_patterns(n, k, b))
    assert sens_lib.count_patterns(n, k, b) == len(got)


@given(
    x=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=9),
    k=st.integers(1, 4),
    b=st.integers(1, 4),
)
def test_linear_dp_matches_brute_force(x: list[float], k: int, b: int) -> None:
    n = len(x)
    assume(b <= n)
    best = max([0.0] + [sum(x[i] for i in p) for p in _brute_patterns(n, k, b)])
    assert sens_lib.max_participation_for_linear_fn(np.array(x), k, b) == pytest.approx(best, abs=1e-12)


NAMED_SMALL = {
    "identity": dict(name="identity"),
    "tree": dict(name="tree"),
    "tree-honaker": dict(name="tree-honaker"),
    "banded-toeplitz": dict(name="banded-toeplitz"),
    "blt": dict(name="blt", buffers=2),
    "dense": dict(name="dense"),
}


@pytest.mark.parametrize("kind", list(NAMED_SMALL))
@pytest.mark.parametrize("n,k,b", [(8, 2, 4), (9, 3, 3), (10, 2, 3)])
def test_mechanism_sensitivity_equals_brute_force(kind: str, n: int, k: int, b: int) -> None:
    # Prepare
    spec = dict(NAMED_SMALL[kind])
    mechanism = build_mechanism(spec.pop("name"), n, participations=k, min_separation=b, **spec)
    C = mechanism.strategy_matrix()
    # Execute: brute force over 0/1 patterns, and over +-1 signs (the true sensitivity).
    brute = sens_lib.brute_force_sensitivity(C, k, b)
    signed = max(
        np.linalg.norm(C[:, list(p)] @ np.array(s))
        for p in _brute_patterns(n, k, b)
        for s in itertools.product((1.0, -1.0), repeat=len(p))
    )
    # Assert
    if mechanism.sensitivity_is_exact():
        assert mechanism.sensitivity() == pytest.approx(brute, rel=1e-9)
        if np.all(C.T @ C >= -1e-12):
            assert mechanism.sensitivity() == pytest.approx(signed, rel=1e-9)
    assert mechanism.sensitivity() >= signed * (1 - 1e-9)


@given(coef=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=6), k=st.integers(1, 3), b=st.integers(1, 4))
def test_toeplitz_closed_form_matches_brute_force(coef: list[float], k: int, b: int) -> None:
    n = 9
    coef = sorted(coef, reverse=True)  # non-negative, non-increasing
    assume((k - 1) * b + 1 <= n)
    C = materialize(torch.tensor(coef, dtype=torch.float64), n).numpy()
    closed = float(sens_lib.toeplitz_sensitivity_squared(torch.tensor(coef, dtype=torch.float64), n, k, b))
    assert np.sqrt(closed) == pytest.approx(sens_lib.brute_force_sensitivity(C, k, b), rel=1e-9)


def test_upper_bound_dominates_exact_on_tree_without_restart() -> None:
    mechanism = TreeMechanism(ParticipationSchema(16, 3, 4))
    C = mechanism.strategy_matrix()
    exact = sens_lib.brute_force_sensitivity(C, 3, 4)
    bound = sens_lib.upper_bound_sensitivity(C.T @ C, 3, 4)
    assert bound >= exact
    assert mechanism.sensitivity() == pytest.approx(exact)  # small: computed by brute force


def test_sensitivity_reports_bound_when_patterns_are_too_many() -> None:
    C = TreeMechanism(ParticipationSchema(64, 4, 8)).strategy_matrix()
    result = sens_lib.sensitivity(C, 4, 8, brute_force_limit=10)
    assert not result.exact and result.method == "upper-bound"
    assert result.value >= sens_lib.sensitivity(C, 4, 8).value - 1e-12


def test_tree_with_restarts_has_closed_form_sensitivity() -> None:
    # One participation per segment: sens = sqrt(k (log2 P + 1)), P = 8 leaves per segment.
    mechanism = TreeMechanism(ParticipationSchema(32, 4, 8), restart_every=8)
    assert mechanism.sensitivity() == pytest.approx(np.sqrt(4 * 4))
    assert mechanism.sensitivity_is_exact()


@pytest.mark.parametrize(
    "n,k,b,match",
    [(10, 4, 4, "impossible participation schema"), (10, 2, 11, "min_separation must be in"),
     (0, 1, 1, "steps must be an integer >= 1"), (10, 0, 1, "participations must be an integer >= 1")],
)
def test_schema_fails_if_impossible(n: int, k: int, b: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ParticipationSchema(n, k, b)


def test_banded_sensitivity_fails_if_gram_not_banded() -> None:
    C = materialize(torch.tensor(fhu_coefficients(5), dtype=torch.float64), 8).numpy()
    with pytest.raises(ValueError, match="must be b-banded"):
        sens_lib.banded_sensitivity(C.T @ C, 2, 3)


def test_toeplitz_negative_coefficients_fall_back_to_general_route() -> None:
    mech = ToeplitzMechanism(ParticipationSchema(8, 2, 3), coefficients=(1.0, -0.5, 0.25))
    assert mech.sensitivity() == pytest.approx(
        sens_lib.sensitivity(mech.strategy_matrix(), 2, 3).value
    )
