# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""MatrixMechanismPolicy against the SSA ReleasePolicy interface and the mechanism's matrices."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.dpftrl import build_mechanism
from loyal.protocols.dpftrl.policy import MatrixMechanismPolicy
from loyal.protocols.ssa.policy import ReleasePolicy, quantize

N = 12


def _matrices(policy: MatrixMechanismPolicy) -> tuple[np.ndarray, np.ndarray]:
    data, noise = np.zeros((N, N)), np.zeros((N, N))
    for t in range(N):
        (row,) = policy.release_rows(t)
        assert row.round_index == t
        for j, c in row.data.items():
            data[t, j] = c
        for j, c in row.noise.items():
            noise[t, j] = c
    return data, noise


@pytest.mark.parametrize("name", ["identity", "tree", "tree-honaker", "banded-toeplitz", "blt", "dense"])
def test_prefix_form_has_mechanism_noise_covariance(name: str) -> None:
    mech = build_mechanism(name, N, participations=2, min_separation=6)
    policy = MatrixMechanismPolicy(mech)
    assert isinstance(policy, ReleasePolicy)
    data, noise = _matrices(policy)
    np.testing.assert_allclose(data, np.tril(np.ones((N, N))))
    # Noise rows over per-round Z_j reproduce B B^T sens^2, the mechanism's noise covariance.
    B = mech.noise_matrix()
    np.testing.assert_allclose(noise @ noise.T, mech.sensitivity() ** 2 * B @ B.T, atol=1e-9)
    assert all(policy.window_start(t) == 0 for t in range(N))


def test_banded_encoded_form_compacts_to_band() -> None:
    mech = build_mechanism("banded-toeplitz", N, participations=2, min_separation=6, bands=4)
    policy = MatrixMechanismPolicy(mech, form="encoded")
    data, noise = _matrices(policy)
    np.testing.assert_allclose(data, mech.strategy_matrix())
    np.testing.assert_allclose(noise, mech.sensitivity() * np.eye(N))
    assert [policy.window_start(t) for t in range(N)] == [max(t - 3, 0) for t in range(N)]
    # Post-processing B (C x + z) gives A x + B z.
    assert np.allclose(mech.noise_matrix() @ data, np.tril(np.ones((N, N))))


def test_gradient_form_rows_are_c_inverse() -> None:
    mech = build_mechanism("blt", N, buffers=2)
    policy = MatrixMechanismPolicy(mech, form="gradient", scale_bits=30)
    data, noise = _matrices(policy)
    np.testing.assert_allclose(data, np.eye(N))
    np.testing.assert_allclose(noise @ mech.strategy_matrix(), mech.sensitivity() * np.eye(N), atol=1e-9)
    q = quantize(policy.release_rows(5)[0].noise, policy.scale_bits)
    for j, c in policy.release_rows(5)[0].noise.items():
        assert abs(q.get(j, 0) / 2**30 - c) <= 2**-31
    assert policy.policy_id == "blt/gradient/n=12/k=1/b=1/f=30"


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(form="tree"), "form must be one of"), (dict(scale_bits=60), "scale_bits must be in"),
     (dict(form="encoded"), "needs a square strategy matrix")],
)
def test_policy_fails_if_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MatrixMechanismPolicy(build_mechanism("tree", 8), **kwargs)


def test_policy_fails_if_round_out_of_range() -> None:
    policy = MatrixMechanismPolicy(build_mechanism("identity", 4))
    with pytest.raises(ValueError, match=r"round_index must be in \[0, 3\]"):
        policy.release_rows(4)
