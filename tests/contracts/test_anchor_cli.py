# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal server anchor` deploys the log authority with the server's chain key ($LOYAL_ANCHOR_KEY)."""

from __future__ import annotations

import pytest

from loyal.app import main
from loyal.contracts.anchor import AnchorClient
from loyal.contracts.chain import open_chain

# hardhat's first dev account: a public key, fine for a throwaway local node.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.mark.hardhat
def test_server_anchor_deploys_with_the_anchor_key(hardhat_url, monkeypatch, capsys):
    monkeypatch.setenv("LOYAL_ANCHOR_KEY", DEV_KEY)
    assert main(["server", "anchor", "--chain-rpc", hardhat_url]) == 0
    address = capsys.readouterr().out.strip()
    anchor = AnchorClient(open_chain(hardhat_url, state_path=None), address, None)  # refuses an address without code
    assert anchor.rounds(b"\x01" * 32) == 0


def test_server_anchor_without_a_key_is_one_line(monkeypatch, capsys):
    monkeypatch.delenv("LOYAL_ANCHOR_KEY", raising=False)
    assert main(["server", "anchor", "--chain-rpc", "http://127.0.0.1:1"]) == 2
    assert "set LOYAL_ANCHOR_KEY" in capsys.readouterr().err
