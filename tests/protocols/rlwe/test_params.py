# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tests of the named parameter sets (HE-standard claims) and of parameter selection."""

from __future__ import annotations

import math
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyal.protocols.rlwe.params import HE_STANDARD_128_MAX_LOG_Q, INSECURE_TEST_N1024, SECURE_SETS, RlweParameterSet
from loyal.protocols.rlwe.selection import Workload, evaluate, select_parameters


@pytest.mark.parametrize("params", SECURE_SETS, ids=lambda p: p.name)
def test_secure_sets_meet_he_standard_table(params: RlweParameterSet) -> None:
    bound = HE_STANDARD_128_MAX_LOG_Q[params.ring_degree]
    assert params.kahe_ring.modulus_bits <= bound and params.ahe_ring.modulus_bits <= bound
    assert params.security_bits == 128 and params.security_margin_bits >= 0
    assert not set(params.kahe_ring.moduli) & set(params.ahe_ring.moduli)


def test_insecure_set_claims_nothing() -> None:
    assert INSECURE_TEST_N1024.security_bits == 0


def test_parameter_set_fails_if_modulus_exceeds_table() -> None:
    with pytest.raises(ValueError, match=r"exceeds 109 for N=4096; mark it insecure"):
        RlweParameterSet("too-big", 1 << 12, kahe_num_moduli=4, ahe_num_moduli=3)


@pytest.mark.parametrize(
    ("dim", "clients"), [(1000, 100), (10**5, 1000), (10**5, 10**6), (10**7, 10**6), (10**7, 1000)]
)
def test_selection_covers_required_regimes(dim: int, clients: int) -> None:
    sel = select_parameters(Workload(dim=dim, clients=clients))
    assert sel.params.security_bits == 128
    if dim >= 10**5:
        assert sel.expansion(dim) < 4.5


@given(
    dim=st.integers(1, 10**7),
    clients=st.integers(1, 10**6),
    value_bits=st.integers(2, 20),
    l1_bits=st.integers(0, 12),
)
def test_selected_parameters_never_wrap(dim: int, clients: int, value_bits: int, l1_bits: int) -> None:
    work = Workload(dim=dim, clients=clients, value_bound=1 << value_bits, coefficient_l1=1 << l1_bits)
    try:
        sel = select_parameters(work)
    except ValueError as e:
        assert "input setting is not supported" in str(e)
        return
    # Plaintext room: the worst-case release fits with a spare bit; error below Δ/2 with margin.
    worst = (1 << l1_bits) * clients * (1 << value_bits)
    assert worst < 1 << (sel.kahe_plaintext_bits - 2)
    assert sel.params.kahe_ring.modulus_bits - sel.kahe_plaintext_bits >= sel.kahe_error_bits + 2
    assert sel.smudging_bits >= sel.ahe_noise_bits + 40


def test_select_fails_if_no_set_fits() -> None:
    with pytest.raises(ValueError, match="input setting is not supported"):
        select_parameters(Workload(dim=10, clients=10**7, value_bound=1 << 40, coefficient_l1=1 << 40))


def test_evaluate_fails_if_moduli_too_small() -> None:
    with pytest.raises(ValueError, match=r"rlwe-n4096: KAHE modulus 60 bits cannot hold plaintext 47 bits"):
        evaluate(SECURE_SETS[0], Workload(dim=10, clients=10**6))
    with pytest.raises(ValueError, match=r"rlwe-n4096: AHE modulus 90 bits < needed 103 \(plaintext 19 \+ smudging 78"):
        evaluate(SECURE_SETS[0], Workload(dim=10, clients=100))


def test_workload_fails_if_dim_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"dim must be in \[1, 100000000\], got 0"):
        Workload(dim=0, clients=1)


def test_smudging_covers_every_coefficient_of_every_release() -> None:
    """40 statistical bits per job: the smudging grows by log2(N·releases) (issue 14, attack 6)."""
    one = evaluate(SECURE_SETS[1], Workload(dim=10, clients=100, releases=1))
    many = evaluate(SECURE_SETS[1], Workload(dim=10, clients=100, releases=1024))
    assert many.smudging_bits - one.smudging_bits == 10
    assert one.smudging_bits == math.ceil(one.ahe_noise_bits) + 40 + 13  # N = 2^13
