# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""EIP-712 typed data the registry verifies: host-signed responses and owner-signed licence offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

__all__ = ["Domain", "response_message", "license_message", "sign_response", "sign_license", "recover"]

DOMAIN_NAME = "OMLRegistry"
DOMAIN_VERSION = "1"

_EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_RESPONSE = [
    {"name": "modelId", "type": "uint256"},
    {"name": "promptHash", "type": "bytes32"},
    {"name": "outputHash", "type": "bytes32"},
]
_LICENSE = [
    {"name": "modelId", "type": "uint256"},
    {"name": "host", "type": "address"},
    {"name": "assignmentRoot", "type": "bytes32"},
]


@dataclass(frozen=True)
class Domain:
    """The registry's EIP-712 domain: name "OMLRegistry", version "1", chain id and contract address."""

    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        """The domain as eth-account's typed-data dict."""
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


def response_message(domain: Domain, model_id: int, prompt_hash: bytes, output_hash: bytes) -> dict[str, Any]:
    """Typed data `Response(uint256 modelId, bytes32 promptHash, bytes32 outputHash)`."""
    return {
        "types": {"EIP712Domain": _EIP712_DOMAIN, "Response": _RESPONSE},
        "primaryType": "Response",
        "domain": domain.as_dict(),
        "message": {"modelId": model_id, "promptHash": prompt_hash, "outputHash": output_hash},
    }


def license_message(domain: Domain, model_id: int, host: str, assignment_root: bytes) -> dict[str, Any]:
    """Typed data `License(uint256 modelId, address host, bytes32 assignmentRoot)`."""
    return {
        "types": {"EIP712Domain": _EIP712_DOMAIN, "License": _LICENSE},
        "primaryType": "License",
        "domain": domain.as_dict(),
        "message": {"modelId": model_id, "host": to_checksum_address(host), "assignmentRoot": assignment_root},
    }


def _sign(account: LocalAccount, message: dict[str, Any]) -> bytes:
    return bytes(account.sign_message(encode_typed_data(full_message=message)).signature)


def sign_response(
    account: LocalAccount, domain: Domain, model_id: int, prompt_hash: bytes, output_hash: bytes
) -> bytes:
    """Returns the host's 65-byte signature over a response (what `OMLRegistry.challenge` recovers)."""
    return _sign(account, response_message(domain, model_id, prompt_hash, output_hash))


def sign_license(account: LocalAccount, domain: Domain, model_id: int, host: str, assignment_root: bytes) -> bytes:
    """Returns the owner's 65-byte signature over a licence offer (what `OMLRegistry.licenseHost` recovers)."""
    return _sign(account, license_message(domain, model_id, host, assignment_root))


def recover(message: dict[str, Any], signature: bytes) -> str:
    """Returns the checksummed address that signed `message`."""
    return Account.recover_message(encode_typed_data(full_message=message), signature=signature)
