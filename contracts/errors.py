# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Python exceptions for the registry's custom errors, decoded from revert data by 4-byte selector."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from loyal.errors import UsageError

__all__ = ["ChainError", "RegistryRevert", "decode_revert", "revert_data_of"]


class ChainError(UsageError):
    """A chain or node problem that is not a contract revert (connection, missing deployment)."""


class RegistryRevert(ValueError):
    """A call to `OMLRegistry` reverted with a custom error (a ValueError: the contract rejected the input).

    Attributes:
      error_name: the Solidity error name, e.g. ``OMLRegistryBelowThreshold``.
      values: the error's arguments by name (addresses checksummed, bytes32 as ``0x`` hex).
    """

    def __init__(self, error_name: str, values: Mapping[str, Any]) -> None:
        self.error_name = error_name
        self.values = dict(values)
        args = ", ".join(f"{k}={v}" for k, v in self.values.items())
        super().__init__(f"{error_name}({args})")


# One subclass per error of IOMLRegistry.sol (tests check the list against the ABI). OpenZeppelin errors in the ABI
# (`ECDSAInvalidSignatureS`, ...) decode to a plain `RegistryRevert`.
class OMLRegistryArbiterCannotVote(RegistryRevert):
    """Arbiter `arbiter` is the owner or the host of challenge `challengeId`, or already voted on it."""


class OMLRegistryBelowThreshold(RegistryRevert):
    """A leak report of `matches` matches needs `threshold` (and at most the number of fingerprints)."""


class OMLRegistryChallengeOpen(RegistryRevert):
    """The model already has the unrevealed challenge `challengeId` (one at a time)."""


class OMLRegistryCommitmentMismatch(RegistryRevert):
    """The reveal hashes to `computed`, not to the committed `commitment`."""


class OMLRegistryFingerprintAlreadySpent(RegistryRevert):
    """Fingerprint `index` of `modelId` was already revealed."""


class OMLRegistryFingerprintOutOfRange(RegistryRevert):
    """Fingerprint `index` is not below `numFingerprints`."""


class OMLRegistryHostAlreadyJoined(RegistryRevert):
    """`host` already joined the platform."""


class OMLRegistryHostExiting(RegistryRevert):
    """`host` asked to exit (stake free at `exitAt`): no new licence."""


class OMLRegistryHostLicensedDuring(RegistryRevert):
    """`host` held a licence for `modelId` at some time in [from, to]: its answers then are not slashable."""


class OMLRegistryHostNotJoined(RegistryRevert):
    """`host` has not joined the platform."""


class OMLRegistryHostNotLicensed(RegistryRevert):
    """`host` holds no licence (at index `licenseIndex`, or none running) for `modelId`."""


class OMLRegistryInsufficientStake(RegistryRevert):
    """`host` bonds `stake` wei, below `minimum`."""


class OMLRegistryInvalidArbiters(RegistryRevert):
    """The arbiter list or quorum is invalid: need quorum > count / 2 and quorum ≤ count."""


class OMLRegistryInvalidChallengeSize(RegistryRevert):
    """A challenge of `count` fingerprints is outside [1, MAX_CHALLENGE_SIZE] or needs `threshold` > count."""


class OMLRegistryInvalidChallengeStatus(RegistryRevert):
    """Challenge `challengeId` is in state `status`, not in the state the call needs."""


class OMLRegistryInvalidConfig(RegistryRevert):
    """A deployment parameter is out of range (see {Config})."""


class OMLRegistryInvalidEndpoint(RegistryRevert):
    """`endpointHash` is zero."""


class OMLRegistryInvalidFalseClaimBound(RegistryRevert):
    """`p0` is not in (0, MAX_P0] or `targetFpr` not in (0, 1e18)."""


class OMLRegistryInvalidFingerprintRoot(RegistryRevert):
    """`fingerprintRoot` is zero or `numFingerprints` is 0."""


class OMLRegistryInvalidHost(RegistryRevert):
    """`host` is the zero address."""


class OMLRegistryInvalidLicenseSigner(RegistryRevert):
    """The licence offer recovers to `signer`, not the owner `owner`."""


class OMLRegistryInvalidOffer(RegistryRevert):
    """The offer has a zero term or a zero assignment root."""


class OMLRegistryInvalidProof(RegistryRevert):
    """`leaf` (fingerprint `index`) is not in the tree with root `root`."""


class OMLRegistryInvalidRepeatProof(RegistryRevert):
    """The repeated-key proof against `challengeId` with the earlier `earlierId` does not hold."""


class OMLRegistryInvalidRevealLength(RegistryRevert):
    """The reveal carries `fingerprints`, `proofs` and `responses` items; the commit promised `count`."""


class OMLRegistryKeysNotStrictlyIncreasing(RegistryRevert):
    """Item `position` repeats a key or breaks the strictly increasing order of key hashes."""


class OMLRegistryModelAlreadyRegistered(RegistryRevert):
    """`owner` already registered `modelHash` as `modelId`."""


class OMLRegistryNotAccusedHost(RegistryRevert):
    """`account` is not the host accused by challenge `challengeId`."""


class OMLRegistryNotArbiter(RegistryRevert):
    """`account` is not an arbiter."""


class OMLRegistryNothingToWithdraw(RegistryRevert):
    """`account` has no balance to withdraw."""


class OMLRegistryOfferExpired(RegistryRevert):
    """Offer `nonce` of `modelId` expired at `expiry`."""


class OMLRegistryOfferNonceUsed(RegistryRevert):
    """Offer `nonce` of `modelId` was already accepted or revoked."""


class OMLRegistryStakeLocked(RegistryRevert):
    """`host`'s stake is not free yet: exit at `exitAt` (0: not requested), `openClaims` open claims."""


class OMLRegistryUnauthorizedOwner(RegistryRevert):
    """`account` is not the owner of `modelId`."""


class OMLRegistryUnknownModel(RegistryRevert):
    """No model has id `modelId`."""


class OMLRegistryWithdrawFailed(RegistryRevert):
    """Sending `amount` wei to `account` failed."""


class OMLRegistryWrongLicenseFee(RegistryRevert):
    """The host paid `paid` wei for an offer whose fee is `fee`."""


class OMLRegistryWrongTime(RegistryRevert):
    """The window of challenge `challengeId` closed at `deadline` (or, for finalizing, is open until then)."""


ERROR_CLASSES: dict[str, type[RegistryRevert]] = {
    cls.__name__: cls for cls in RegistryRevert.__subclasses__()
}


def _format(typ: str, value: Any) -> Any:
    if typ == "address":
        return to_checksum_address(value)
    if typ.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value


def revert_data_of(exc: BaseException) -> bytes | None:
    """Returns the raw revert data carried by a web3 / eth-tester exception, or None.

    web3 raises `ContractCustomError`/`ContractLogicError` (hex in ``.data`` or in an args dict) for JSON-RPC
    nodes such as hardhat; eth-tester raises
    `TransactionFailed("execution reverted: b'...'")` with the bytes as a Python literal.
    """
    candidates = [getattr(exc, "data", None), *exc.args]
    for data in candidates:
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return bytes.fromhex(data[2:])
        if isinstance(data, bytes) and len(data) >= 4:
            return data
    text = str(exc.args[0]) if exc.args else ""
    prefix = "execution reverted: "
    if text.startswith(prefix):
        literal = text[len(prefix):]
        if literal.startswith(("b'", 'b"')):
            value = ast.literal_eval(literal)
            if isinstance(value, bytes):
                return value
    return None


def decode_revert(abi: Sequence[Mapping[str, Any]], data: bytes) -> RegistryRevert | None:
    """Decodes `data` (selector + ABI-encoded args) into the matching exception, or None if unknown.

    Errors in the ABI without a subclass (e.g. OpenZeppelin's `ReentrancyGuardReentrantCall`) decode to a plain
    `RegistryRevert`.
    """
    if len(data) < 4:
        return None
    for item in abi:
        if item.get("type") != "error":
            continue
        types = [i["type"] for i in item["inputs"]]
        signature = f"{item['name']}({','.join(types)})"
        if function_signature_to_4byte_selector(signature) == data[:4]:
            raw = decode(types, data[4:]) if types else ()
            values = {i["name"]: _format(t, v) for i, t, v in zip(item["inputs"], types, raw, strict=True)}
            return ERROR_CLASSES.get(item["name"], RegistryRevert)(item["name"], values)
    return None
