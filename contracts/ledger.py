# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Thin typed web3 client of `ContributorLedger.sol` and the Merkle commitment of a contributor ledger.

The leaves are OpenZeppelin `StandardMerkleTree` leaves of `(bytes32 contributor, address payee, uint64 rounds)`
over the payable entries of `loyal.protocols.governance.ledger.ContributorLedger` (the tree code is
`loyal.contracts.merkle`'s). Reverts raise `loyal.contracts.errors.RegistryRevert` carrying the Solidity error's
name and arguments (`decode_revert` with this contract's ABI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from loyal.contracts.artifacts import load_artifact
from loyal.contracts.chain import Chain
from loyal.contracts.client import Event, TxResult
from loyal.contracts.errors import ChainError, decode_revert, revert_data_of
from loyal.contracts.merkle import MerkleTree
from loyal.protocols.governance.ledger import ContributorEntry, ContributorLedger

__all__ = ["LEAF_ENCODING", "LedgerClient", "LedgerCommitment", "LedgerRecord", "leaf_hash"]

_NAME = "ContributorLedger"
#: ABI types of a leaf's value (`StandardMerkleTree.of(values, LEAF_ENCODING)`).
LEAF_ENCODING = ("bytes32", "address", "uint64")


def leaf_hash(contributor: bytes, payee: bytes | str, rounds: int) -> bytes:
    """keccak256(keccak256(abi.encode(contributor, payee, rounds))): the contract's `leafHash`."""
    return keccak(keccak(encode(list(LEAF_ENCODING), [contributor, to_checksum_address(payee), rounds])))


@dataclass(frozen=True)
class LedgerCommitment:
    """The Merkle commitment of a ledger's payable entries: root, total weight and a proof per entry."""

    ledger: ContributorLedger
    tree: MerkleTree

    @classmethod
    def of(cls, ledger: ContributorLedger) -> LedgerCommitment:
        """Raises ValueError if no entry has a payee (nothing to commit)."""
        payable = ledger.payable
        if not payable:
            raise ValueError("no contributor of this ledger named a payee: nothing to commit")
        return cls(ledger, MerkleTree.build([leaf_hash(e.contributor, e.payee, e.weight) for e in payable]))

    @property
    def root(self) -> bytes:
        return self.tree.root

    def proof(self, contributor: bytes) -> tuple[ContributorEntry, list[bytes]]:
        """The payable entry of `contributor` and its proof. Raises KeyError if it has none."""
        for i, entry in enumerate(self.ledger.payable):
            if entry.contributor == contributor:
                return entry, self.tree.proof(i)
        raise KeyError(f"contributor {contributor.hex()[:16]}… has no payable entry in this ledger")


@dataclass(frozen=True)
class LedgerRecord:
    """`ContributorLedger.Ledger` (wei amounts)."""

    root: bytes
    total_weight: int
    contributors: int
    rounds: int
    deposited: int
    paid: int


class LedgerClient:
    """One deployed `ContributorLedger`.

    Args:
      chain: the connection.
      address: the contract.
    """

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = chain.w3.to_checksum_address(address)
        self.abi = list(load_artifact(_NAME).abi)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=self.abi)
        self._topics = {event_abi_to_log_topic(e): e["name"] for e in self.abi if e["type"] == "event"}
        if not chain.w3.eth.get_code(self.address):
            raise ChainError(f"no contract at {self.address} on chain {chain.chain_id}")

    @classmethod
    def deploy(cls, chain: Chain, account: LocalAccount, anchor: str) -> LedgerClient:
        """Deploys a ledger reading job servers from the `SsaLogAnchor` at `anchor`."""
        artifact = load_artifact(_NAME)
        factory = chain.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
        tx = factory.constructor(chain.w3.to_checksum_address(anchor)).build_transaction({"from": account.address})
        return cls(chain, chain.send(account, tx)["contractAddress"])

    def _transact(self, account: LocalAccount, fn: Any, value: int = 0) -> TxResult:
        try:
            receipt = self.chain.send(account, fn.build_transaction({"from": account.address, "value": value}))
        except Exception as e:  # web3 and eth-tester raise unrelated types for reverts
            data = revert_data_of(e)
            error = decode_revert(self.abi, data) if data is not None else None
            if error is not None:
                raise error from e
            raise
        return self._result(receipt)

    def _result(self, receipt: TxReceipt) -> TxResult:
        events = []
        for log in receipt["logs"]:
            name = self._topics.get(bytes(log["topics"][0])) if log["topics"] else None
            if log["address"] == self.address and name is not None:
                events.append(Event(name, dict(getattr(self.contract.events, name)().process_log(log)["args"])))
        return TxResult("0x" + bytes(receipt["transactionHash"]).hex(), int(receipt["gasUsed"]), tuple(events))

    # ---- transactions ------------------------------------------------------------------------------
    def commit(self, server: LocalAccount, genesis: bytes, commitment: LedgerCommitment) -> TxResult:
        """`commitLedger` from the job's server (the account that anchors its log)."""
        ledger = commitment.ledger
        fn = self.contract.functions.commitLedger(genesis, commitment.root, ledger.total_weight, len(ledger.payable),
                                                  ledger.rounds)
        return self._transact(server, fn)

    def commit_raw(self, account: LocalAccount, genesis: bytes, root: bytes, total_weight: int, contributors: int,
                   rounds: int) -> TxResult:
        """`commitLedger` with arbitrary arguments (what a misbehaving caller would send)."""
        return self._transact(account, self.contract.functions.commitLedger(genesis, root, total_weight, contributors,
                                                                             rounds))

    def deposit(self, account: LocalAccount, genesis: bytes, wei: int) -> TxResult:
        """`deposit`: licence fees for job `genesis`."""
        return self._transact(account, self.contract.functions.deposit(genesis), value=wei)

    def claim(self, payee: LocalAccount, genesis: bytes, contributor: bytes, rounds: int,
              proof: Sequence[bytes]) -> TxResult:
        """`claim` from the leaf's payee."""
        return self._transact(payee, self.contract.functions.claim(genesis, contributor, rounds, list(proof)))

    def attest(self, account: LocalAccount, genesis: bytes, entry: ContributorEntry, proof: Sequence[bytes]) -> TxResult:
        """`attest`: records `entry`'s attribution (anyone may send it)."""
        fn = self.contract.functions.attest(genesis, entry.contributor, to_checksum_address(entry.payee),
                                            entry.weight, list(proof))
        return self._transact(account, fn)

    # ---- views -------------------------------------------------------------------------------------
    def ledger_of(self, genesis: bytes) -> LedgerRecord:
        r = self.contract.functions.ledgerOf(genesis).call()
        return LedgerRecord(bytes(r[0]), *(int(v) for v in r[1:]))

    def attribution(self, genesis: bytes, contributor: bytes) -> int:
        return int(self.contract.functions.attribution(genesis, contributor).call())

    def claimed(self, genesis: bytes, contributor: bytes) -> int:
        return int(self.contract.functions.claimed(genesis, contributor).call())

    def claimable(self, genesis: bytes, contributor: bytes, rounds: int) -> int:
        return int(self.contract.functions.claimable(genesis, contributor, rounds).call())

    def leaf_hash(self, contributor: bytes, payee: str, rounds: int) -> bytes:
        return bytes(self.contract.functions.leafHash(contributor, to_checksum_address(payee), rounds).call())
