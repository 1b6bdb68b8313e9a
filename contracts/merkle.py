# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Merkle commitments to salted OML fingerprints: OpenZeppelin's `StandardMerkleTree`, as `OMLRegistry.sol` checks.

The layout is `@openzeppelin/merkle-tree`'s (v1.0.8, `StandardMerkleTree.of(values, ["uint256", "bytes32",
"bytes32", "bytes32"])`), so JavaScript tooling rebuilds our roots and proofs and ours verify theirs
(tests/contracts/test_contracts_merkle.py runs the npm package in Node):

* key hash ``k_i = keccak256(utf8(key_i))``, response hash ``r_i = keccak256(utf8(response_i))``;
* leaf ``L_i = keccak256(keccak256(abi.encode(uint256 i, bytes32 salt_i, bytes32 k_i, bytes32 r_i)))`` (hashed
  twice: a 64-byte inner-node preimage can never pass as a leaf, the second-preimage defence OpenZeppelin uses);
* inner node ``H(a, b) = keccak256(min(a, b) || max(a, b))`` (sorted pair, so proofs carry no left/right bits);
* the tree is an array of 2n − 1 nodes: leaves sorted by hash fill it from the end, node k is the parent of
  2k + 1 and 2k + 2, the root is node 0 (`makeMerkleTree`); a proof lists the siblings from the leaf up.

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

__all__ = ["Fingerprint", "MerkleTree", "hash_pair", "hash_text", "verify_proof", "derive_salt", "LEAF_ENCODING"]

#: ABI types of a leaf's value, the `leafEncoding` of `StandardMerkleTree.of`.
LEAF_ENCODING = ("uint256", "bytes32", "bytes32", "bytes32")


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
        """The leaf hash `keccak256(keccak256(abi.encode(index, salt, keyHash, responseHash)))` (`standardLeafHash`)."""
        return keccak(keccak(encode(list(LEAF_ENCODING), list(self.as_tuple()))))


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
    """OpenZeppelin's `StandardMerkleTree` layout over 32-byte leaves (see the module docstring).

    Build with :meth:`build` (or :meth:`from_fingerprints`); ``tree.proof(i)`` proves the i-th leaf in the
    order given to `build` (the tree itself sorts leaves by hash). For fingerprints the order given need not
    be by fingerprint index (a host's assignment tree holds a subset).

    Attributes:
      nodes: the 2n − 1 nodes, root first (`StandardMerkleTree.dump().tree`).
      positions: node index of each leaf, in the order given.
    """

    nodes: tuple[bytes, ...]
    positions: tuple[int, ...]

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
        n = len(leaves)
        nodes: list[bytes] = [b""] * (2 * n - 1)
        positions = [0] * n
        for rank, i in enumerate(sorted(range(n), key=lambda j: bytes(leaves[j]))):  # stable, as Array.sort
            positions[i] = len(nodes) - 1 - rank
            nodes[positions[i]] = bytes(leaves[i])
        for k in range(len(nodes) - 1 - n, -1, -1):
            nodes[k] = hash_pair(nodes[2 * k + 1], nodes[2 * k + 2])
        return cls(nodes=tuple(nodes), positions=tuple(positions))

    @classmethod
    def from_fingerprints(cls, fingerprints: Sequence[Fingerprint]) -> MerkleTree:
        """Builds the tree over `fingerprints[i].leaf()`; `proof(i)` proves `fingerprints[i]`."""
        return cls.build([fp.leaf() for fp in fingerprints])

    @property
    def root(self) -> bytes:
        """The 32-byte root."""
        return self.nodes[0]

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self.positions)

    def leaf(self, position: int) -> bytes:
        """The leaf given at `position` to `build`."""
        return self.nodes[self.positions[self._check(position)]]

    def proof(self, position: int) -> list[bytes]:
        """Returns the sibling hashes from leaf `position` (in the order given to `build`) up to the root.

        Raises:
          ValueError: if `position` is not in [0, size).
        """
        k = self.positions[self._check(position)]
        proof = []
        while k > 0:
            proof.append(self.nodes[k + 1 if k % 2 else k - 1])
            k = (k - 1) // 2
        return proof

    def _check(self, position: int) -> int:
        if not 0 <= position < self.size:
            raise ValueError(f"position must be in [0, {self.size}), got {position}")
        return position
