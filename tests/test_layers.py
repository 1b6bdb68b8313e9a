# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Import rules between the layers (style guide §1), read from the source with `ast` (nothing is imported)."""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Callable, Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _imports_grpc(module: str) -> bool:
    """grpc itself, its submodules, or a generated `_pb2_grpc` service stub (which imports grpc)."""
    return module == "grpc" or module.startswith("grpc.") or any(p.endswith("_pb2_grpc") for p in module.split("."))


def _imports_cli(module: str) -> bool:
    """The `loyal` command line: `loyal.cli.*` or `loyal.app`."""
    return any(module == m or module.startswith(m + ".") for m in ("loyal.cli", "loyal.app"))


#: Rule name -> (folder, its package, predicate on every imported dotted module name).
RULES: dict[str, tuple[str, str, Callable[[str], bool]]] = {
    "protocols_import_no_grpc": ("protocols", "loyal.protocols", _imports_grpc),
    "server_imports_no_cli": ("server", "loyal.server", _imports_cli),
}


def imported_modules(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import in `source`, at any depth, relative ones resolved.

    Args:
      source: Python source text.
      package: the package the module belongs to (resolves `from . import x`).

    Returns:
      An iterator; `from a import b` yields both `a` and `a.b` (b may be a module).
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _violations(folder: str, package: str, forbidden: Callable[[str], bool]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT / folder)
        module_package = ".".join([package, *rel.parent.parts])
        for line, module in imported_modules(path.read_text(), module_package):
            if forbidden(module):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("rule", sorted(RULES))
def test_layer_imports(rule):
    folder, package, forbidden = RULES[rule]
    assert (ROOT / folder).is_dir()
    assert _violations(folder, package, forbidden) == []


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("import grpc", "loyal.protocols.proto", True),
        ("import grpc.aio as aio", "loyal.protocols.proto", True),
        ("from grpc import aio", "loyal.protocols.proto", True),
        ("def f():\n    from loyal.rpc import client_pb2_grpc", "loyal.protocols.proto", True),
        ("from .loyal.v1 import health_pb2_grpc", "loyal.protocols.proto", True),
        ("import grpc_tools", "loyal.protocols.proto", False),
        ("from loyal.protocols.proto.loyal.v1 import client_pb2", "loyal.protocols.proto", False),
    ],
)
def test_imports_grpc_detects_every_form(source, package, expected):
    # The rule above is only as good as this detector: every import form counts, none too many.
    assert any(_imports_grpc(m) for _, m in imported_modules(source, package)) is expected


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("from loyal.cli import server as server_cli", "loyal.server", True),
        ("import loyal.app", "loyal.server", True),
        ("from loyal import cli", "loyal.server", True),
        ("from .. import app", "loyal.server", True),
        ("from loyal.client import constants", "loyal.server", False),
        ("from loyal import errors", "loyal.server", False),
        ("from . import limits", "loyal.server", False),
    ],
)
def test_imports_cli_detects_every_form(source, package, expected):
    assert any(_imports_cli(m) for _, m in imported_modules(source, package)) is expected
