# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Salted Merkle tree: pruned multi-openings verify, and any change is caught."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.zk.merkle import SALT_BYTES, MerkleError, MerkleTree, sibling_count, verify_opening


def _tree(count: int = 64) -> tuple[MerkleTree, np.ndarray]:
    rng = np.random.default_rng(0)  # test data only
    leaves = rng.integers(0, 256, (count, 40), dtype=np.uint8)
    salts = rng.integers(0, 256, (count, SALT_BYTES), dtype=np.uint8)
    return MerkleTree(leaves, salts), leaves


def _args(tree: MerkleTree, leaves: np.ndarray, idx: np.ndarray):
    return ([leaves[i].tobytes() for i in idx], [tree.salts[i].tobytes() for i in idx], tree.open(idx))


@pytest.mark.parametrize("indices", [[0], [63], [0, 1], [3, 4, 5, 60], list(range(64)), [1, 17, 33, 49]])
def test_multi_opening_verifies_and_is_pruned(indices: list[int]) -> None:
    # Prepare
    tree, leaves = _tree()
    idx = np.array(indices)
    # Execute
    got_leaves, salts, siblings = _args(tree, leaves, idx)
    # Assert
    assert len(siblings) == sibling_count(idx, 64) <= len(idx) * 6
    verify_opening(tree.root, 64, idx, got_leaves, salts, siblings)


def test_verify_opening_fails_if_leaf_salt_or_sibling_changes() -> None:
    tree, leaves = _tree()
    idx = np.array([2, 9, 40])
    got_leaves, salts, siblings = _args(tree, leaves, idx)
    bad_leaf = [b"\x00" + got_leaves[0][1:]] + got_leaves[1:]
    bad_salt = [bytes(SALT_BYTES)] + salts[1:]
    bad_sib = [bytes(32)] + siblings[1:]
    for args in ((bad_leaf, salts, siblings), (got_leaves, bad_salt, siblings), (got_leaves, salts, bad_sib)):
        with pytest.raises(MerkleError, match="does not match"):
            verify_opening(tree.root, 64, idx, *args)
    with pytest.raises(MerkleError, match="too few"):
        verify_opening(tree.root, 64, idx, got_leaves, salts, siblings[:-1])
    with pytest.raises(MerkleError, match="unused"):
        verify_opening(tree.root, 64, idx, got_leaves, salts, siblings + [bytes(32)])
