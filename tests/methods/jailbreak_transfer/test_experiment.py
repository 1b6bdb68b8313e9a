# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The transfer study's arm and summary on a tiny configuration (arXiv 2407.15211, Sec. 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from loyal.methods.harness.registry import get_method
from loyal.methods.jailbreak_transfer import experiment, zoo
from loyal.methods.jailbreak_transfer.experiment import JailbreakTransferConfig

TINY = JailbreakTransferConfig(seeds=1, ensemble_sizes=(1, 2), cnn_models=1, train_steps=3, attack_steps=3,
                               prefix_tokens=2, batch_size=16)


@pytest.fixture(scope="module")
def arm_result() -> dict:
    return experiment.run_arm(TINY, {"seed": 0})


def test_arm_matrix_is_laid_out_by_the_zoo_and_its_diagonal_is_the_white_box_score(arm_result: dict) -> None:
    names = arm_result["models"]
    assert names == ["S0", "S1", "S2", "R1", "R2", "C0"]
    members = zoo.zoo_members(0, 3, 2, 1)
    assert arm_result["relations"] == [[zoo.relation(a, b) for b in members] for a in members]
    nll = np.array(arm_result["matrices"]["target_nll"])
    drop = np.array(arm_result["matrices"]["nll_drop"])
    # nll_drop[i, j] = unattacked loss of model j − loss of image i on model j.
    np.testing.assert_allclose(drop, np.array(arm_result["unattacked"]["target_nll"])[None, :] - nll, rtol=1e-6, atol=1e-6)
    # The size-1 ensembles are the single-model attacks on S1 and R1: their white-box scores are the diagonal.
    for kind, name in (("same_init", "S1"), ("diff_init", "R1")):
        i = names.index(name)
        for key in experiment.KEYS:
            assert arm_result["ensembles"][kind]["1"]["white_box"][key] == pytest.approx(arm_result["matrices"][key][i][i])
        assert arm_result["ensembles"][kind]["1"]["S0"]["success"] == arm_result["matrices"]["success"][i][0]


def test_relation_rates_match_a_brute_force_loop() -> None:
    rng = np.random.default_rng(0)
    members = zoo.zoo_members(0, 3, 2, 2)
    relations = [[zoo.relation(a, b) for b in members] for a in members]
    matrix = rng.random((len(members), len(members)))
    rates = experiment.relation_rates(matrix, relations)
    for rel in zoo.RELATIONS:
        cells = [matrix[i, j] for i in range(len(members)) for j in range(len(members)) if relations[i][j] == rel]
        assert rates[rel] == pytest.approx(np.mean(cells))
    assert rates["white_box"] == pytest.approx(np.trace(matrix) / len(members))


def test_summarize_writes_the_heatmaps_and_json_metrics(arm_result: dict, tmp_path: Path) -> None:
    metrics, figures = experiment.summarize(TINY, [arm_result, arm_result], tmp_path)
    assert figures == ["transfer_success.png", "transfer_nll_drop.png", "ensemble_transfer.png"]
    assert all((tmp_path / f).stat().st_size > 1000 for f in figures)
    json.dumps(metrics)
    # Two identical repetitions: the CI half-width is 0 and the mean is the single arm's value.
    white = metrics["by_relation"]["success"]["white_box"]
    assert white["ci95"] == 0.0
    assert white["mean"] == pytest.approx(np.trace(np.array(arm_result["matrices"]["success"])) / 6)
    assert set(metrics["by_relation"]["nll_drop"]) == set(zoo.RELATIONS) - {"identical"}


def test_spec_is_registered_and_its_quick_config_is_valid() -> None:
    spec = get_method("jailbreak_transfer")
    config = JailbreakTransferConfig(**spec.quick)
    assert config.seeds >= 3 and spec.paper == "2407.15211"
    assert [a["seed"] for a in spec.arms(config)] == [0, 1, 2]


@pytest.mark.parametrize("kwargs,message", [
    ({"seeds": 0}, "seeds must be >= 1, got 0"),
    ({"ensemble_sizes": (2, 4)}, r"ensemble_sizes must be increasing and start at 1, got \(2, 4\)"),
    ({"data_fraction": 0.0}, r"data_fraction must be in \(0, 1\], got 0.0"),
    ({"train_prompts": 144}, r"train_prompts must be in \[1, 143\], got 144"),
    ({"lm": "rnn"}, "lm must be 'transformer' or 'gru', got 'rnn'"),
])
def test_config_fails_if_out_of_range(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JailbreakTransferConfig(**kwargs)
