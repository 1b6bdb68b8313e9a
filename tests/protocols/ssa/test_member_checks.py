# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Member-side checks a malicious server meets (issue 14, deliverable 3 and attacks 6-7)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loyal.protocols.ssa.errors import PolicyViolationError
from loyal.protocols.ssa.policy import quantized_rows
from loyal.protocols.ssa.selftest import run_round
from loyal.protocols.ssa.server import request_id

from .conftest import updates


def _request(job):
    run_round(job, updates(job))
    return job.server.create_release_request(job.server_state, quantized_rows(job.policy, 0)[0])


def test_subset_outside_the_committee_is_refused_before_any_arithmetic(job) -> None:
    """The subset (1, 1 + q0) used to crash the member process in the Lagrange step."""
    req = _request(job)
    q0 = job.config.ahe.ring.moduli[0]
    for subset in ((1, 1 + q0, 2), (1, 2, 99)):
        bad = dataclasses.replace(req, subset=subset)
        bad = dataclasses.replace(bad, request_id=request_id(
            bad.policy_id, bad.round_index, bad.data, bad.noise, bad.scale_bits, subset, job.server_state.head))
        with pytest.raises(PolicyViolationError, match="names members outside the committee"):
            job.members[1].handle_release_request(job.member_states[1], bad, job.server_state.head)


def test_a_row_asked_again_gets_the_identical_partial(job) -> None:
    """Smudging is derived from the share and the row: repeated requests give the server no fresh view."""
    req = _request(job)
    _, first = job.members[1].handle_release_request(job.member_states[1], req, job.server_state.head)
    _, again = job.members[1].handle_release_request(job.member_states[1], req, job.server_state.head)
    assert first == again
    # Another member's partial of the same row differs (its own share and stream).
    _, other = job.members[2].handle_release_request(job.member_states[2], req, job.server_state.head)
    assert other != first
    # The smudging really is there: two members' partials are not a deterministic function of c1 alone.
    assert not np.array_equal(np.frombuffer(first[-64:], np.uint8), np.frombuffer(other[-64:], np.uint8))
