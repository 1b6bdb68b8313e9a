# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""LoTA's gradient masking, LoTTO's disjoint tickets, the LoRA budget and a tiny end-to-end run."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from loyal.methods.harness.config import ConfigError, build_config
from loyal.methods.lota import adapt, maths, tasks
from loyal.methods.lota.experiment import LotaConfig, arms, run_arm, summarize

TINY = {"seeds": 2, "hidden": 16, "base_steps": 20, "task_steps": 8, "calib_steps": 4}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one torch thread (several spin-wait on the shared 2-core machine, see harness/lm.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def split() -> tasks.Split:
    return tasks.load_split(0)


@pytest.fixture()
def base() -> tasks.Mlp:
    torch.manual_seed(0)
    return tasks.Mlp(16)


def test_gradient_masking_leaves_every_unmasked_entry_bit_identical(split: tasks.Split, base: tasks.Mlp) -> None:
    # Prepare: a LoTA mask from a short calibration fine-tune.
    before = {n: t.clone() for n, t in base.state_dict().items()}
    calibrated = tasks.train(copy.deepcopy(base), split.x_train, split.y_train, tasks.TrainSettings(5, 1e-2), 0)
    mask = maths.lottery_mask(maths.task_vector(tasks.weights(calibrated), tasks.weights(base)), 0.9)
    # Execute: sparse adaptation with a large rate, so any leak would show.
    tasks.train(base, tasks.transform(split.x_train, "mirror"), split.y_train, tasks.TrainSettings(30, 5e-2), 1,
                masks=mask)
    # Assert
    after = base.state_dict()
    for n in before:
        if n in mask:
            assert torch.equal(after[n][~mask[n]], before[n][~mask[n]])
            assert (after[n][mask[n]] != before[n][mask[n]]).float().mean() > 0.9
        else:  # biases are not in the ticket
            assert torch.equal(after[n], before[n])
    assert all(p.requires_grad for p in base.parameters())


def test_train_fails_if_a_mask_names_a_missing_parameter(split: tasks.Split, base: tasks.Mlp) -> None:
    with pytest.raises(ValueError, match=r"masks name parameters the model lacks: \['fc9.weight'\]"):
        tasks.train(base, split.x_train, split.y_train, tasks.TrainSettings(1, 1e-3), 0,
                    masks={"fc9.weight": torch.ones(1, dtype=torch.bool)})


@pytest.mark.parametrize("rank", [1, 4])
def test_lora_trains_rank_times_in_plus_out_parameters_per_layer(base: tasks.Mlp, rank: int) -> None:
    expected = sum(rank * (layer.in_features + layer.out_features) for layer in (base.fc1, base.fc2, base.head))
    assert tasks.trainable_count(tasks.lora_model(copy.deepcopy(base), rank, 2.0 * rank)) == expected


def test_lora_merge_changes_only_weights_by_a_rank_r_update(split: tasks.Split, base: tasks.Mlp) -> None:
    merged, trainable = tasks.train_lora(base, split.x_train, split.y_train, tasks.TrainSettings(10, 1e-2), 0, rank=2, alpha=4.0)
    assert isinstance(merged, tasks.Mlp)
    assert trainable == 2 * (64 + 16 + 16 + 16 + 16 + 10)
    for layer in tasks.LAYERS:
        change = merged.state_dict()[f"{layer}.weight"] - base.state_dict()[f"{layer}.weight"]
        assert torch.linalg.matrix_rank(change).item() == 2
        assert torch.equal(merged.state_dict()[f"{layer}.bias"], base.state_dict()[f"{layer}.bias"])


def test_lotto_sequence_trains_disjoint_tickets_of_equal_size(split: tasks.Split, base: tasks.Mlp) -> None:
    settings = LotaConfig(**TINY).settings()
    out = adapt.run_sequence("lotto", base, split, settings, seed=0)
    total = sum(t.numel() for t in tasks.weights(base).values())
    assert out["disjoint"] is True
    assert out["trainable"] == [round(0.1 * total)] * len(tasks.TASKS)
    assert len(out["stages"]) == len(tasks.TASKS) + 1
    lota = adapt.run_merge("lota", base, split, settings, seed=0, scales=(1.0,))
    lotto = adapt.run_merge("lotto", base, split, settings, seed=0, scales=(1.0,))
    assert lotto["disjoint"] is True and lota["disjoint"] is False  # independent LoTA tickets overlap


def test_config_fails_if_lotto_masks_cannot_be_disjoint() -> None:
    with pytest.raises(ConfigError, match=r"sparsity must leave room for 3 disjoint LoTTO masks \(>= 0.667\), got 0.5"):
        build_config(LotaConfig, {"sparsity": 0.5})


def test_a_tiny_run_writes_metrics_and_both_figures(tmp_path) -> None:
    config = LotaConfig(**TINY)
    results = [run_arm(config, arm) for arm in arms(config)]
    metrics, figures = summarize(config, results, tmp_path)
    assert figures == ["forgetting_curves.png", "merge_accuracy.png"]
    assert all((tmp_path / f).stat().st_size > 1000 for f in figures)
    assert set(metrics["table"]) == set(adapt.ARMS)
    assert metrics["lotto_masks_disjoint"] is True
    # Forgetting is the drop from "just learned" to "final" on the first two tasks (its definition).
    for arm in adapt.ARMS:
        rs = [r for r in results if r["arm"] == arm]
        drops = [sum(r["sequence"]["stages"][i + 1][t] - r["sequence"]["stages"][-1][t]
                     for i, t in enumerate(tasks.TASKS[:-1])) / 2 for r in rs]
        assert metrics["table"][arm]["forgetting"]["mean"] == pytest.approx(sum(drops) / len(drops))
    json.dumps(metrics)
