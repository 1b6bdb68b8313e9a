# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Dirichlet label-skew split of sklearn digits."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.methods.kit.data.digits import load_digits_federated


def _all_labels(d):
    return np.concatenate([np.concatenate([d.train[c][1], d.test[c][1]]) for c in d.client_ids])


def test_split_is_deterministic_under_seed():
    a = load_digits_federated(num_clients=20, alpha=0.5, seed=3)
    b = load_digits_federated(num_clients=20, alpha=0.5, seed=3)
    c = load_digits_federated(num_clients=20, alpha=0.5, seed=4)
    assert all(np.array_equal(a.train[k][1], b.train[k][1]) for k in a.client_ids)
    assert any(not np.array_equal(a.train[k][1], c.train[k][1]) for k in a.client_ids)


def test_every_sample_is_used_once_and_clients_are_non_empty():
    d = load_digits_federated(num_clients=100, alpha=0.5, seed=0)
    assert sum(d.num_train(c) + d.num_test(c) for c in d.client_ids) == 1797
    assert np.array_equal(np.bincount(_all_labels(d)), np.bincount(load_digits_federated(1, 1.0).train["client_00000"][1], minlength=10) + np.bincount(load_digits_federated(1, 1.0).test["client_00000"][1], minlength=10))
    assert min(d.num_train(c) for c in d.client_ids) >= 1 and min(d.num_test(c) for c in d.client_ids) >= 1


def test_smaller_alpha_skews_labels_more():
    skewed = load_digits_federated(num_clients=20, alpha=0.1, seed=0).stats()["median_classes_per_client"]
    mixed = load_digits_federated(num_clients=20, alpha=100.0, seed=0).stats()["median_classes_per_client"]
    assert skewed < mixed
    assert mixed == 10


@pytest.mark.parametrize("kwargs,message", [
    ({"num_clients": 0}, r"clients must be in \[1, 898\]"),
    ({"num_clients": 899}, r"clients must be in \[1, 898\]"),
    ({"alpha": 0.0}, "alpha must be > 0"),
    ({"alpha": -1.0}, "alpha must be > 0"),
    ({"min_samples": 1}, "min_samples must be >= 2"),
])
def test_load_digits_fails_if_parameter_out_of_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_digits_federated(**kwargs)


def test_impossible_min_samples_is_reported():
    with pytest.raises(ValueError, match="could not give each of 800 clients"):
        load_digits_federated(num_clients=800, alpha=0.01, min_samples=2)


def test_concurrent_builders_of_one_cache_entry_all_succeed(tmp_path, monkeypatch) -> None:
    # A fleet's clients build the same partition at once: each writes its own scratch file and replaces the
    # entry whole (a shared scratch name let one writer's replace take the other's file: FileNotFoundError).
    import concurrent.futures

    from loyal.methods.kit.data.cache import scratch_path
    from loyal.methods.kit.data.digits import load_digits_federated

    monkeypatch.setenv("LOYAL_CACHE_DIR", str(tmp_path))
    entry = tmp_path / "x.npz"
    assert scratch_path(entry, ".npz") != scratch_path(entry, ".npz") and scratch_path(entry, ".npz").suffix == ".npz"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        built = list(pool.map(lambda _: load_digits_federated(10, seed=3), range(8)))
    assert all(b.client_ids == built[0].client_ids for b in built)
    assert all(all((b.train[c][1] == built[0].train[c][1]).all() for c in b.client_ids) for b in built)
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []  # no scratch file left behind
