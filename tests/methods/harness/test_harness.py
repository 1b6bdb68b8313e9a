# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The methods harness: config validation, run folders, registry, seeding, timing, and the Ray actor path."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from loyal.methods.harness import (
    ConfigError, Timer, get_method, list_methods, load_config, new_run_dir, run_method, seed_everything,
)
from loyal.methods.harness.actor import actor_options
from loyal.methods.harness.config import build_config


@dataclasses.dataclass(frozen=True)
class _Config:
    steps: int = 3
    rate: float = 0.5
    name: str = "a"
    sizes: tuple[int, ...] = (1, 2)
    flag: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")


def test_load_config_layers_defaults_quick_and_file(tmp_path) -> None:
    # Prepare
    path = tmp_path / "c.toml"
    path.write_text('rate = 2\nsizes = [4, 5]\n')
    # Execute
    config = load_config(_Config, path, {"steps": 7, "rate": 1.0})
    # Assert: the file wins over quick, quick over defaults; ints are accepted as floats.
    assert config == _Config(steps=7, rate=2.0, name="a", sizes=(4, 5), flag=False)


def test_load_config_accepts_one_table(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[method]\nsteps = 9\n")
    assert load_config(_Config, path).steps == 9


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stpes": 1}, "unknown config key 'stpes'"),
        ({"steps": 1.5}, "config key 'steps' must be an integer"),
        ({"steps": True}, "config key 'steps' must be an integer"),
        ({"rate": "x"}, "config key 'rate' must be a number"),
        ({"sizes": 3}, "config key 'sizes' must be a list"),
        ({"sizes": [1, "b"]}, "config key 'sizes' must be an integer"),
        ({"flag": 1}, "config key 'flag' must be true or false"),
        ({"steps": 0}, "steps must be >= 1, got 0"),
    ],
)
def test_build_config_fails_if_key_or_value_is_bad(values, message) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(_Config, values)


def test_load_config_fails_if_file_is_missing_or_not_toml(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(_Config, tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_Config, bad)


def test_new_run_dir_never_reuses_a_folder(tmp_path) -> None:
    first, second = new_run_dir(tmp_path, "m"), new_run_dir(tmp_path, "m")
    assert first != second and first.parent == second.parent == tmp_path / "methods" / "m"


def test_seed_everything_is_reproducible_and_rejects_negative_seeds() -> None:
    assert seed_everything(3).integers(1 << 30) == seed_everything(3).integers(1 << 30)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        seed_everything(-1)


def test_timer_accumulates_sections() -> None:
    timer = Timer()
    for _ in range(2):
        with timer.section("a"):
            pass
    assert set(timer.seconds) == {"a"} and timer.seconds["a"] >= 0


def test_registry_lists_every_present_method_and_rejects_unknown_names() -> None:
    names = [s.name for s in list_methods()]
    assert names[0] == "self_distillation"
    for spec in list_methods():  # every quick config is valid
        load_config(spec.config_cls, None, spec.quick)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        get_method("nope")


def test_actor_options_ask_for_a_gpu_only_when_cuda_is_present() -> None:
    import torch

    options = actor_options()
    assert options["num_gpus"] == (1 if torch.cuda.is_available() else 0)
    assert 0 < options["num_cpus"] <= 1


@pytest.mark.ray
def test_ray_actors_give_the_same_result_as_plain_functions(ray_cluster, tmp_path) -> None:
    # Prepare
    spec = get_method("self_distillation")
    config = load_config(spec.config_cls, None, dict(spec.quick) | {"dims": (2, 4), "diabetes_seeds": 1})
    # Execute
    local, _ = run_method("self_distillation", config, out=tmp_path, quick=True)
    remote, run_dir = run_method("self_distillation", config, out=tmp_path, quick=True, use_ray=True, max_actors=1)
    # Assert
    assert remote.executor == "ray" and local.executor == "local"
    np.testing.assert_allclose(remote.metrics["diabetes_test_mse_mean"]["ridge"], local.metrics["diabetes_test_mse_mean"]["ridge"])
    assert remote.metrics["synthetic"] == local.metrics["synthetic"]
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["executor"] == "ray" and saved["seeds"] == [0]
