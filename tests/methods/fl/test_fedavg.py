# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""FedAvg aggregation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from loyal.methods.fl.fedavg import FedAvg, weighted_mean


@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(0.1, 100)), min_size=1, max_size=8))
def test_weighted_mean_matches_definition(pairs):
    updates = [torch.tensor([v, -v], dtype=torch.float64) for v, _ in pairs]
    weights = [w for _, w in pairs]
    expected = sum(v * w for v, w in pairs) / sum(weights)
    assert torch.allclose(weighted_mean(updates, weights), torch.tensor([expected, -expected], dtype=torch.float64))


def test_fedavg_moves_params_by_server_learning_rate():
    params = torch.zeros(3)
    out = FedAvg(server_learning_rate=0.5).apply(params, [torch.ones(3), 3 * torch.ones(3)], [1.0, 1.0])
    assert torch.allclose(out, torch.full((3,), 1.0))


@pytest.mark.parametrize("updates,weights,message", [
    ([], [], "at least one update"),
    ([torch.ones(2)], [1.0, 2.0], "got 1 updates but 2 weights"),
    ([torch.ones(2)], [0.0], "positive sum"),
    ([torch.ones(2), torch.ones(3)], [1.0, 1.0], "update shapes differ"),
])
def test_weighted_mean_fails_if_inputs_inconsistent(updates, weights, message):
    with pytest.raises(ValueError, match=message):
        weighted_mean(updates, weights)


def test_fedavg_fails_if_server_learning_rate_not_positive():
    with pytest.raises(ValueError, match="server_learning_rate must be > 0, got 0"):
        FedAvg(server_learning_rate=0)
