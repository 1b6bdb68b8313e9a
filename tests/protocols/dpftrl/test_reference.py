# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Golden values: every entry of reference_dpftrl.json (jax_privacy 2.0.0 / dp_accounting 0.6.0) to <= 1%."""

from __future__ import annotations

import json
import pathlib

import pytest

from loyal.protocols.dpftrl import accounting, build_mechanism

REFERENCE = json.loads((pathlib.Path(__file__).parent / "reference_dpftrl.json").read_text())
RTOL = 0.01


def _single_cases() -> list[tuple[str, dict]]:
    return [(f"{r['mechanism']}-n{r['n']}", r) for r in REFERENCE["single_participation"]]


@pytest.mark.parametrize("case", [r for _, r in _single_cases()], ids=[i for i, _ in _single_cases()])
def test_single_participation_reference(case: dict) -> None:
    # Execute
    mechanism = build_mechanism(case["mechanism"], case["n"])
    # Assert
    assert mechanism.rmse() == pytest.approx(case["rmse"], rel=RTOL)
    if "max_error" in case:
        assert mechanism.max_error() == pytest.approx(case["max_error"], rel=RTOL)
    assert mechanism.sensitivity_is_exact()


@pytest.mark.parametrize("case", REFERENCE["multi_participation"], ids=lambda r: r["mechanism"])
def test_multi_participation_reference(case: dict) -> None:
    mechanism = build_mechanism(
        case["mechanism"],
        case["n"],
        participations=case["participations"],
        min_separation=case["min_separation"],
        bands=case["bands"],
    )
    assert mechanism.rmse() == pytest.approx(case["rmse"], rel=RTOL)
    assert mechanism.sensitivity_is_exact()


@pytest.mark.parametrize("case", REFERENCE["accounting"], ids=lambda r: r["what"][:20])
def test_accounting_reference(case: dict) -> None:
    # "effective noise multiplier 2 (noise multiplier 4, sensitivity 2), PLD, add-or-remove"
    eps = accounting.epsilon(4.0, case["delta"], sensitivity=2.0, accountant="pld")
    assert eps == pytest.approx(case["epsilon"], rel=RTOL)


def test_dense_reference_is_tighter_than_jax_privacy_default_stop() -> None:
    # The reference notes 2.5250 for jax_privacy's default stopping rule; our fixed point goes further.
    dense = build_mechanism("dense", 256)
    assert dense.rmse() == pytest.approx(2.5244, rel=1e-4)
