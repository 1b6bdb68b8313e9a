# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Golden RLWE vectors: primes, public polynomials and ciphertexts pinned by hash (style.md §5)."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[2] / "golden"


def _generator():
    spec = importlib.util.spec_from_file_location("make_rlwe_golden", GOLDEN / "make_rlwe_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("rlwe_*.json")), ids=lambda p: p.stem)
def test_rlwe_golden_vector(path: pathlib.Path) -> None:
    # Values came from a trusted run of tests/golden/make_rlwe_golden.py; exact equality (integers).
    expected = json.loads(path.read_text())
    got = _generator().compute(expected["parameter_set"], expected["seed"], expected["dim"], expected["plaintext_bits"])
    for key, value in got.items():
        assert value == expected[key], key
    assert got["decrypted_head"] == got["plaintext_head"]


def test_golden_files_exist() -> None:
    assert len(list(GOLDEN.glob("rlwe_*.json"))) >= 2
