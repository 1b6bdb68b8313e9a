# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A job whose release requests would outgrow one gRPC message is refused when the server creates it,
with a clear error and nothing stored (members could never be sent such a release)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from loyal.protocols.proto.policies import canonical_policy_spec
from loyal.server import limits
from loyal.server.app import open_coordinator
from loyal.server.coordinator import Coordinator
from loyal.server.store import Store
from tests.server.harness import make_spec, tokens


def test_prefix_sum_job_at_rlwe_n8192_fits_about_400_rounds() -> None:
    # The default policy's row after round r carries the AHE sums of rounds 0..r (0.66 MB each at rlwe-n8192).
    job = dataclasses.replace(make_spec(rounds=500), params_name="rlwe-n8192")
    sizes = limits.release_request_sizes(job)
    assert sizes == sorted(sizes) and sizes[0] < 1 << 20
    with pytest.raises(ValueError, match=r"release after round 407 would carry .* run at most 407 rounds"):
        limits.check_release_requests(job)
    limits.check_release_requests(dataclasses.replace(job, rounds=407))


def test_server_refuses_to_create_a_job_with_an_oversized_release_and_stores_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_SEND_BYTES", (1 << 20) + (200 << 10))  # 200 KiB for sums: 3 rounds at n1024
    db = str(tmp_path / "s.db")
    with pytest.raises(ValueError, match="release after round 3 would carry .* run at most 3 rounds"):
        open_coordinator(db, job=make_spec(rounds=6), round_seconds=60.0, tokens=tokens(4))
    assert not os.path.exists(db)  # refused before the store is created
    with pytest.raises(ValueError, match="run at most 3 rounds"):  # an existing empty store: refused, nothing saved
        Coordinator.open_job(Store(db), job=make_spec(rounds=6), round_seconds=60.0, tokens=tokens(4))
    assert Store(db).load_job() is None
    banded = make_spec(rounds=4, policy_spec=canonical_policy_spec(
        {"mechanism": "banded-toeplitz", "steps": 4, "participations": 2, "min_separation": 2, "bands": 2,
         "form": "encoded", "scale_bits": 10}))
    assert max(limits.release_request_sizes(banded)) < 200 << 10  # at most 2 touched rounds
    coord = open_coordinator(db, job=banded, round_seconds=60.0, tokens=tokens(4))
    assert coord.job == banded


def test_a_simulation_server_process_refuses_the_job_before_it_starts(tmp_path, monkeypatch) -> None:
    from loyal.server.process import ServerProcess

    monkeypatch.setattr(limits, "MAX_SEND_BYTES", (1 << 20) + (200 << 10))
    with pytest.raises(ValueError, match="run at most 3 rounds"):
        ServerProcess(make_spec(rounds=6), tmp_path, tokens(4), 60.0, 60.0, tls=False)
    assert not (tmp_path / "job.json").exists()
