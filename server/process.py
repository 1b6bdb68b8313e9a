# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The persistent server as its own process (`python -m loyal server start`), as deployed: the Ray
simulation's gRPC backend and `loyal bench server` start it through this class."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

from loyal.protocols.ssa.job import Job
from loyal.server import limits
from loyal.server.certs import create_certificates


def write_port_file(path: str | os.PathLike, port: int) -> None:
    """Writes the bound port atomically (a reader never sees a partial file)."""
    tmp = pathlib.Path(f"{path}.tmp")
    tmp.write_text(str(port))
    tmp.replace(path)


def wait_for_port_file(proc: subprocess.Popen, path: pathlib.Path, timeout_s: float = 60.0) -> int:
    """The port a child process wrote with `write_port_file`.

    Raises:
      RuntimeError: the child exited or wrote nothing within `timeout_s` (it is killed).
    """
    end = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > end:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            raise RuntimeError(f"{' '.join(map(str, proc.args[:4]))} did not start within {timeout_s:.0f} s")
        time.sleep(0.05)
    return int(path.read_text())


class ServerProcess:
    """`python -m loyal server start --job FILE` on 127.0.0.1, restartable on the same store and port.

    Args:
      tls: serve TLS with fresh certificates in `folder/tls` (False: plaintext, loopback only).
      synchronous: the store's durability (`loyal server start --synchronous`).
    """

    def __init__(self, job: Job, folder: pathlib.Path, tokens: list[str], round_seconds: float, reissue_seconds: float,
                 *, tls: bool = True, synchronous: str = "NORMAL") -> None:
        limits.check_release_requests(job)  # the server process would refuse it: say so here, clearly
        self.folder, self.port = folder, 0
        self.tls = folder / "tls" if tls else None
        if self.tls is not None:
            create_certificates(self.tls)
        (folder / "job.json").write_text(json.dumps(job.to_json()))
        tokens_file = folder / "tokens"
        tokens_file.write_text("\n".join(tokens) + "\n")
        tokens_file.chmod(0o600)
        self.args = ["--db", str(self.db), *(["--tls-dir", str(self.tls)] if self.tls else []),
                     "--job", str(folder / "job.json"), "--tokens-file", str(tokens_file),
                     "--round-seconds", str(round_seconds), "--reissue-seconds", str(reissue_seconds),
                     "--synchronous", synchronous]
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def db(self) -> pathlib.Path:
        return self.folder / "server.db"

    @property
    def ca_pem(self) -> bytes:
        if self.tls is None:
            raise ValueError("this server runs plaintext: no CA")
        return (self.tls / "ca.crt").read_bytes()

    def start(self) -> None:
        port_file = self.folder / "port"
        port_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "loyal", "server", "start", "--port", str(self.port), "--port-file", str(port_file),
               "--insecure", *self.args]  # simulation jobs: unpinned member keys, seeded members
        with open(self.folder / "server.log", "ab") as log:  # a file, not a pipe: a full pipe would block the server
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ, OMP_NUM_THREADS="1"))
        try:
            self.port = wait_for_port_file(self.proc, port_file)
        except RuntimeError as e:
            raise RuntimeError(f"{e}: {(self.folder / 'server.log').read_text()[-1500:]}") from None

    def kill(self) -> None:
        """SIGKILL (a crash, not a shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (a shutdown: the server stops serving and closes its store)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
