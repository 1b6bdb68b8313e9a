# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Privacy accounting for matrix mechanisms through `dp_accounting` (PLD, RDP, zCDP).

The whole release A x + B z of a matrix mechanism is one Gaussian mechanism with effective noise
multiplier noise_multiplier / sensitivity (design note dpftrl.md; Denisov et al., arXiv 2202.08312,
Sec. 2). Neighbouring relation: dp_accounting's default add-or-remove of one user. rho-zCDP of a
Gaussian with effective multiplier s is 1 / (2 s^2) (Bun & Steinke, arXiv 1605.02065, Prop. 1.6).
"""

from __future__ import annotations

import math

import dp_accounting
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

from loyal.protocols.dpftrl import _checks

ACCOUNTANTS = ("pld", "rdp")


def _accountant(name: str) -> dp_accounting.PrivacyAccountant:
    if name == "pld":
        return pld_privacy_accountant.PLDAccountant()
    if name == "rdp":
        return rdp_privacy_accountant.RdpAccountant()
    raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got accountant={name!r}")


def effective_noise_multiplier(noise_multiplier: float, sensitivity: float = 1.0) -> float:
    """noise_multiplier / sensitivity, validated (noise_multiplier >= 0, sensitivity > 0)."""
    _checks.check_noise_multiplier(noise_multiplier)
    _checks.check_positive(sensitivity, "sensitivity")
    return noise_multiplier / sensitivity


def epsilon(
    noise_multiplier: float, delta: float, *, sensitivity: float = 1.0, accountant: str = "pld"
) -> float:
    """epsilon at `delta` for one Gaussian release with noise std `noise_multiplier` and L2 `sensitivity`.

    Args:
      noise_multiplier: noise standard deviation in units of the clip norm, >= 0 (0 gives inf).
      delta: in (0, 1).
      sensitivity: sens(C) in clip norms, > 0 (default 1: noise_multiplier is already effective).
      accountant: "pld" (tight, default) or "rdp".
    """
    z = effective_noise_multiplier(noise_multiplier, sensitivity)
    _checks.check_delta(delta)
    acc = _accountant(accountant)
    if z == 0:
        return math.inf
    acc.compose(dp_accounting.GaussianDpEvent(z))
    return float(acc.get_epsilon(delta))


def rho(noise_multiplier: float, *, sensitivity: float = 1.0) -> float:
    """rho-zCDP of the Gaussian release: sensitivity^2 / (2 noise_multiplier^2)."""
    z = effective_noise_multiplier(noise_multiplier, sensitivity)
    return math.inf if z == 0 else 1.0 / (2.0 * z * z)


def zcdp_epsilon(rho_value: float, delta: float) -> float:
    """(epsilon, delta) implied by rho-zCDP via dp_accounting's RDP conversion (all orders alpha)."""
    _checks.check_positive(rho_value, "rho")
    _checks.check_delta(delta)
    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(dp_accounting.ZCDpEvent(rho_value))
    return float(acc.get_epsilon(delta))


def calibrate_noise_multiplier(
    target_epsilon: float,
    delta: float,
    *,
    sensitivity: float = 1.0,
    accountant: str = "pld",
    tolerance: float = 1e-4,
) -> float:
    """Smallest noise multiplier (std in clip norms) whose epsilon is <= `target_epsilon`, by bisection.

    epsilon is non-increasing in the noise multiplier, so we bracket [lo, hi] with eps(hi) <= target and
    halve it until hi - lo <= tolerance * hi; we return hi (always meets the target).

    Args:
      target_epsilon: > 0.
      delta: in (0, 1).
      sensitivity: sens(C) > 0; the result scales with it.
      accountant: "pld" or "rdp".
      tolerance: relative width of the final bracket, > 0.
    """
    _checks.check_positive(target_epsilon, "epsilon")
    _checks.check_delta(delta)
    _checks.check_positive(sensitivity, "sensitivity")
    _checks.check_positive(tolerance, "tolerance")

    def eps(z: float) -> float:
        return epsilon(z, delta, sensitivity=1.0, accountant=accountant)

    return _bisect(eps, target_epsilon, delta, tolerance) * sensitivity


def poisson_epsilon(noise_multiplier: float, delta: float, *, rate: float, steps: int) -> float:
    """epsilon of `steps` Poisson-subsampled Gaussian mechanisms at sampling `rate` (RDP; DP-SGD/DP-FedAvg with
    amplification by sampling, Abadi et al. 2016; Mironov et al. 2019). Needs verifiable sampling to hold."""
    _checks.check_positive(noise_multiplier, "noise_multiplier")
    _checks.check_delta(delta)
    if not 0 < rate <= 1 or steps < 1:
        raise ValueError(f"rate must be in (0, 1] and steps >= 1, got rate={rate}, steps={steps}")
    acc = _accountant("rdp")
    acc.compose(dp_accounting.PoissonSampledDpEvent(rate, dp_accounting.GaussianDpEvent(noise_multiplier)), steps)
    return float(acc.get_epsilon(delta))


def calibrate_poisson_noise_multiplier(target_epsilon: float, delta: float, *, rate: float, steps: int,
                                       tolerance: float = 1e-4) -> float:
    """Smallest noise multiplier whose `poisson_epsilon` is <= `target_epsilon` (bisection, as above)."""
    _checks.check_positive(target_epsilon, "epsilon")
    return _bisect(lambda z: poisson_epsilon(z, delta, rate=rate, steps=steps), target_epsilon, delta, tolerance)


def _bisect(eps, target_epsilon: float, delta: float, tolerance: float) -> float:
    """hi with eps(hi) <= target and hi - lo <= tolerance·hi for eps non-increasing in z."""
    lo, hi = 0.0, 1.0
    while eps(hi) > target_epsilon:
        lo, hi = hi, hi * 2.0
        if hi > 1e6:
            raise ValueError(f"no noise multiplier <= 1e6 reaches epsilon={target_epsilon} at delta={delta}")
    while hi - lo > tolerance * hi:
        mid = 0.5 * (lo + hi)
        if eps(mid) <= target_epsilon:
            hi = mid
        else:
            lo = mid
    return hi
