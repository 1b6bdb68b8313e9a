# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The on-chain log authority of SSA jobs: a typed client of `SsaLogAnchor.sol` that is a
`loyal.protocols.ssa.log.LogAuthority` (the server anchors each round's head; members read it).

Calls are serialized by a lock: one client may serve a server and in-process members at once.
"""

from __future__ import annotations

import threading

from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector
from web3.contract import Contract

from loyal.contracts.artifacts import load_artifact
from loyal.contracts.chain import Chain
from loyal.contracts.errors import ChainError, revert_data_of
from loyal.protocols.ssa.errors import LogIntegrityError

__all__ = ["AnchorClient", "AnchorRevert"]

_NAME = "SsaLogAnchor"


class AnchorRevert(LogIntegrityError):
    """`SsaLogAnchor` refused a transaction (`error` is the Solidity error's name)."""

    def __init__(self, error: str, args: tuple) -> None:
        super().__init__(f"SsaLogAnchor reverted with {error}{args}")
        self.error = error


class AnchorClient:
    """One deployed `SsaLogAnchor`.

    Args:
      chain: the connection.
      address: the contract.
      account: the server's key (needed to register and anchor; members only read).
    """

    def __init__(self, chain: Chain, address: str, account: LocalAccount | None = None) -> None:
        self.chain, self.account = chain, account
        self.address = chain.w3.to_checksum_address(address)
        abi = list(load_artifact(_NAME).abi)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=abi)
        self._errors = {function_abi_to_4byte_selector(e): e for e in abi if e["type"] == "error"}
        self._lock = threading.Lock()
        if not chain.w3.eth.get_code(self.address):
            raise ChainError(f"no contract at {self.address} on chain {chain.chain_id}")

    @classmethod
    def deploy(cls, chain: Chain, account: LocalAccount) -> AnchorClient:
        artifact = load_artifact(_NAME)
        factory = chain.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
        receipt = chain.send(account, factory.constructor().build_transaction({"from": account.address}))
        return cls(chain, receipt["contractAddress"], account)

    def _revert(self, e: Exception) -> Exception:
        data = revert_data_of(e)
        if data is None or data[:4] not in self._errors:
            return e
        abi = self._errors[data[:4]]
        types = [i["type"] for i in abi["inputs"]]
        values = tuple(self.chain.w3.codec.decode(types, data[4:])) if types else ()
        return AnchorRevert(abi["name"], values)

    def _send(self, fn) -> None:
        if self.account is None:
            raise ChainError("this anchor client has no account: it can only read")
        with self._lock:
            try:
                tx = fn.build_transaction({"from": self.account.address})
                self.chain.send(self.account, tx)
            except Exception as e:  # web3 and eth-tester raise unrelated types for reverts
                raise self._revert(e) from e

    # ---- LogAuthority ------------------------------------------------------------------------------
    def server_of(self, genesis: bytes) -> str:
        with self._lock:
            return self.contract.functions.logs(genesis).call()[0]

    def rounds(self, genesis: bytes) -> int:
        with self._lock:
            return int(self.contract.functions.logs(genesis).call()[1])

    def head_at(self, genesis: bytes, round_index: int) -> bytes | None:
        if round_index < 0 or round_index >= self.rounds(genesis):
            return None
        with self._lock:
            return bytes(self.contract.functions.headAt(genesis, round_index).call())

    def register(self, genesis: bytes) -> None:
        self._send(self.contract.functions.register(genesis))

    def anchor(self, genesis: bytes, round_index: int, entry_hash: bytes, num_clients: int, num_noise: int) -> None:
        """Anchors round `round_index` (registering the job to this account on its first round)."""
        if round_index == 0 and int(self.server_of(genesis), 16) == 0:
            self.register(genesis)
        self._send(self.contract.functions.anchor(genesis, round_index, entry_hash, num_clients, num_noise))
