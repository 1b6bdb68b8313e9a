# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Thin typed web3 client for `OMLRegistry.sol`: transactions, queries, event decoding, errors as exceptions."""

from __future__ import annotations

from collections.abc import Sequence
import enum
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic
from web3.contract import Contract
from web3.types import TxReceipt

from loyal.contracts.artifacts import load_artifact
from loyal.contracts.chain import Chain
from loyal.contracts.eip712 import Domain, LicenseOffer, to_compact
from loyal.contracts.errors import ChainError
from loyal.contracts.merkle import Fingerprint

__all__ = [
    "ChallengeItem", "ChallengeRecord", "ChallengeStatus", "ConfigRecord", "Event", "HostRecord", "LicenseRecord",
    "ModelRecord", "OMLRegistryClient", "TxResult",
]

_EVENTS = (
    "ModelRegistered", "HostJoined", "HostExitRequested", "HostStakeReleased", "LicenseAccepted", "OfferRevoked",
    "LicenseTerminated", "ChallengeCommitted", "ChallengeRevealed", "LeakReported", "ClaimDisputed", "ClaimVoted",
    "ClaimResolved", "HostSlashed", "PaymentWithdrawn",
)


class ChallengeStatus(enum.IntEnum):
    """`IOMLRegistry.ChallengeStatus`."""

    NONE = 0
    COMMITTED = 1
    FAILED = 2
    PENDING = 3
    DISPUTED = 4
    UPHELD = 5
    REJECTED = 6
    VOIDED = 7


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
class ConfigRecord:
    """`IOMLRegistry.Config`: deployment parameters (wei, seconds)."""

    min_host_stake: int
    notice_period: int
    reveal_window: int
    dispute_window: int
    voting_window: int

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        """The ABI tuple."""
        return (self.min_host_stake, self.notice_period, self.reveal_window, self.dispute_window, self.voting_window)


@dataclass(frozen=True)
class ModelRecord:
    """`IOMLRegistry.Model` (p0 and target_fpr in WAD, 1e18 = 1)."""

    owner: str
    model_hash: bytes
    fingerprint_root: bytes
    num_fingerprints: int
    spent_fingerprints: int
    p0: int
    target_fpr: int
    slash_cap: int
    open_challenge: int
    metadata_uri: str


@dataclass(frozen=True)
class HostRecord:
    """`IOMLRegistry.Host`."""

    stake: int
    endpoint_hash: bytes
    exit_at: int
    open_claims: int


@dataclass(frozen=True)
class LicenseRecord:
    """`IOMLRegistry.License`: the period [start, end) from offer `nonce`."""

    start: int
    end: int
    nonce: int
    assignment_root: bytes


@dataclass(frozen=True)
class ChallengeRecord:
    """`IOMLRegistry.Challenge`."""

    model_id: int
    host: str
    kind: int
    status: ChallengeStatus
    count: int
    threshold: int
    matches: int
    committed_at: int
    deadline: int
    uphold_votes: int
    reject_votes: int
    commitment: bytes
    keys_hash: bytes
    evidence: bytes
    answer_hash: bytes
    slashed: int


@dataclass(frozen=True)
class ChallengeItem:
    """One revealed fingerprint with its proof and the host's signed answer.

    Attributes:
      fingerprint: the leaf preimage.
      proof: Merkle siblings from the leaf to the model's fingerprint root.
      output_hash: keccak256 of what the host returned for the fingerprint key.
      timestamp: the time the host signed into its answer.
      signature: the host's 65-byte EIP-712 `Response` signature (sent in EIP-2098 compact form).
    """

    fingerprint: Fingerprint
    proof: tuple[bytes, ...]
    output_hash: bytes
    timestamp: int
    signature: bytes = field(repr=False)

    def response_tuple(self) -> tuple[bytes, int, bytes, bytes]:
        """The ABI tuple `(outputHash, timestamp, r, vs)`; a signature without v ∈ {27, 28} is sent as zeros."""
        try:
            r, vs = to_compact(self.signature)
        except ValueError:
            r, vs = b"\0" * 32, b"\0" * 32
        return (self.output_hash, self.timestamp, r, vs)


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
    def deploy(
        cls, chain: Chain, account: LocalAccount, arbiters: Sequence[str], quorum: int, config: ConfigRecord
    ) -> tuple[OMLRegistryClient, TxResult]:
        """Deploys a new registry from `account`; returns the client and the deployment transaction.

        Args:
          arbiters: the stakeholders who decide disputed claims (distinct, non-zero).
          quorum: votes that decide, in (len(arbiters) / 2, len(arbiters)].
          config: deployment parameters (`ConfigRecord`).
        """
        artifact = load_artifact()
        factory = chain.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
        constructor = factory.constructor(list(arbiters), quorum, config.as_tuple())
        tx = chain.call(lambda: constructor.build_transaction({"from": account.address}))
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
        self, account: LocalAccount, model_hash: bytes, fingerprint_root: bytes, num_fingerprints: int, p0: int,
        target_fpr: int, slash_cap: int, metadata_uri: str = "",
    ) -> tuple[int, TxResult]:
        """Calls `registerModel` (p0 and target_fpr in WAD); returns the new model id and the transaction."""
        fn = self.contract.functions.registerModel(
            model_hash, fingerprint_root, num_fingerprints, p0, target_fpr, slash_cap, metadata_uri
        )
        result = self._transact(account, fn)
        return int(result.named("ModelRegistered")[0].args["modelId"]), result

    def join_platform(self, host: LocalAccount, endpoint_hash: bytes, stake: int) -> TxResult:
        """Calls `joinPlatform` from `host`, bonding `stake` wei."""
        return self._transact(host, self.contract.functions.joinPlatform(endpoint_hash), value=stake)

    def request_exit(self, host: LocalAccount) -> TxResult:
        """Calls `requestExit`."""
        return self._transact(host, self.contract.functions.requestExit())

    def release_stake(self, host: LocalAccount) -> TxResult:
        """Calls `releaseStake`."""
        return self._transact(host, self.contract.functions.releaseStake())

    def accept_license(self, host: LocalAccount, offer: LicenseOffer, owner_signature: bytes) -> TxResult:
        """Calls `acceptLicense` from `host`, paying the offer's fee."""
        fn = self.contract.functions.acceptLicense(offer.as_tuple(), owner_signature)
        return self._transact(host, fn, value=offer.fee)

    def revoke_offer(self, owner: LocalAccount, model_id: int, nonce: int) -> TxResult:
        """Calls `revokeOffer`."""
        return self._transact(owner, self.contract.functions.revokeOffer(model_id, nonce))

    def terminate_license(self, owner: LocalAccount, model_id: int, host: str) -> TxResult:
        """Calls `terminateLicense`."""
        return self._transact(owner, self.contract.functions.terminateLicense(model_id, host))

    def commit_challenge(self, owner: LocalAccount, model_id: int, count: int, commitment: bytes) -> tuple[int, TxResult]:
        """Calls `commitChallenge`; returns the challenge id and the transaction."""
        result = self._transact(owner, self.contract.functions.commitChallenge(model_id, count, commitment))
        return int(result.named("ChallengeCommitted")[0].args["challengeId"]), result

    def reveal_challenge(
        self, owner: LocalAccount, challenge_id: int, host: str, salt: bytes, items: Sequence[ChallengeItem]
    ) -> TxResult:
        """Calls `revealChallenge` with `items` in the order given (the contract wants increasing key hashes)."""
        fn = self.contract.functions.revealChallenge(
            challenge_id, host, salt, [i.fingerprint.as_tuple() for i in items], [list(i.proof) for i in items],
            [i.response_tuple() for i in items],
        )
        return self._transact(owner, fn)

    def report_leak(
        self, owner: LocalAccount, model_id: int, host: str, license_index: int, matches: int, evidence_hash: bytes,
        fingerprints: Sequence[Fingerprint], model_proofs: Sequence[Sequence[bytes]],
        assignment_proofs: Sequence[Sequence[bytes]],
    ) -> tuple[int, TxResult]:
        """Calls `reportLeak`; returns the claim's challenge id and the transaction."""
        fn = self.contract.functions.reportLeak(
            model_id, host, license_index, matches, evidence_hash, [fp.as_tuple() for fp in fingerprints],
            [list(p) for p in model_proofs], [list(p) for p in assignment_proofs],
        )
        result = self._transact(owner, fn)
        return int(result.named("LeakReported")[0].args["challengeId"]), result

    def dispute_claim(self, host: LocalAccount, challenge_id: int, answer_hash: bytes) -> TxResult:
        """Calls `disputeClaim`."""
        return self._transact(host, self.contract.functions.disputeClaim(challenge_id, answer_hash))

    def vote_on_claim(self, arbiter: LocalAccount, challenge_id: int, uphold: bool) -> TxResult:
        """Calls `voteOnClaim`."""
        return self._transact(arbiter, self.contract.functions.voteOnClaim(challenge_id, uphold))

    def finalize_claim(self, account: LocalAccount, challenge_id: int) -> TxResult:
        """Calls `finalizeClaim`."""
        return self._transact(account, self.contract.functions.finalizeClaim(challenge_id))

    def void_repeated_key(
        self, account: LocalAccount, challenge_id: int, earlier_id: int, keys: Sequence[bytes],
        earlier_keys: Sequence[bytes], position: int, earlier_position: int,
    ) -> TxResult:
        """Calls `voidRepeatedKey`."""
        fn = self.contract.functions.voidRepeatedKey(
            challenge_id, earlier_id, list(keys), list(earlier_keys), position, earlier_position
        )
        return self._transact(account, fn)

    def withdraw(self, account: LocalAccount) -> TxResult:
        """Calls `withdraw`."""
        return self._transact(account, self.contract.functions.withdraw())

    # Queries -----------------------------------------------------------------------------------------------

    def _view(self, name: str, *args: Any) -> Any:
        return self.chain.call(lambda: getattr(self.contract.functions, name)(*args).call())

    def config(self) -> ConfigRecord:
        """`config`."""
        return ConfigRecord(*self._view("config"))

    def get_model(self, model_id: int) -> ModelRecord:
        """`getModel`."""
        return ModelRecord(*self._view("getModel", model_id))

    def get_host(self, host: str) -> HostRecord:
        """`getHost`."""
        return HostRecord(*self._view("getHost", host))

    def get_licenses(self, model_id: int, host: str) -> list[LicenseRecord]:
        """`getLicenses`: the licence history, oldest first."""
        return [LicenseRecord(*x) for x in self._view("getLicenses", model_id, host)]

    def licensed_during(self, model_id: int, host: str, start: int, end: int) -> bool:
        """`licensedDuring`."""
        return bool(self._view("licensedDuring", model_id, host, start, end))

    def is_nonce_used(self, model_id: int, nonce: int) -> bool:
        """`isNonceUsed`."""
        return bool(self._view("isNonceUsed", model_id, nonce))

    def get_challenge(self, challenge_id: int) -> ChallengeRecord:
        """`getChallenge`."""
        raw = list(self._view("getChallenge", challenge_id))
        raw[3] = ChallengeStatus(raw[3])
        return ChallengeRecord(*raw)

    def challenge_count(self) -> int:
        """`challengeCount`."""
        return int(self._view("challengeCount"))

    def threshold_for(self, model_id: int, count: int) -> int:
        """`thresholdFor`: τ(count) of the model (count + 1 when unreachable)."""
        return int(self._view("thresholdFor", model_id, count))

    def is_spent(self, model_id: int, index: int) -> bool:
        """`isSpent`."""
        return bool(self._view("isSpent", model_id, index))

    def model_count(self) -> int:
        """`modelCount`."""
        return int(self._view("modelCount"))

    def model_id_of(self, owner: str, model_hash: bytes) -> int:
        """`modelIdOf` (0 when `owner` never registered `model_hash`)."""
        return int(self._view("modelIdOf", owner, model_hash))

    def balance_of(self, account: str) -> int:
        """`balanceOf`: withdrawable wei."""
        return int(self._view("balanceOf", account))

    def leaf_hash(self, fingerprint: Fingerprint) -> bytes:
        """`leafHash` computed by the contract."""
        return bytes(self._view("leafHash", fingerprint.as_tuple()))

    def verify_fingerprint(self, root: bytes, fingerprint: Fingerprint, proof: Sequence[bytes]) -> bool:
        """`verifyFingerprint` computed by the contract."""
        return bool(self._view("verifyFingerprint", root, fingerprint.as_tuple(), list(proof)))

    def response_digest(self, prompt_hash: bytes, output_hash: bytes, timestamp: int, endpoint_hash: bytes) -> bytes:
        """`responseDigest`: the EIP-712 digest the contract recovers from."""
        return bytes(self._view("responseDigest", prompt_hash, output_hash, timestamp, endpoint_hash))

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
