# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Shared SSA fixture: a small job on the insecure N=1024 test parameters with a fake PRNG."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.params import INSECURE_TEST_N1024
from loyal.protocols.rlwe.testing import InsecureFakePrng
from loyal.protocols.ssa.selftest import JobRoles, setup_job

DIM = 300
CLIENTS = 6


def make_job(seed: int = 0, noise_multiplier: float = 0.0, rounds: int = 8, **kw) -> JobRoles:
    """The job's prefix-sum rows have L1 norm up to `rounds`, which sizes the plaintext space."""
    return setup_job(
        dim=DIM, clients=CLIENTS, committee=5, threshold=3, noise_multiplier=noise_multiplier,
        params=INSECURE_TEST_N1024, prng=InsecureFakePrng(seed), rounds=rounds, **kw,
    )


def updates(job: JobRoles, n: int = CLIENTS) -> np.ndarray:
    """Deterministic client updates inside the clip ball (test data, not secrets)."""
    u = job.prng.unit_floats(n * DIM).reshape(n, DIM) * 2 - 1
    return u / np.sqrt(DIM)


@pytest.fixture(name="job")
def _job() -> JobRoles:
    return make_job()
