# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Chains the registry runs on: the embedded py-evm chain (journaled to a file) or any JSON-RPC node.

Persistence of the embedded chain: every transaction is sent as a raw signed transaction and its bytes are
appended to a journal. Opening the chain again replays the journal on a fresh `EthereumTesterProvider`; the
genesis, the test accounts, the nonces, the gas prices and the (RFC 6979) signatures are all deterministic,
so the replayed chain has the same contracts, storage and addresses. The registry reads block timestamps
(licence periods, offer expiry, challenge windows), so the journal also records the genesis timestamp and each
transaction's block timestamp, and the replay mines every transaction at its recorded time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from eth_tester import EthereumTester, PyEVMBackend
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import TxReceipt

from loyal.contracts.errors import ChainError, decode_revert, revert_data_of

__all__ = ["Chain", "open_chain", "insecure_dev_account", "default_state_path"]

logger = logging.getLogger(__name__)

_JOURNAL_FORMAT = "loyal-embedded-chain/2"
T = TypeVar("T")


def insecure_dev_account(role: str) -> LocalAccount:
    """Returns a deterministic, PUBLIC test key for `role` ("owner", "host", ...): test chains only.

    The key is keccak256("loyal-insecure-dev-account:" + role); anyone can derive it.
    """
    if not role:
        raise ValueError("role must be a non-empty string, got ''")
    return Account.from_key(keccak(f"loyal-insecure-dev-account:{role}".encode()))


def default_state_path(rpc_url: str | None) -> Path:
    """Returns the state file: `$LOYAL_CACHE_DIR/chain/embedded.json` or `.../rpc-<hash>.json`."""
    root = os.environ.get("LOYAL_CACHE_DIR")
    if root is None:
        import platformdirs

        root = platformdirs.user_cache_dir("loyal")
    name = "embedded.json" if rpc_url is None else f"rpc-{hashlib.sha256(rpc_url.encode()).hexdigest()[:12]}.json"
    return Path(root) / "chain" / name


@dataclass
class Chain:
    """A web3 connection that signs and sends transactions, with an optional journal (embedded chain).

    Attributes:
      w3: the connection.
      kind: "embedded" or "rpc".
      state_path: JSON file holding the deployment address (and, for the embedded chain, the journal);
        None keeps everything in memory.
      state: the loaded state dict (`registry`, `transactions`).
    """

    w3: Web3
    kind: str
    state_path: Path | None = None
    state: dict[str, Any] = field(default_factory=dict)
    _faucet: LocalAccount | None = field(default=None, repr=False)
    abi_for_errors: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def chain_id(self) -> int:
        """The chain id."""
        return int(self.w3.eth.chain_id)

    def call(self, fn: Callable[[], T]) -> T:
        """Runs `fn`, turning a revert into the registry's Python exception (see `errors.decode_revert`)."""
        try:
            return fn()
        except Exception as e:  # web3 / eth-tester raise several unrelated types for reverts
            data = revert_data_of(e)
            error = decode_revert(self.abi_for_errors, data) if data is not None else None
            if error is not None:
                raise error from e
            raise

    def send(self, account: LocalAccount, tx: dict[str, Any]) -> TxReceipt:
        """Signs `tx` with `account`, sends it raw, waits for the receipt and journals it.

        Args:
          account: the sender's key.
          tx: a transaction dict from `build_transaction` (nonce and chain id are filled in here).

        Raises:
          RegistryRevert: if gas estimation reverts with a registry error.
          ChainError: if the mined transaction failed.
        """
        tx = dict(tx)
        tx["from"] = account.address
        tx["nonce"] = self.w3.eth.get_transaction_count(account.address)
        tx["chainId"] = self.chain_id
        if "gas" not in tx:
            tx["gas"] = self.call(lambda: self.w3.eth.estimate_gas(tx))
        if self.kind == "rpc" and tx.get("data"):
            # hardhat's estimate can fall a few thousand gas short of the mined run (seen on disputeClaim: 54,387
            # estimated, 56,766 used); the margin only raises the limit, the gas used is unchanged.
            tx["gas"] = int(tx["gas"]) * 5 // 4 + 10_000
        raw = bytes(account.sign_transaction(tx).raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(raw))
        if receipt["status"] != 1:
            raise ChainError(f"transaction {receipt['transactionHash'].hex()} failed (status 0)")
        if self.kind == "embedded":
            timestamp = int(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
            self.state.setdefault("transactions", []).append({"raw": "0x" + raw.hex(), "timestamp": timestamp})
            self.save()
        return receipt

    def now(self) -> int:
        """The latest block's timestamp (the registry's clock)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> int:
        """Moves the chain's clock forward by `seconds` and mines a block; returns the new time (test chains).

        The embedded chain's journal needs no entry: later transactions record their own timestamps.

        Raises:
          ValueError: if `seconds` < 1.
        """
        if seconds < 1:
            raise ValueError(f"seconds must be ≥ 1, got {seconds}")
        if self.kind == "embedded":
            self.w3.provider.ethereum_tester.time_travel(self.now() + seconds)
        else:
            self.w3.provider.make_request("evm_increaseTime", [seconds])
            self.w3.provider.make_request("evm_mine", [])
        return self.now()

    def fund(self, address: str, wei: int) -> None:
        """Sends `wei` from the chain's pre-funded account to `address`.

        Raises:
          ValueError: if `wei` ≤ 0.
          ChainError: if the node has no pre-funded account.
        """
        if wei <= 0:
            raise ValueError(f"wei must be > 0, got {wei}")
        if self._faucet is not None:
            self.send(self._faucet, {"to": Web3.to_checksum_address(address), "value": wei, "gas": 21000,
                                     "maxFeePerGas": self.w3.eth.gas_price * 2 + 10**9,
                                     "maxPriorityFeePerGas": 10**9})
            return
        accounts = self.w3.eth.accounts
        if not accounts:
            raise ChainError("the node has no unlocked account to fund test accounts from")
        tx_hash = self.w3.eth.send_transaction({"from": accounts[0], "to": address, "value": wei})
        self.w3.eth.wait_for_transaction_receipt(tx_hash)

    def ensure_funded(self, address: str, wei: int) -> None:
        """Tops `address` up to at least `wei`."""
        balance = self.w3.eth.get_balance(address)
        if balance < wei:
            self.fund(address, wei - balance)

    def save(self) -> None:
        """Writes the state file (no-op without one)."""
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1), encoding="utf-8")
        tmp.replace(self.state_path)


def _open_embedded(state_path: Path | None) -> Chain:
    state: dict[str, Any] = {"format": _JOURNAL_FORMAT, "genesis_timestamp": int(time.time()), "transactions": []}
    if state_path is not None and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("format") != _JOURNAL_FORMAT:
            raise ValueError(f"state file {state_path} is not an embedded-chain journal ({_JOURNAL_FORMAT})")
    backend = PyEVMBackend(PyEVMBackend.generate_genesis_params(overrides={"timestamp": state["genesis_timestamp"]}))
    provider = EthereumTesterProvider(EthereumTester(backend))
    w3 = Web3(provider)
    faucet = Account.from_key(backend.account_keys[0])
    if state["transactions"]:
        for entry in state["transactions"]:
            # Mine the transaction at its recorded time (py-evm takes the pending header's timestamp).
            backend.chain.header = backend.chain.header.copy(timestamp=entry["timestamp"])
            receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(entry["raw"]))
            if receipt["status"] != 1:
                raise ChainError(f"replaying {state_path} failed at transaction {receipt['transactionHash'].hex()}")
        logger.info("replayed %d transactions from %s", len(state.get("transactions", [])), state_path)
    return Chain(w3=w3, kind="embedded", state_path=state_path, state=state, _faucet=faucet)


def _open_rpc(rpc_url: str, state_path: Path | None) -> Chain:
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    if not w3.is_connected():
        raise ChainError(f"no JSON-RPC node answers at {rpc_url}")
    state: dict[str, Any] = {"rpc_url": rpc_url}
    if state_path is not None and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
    return Chain(w3=w3, kind="rpc", state_path=state_path, state=state)


def open_chain(rpc_url: str | None = None, state_path: Path | None | str = "default") -> Chain:
    """Opens the embedded chain (`rpc_url=None`) or a JSON-RPC node.

    Args:
      rpc_url: e.g. "http://127.0.0.1:8545"; None for the embedded py-evm chain.
      state_path: the state file; "default" for `default_state_path(rpc_url)`, None for no persistence
        (a fresh embedded chain each time).

    Raises:
      ChainError: if the node does not answer.
    """
    from loyal.contracts.artifacts import load_artifact

    path = default_state_path(rpc_url) if state_path == "default" else (Path(state_path) if state_path else None)
    chain = _open_embedded(path) if rpc_url is None else _open_rpc(rpc_url, path)
    chain.abi_for_errors = load_artifact().abi
    return chain
