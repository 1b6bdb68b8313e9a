# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Embedding-space maths (arXiv 2408.04614 Sec. 4.2 comparisons) against numpy brute force."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.methods.backtranslation import maths


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_paired_cosine_matches_the_textbook_formula(rng) -> None:
    a, b = rng.normal(size=(9, 5)), rng.normal(size=(9, 5))
    expected = [float(x @ y / np.linalg.norm(x) / np.linalg.norm(y)) for x, y in zip(a, b)]
    np.testing.assert_allclose(maths.paired_cosine(a, b), expected, rtol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 17])
def test_mean_pairwise_distance_matches_the_double_loop(rng, n: int) -> None:
    x = rng.normal(size=(n, 6)) * rng.uniform(0.1, 5, size=(n, 1))  # norms vary: cosine must ignore them
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    pairs = [1 - u[i] @ u[j] for i in range(n) for j in range(i + 1, n)]
    assert maths.mean_pairwise_distance(x) == pytest.approx(np.mean(pairs), abs=1e-12)


def test_mean_pairwise_distance_is_zero_for_parallel_and_one_for_orthogonal_rows() -> None:
    assert maths.mean_pairwise_distance(np.array([[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]])) == pytest.approx(0.0, abs=1e-12)
    assert maths.mean_pairwise_distance(np.eye(4)) == pytest.approx(1.0, abs=1e-12)


def test_pca_2d_matches_the_covariance_eigenvectors(rng) -> None:
    x = rng.normal(size=(40, 6)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    oracle = centred @ vectors[:, ::-1][:, :2]
    got = maths.pca_2d(x)
    for k in range(2):  # equal up to the sign of each axis
        assert min(np.abs(got[:, k] - oracle[:, k]).max(), np.abs(got[:, k] + oracle[:, k]).max()) < 1e-9
    np.testing.assert_allclose(np.var(got, axis=0, ddof=1), values[::-1][:2], rtol=1e-9)


def test_probe_accuracy_is_one_for_separated_clusters(rng) -> None:
    a = rng.normal(size=(20, 4)) * 0.05 + np.array([1.0, 0, 0, 0])
    b = rng.normal(size=(20, 4)) * 0.05 + np.array([0, 1.0, 0, 0])
    assert maths.probe_accuracy(a, b) == 1.0


@pytest.mark.parametrize(("call", "message"), [
    (lambda: maths.paired_cosine(np.ones((2, 3)), np.ones((3, 3))), r"same shape, got \(2, 3\) and \(3, 3\)"),
    (lambda: maths.mean_pairwise_distance(np.ones((1, 3))), "need at least 2 embeddings, got 1"),
    (lambda: maths.mean_pairwise_distance(np.zeros((2, 3))), "no zero rows"),
    (lambda: maths.pca_2d(np.ones(5)), r"need an \(n >= 2, d >= 2\) array, got shape \(5,\)"),
    (lambda: maths.probe_accuracy(np.ones((3, 2)), np.ones((9, 2))), "each set needs >= folds=5 rows, got 3 and 9"),
])
def test_maths_fails_if_shapes_are_wrong(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
