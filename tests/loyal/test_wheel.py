# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The wheel carries everything the CLI needs: built here, installed into a fresh venv outside the
checkout, `loyal chain demo` and `loyal dpftrl rmse` run from a temporary folder."""

from __future__ import annotations

import json
import os
import pathlib
import site
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Package data the CLI reads through importlib.resources (contract artifacts, configs, benchmarks, Flower apps).
SHIPPED = ("loyal/contracts/build/OMLRegistry.json", "loyal/contracts/build/SsaLogAnchor.json",
           "loyal/configs/digits.toml", "loyal/benchmarks/flower.py", "loyal/benchmarks/dpftrl.py",
           "loyal/sim/apps/loyal/pyproject.toml", "loyal/sim/apps/secaggplus/pyproject.toml",
           "loyal/methods/kit/data/shakespeare_vocab.json")


RMSE_ARGS = ["dpftrl", "rmse", "--mechanism", "banded-toeplitz", "--steps", "64", "--participations", "2",
             "--min-separation", "32", "--bands", "8", "--json"]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd[:4]} failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
    return done


@pytest.mark.slow
def test_wheel_installs_outside_the_checkout_and_runs_the_cli(tmp_path) -> None:
    # Prepare: build the wheel (no dependencies, this venv's setuptools).
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
          str(ROOT)], timeout=120)
    (wheel,) = (tmp_path / "dist").glob("loyal_ai-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [n for n in SHIPPED if n not in names], sorted(n for n in SHIPPED if n not in names)
    # A fresh venv gets the wheel first (pip then sees only that venv), then this venv's third-party packages
    # through a .pth line: a plain path, so the editable finder of the checkout is never activated.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=60)
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)], timeout=120)
    purelib = pathlib.Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (purelib / "zz_dev_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["LOYAL_CACHE_DIR"] = str(tmp_path / "cache")
    # Execute
    where = _run([str(py), "-c", "import loyal.app, loyal.contracts; print(loyal.contracts.__file__)"], cwd=work, env=env)
    chain = _run([str(venv / "bin" / "loyal"), "chain", "demo", "--json"], cwd=work, env=env, timeout=120)
    rmse = _run([str(venv / "bin" / "loyal"), *RMSE_ARGS], cwd=work, env=env, timeout=120)
    # Assert: the installed copy ran (not the checkout), the registry verdict, and the rmse of the same
    # arguments in this checkout's process (`loyal.cli.dpftrl`).
    assert pathlib.Path(where.stdout.strip()).is_relative_to(purelib)
    assert json.loads(chain.stdout)["verdict"] == "owned"
    got = json.loads(rmse.stdout)
    ours = json.loads(_run([sys.executable, "-m", "loyal", *RMSE_ARGS], cwd=ROOT).stdout)  # the checkout, same args
    assert got["mechanism"] == "banded-toeplitz" and got["steps"] == 64
    assert got["rmse"] == pytest.approx(ours["rmse"], rel=1e-12)


def test_shipped_config_loads_by_name_from_package_data() -> None:
    from loyal.sim.config import load_config

    assert load_config("digits") == load_config(ROOT / "configs" / "digits.toml")
    with pytest.raises(ValueError, match="config file not found: nope"):
        load_config("nope")
