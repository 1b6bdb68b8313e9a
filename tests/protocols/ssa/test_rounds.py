# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Every round-stage transition: the valid set passes, all other pairs raise (as Flower's
`test_stage_transition` in secaggplus_mod_test.py)."""

from __future__ import annotations

import itertools

import pytest

from loyal.protocols.ssa.errors import ProtocolStateError
from loyal.protocols.ssa.rounds import ACCEPTING, TRANSITIONS, RoundStage, check_accepting, check_transition

VALID = sorted(TRANSITIONS)
INVALID = sorted(set(itertools.product(RoundStage, RoundStage)) - TRANSITIONS)


def test_transition_table_is_the_documented_chain():
    chain = ["keygen", "open", "collecting", "closed", "aggregated", "release_requested", "released"]
    assert {(RoundStage(a), RoundStage(b)) for a, b in zip(chain, chain[1:])} < TRANSITIONS
    assert (RoundStage.RELEASED, RoundStage.OPEN) in TRANSITIONS
    assert (RoundStage.RELEASED, RoundStage.DONE) in TRANSITIONS
    assert len(VALID) + len(INVALID) == len(RoundStage) ** 2


@pytest.mark.parametrize(("current", "target"), VALID)
def test_valid_transition(current, target):
    assert check_transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), INVALID)
def test_transition_fails_if_not_allowed(current, target):
    with pytest.raises(ProtocolStateError, match=f"cannot go from '{current.value}' to '{target.value}'"):
        check_transition(current, target)


@pytest.mark.parametrize("stage", list(RoundStage))
def test_accepting_only_while_open_or_collecting(stage):
    if stage in ACCEPTING:
        check_accepting(stage, 3)
    else:
        with pytest.raises(ProtocolStateError, match=f"round 3 is '{stage.value}', not accepting"):
            check_accepting(stage, 3)
