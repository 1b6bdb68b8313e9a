# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Method configs: a TOML file validated against the method's frozen dataclass, errors naming the key."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loyal.config import read_toml


class ConfigError(ValueError):
    """A config key is unknown or its value is invalid; the message names the key."""


def _check_type(key: str, value: Any, annotation: Any) -> Any:
    """Returns `value` if it fits `annotation` (int, float, str, bool, tuple[...] of those); ints pass as floats."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {key!r} must be a list, got {value!r}")
        (item, *rest) = typing.get_args(annotation)
        return tuple(_check_type(key, v, item) for v in value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key!r} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key {key!r} must be a string, got {value!r}")
        return value
    raise AssertionError(f"unsupported config annotation {annotation!r} for {key!r}")


def build_config(config_cls: type, values: Mapping[str, Any]) -> Any:
    """Builds `config_cls(**values)` after checking every key exists and has the declared type.

    Raises:
      ConfigError: an unknown key, a value of the wrong type, or a value the dataclass rejects (its
        `__post_init__` messages start with the key name, e.g. "dim must be >= 2, got 1").
    """
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    checked = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"unknown config key {key!r}; known: {', '.join(sorted(fields))}")
        checked[key] = _check_type(key, value, hints[key])
    try:
        return config_cls(**checked)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(f"bad config value: {e}") from None


def load_config(config_cls: type, path: str | Path | None = None, quick_overrides: Mapping[str, Any] | None = None) -> Any:
    """The config of one run: defaults, then `quick_overrides` (for `--quick`), then the TOML file's keys.

    Args:
      config_cls: the method's frozen dataclass config.
      path: a TOML file of top-level `key = value` lines (a `[method]` table is also accepted), or None.
      quick_overrides: the method's quick settings, or None for the full run.

    Raises:
      ConfigError: a bad key or value (naming it); FileNotFoundError: `path` does not exist.
    """
    values: dict[str, Any] = dict(quick_overrides or {})
    if path is not None:
        data = read_toml(path, ConfigError)
        if len(data) == 1 and isinstance(next(iter(data.values())), dict):
            data = next(iter(data.values()))
        values.update(data)
    return build_config(config_cls, values)
