# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal dpftrl` JSON contracts and one-line errors with exit code 2, through loyal.app.main."""

from __future__ import annotations

import json
import re

import pytest

from loyal.app import main
from loyal.protocols.dpftrl import accounting, build_mechanism


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_rmse_contract(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["dpftrl", "rmse", "--mechanism", "tree", "--steps", "16", "--json"])
    assert list(out) == ["mechanism", "steps", "rmse", "max_error", "sensitivity"]
    expected = build_mechanism("tree", 16)
    assert out["rmse"] == pytest.approx(expected.rmse()) and out["sensitivity"] == pytest.approx(5**0.5)


def test_rmse_multi_participation(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dpftrl", "rmse", "--mechanism", "banded-toeplitz", "--steps", "16", "--participations", "2",
            "--min-separation", "8", "--bands", "4", "--json"]
    out = _json(capsys, argv)
    assert out["rmse"] == pytest.approx(
        build_mechanism("banded-toeplitz", 16, participations=2, min_separation=8, bands=4).rmse()
    )


def test_epsilon_contract(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["dpftrl", "epsilon", "--noise-multiplier", "4", "--sensitivity", "2",
                         "--delta", "1e-6", "--accountant", "rdp", "--json"])
    assert list(out) == ["epsilon", "rho", "accountant"]
    assert out["epsilon"] == pytest.approx(accounting.epsilon(2.0, 1e-6, accountant="rdp"))
    assert out["rho"] == pytest.approx(0.125)
    out = _json(capsys, ["dpftrl", "epsilon", "--rho", "0.81", "--delta", "1e-10", "--json"])
    assert out["epsilon"] == pytest.approx(accounting.zcdp_epsilon(0.81, 1e-10))


def test_calibrate_contract(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["dpftrl", "calibrate", "--epsilon", "3", "--delta", "1e-6", "--mechanism",
                         "identity", "--steps", "8", "--participations", "4", "--accountant", "rdp", "--json"])
    assert out["sensitivity"] == pytest.approx(2.0)
    assert out["achieved_epsilon"] <= 3.0
    assert accounting.epsilon(out["noise_stddev"], 1e-6, sensitivity=2.0, accountant="rdp") <= 3.0


def test_plot_writes_png(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    target = tmp_path / "err.png"
    out = _json(capsys, ["dpftrl", "plot", "--steps", "16", "--mechanisms", "identity,tree,tree-honaker",
                         "--out", str(target), "--json"])
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [m["mechanism"] for m in out["mechanisms"]] == ["identity", "tree", "tree-honaker"]


@pytest.mark.parametrize(
    "argv,match",
    [
        (["rmse", "--mechanism", "tree", "--steps", "10", "--participations", "4", "--min-separation", "4"],
         "impossible participation schema"),
        (["epsilon", "--noise-multiplier", "-1", "--delta", "1e-6"], "noise_multiplier must be a finite number >= 0"),
        (["epsilon", "--noise-multiplier", "1", "--delta", "1.5"], r"delta must be in \(0, 1\)"),
        (["rmse", "--mechanism", "fancy", "--steps", "8"], "unknown mechanism 'fancy'"),
        (["rmse", "--mechanism", "banded-toeplitz", "--steps", "8", "--bands", "9"], "too many bands"),
        (["plot", "--steps", "8", "--mechanisms", "tree,nope", "--out", "x.png"], "unknown mechanism 'nope'"),
        (["epsilon", "--delta", "1e-6"], "--noise-multiplier .or --rho. is required"),
    ],
)
def test_dpftrl_fails_if_bad_input(capsys: pytest.CaptureFixture[str], argv: list[str], match: str) -> None:
    assert main(["dpftrl", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("loyal dpftrl: error: ")
    assert re.search(match, err)
