# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Channels (TLS or plaintext on loopback), Ed25519 identity keys, and end-to-end encryption of
Shamir shares between committee members (X25519 + HKDF-SHA256 + ChaCha20-Poly1305)."""

from __future__ import annotations

import json
import os
import pathlib

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from loyal.server import limits


def channel(address: str, ca_file: str | os.PathLike | None = None) -> grpc.Channel:
    """A sync channel to HOST:PORT; TLS when `ca_file` (the CA of `loyal server certs`) is given."""
    if ca_file is None:
        return grpc.insecure_channel(address, options=limits.channel_options())
    creds = grpc.ssl_channel_credentials(root_certificates=pathlib.Path(ca_file).read_bytes())
    return grpc.secure_channel(address, creds, options=limits.channel_options())


def raw_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def raw_private(key) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


class Identity:
    """An Ed25519 signing key and, once enrolled, its client id.

    Args:
      key: the private key (default: a fresh one from the OS CSPRNG).
      client_id: the id the server assigned at enrollment, if any.
    """

    def __init__(self, key: Ed25519PrivateKey | None = None, client_id: int | None = None) -> None:
        self.key = key or Ed25519PrivateKey.generate()
        self.client_id = client_id

    def __repr__(self) -> str:
        return f"Identity(client_id={self.client_id}, key=(OMITTED))"

    @property
    def public_key(self) -> bytes:
        return raw_public(self.key)

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def save(self, path: str | os.PathLike) -> None:
        from loyal.server.certs import write_private

        write_private(path, json.dumps({"ed25519": raw_private(self.key).hex(), "client_id": self.client_id}).encode())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Identity:
        d = json.loads(pathlib.Path(path).read_text())
        return cls(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(d["ed25519"])), d.get("client_id"))


def _share_key(own: X25519PrivateKey, peer: bytes, info: bytes) -> ChaCha20Poly1305:
    secret = own.exchange(X25519PublicKey.from_public_bytes(peer))
    return ChaCha20Poly1305(HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(secret))


def _info(job_id: bytes, dealer: int, recipient: int, context: bytes) -> bytes:
    return b"loyal/v1/keygen-share" + context + job_id + dealer.to_bytes(4, "little") + recipient.to_bytes(4, "little")


def encrypt_share(
    own: X25519PrivateKey, peer: bytes, job_id: bytes, dealer: int, recipient: int, share: bytes, context: bytes = b"",
) -> bytes:
    """Encrypts `share` from `dealer` to `recipient` (one key per ordered pair, job and context — key
    generation b"" or a hand-off b"handoff/<epoch>" — so a zero nonce is safe)."""
    return _share_key(own, peer, _info(job_id, dealer, recipient, context)).encrypt(b"\x00" * 12, share, None)


def decrypt_share(
    own: X25519PrivateKey, peer: bytes, job_id: bytes, dealer: int, recipient: int, ciphertext: bytes, context: bytes = b"",
) -> bytes:
    """Raises cryptography.exceptions.InvalidTag if the share was not sealed for us by `dealer`."""
    return _share_key(own, peer, _info(job_id, dealer, recipient, context)).decrypt(b"\x00" * 12, ciphertext, None)
