# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Tests of `loyal ssa params` and `loyal ssa selftest` (JSON contract and exit codes)."""

from __future__ import annotations

import argparse
import json

import pytest

from loyal.cli import ssa


def _run(argv: list[str]) -> int:
    # Only the `ssa` group is registered: building the full `loyal` parser imports every group.
    parser = argparse.ArgumentParser(prog="loyal")
    ssa.register(parser.add_subparsers(dest="group"), "ssa")
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert _run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_params_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["ssa", "params", "--dim", "100000", "--clients", "1000", "--json"])
    for key in ("ring_degree", "moduli_bits", "plaintext_bits", "bytes_per_client", "expansion", "security_bits"):
        assert key in out
    assert out["security_bits"] == 128
    assert out["expansion"] == pytest.approx(out["bytes_per_client"] / 400_000, rel=1e-3)


def test_selftest_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(
        capsys,
        ["ssa", "selftest", "--clients", "3", "--dim", "40", "--rounds", "2", "--noise-multiplier", "0",
         "--committee", "3", "--threshold", "2", "--json"],
    )
    assert out["release_count"] == 2
    # Stated bound: |error| < clients·rounds·quantization_step with noise multiplier 0.
    assert out["max_abs_error"] < 3 * 2 * out["quantization_step"]


def test_selftest_fails_if_threshold_exceeds_committee() -> None:
    # ValueError is what `loyal/app.py` turns into one line on stderr and exit code 2.
    with pytest.raises(ValueError, match=r"threshold must be in \[1, 3\], got 4"):
        _run(["ssa", "selftest", "--clients", "2", "--dim", "4", "--rounds", "1", "--committee", "3", "--threshold", "4"])


def test_params_fails_if_clients_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"clients must be in \[1, 10000000\], got 100000000"):
        _run(["ssa", "params", "--dim", "10", "--clients", "100000000"])
