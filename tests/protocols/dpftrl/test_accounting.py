# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Accounting: monotonicity, calibration, zCDP conversion and input validation."""

from __future__ import annotations

import math

import pytest

from loyal.protocols.dpftrl import accounting


@pytest.mark.parametrize("acc", accounting.ACCOUNTANTS)
def test_epsilon_decreases_with_noise(acc: str) -> None:
    eps = [accounting.epsilon(z, 1e-5, accountant=acc) for z in (0.8, 1.0, 2.0, 4.0, 8.0)]
    assert all(a > b for a, b in zip(eps, eps[1:]))


def test_pld_tighter_than_rdp() -> None:
    assert accounting.epsilon(2.0, 1e-6) <= accounting.epsilon(2.0, 1e-6, accountant="rdp")


def test_sensitivity_scales_noise() -> None:
    assert accounting.epsilon(6.0, 1e-6, sensitivity=3.0) == pytest.approx(accounting.epsilon(2.0, 1e-6))
    assert accounting.rho(4.0, sensitivity=2.0) == pytest.approx(1 / 8)


def test_zero_noise_is_not_private() -> None:
    assert accounting.epsilon(0.0, 1e-6) == math.inf


def test_calibration_meets_target_and_is_tight() -> None:
    z = accounting.calibrate_noise_multiplier(3.0, 1e-6, sensitivity=2.0, accountant="rdp")
    assert accounting.epsilon(z, 1e-6, sensitivity=2.0, accountant="rdp") <= 3.0
    assert accounting.epsilon(z * 0.99, 1e-6, sensitivity=2.0, accountant="rdp") > 3.0


def test_zcdp_conversion_dominates_simple_bound() -> None:
    # RDP conversion of rho-zCDP beats rho + 2 sqrt(rho log(1/delta)) (Bun & Steinke, Prop. 1.3).
    rho, delta = 0.81, 1e-10
    eps = accounting.zcdp_epsilon(rho, delta)
    assert eps < rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert 8.5 < eps < 9.0  # design note: Gboard rho = 0.81 => epsilon ~ 8.9 at delta = 1e-10


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: accounting.epsilon(-1.0, 1e-6), "noise_multiplier must be a finite number >= 0"),
        (lambda: accounting.epsilon(1.0, 0.0), r"delta must be in \(0, 1\)"),
        (lambda: accounting.epsilon(1.0, 1.5), r"delta must be in \(0, 1\)"),
        (lambda: accounting.epsilon(1.0, 1e-6, accountant="gdp"), "accountant must be one of"),
        (lambda: accounting.epsilon(1.0, 1e-6, sensitivity=0.0), "sensitivity must be a finite number > 0"),
        (lambda: accounting.zcdp_epsilon(-0.1, 1e-6), "rho must be a finite number > 0"),
        (lambda: accounting.calibrate_noise_multiplier(0.0, 1e-6), "epsilon must be a finite number > 0"),
    ],
)
def test_accounting_fails_if_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_poisson_sampling_amplifies_and_calibration_meets_the_target():
    from loyal.protocols.dpftrl.accounting import calibrate_poisson_noise_multiplier, poisson_epsilon

    # Sampling rate 1 is the unsampled Gaussian composition: RDP must agree with `epsilon(..., "rdp")` for steps = 1.
    assert poisson_epsilon(2.0, 1e-6, rate=1.0, steps=1) == pytest.approx(accounting.epsilon(2.0, 1e-6, accountant="rdp"), rel=1e-6)
    # Amplification: a smaller rate gives a smaller epsilon at the same noise and steps.
    assert poisson_epsilon(1.0, 1e-6, rate=0.01, steps=1000) < poisson_epsilon(1.0, 1e-6, rate=0.1, steps=1000)
    z = calibrate_poisson_noise_multiplier(2.0, 1e-6, rate=0.003, steps=1000, tolerance=1e-8)
    assert poisson_epsilon(z, 1e-6, rate=0.003, steps=1000) <= 2.0 < poisson_epsilon(z * (1 - 1e-6), 1e-6, rate=0.003, steps=1000)
    with pytest.raises(ValueError, match="rate must be in"):
        poisson_epsilon(1.0, 1e-6, rate=1.5, steps=10)
