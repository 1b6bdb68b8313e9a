# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal flower run` / `loyal bench flower`: the Flower Apps submitted with `flwr run` to a local
simulation SuperLink, the Loyal app (SSA + DP-FTRL) and the SecAgg+ baseline side by side.

The apps are the ones `examples/flower-app` names (`loyal.sim.flower_app`, `loyal.sim.flower_secaggplus`);
their pyproject files ship as package data (`loyal/sim/apps/*`). We start the SuperLink ourselves
(`flower-superlink --simulation`, free ports, runtime dependency installation off: nothing is
downloaded) with FLWR_HOME in a temporary folder, run `flwr run APP --stream` against it, read the JSON
report each ServerApp writes, and stop the SuperLink we started. Each run starts its own Ray cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import numpy as np

from loyal.sim.flower_app import AppConfig

logger = logging.getLogger(__name__)

APPS = ("loyal", "secaggplus")


@dataclasses.dataclass(frozen=True)
class FlowerConfig:
    """A side-by-side run.

    Attributes:
      app: the run config both apps get (task, rounds, z, clip, committee, SecAgg+ shares ...).
      clients: training nodes (>= 2). The Loyal app runs clients + committee_size nodes, SecAgg+ `clients`.
      num_shares: SecAgg+ shares per client; odd (Flower's secaggplus_mod fails on even values), in [3, clients].
      reconstruction_threshold: SecAgg+ threshold in [2, num_shares].
      apps: which apps run, a non-empty subset of APPS (default both; the round-time ratio needs both).
      actors: Ray CPUs of each simulation, i.e. ClientApp actors (0 = Flower's default: every CPU). One
        actor imports the app once instead of once per CPU: faster for small runs on a loaded machine.
    """

    app: AppConfig = AppConfig()
    clients: int = 5
    num_shares: int = 3
    reconstruction_threshold: int = 2
    apps: tuple[str, ...] = APPS
    actors: int = 0

    def __post_init__(self) -> None:
        if self.clients < 2:
            raise ValueError(f"clients must be >= 2, got clients={self.clients}")
        if self.num_shares % 2 == 0 or not 3 <= self.num_shares <= self.clients:
            raise ValueError(
                f"num_shares must be odd and in [3, clients={self.clients}] (an even value crashes Flower's "
                f"secaggplus_mod), got num_shares={self.num_shares}"
            )
        if not self.apps or not set(self.apps) <= set(APPS):
            raise ValueError(f"apps must be a non-empty subset of {APPS}, got apps={self.apps}")
        if self.actors < 0:
            raise ValueError(f"actors must be >= 0, got actors={self.actors}")
        if not 2 <= self.reconstruction_threshold <= self.num_shares:
            raise ValueError(
                f"reconstruction_threshold must be in [2, num_shares={self.num_shares}], got {self.reconstruction_threshold}"
            )


def app_dir(name: str) -> pathlib.Path:
    """The packaged Flower App folder `name` (one of APPS)."""
    if name not in APPS:
        raise ValueError(f"app must be one of {APPS}, got {name!r}")
    path = resources.files("loyal.sim") / "apps" / name
    return pathlib.Path(str(path))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_superlink(timeout_s: float = 60.0) -> Iterator[dict[str, str]]:
    """Starts `flower-superlink --simulation` on free ports with a temporary FLWR_HOME; yields the
    environment under which `flwr run` uses it (Flower's `local` connection); stops it on exit."""
    bindir = pathlib.Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="flwr-home-") as home:
        http, control = _free_port(), _free_port()
        env = {**os.environ, "FLWR_HOME": home, "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(http),
               "FLWR_LOCAL_CONTROL_API_PORT": str(control), "FLWR_DISABLE_UPDATE_CHECK": "1",
               "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
        log = pathlib.Path(home) / "superlink.log"
        cmd = [str(bindir / "flower-superlink"), "--insecure", "--simulation", "--isolation", "subprocess",
               "--control-api-address", f"127.0.0.1:{control}", "--host", "127.0.0.1", "--port", str(http),
               "--disable-runtime-dependency-installation", "--log-file", str(log)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_healthy(proc, http, timeout_s, log)
            yield env
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(proc: subprocess.Popen, port: int, timeout_s: float, log: pathlib.Path) -> None:
    import httpx

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"flower-superlink exited with code {proc.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).is_success:
                return
        time.sleep(0.2)
    raise RuntimeError(f"flower-superlink did not become healthy within {timeout_s:.0f} s; see {log}")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def federation_config(num_supernodes: int, actors: int = 0) -> str:
    """The `flwr run --federation-config` value: simulated nodes and, if `actors` > 0, Ray CPUs."""
    out = f"num-supernodes={num_supernodes}"
    return out + (f" init-args-num-cpus={actors} client-resources-num-cpus=1" if actors else "")


def flwr_run(app: pathlib.Path | str, config: AppConfig, num_supernodes: int, env: dict[str, str],
             actors: int = 0, timeout_s: float = 1800.0) -> dict[str, Any]:
    """`flwr run APP --stream` with `config` as run config on `num_supernodes` simulated nodes; returns the
    report the ServerApp wrote. `actors` > 0 limits the simulation's Ray CPUs (one ClientApp actor each).

    Raises:
      RuntimeError: the run failed or wrote no report (the message carries the tail of flwr's output).
    """
    with tempfile.TemporaryDirectory(prefix="loyal-flower-") as tmp:
        report = pathlib.Path(tmp) / "report.json"
        values = {**dataclasses.asdict(config), "report_path": str(report)}
        run_config = " ".join(f"{k.replace('_', '-')}={_toml_value(v)}" for k, v in values.items())
        cmd = [str(pathlib.Path(sys.executable).parent / "flwr"), "run", str(app), "--stream",
               "--federation-config", federation_config(num_supernodes, actors), "--run-config", run_config]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s, cwd=tmp)
        if done.returncode != 0 or not report.is_file():
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise RuntimeError(f"flwr run {app} failed (exit {done.returncode}):\n" + "\n".join(tail))
        out = json.loads(report.read_text(encoding="utf-8"))
        out["flwr_run_wall_s"] = time.perf_counter() - t0
        return out


def run_flower(fc: FlowerConfig, on_app: Callable[[str, bool], None] | None = None) -> dict[str, Any]:
    """Both apps on the same task and training nodes, one SuperLink; returns the side-by-side report.

    Args:
      on_app: called with (path name, finished) as each app's `flwr run` starts and ends (progress).
    """
    app = dataclasses.replace(fc.app, num_shares=fc.num_shares, reconstruction_threshold=fc.reconstruction_threshold)
    runs = {}
    note = on_app or (lambda name, done: None)
    with local_superlink() as env:
        if "loyal" in fc.apps:
            nodes = fc.clients + app.committee_size
            note("ssa+dpftrl", False)
            runs["ssa+dpftrl"] = flwr_run(app_dir("loyal"), dataclasses.replace(app, min_nodes=nodes), nodes, env, fc.actors)
            note("ssa+dpftrl", True)
        if "secaggplus" in fc.apps:
            note("secagg+ + dp", False)
            runs["secagg+ + dp"] = flwr_run(app_dir("secaggplus"), dataclasses.replace(app, min_nodes=fc.clients),
                                            fc.clients, env, fc.actors)
            note("secagg+ + dp", True)
    rows = {}
    for name, r in runs.items():
        h = r["history"]
        steady = h[1:] or h  # round 1 includes starting Flower's Ray actors
        rows[name] = {
            "round_s_mean": float(np.mean([x["seconds"] for x in steady])) if h else float("nan"),
            "bytes_up_per_client_round": r["bytes_up_per_client_round"],
            "bytes_down_per_client_round": r["bytes_down_per_client_round"],
            "test_accuracy": h[-1].get("test_accuracy", float("nan")) if h else float("nan"),
            "epsilon": r["privacy"]["epsilon"], "delta": r["privacy"]["delta"], "mechanism": r["privacy"]["mechanism"],
            "wall_s": r["flwr_run_wall_s"], "history": h,
        }
        if "committee_bytes_up" in r:
            rows[name].update(committee_bytes_up=r["committee_bytes_up"], committee_bytes_down=r["committee_bytes_down"],
                              accepted=[x["accepted"] for x in h], parameter_set=r["privacy"]["parameter_set"])
    both = len(rows) == 2
    ratio = rows["ssa+dpftrl"]["round_s_mean"] / rows["secagg+ + dp"]["round_s_mean"] if both else None
    return {"clients": fc.clients, "rounds": app.num_rounds, "committee_size": app.committee_size,
            "num_shares": fc.num_shares, "reconstruction_threshold": fc.reconstruction_threshold, "task": app.task,
            "paths": rows, "round_time_ratio_ssa_vs_secaggplus": ratio,
            "round_time_note": "mean over rounds >= 2 (round 1 starts actors); both apps ran with `flwr run` on a local simulation SuperLink"}
