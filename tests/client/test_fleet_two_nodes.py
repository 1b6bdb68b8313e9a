# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal client fleet --ray-address` on a two-node local Ray cluster (`ray start --head` + `ray start --address`),
with Loyal shipped to the nodes from a wheel in the tasks' runtime_env (`--ray-wheel`)."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.client.test_fleet import DIGITS_MLP, _job
from tests.server.harness import InProcessServer, member_threads, tokens, wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
_PROBE = "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); print('alive', sum(n['Alive'] for n in ray.nodes()))"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_nodes(address: str) -> int:
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE, address], capture_output=True, text=True, timeout=60).stdout
    except subprocess.TimeoutExpired:
        return 0
    words = out.split()
    return int(words[words.index("alive") + 1]) if "alive" in words else 0


@contextlib.contextmanager
def _two_node_cluster():
    """A head and a worker node (one CPU each), each a blocking `ray start` in its own session, stopped by SIGTERM."""
    ray = shutil.which("ray", path=str(pathlib.Path(sys.executable).parent))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus", "1", "--block", "--disable-usage-stats"]
    quiet = dict(env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([ray, "start", "--head", "--port", str(port), "--include-dashboard", "false", *common], **quiet)]
    try:
        time.sleep(5)
        procs.append(subprocess.Popen([ray, "start", "--address", address, *common], **quiet))
        deadline = time.monotonic() + 120
        while _alive_nodes(address) != 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the two-node Ray cluster did not come up")
            time.sleep(2)
        yield address
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        # `ray start --head` records itself as the machine's current cluster; later ray.init() calls without an
        # address would try to join the stopped one.
        current = pathlib.Path("/tmp/ray/ray_current_cluster")
        with contextlib.suppress(OSError):
            if current.read_text().strip().endswith(f":{port}"):
                current.unlink()


@pytest.mark.slow
def test_fleet_spreads_over_two_ray_nodes_with_loyal_from_the_wheel(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True, timeout=180)
    (wheel,) = (tmp_path / "dist").glob("loyal_ai-*.whl")
    toks = tmp_path / "tokens.txt"
    toks.write_text("\n".join(tokens(4)) + "\n")
    job = _job(clients=4, rounds=1)
    with _two_node_cluster() as address, \
            InProcessServer(str(tmp_path / "s.db"), job, toks=tokens(4)) as srv, member_threads(srv.address, 3) as members:
        done = subprocess.run(
            [sys.executable, "-m", "loyal", "client", "fleet", "--server", srv.address, "--clients", "4", "--tokens-file",
             str(toks), "--workers", "4", "--local-steps", "1", "--ray-address", address, "--ray-wheel", str(wheel),
             "--insecure", "--json"], capture_output=True, text=True, timeout=420, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        wait_until(lambda: len(srv.coord.releases) == 1)
    assert all(isinstance(r, dict) for r in members.values()), members
    summary = json.loads(done.stdout)
    assert summary["rounds"] == {"0": {"accepted": 4, "refused": 0, "failed": 0}}
    results = summary["results"]
    assert len({r["node"] for r in results}) == 2  # SPREAD: both nodes ran clients
    # Every client imported Loyal from the folder Ray unpacked for the runtime_env, not from this checkout.
    assert all(not pathlib.Path(r["loyal"]).is_relative_to(ROOT) for r in results), [r["loyal"] for r in results]
    assert all(r["bytes"] > 4 * DIGITS_MLP for r in results)
