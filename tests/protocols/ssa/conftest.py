# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Shared SSA fixture: a small job on the insecure N=1024 test parameters with a fake PRNG."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.params import INSECURE_TEST_N1024
from loyal.protocols.rlwe.testing import InsecureFakePrng
from loyal.protocols.ssa.selftest import Job, setup_job

DIM = 300
CLIENTS = 6


def make_job(seed: int = 0, noise_multiplier: float = 0.0, coefficient_l1: int = 8, **kw) -> Job:
    return setup_job(
        dim=DIM, clients=CLIENTS, committee=5, threshold=3, noise_multiplier=noise_multiplier,
        params=INSECURE_TEST_N1024, prng=InsecureFakePrng(seed), coefficient_l1=coefficient_l1, **kw,
    )


def updates(job: Job, n: int = CLIENTS) -> np.ndarray:
    """Deterministic client updates inside the clip ball (test data, not secrets)."""
    u = job.prng.unit_floats(n * DIM).reshape(n, DIM) * 2 - 1
    return u / np.sqrt(DIM)


@pytest.fixture(name="job")
def _job() -> Job:
    return make_job()
