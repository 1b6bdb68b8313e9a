# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The distribution ships every package: each folder with an __init__.py under a mapped root is listed."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, roots = set(tool["packages"]), tool["package-dir"]
    found = set()
    for name, folder in roots.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join((name, *rel.parts)))
    missing = sorted(found - listed)
    assert not missing, f"packages missing from pyproject [tool.setuptools] packages: {missing}"
    extra = sorted(listed - found)
    assert not extra, f"listed packages without an __init__.py: {extra}"
