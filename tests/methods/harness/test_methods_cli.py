# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal methods list` and `loyal methods run` (the fastest method, --quick)."""

from __future__ import annotations

import json

from loyal.app import main


def test_methods_list_names_paper_claim_and_quick_runtime(capsys) -> None:
    assert main(["methods", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["name"] == "self_distillation")
    assert row["paper"] == "arXiv 2407.04600" and row["quick_runtime"] and "factor d" in row["reproduces"]


def test_methods_run_quick_writes_result_json_and_png(tmp_path, capsys) -> None:
    assert main(["methods", "run", "self_distillation", "--quick", "--out", str(tmp_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    (run_dir,) = (tmp_path / "methods" / "self_distillation").iterdir()
    saved = json.loads((run_dir / "result.json").read_text())
    assert printed["run_dir"] == str(run_dir) and saved["quick"] is True
    assert {"method", "paper", "config", "seeds", "timings", "metrics", "environment", "figures"} <= set(saved)
    assert saved["figures"] and all((run_dir / f).stat().st_size > 1000 for f in saved["figures"])


def test_methods_run_fails_if_config_key_is_unknown(tmp_path, capsys) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("noise_sdt = 0.1\n")
    assert main(["methods", "run", "self_distillation", "--config", str(config), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown config key 'noise_sdt'" in err


def test_methods_run_fails_if_config_value_is_bad(tmp_path, capsys) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("noise_std = -1.0\n")
    assert main(["methods", "run", "self_distillation", "--config", str(config), "--out", str(tmp_path)]) == 2
    assert "noise_std must be > 0, got -1.0" in capsys.readouterr().err
    assert not (tmp_path / "methods").exists()  # validated before any work


def test_methods_run_fails_if_method_is_unknown(capsys) -> None:
    assert main(["methods", "run", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
