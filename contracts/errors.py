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


# One subclass per error of IOMLRegistry.sol (tests check the list against the ABI).
class OMLRegistryModelAlreadyRegistered(RegistryRevert):
    """A model with this hash is already registered."""


class OMLRegistryInvalidFingerprintRoot(RegistryRevert):
    """The fingerprint root is zero."""


class OMLRegistryInvalidThreshold(RegistryRevert):
    """The threshold is not in [1, numFingerprints]."""


class OMLRegistryUnknownModel(RegistryRevert):
    """No model has this id."""


class OMLRegistryUnauthorizedOwner(RegistryRevert):
    """The caller is not the model owner."""


class OMLRegistryHostAlreadyLicensed(RegistryRevert):
    """The host already holds an active licence."""


class OMLRegistryHostNotLicensed(RegistryRevert):
    """The host holds no active licence."""


class OMLRegistryInvalidAssignmentRoot(RegistryRevert):
    """The assignment root is zero."""


class OMLRegistryInvalidLicenseSigner(RegistryRevert):
    """The licence offer is not signed by the model owner."""


class OMLRegistryZeroStake(RegistryRevert):
    """The licence payment leaves no stake above the fee."""


class OMLRegistryInvalidChallengeLength(RegistryRevert):
    """The challenge arrays are empty or of different lengths."""


class OMLRegistryFingerprintOutOfRange(RegistryRevert):
    """A fingerprint index is not below numFingerprints."""


class OMLRegistryInvalidProof(RegistryRevert):
    """A Merkle proof does not link the leaf to the root."""


class OMLRegistryFingerprintAlreadySpent(RegistryRevert):
    """A fingerprint was already revealed."""


class OMLRegistryInvalidResponseSigner(RegistryRevert):
    """A response is not signed by the accused host."""


class OMLRegistryBelowThreshold(RegistryRevert):
    """Too few fingerprints matched."""


class OMLRegistryNothingToWithdraw(RegistryRevert):
    """The caller has no balance."""


class OMLRegistryWithdrawFailed(RegistryRevert):
    """The value transfer failed."""


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
