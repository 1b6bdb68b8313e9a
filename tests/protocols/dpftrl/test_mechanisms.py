# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Factorization identities, error orderings and streamed noise against the materialized matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.protocols.dpftrl import MECHANISMS, build_mechanism, gaussian_sampler
from loyal.protocols.dpftrl.base import ParticipationSchema, prefix_workload
from loyal.protocols.dpftrl.tree import TreeMechanism

SMALL = [
    ("identity", {}), ("tree", {}), ("tree-honaker", {}), ("banded-toeplitz", {"bands": 4}),
    ("blt", {"buffers": 2}), ("dense", {}),
]


def _recording_sampler(dim: int, seed: int) -> tuple[list[torch.Tensor], callable]:
    gen = torch.Generator().manual_seed(seed)
    draws: list[torch.Tensor] = []
    inner = gaussian_sampler(dim, gen)

    def draw() -> torch.Tensor:
        z = inner()
        draws.append(z.clone())
        return z

    return draws, draw


@pytest.mark.parametrize("name,opts", SMALL, ids=[s[0] for s in SMALL])
@pytest.mark.parametrize("n,k", [(12, 1), (12, 3)])
def test_factorization_and_stream(name: str, opts: dict, n: int, k: int) -> None:
    # Prepare
    mechanism = build_mechanism(name, n, participations=k, **opts)
    B, C = mechanism.noise_matrix(), mechanism.strategy_matrix()
    # Assert: B C = A and the variance convention.
    np.testing.assert_allclose(B @ C, prefix_workload(n), atol=1e-9)
    np.testing.assert_allclose(mechanism.per_step_variance(), np.sum(B * B, axis=1), rtol=1e-9)
    assert mechanism.rmse() == pytest.approx(
        np.sqrt(np.mean(np.sum(B * B, axis=1))) * mechanism.sensitivity()
    )
    # Execute: the stream's prefix sums equal B w for the same draws w.
    draws, sampler = _recording_sampler(5, seed=n + k)
    streamed = torch.stack(list(mechanism.noise_stream(sampler))).numpy()
    W = torch.stack(draws).numpy()
    assert W.shape == (C.shape[0], 5)
    np.testing.assert_allclose(np.cumsum(streamed, axis=0), B @ W, atol=1e-9)


@pytest.mark.parametrize("n", [8, 13, 32])
@pytest.mark.parametrize("restart", [None, 4, 5])
@pytest.mark.parametrize("completion", [True, False])
def test_honaker_never_worse_than_vanilla(n: int, restart: int | None, completion: bool) -> None:
    schema = ParticipationSchema(n)
    vanilla = TreeMechanism(schema, "vanilla", restart, completion)
    honaker = TreeMechanism(schema, "honaker", restart, completion)
    assert np.all(honaker.per_step_variance() <= vanilla.per_step_variance() + 1e-12)
    assert honaker.rmse() <= vanilla.rmse()
    np.testing.assert_allclose(honaker.noise_matrix() @ honaker.strategy_matrix(), prefix_workload(n), atol=1e-9)


def test_completion_uses_one_node_at_segment_end() -> None:
    mechanism = TreeMechanism(ParticipationSchema(12), restart_every=6)
    # At the end of each segment (rounds 5, 11) the prefix noise is one root per segment.
    assert mechanism.per_step_variance()[5] == pytest.approx(1.0)
    assert mechanism.per_step_variance()[11] == pytest.approx(2.0)


@pytest.mark.parametrize("n,k", [(32, 1), (32, 2)])
def test_dense_le_banded_le_identity(n: int, k: int) -> None:
    ident = build_mechanism("identity", n, participations=k)
    banded = build_mechanism("banded-toeplitz", n, participations=k)
    assert banded.rmse() <= ident.rmse()
    if k == 1:  # dense is the single-participation optimum
        dense = build_mechanism("dense", n)
        assert dense.rmse() <= banded.rmse() * (1 + 1e-9)
        assert dense.rmse() <= build_mechanism("blt", n).rmse() * (1 + 1e-9)


def test_identity_closed_form() -> None:
    n = 50
    m = build_mechanism("identity", n)
    assert m.rmse() == pytest.approx(np.sqrt((n + 1) / 2))
    assert m.max_error() == pytest.approx(np.sqrt(n))


def test_blt_max_optimization_lowers_max_error() -> None:
    mean = build_mechanism("blt", 64, buffers=2, optimize="mean")
    mx = build_mechanism("blt", 64, buffers=2, optimize="max")
    assert mx.max_error() <= mean.max_error() * (1 + 1e-6)
    assert mean.rmse() <= mx.rmse() * (1 + 1e-6)
    coef = np.array(mean.coefficients)
    assert np.all(coef > 0) and np.all(np.diff(coef) <= 0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(name="nope", steps=8), "unknown mechanism 'nope'"),
        (dict(name="banded-toeplitz", steps=8, bands=9), "too many bands"),
        (dict(name="identity", steps=8, bands=2), "bands applies to banded-toeplitz only"),
        (dict(name="blt", steps=8, buffers=33), "buffers must be in"),
        (dict(name="tree", steps=8, participations=3, min_separation=4), "impossible participation schema"),
        (dict(name="blt", steps=8, optimize="median"), "optimize must be one of"),
    ],
)
def test_build_mechanism_fails_if_bad_input(kwargs: dict, match: str) -> None:
    name = kwargs.pop("name")
    steps = kwargs.pop("steps")
    with pytest.raises(ValueError, match=match):
        build_mechanism(name, steps, **kwargs)


def test_all_names_build() -> None:
    assert {build_mechanism(name, 4).name for name in MECHANISMS} == set(MECHANISMS)
