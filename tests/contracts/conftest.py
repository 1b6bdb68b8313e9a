# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Chains for the registry tests: the embedded py-evm chain and a `npx hardhat node` on a free local port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from loyal.contracts.artifacts import CONTRACTS_DIR
from loyal.contracts.chain import Chain, insecure_dev_account, open_chain
from loyal.contracts.client import ConfigRecord, OMLRegistryClient

_HARDHAT = CONTRACTS_DIR / "node_modules" / ".bin" / "hardhat"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rpc_ready(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as reply:
            return "result" in json.loads(reply.read())
    except OSError:
        return False


@pytest.fixture(scope="session")
def hardhat_url():
    """Starts `npx hardhat node` on 127.0.0.1:<free port>; stops it after the session."""
    if not _HARDHAT.exists() or shutil.which("node") is None:
        pytest.skip("contracts/node_modules is absent (run `make install`, which runs `npm ci` in contracts/)")
    port = _free_port()
    env = dict(os.environ, HARDHAT_DISABLE_TELEMETRY_PROMPT="true")
    proc = subprocess.Popen(
        [str(_HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=CONTRACTS_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _rpc_ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"hardhat node did not start on {url} (exit code {proc.poll()})")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of the process this fixture started
        proc.wait(timeout=10)


#: Deployment parameters of the test registries: 0.001 ether to join; 3-day notice; 1-day windows.
CONFIG = ConfigRecord(min_host_stake=10**15, notice_period=3 * 86400, reveal_window=86400, dispute_window=86400,
                      voting_window=86400)
ARBITERS = ("arbiter-1", "arbiter-2", "arbiter-3")
QUORUM = 2


@dataclass
class Env:
    """A fresh registry on one chain with funded owner, host, stranger and arbiter accounts (quorum 2 of 3)."""

    chain: Chain
    registry: OMLRegistryClient
    owner: LocalAccount
    host: LocalAccount
    stranger: LocalAccount
    arbiters: tuple[LocalAccount, ...]


_CHAINS: dict[str, Chain] = {}


@pytest.fixture(params=["embedded", pytest.param("hardhat", marks=pytest.mark.hardhat)])
def env(request) -> Env:
    """Deploys a registry per test on the embedded chain and on a hardhat node (same tests on both)."""
    if request.param not in _CHAINS:
        url = request.getfixturevalue("hardhat_url") if request.param == "hardhat" else None
        chain = open_chain(url, state_path=None)
        for role in ("owner", "host", "stranger", *ARBITERS):
            chain.ensure_funded(insecure_dev_account(role).address, 1000 * 10**18)
        _CHAINS[request.param] = chain
    chain = _CHAINS[request.param]
    owner = insecure_dev_account("owner")
    arbiters = tuple(insecure_dev_account(role) for role in ARBITERS)
    registry, _ = OMLRegistryClient.deploy(chain, owner, [a.address for a in arbiters], QUORUM, CONFIG)
    return Env(chain, registry, owner, insecure_dev_account("host"), insecure_dev_account("stranger"), arbiters)


@pytest.fixture
def world(env):
    """A registered model with an unlicensed pirate and a licensed host (`challenge_world.World`)."""
    from tests.contracts.challenge_world import World

    return World(env)
