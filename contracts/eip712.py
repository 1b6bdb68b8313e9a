# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""EIP-712 typed data the registry verifies: host-signed answers and owner-signed licence offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils import to_checksum_address

__all__ = [
    "Domain", "LicenseOffer", "response_message", "license_message", "sign_response", "sign_license", "recover",
    "try_recover", "to_compact",
]

DOMAIN_NAME = "OMLRegistry"
DOMAIN_VERSION = "2"
#: secp256k1 group order; a signature with s > n/2 is malleable and refused (EIP-2, OpenZeppelin `ECDSA`).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_RESPONSE = [
    {"name": "promptHash", "type": "bytes32"},
    {"name": "outputHash", "type": "bytes32"},
    {"name": "timestamp", "type": "uint64"},
    {"name": "endpointHash", "type": "bytes32"},
]
_LICENSE = [
    {"name": "modelId", "type": "uint256"},
    {"name": "host", "type": "address"},
    {"name": "assignmentRoot", "type": "bytes32"},
    {"name": "term", "type": "uint64"},
    {"name": "expiry", "type": "uint64"},
    {"name": "fee", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]


@dataclass(frozen=True)
class Domain:
    """The registry's EIP-712 domain: name "OMLRegistry", version "2", chain id and contract address."""

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


@dataclass(frozen=True)
class LicenseOffer:
    """An owner's licence offer to one host (`IOMLRegistry.LicenseOffer`).

    Attributes:
      model_id: the model (≥ 1).
      assignment_root: Merkle root of the host's fingerprint subset (non-zero).
      term: licence length in seconds (> 0).
      expiry: last block timestamp at which the host can accept.
      fee: wei the host pays the owner on acceptance (≥ 0).
      nonce: per-model offer number; each is used once and the owner can revoke it.
    """

    model_id: int
    assignment_root: bytes
    term: int
    expiry: int
    fee: int
    nonce: int

    def as_tuple(self) -> tuple[int, bytes, int, int, int, int]:
        """The ABI tuple `(modelId, assignmentRoot, term, expiry, fee, nonce)`."""
        return (self.model_id, self.assignment_root, self.term, self.expiry, self.fee, self.nonce)


def response_message(
    domain: Domain, prompt_hash: bytes, output_hash: bytes, timestamp: int, endpoint_hash: bytes
) -> dict[str, Any]:
    """Typed data `Response(bytes32 promptHash, bytes32 outputHash, uint64 timestamp, bytes32 endpointHash)`."""
    return {
        "types": {"EIP712Domain": _EIP712_DOMAIN, "Response": _RESPONSE},
        "primaryType": "Response",
        "domain": domain.as_dict(),
        "message": {"promptHash": prompt_hash, "outputHash": output_hash, "timestamp": timestamp,
                    "endpointHash": endpoint_hash},
    }


def license_message(domain: Domain, offer: LicenseOffer, host: str) -> dict[str, Any]:
    """Typed data `License(modelId, host, assignmentRoot, term, expiry, fee, nonce)`."""
    return {
        "types": {"EIP712Domain": _EIP712_DOMAIN, "License": _LICENSE},
        "primaryType": "License",
        "domain": domain.as_dict(),
        "message": {"modelId": offer.model_id, "host": to_checksum_address(host),
                    "assignmentRoot": offer.assignment_root, "term": offer.term, "expiry": offer.expiry,
                    "fee": offer.fee, "nonce": offer.nonce},
    }


def _sign(account: LocalAccount, message: dict[str, Any]) -> bytes:
    return bytes(account.sign_message(encode_typed_data(full_message=message)).signature)


def sign_response(
    account: LocalAccount, domain: Domain, prompt_hash: bytes, output_hash: bytes, timestamp: int,
    endpoint_hash: bytes,
) -> bytes:
    """Returns the host's 65-byte signature over an answer (what `OMLRegistry.revealChallenge` recovers)."""
    return _sign(account, response_message(domain, prompt_hash, output_hash, timestamp, endpoint_hash))


def sign_license(account: LocalAccount, domain: Domain, offer: LicenseOffer, host: str) -> bytes:
    """Returns the owner's 65-byte signature over a licence offer (what `OMLRegistry.acceptLicense` recovers)."""
    return _sign(account, license_message(domain, offer, host))


def recover(message: dict[str, Any], signature: bytes) -> str:
    """Returns the checksummed address that signed `message` (eth-account: any s, v ∈ {0, 1, 27, 28})."""
    return Account.recover_message(encode_typed_data(full_message=message), signature=signature)


def try_recover(message: dict[str, Any], signature: bytes) -> str | None:
    """The signer of `message` under the contract's rules (OpenZeppelin `ECDSA.tryRecover`), or None.

    None for anything the contract refuses: a length other than 65, v ∉ {27, 28}, s > n/2 (malleable), or a
    signature that recovers to no key.
    """
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    if int.from_bytes(signature[32:64], "big") > SECP256K1_N // 2:
        return None
    try:
        return recover(message, signature)
    except (BadSignature, ValueError):
        return None


def to_compact(signature: bytes) -> tuple[bytes, bytes]:
    """EIP-2098 form `(r, vs)` of a 65-byte signature: vs = s with bit 255 set when v = 28.

    Raises:
      ValueError: if `signature` is not 65 bytes with v ∈ {27, 28}.
    """
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise ValueError(f"signature must be 65 bytes with v in {{27, 28}}, got {len(signature)} bytes")
    s = int.from_bytes(signature[32:64], "big") | ((signature[64] - 27) << 255)
    return signature[:32], s.to_bytes(32, "big")
