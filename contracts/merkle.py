# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Merkle commitments to salted OML fingerprints, matching `OMLRegistry.sol` (sorted-pair keccak tree).

Encoding (the contract's `leafHash` and OpenZeppelin `MerkleProof`):

* key hash ``k_i = keccak256(utf8(key_i))``, response hash ``r_i = keccak256(utf8(response_i))``;
* leaf ``L_i = keccak256(abi.encode(uint256 i, bytes32 salt_i, bytes32 k_i, bytes32 r_i))`` (128 bytes hashed,
  so a leaf can never be confused with an inner node, whose preimage is 64 bytes);
* inner node ``H(a, b) = keccak256(min(a, b) || max(a, b))`` (sorted pair, so proofs carry no left/right bits);
* layers are built left to right over leaves in list order; an odd last node is promoted unchanged to the next
  layer (its proof simply has no sibling at that level).

Example:
  >>> tree = MerkleTree.build([b"\\x01" * 32, b"\\x02" * 32, b"\\x03" * 32])
  >>> verify_proof(tree.root, b"\\x03" * 32, tree.proof(2))
  True
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_abi import encode
from eth_utils import keccak

__all__ = ["Fingerprint", "MerkleTree", "hash_pair", "hash_text", "verify_proof", "derive_salt"]


def hash_text(text: str) -> bytes:
    """Returns keccak256 of the UTF-8 bytes of `text` (key, response and output hashes)."""
    return keccak(text.encode("utf-8"))


def derive_salt(secret: bytes, model_hash: bytes, index: int) -> bytes:
    """Returns the 32-byte salt of leaf `index` of one model: HMAC-SHA256(secret, model_hash ‖ uint256 index).

    The model hash separates models, so a fingerprint file reused for two models gives unrelated leaves.

    Args:
      secret: the owner's secret (≥ 16 bytes); whoever holds it can open every leaf.
      model_hash: the model's 32-byte content hash (the one registered on chain).
      index: leaf index ≥ 0.
    """
    if len(secret) < 16:
        raise ValueError(f"secret must be at least 16 bytes, got {len(secret)}")
    if len(model_hash) != 32:
        raise ValueError(f"model_hash must be 32 bytes, got {len(model_hash)}")
    if index < 0:
        raise ValueError(f"index must be ≥ 0, got {index}")
    return hmac.new(secret, model_hash + index.to_bytes(32, "big"), "sha256").digest()


@dataclass(frozen=True)
class Fingerprint:
    """One salted fingerprint leaf preimage (the contract's `IOMLRegistry.Fingerprint`).

    Attributes:
      index: leaf index in [0, numFingerprints).
      key: the fingerprint key (prompt).
      response: the embedded response.
      salt: 32-byte secret salt that hides the leaf until it is revealed.
    """

    index: int
    key: str
    response: str
    salt: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"index must be ≥ 0, got {self.index}")
        if len(self.salt) != 32:
            raise ValueError(f"salt must be 32 bytes, got {len(self.salt)}")

    @property
    def key_hash(self) -> bytes:
        """keccak256 of the key."""
        return hash_text(self.key)

    @property
    def response_hash(self) -> bytes:
        """keccak256 of the response."""
        return hash_text(self.response)

    def as_tuple(self) -> tuple[int, bytes, bytes, bytes]:
        """The ABI tuple `(index, salt, keyHash, responseHash)`."""
        return (self.index, self.salt, self.key_hash, self.response_hash)

    def leaf(self) -> bytes:
        """The leaf hash `keccak256(abi.encode(index, salt, keyHash, responseHash))`."""
        return keccak(encode(["uint256", "bytes32", "bytes32", "bytes32"], list(self.as_tuple())))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Sorted-pair inner node: keccak256(min(a, b) || max(a, b)) (OpenZeppelin `Hashes.commutativeKeccak256`)."""
    return keccak(a + b) if a < b else keccak(b + a)


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Returns whether `proof` (siblings from leaf to root) links `leaf` to `root`."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


@dataclass(frozen=True)
class MerkleTree:
    """A sorted-pair Merkle tree over 32-byte leaves, kept as its layers (layer 0 = leaves).

    Build with :meth:`build` (or :meth:`from_fingerprints`); ``tree.proof(i)`` proves the i-th leaf in list
    order. For fingerprints the list order is the order given, which need not be by fingerprint index (a
    host's assignment tree holds a subset).
    """

    layers: tuple[tuple[bytes, ...], ...]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Builds the tree.

        Args:
          leaves: one or more 32-byte leaf hashes.

        Raises:
          ValueError: if `leaves` is empty or a leaf is not 32 bytes.
        """
        if not leaves:
            raise ValueError("leaves must be non-empty, got 0 leaves")
        for i, leaf in enumerate(leaves):
            if len(leaf) != 32:
                raise ValueError(f"leaves[{i}] must be 32 bytes, got {len(leaf)}")
        layers = [tuple(bytes(x) for x in leaves)]
        while len(layers[-1]) > 1:
            prev = layers[-1]
            nxt = [hash_pair(prev[j], prev[j + 1]) for j in range(0, len(prev) - 1, 2)]
            if len(prev) % 2:
                nxt.append(prev[-1])
            layers.append(tuple(nxt))
        return cls(layers=tuple(layers))

    @classmethod
    def from_fingerprints(cls, fingerprints: Sequence[Fingerprint]) -> MerkleTree:
        """Builds the tree over `fingerprints[i].leaf()` in the given order."""
        return cls.build([fp.leaf() for fp in fingerprints])

    @property
    def root(self) -> bytes:
        """The 32-byte root."""
        return self.layers[-1][0]

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self.layers[0])

    def proof(self, position: int) -> list[bytes]:
        """Returns the sibling hashes from leaf `position` up to the root.

        Raises:
          ValueError: if `position` is not in [0, size).
        """
        if not 0 <= position < self.size:
            raise ValueError(f"position must be in [0, {self.size}), got {position}")
        proof = []
        for layer in self.layers[:-1]:
            sibling = position ^ 1
            if sibling < len(layer):
                proof.append(layer[sibling])
            position //= 2
        return proof
