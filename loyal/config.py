# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Config loading shared by every TOML a user hands the `loyal` command (sim configs, method configs)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_toml(path: str | Path, error: type[Exception] = ValueError,
              missing: type[Exception] = FileNotFoundError) -> dict[str, Any]:
    """The TOML document at `path`.

    Raises:
      `missing`: no such file; `error`: not valid TOML (each message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise missing(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: not valid TOML: {e}") from None


__all__ = ["read_toml"]
