# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Thin typed web3 client for `OMLRegistry.sol`: transactions, queries, event decoding, errors as exceptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic
from web3.contract import Contract
from web3.types import TxReceipt

from loyal.contracts.artifacts import load_artifact
from loyal.contracts.chain import Chain
from loyal.contracts.eip712 import Domain
from loyal.contracts.errors import ChainError
from loyal.contracts.merkle import Fingerprint

__all__ = ["ChallengeItem", "ClaimRecord", "Event", "LicenseRecord", "ModelRecord", "OMLRegistryClient", "TxResult"]

_EVENTS = (
    "ModelRegistered", "HostLicensed", "LicenseTerminated", "FingerprintSpent", "OwnershipClaimed",
    "HostSlashed", "PaymentWithdrawn",
)


@dataclass(frozen=True)
class Event:
    """A decoded registry event."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class TxResult:
    """A mined transaction: hash, gas used and the registry events it emitted, in log order."""

    tx_hash: str
    gas_used: int
    events: tuple[Event, ...]

    def named(self, name: str) -> list[Event]:
        """The events called `name`."""
        return [e for e in self.events if e.name == name]


@dataclass(frozen=True)
class ModelRecord:
    """`IOMLRegistry.Model`."""

    owner: str
    model_hash: bytes
    fingerprint_root: bytes
    num_fingerprints: int
    threshold: int
    spent_fingerprints: int
    license_fee: int
    metadata_uri: str


@dataclass(frozen=True)
class LicenseRecord:
    """`IOMLRegistry.License`."""

    assignment_root: bytes
    stake: int
    active: bool


@dataclass(frozen=True)
class ClaimRecord:
    """`IOMLRegistry.Claim`."""

    model_id: int
    host: str
    evidence_root: bytes
    matches: int
    revealed: int
    slashed: int


@dataclass(frozen=True)
class ChallengeItem:
    """One revealed fingerprint with its proof and the host's signed answer.

    Attributes:
      fingerprint: the leaf preimage.
      proof: Merkle siblings from the leaf to the root the contract checks against.
      output_hash: keccak256 of what the host returned for the fingerprint key.
      signature: the host's EIP-712 `Response` signature.
    """

    fingerprint: Fingerprint
    proof: tuple[bytes, ...]
    output_hash: bytes
    signature: bytes


class OMLRegistryClient:
    """Typed access to one deployed `OMLRegistry`. Reverts raise `loyal.contracts.errors.RegistryRevert`."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = chain.w3.to_checksum_address(address)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=list(load_artifact().abi))
        self._topics = {
            event_abi_to_log_topic(item): item["name"]
            for item in load_artifact().abi
            if item["type"] == "event" and item["name"] in _EVENTS
        }
        if not chain.w3.eth.get_code(self.address):
            raise ChainError(f"no contract at {self.address} on chain {chain.chain_id}")

    @classmethod
    def deploy(cls, chain: Chain, account: LocalAccount) -> tuple[OMLRegistryClient, TxResult]:
        """Deploys a new registry from `account`; returns the client and the deployment transaction."""
        artifact = load_artifact()
        factory = chain.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
        tx = chain.call(lambda: factory.constructor().build_transaction({"from": account.address}))
        receipt = chain.send(account, tx)
        client = cls(chain, receipt["contractAddress"])
        return client, client._result(receipt)

    @property
    def domain(self) -> Domain:
        """The EIP-712 domain of this deployment."""
        return Domain(chain_id=self.chain.chain_id, verifying_contract=self.address)

    # Transactions ------------------------------------------------------------------------------------------

    def _transact(self, account: LocalAccount, fn: Any, value: int = 0) -> TxResult:
        tx = self.chain.call(lambda: fn.build_transaction({"from": account.address, "value": value}))
        return self._result(self.chain.send(account, tx))

    def register_model(
        self,
        account: LocalAccount,
        model_hash: bytes,
        fingerprint_root: bytes,
        num_fingerprints: int,
        threshold: int,
        license_fee: int = 0,
        metadata_uri: str = "",
    ) -> tuple[int, TxResult]:
        """Calls `registerModel`; returns the new model id and the transaction."""
        fn = self.contract.functions.registerModel(
            model_hash, fingerprint_root, num_fingerprints, threshold, license_fee, metadata_uri
        )
        result = self._transact(account, fn)
        return int(result.named("ModelRegistered")[0].args["modelId"]), result

    def license_host(
        self, host: LocalAccount, model_id: int, assignment_root: bytes, owner_signature: bytes, value: int
    ) -> TxResult:
        """Calls `licenseHost` from `host`, paying `value` wei (licence fee + stake)."""
        fn = self.contract.functions.licenseHost(model_id, assignment_root, owner_signature)
        return self._transact(host, fn, value=value)

    def terminate_license(self, owner: LocalAccount, model_id: int, host: str) -> TxResult:
        """Calls `terminateLicense`."""
        return self._transact(owner, self.contract.functions.terminateLicense(model_id, host))

    def challenge(
        self, owner: LocalAccount, model_id: int, host: str, items: Sequence[ChallengeItem]
    ) -> tuple[int, TxResult]:
        """Calls `challenge`; returns the claim id and the transaction."""
        fn = self.contract.functions.challenge(
            model_id,
            host,
            [item.fingerprint.as_tuple() for item in items],
            [list(item.proof) for item in items],
            [(item.output_hash, item.signature) for item in items],
        )
        result = self._transact(owner, fn)
        return int(result.named("OwnershipClaimed")[0].args["claimId"]), result

    def withdraw(self, account: LocalAccount) -> TxResult:
        """Calls `withdraw`."""
        return self._transact(account, self.contract.functions.withdraw())

    # Queries -----------------------------------------------------------------------------------------------

    def _view(self, name: str, *args: Any) -> Any:
        return self.chain.call(lambda: getattr(self.contract.functions, name)(*args).call())

    def get_model(self, model_id: int) -> ModelRecord:
        """`getModel`."""
        return ModelRecord(*self._view("getModel", model_id))

    def get_license(self, model_id: int, host: str) -> LicenseRecord:
        """`getLicense`."""
        return LicenseRecord(*self._view("getLicense", model_id, host))

    def get_claim(self, claim_id: int) -> ClaimRecord:
        """`getClaim`."""
        return ClaimRecord(*self._view("getClaim", claim_id))

    def is_spent(self, model_id: int, index: int) -> bool:
        """`isSpent`."""
        return bool(self._view("isSpent", model_id, index))

    def model_count(self) -> int:
        """`modelCount`."""
        return int(self._view("modelCount"))

    def claim_count(self) -> int:
        """`claimCount`."""
        return int(self._view("claimCount"))

    def model_id_of(self, model_hash: bytes) -> int:
        """`modelIdOf` (0 when unregistered)."""
        return int(self._view("modelIdOf", model_hash))

    def balance_of(self, account: str) -> int:
        """`balanceOf`: withdrawable wei."""
        return int(self._view("balanceOf", account))

    def leaf_hash(self, fingerprint: Fingerprint) -> bytes:
        """`leafHash` computed by the contract."""
        return bytes(self._view("leafHash", fingerprint.as_tuple()))

    def verify_fingerprint(self, root: bytes, fingerprint: Fingerprint, proof: Sequence[bytes]) -> bool:
        """`verifyFingerprint` computed by the contract."""
        return bool(self._view("verifyFingerprint", root, fingerprint.as_tuple(), list(proof)))

    def response_digest(self, model_id: int, prompt_hash: bytes, output_hash: bytes) -> bytes:
        """`responseDigest`: the EIP-712 digest the contract recovers from."""
        return bytes(self._view("responseDigest", model_id, prompt_hash, output_hash))

    # Events ------------------------------------------------------------------------------------------------

    def _result(self, receipt: TxReceipt) -> TxResult:
        events = []
        for log in receipt["logs"]:
            name = self._topics.get(bytes(log["topics"][0])) if log["topics"] else None
            if log["address"] != self.address or name is None:
                continue
            decoded = getattr(self.contract.events, name)().process_log(log)
            events.append(Event(name=name, args=dict(decoded["args"])))
        return TxResult(
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            gas_used=int(receipt["gasUsed"]),
            events=tuple(events),
        )
