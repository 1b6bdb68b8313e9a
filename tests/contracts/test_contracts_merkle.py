# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Python Merkle tree, EIP-712 signing and τ(n) agree with the contract (`leafHash`, `verifyFingerprint`,
`responseDigest`, `thresholdFor`)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest
from eth_keys import keys
from eth_utils import keccak
from hypothesis import example, given
from hypothesis import strategies as st

from loyal.contracts import eip712
from loyal.contracts.artifacts import CONTRACTS_DIR
from loyal.contracts.chain import insecure_dev_account, open_chain
from loyal.contracts.client import OMLRegistryClient
from loyal.contracts.merkle import Fingerprint, MerkleTree, derive_salt, hash_pair, verify_proof
from loyal.contracts.demo import DEMO_CONFIG as CONFIG
from loyal.protocols.oml.statistics import chain_threshold


@pytest.fixture(scope="module")
def registry():
    chain = open_chain(None, state_path=None)
    owner = insecure_dev_account("owner")
    chain.ensure_funded(owner.address, 10**20)
    return OMLRegistryClient.deploy(chain, owner, [owner.address], 1, CONFIG)[0]


def test_three_leaf_root_is_closed_form():
    a, b, c = (bytes([i]) * 32 for i in (3, 1, 2))
    # StandardMerkleTree: sorted leaves b < c < a fill nodes 4, 3, 2 of five; node 1 = H(c, b), root = H(node 1, a).
    tree = MerkleTree.build([a, b, c])
    assert tree.root == hash_pair(hash_pair(c, b), a)
    assert tree.proof(0) == [hash_pair(c, b)] and tree.proof(1) == [c, a] and tree.proof(2) == [b, a]
    assert hash_pair(a, b) == hash_pair(b, a) == keccak(b + a)


def test_single_leaf_tree_is_its_leaf_with_empty_proof():
    tree = MerkleTree.build([b"\x07" * 32])
    assert tree.root == b"\x07" * 32 and tree.proof(0) == []


def test_build_fails_if_empty_or_bad_leaf():
    with pytest.raises(ValueError, match=r"leaves must be non-empty, got 0 leaves"):
        MerkleTree.build([])
    with pytest.raises(ValueError, match=r"leaves\[1\] must be 32 bytes, got 3"):
        MerkleTree.build([b"\x00" * 32, b"abc"])
    with pytest.raises(ValueError, match=r"position must be in \[0, 1\), got 1"):
        MerkleTree.build([b"\x00" * 32]).proof(1)


fingerprint_lists = st.lists(
    st.tuples(st.binary(min_size=32, max_size=32), st.text(max_size=12), st.text(max_size=6)), min_size=1, max_size=33
)


@given(items=fingerprint_lists, pick=st.integers(min_value=0), flip=st.integers(min_value=0))
@example(items=[(b"\x00" * 32, "k", "r")] * 2, pick=1, flip=0)  # identical keys: leaves differ only by index
def test_python_proofs_match_contract_verification(registry, items, pick, flip):
    fps = [Fingerprint(i, key, resp, salt) for i, (salt, key, resp) in enumerate(items)]
    tree = MerkleTree.from_fingerprints(fps)
    position = pick % len(fps)
    fp, proof = fps[position], tree.proof(position)
    # The contract computes the same leaf and accepts the Python proof.
    assert registry.leaf_hash(fp) == fp.leaf()
    assert verify_proof(tree.root, fp.leaf(), proof)
    assert registry.verify_fingerprint(tree.root, fp, proof)
    # A tampered proof or a tampered leaf is rejected by both.
    if proof:
        bad = list(proof)
        k = flip % len(bad)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        assert not verify_proof(tree.root, fp.leaf(), bad)
        assert not registry.verify_fingerprint(tree.root, fp, bad)
    other = Fingerprint(fp.index, fp.key, fp.response + "x", fp.salt)
    assert not registry.verify_fingerprint(tree.root, other, proof)


@given(timestamp=st.integers(min_value=0, max_value=2**64 - 1), prompt=st.text(max_size=20),
       output=st.text(max_size=20), endpoint=st.binary(min_size=32, max_size=32))
def test_eip712_signature_recovers_on_contract_digest(registry, timestamp, prompt, output, endpoint):
    host = insecure_dev_account("host")
    prompt_hash, output_hash = keccak(prompt.encode()), keccak(output.encode())
    signature = eip712.sign_response(host, registry.domain, prompt_hash, output_hash, timestamp, endpoint)
    digest = registry.response_digest(prompt_hash, output_hash, timestamp, endpoint)
    sig = keys.Signature(signature[:64] + bytes([signature[64] - 27]))
    assert sig.recover_public_key_from_msg_hash(digest).to_checksum_address() == host.address
    message = eip712.response_message(registry.domain, prompt_hash, output_hash, timestamp, endpoint)
    assert eip712.try_recover(message, signature) == host.address


def test_salts_are_per_model():
    # Prepare: one secret, one index, two models (finding 7: a reused fingerprint file gave identical leaves).
    secret = b"s" * 32
    # Assert: HMAC-SHA256(secret, model_hash ‖ uint256 index), golden from hashlib.
    import hmac

    expected = hmac.new(secret, b"\x01" * 32 + (5).to_bytes(32, "big"), "sha256").digest()
    assert derive_salt(secret, b"\x01" * 32, 5) == expected
    assert derive_salt(secret, b"\x01" * 32, 5) != derive_salt(secret, b"\x02" * 32, 5)
    with pytest.raises(ValueError, match=r"model_hash must be 32 bytes, got 3"):
        derive_salt(secret, b"abc", 0)


_registered: dict[tuple[int, int], int] = {}


@given(n=st.integers(min_value=1, max_value=1024), p0=st.integers(min_value=1, max_value=5 * 10**17),
       fpr=st.integers(min_value=1, max_value=10**18 - 1))
@example(n=1024, p0=10**18 // 16, fpr=10**9)  # the longest loop at the documented edge (τ = 116)
@example(n=1024, p0=5 * 10**17, fpr=1)  # q^n underflows: no claim
def test_contract_threshold_equals_the_python_mirror(registry, n, p0, fpr):
    # Fuzz the maths: OMLThreshold.threshold and statistics.chain_threshold agree bit for bit.
    if (p0, fpr) not in _registered:
        owner = insecure_dev_account("owner")
        model_hash = keccak(f"fuzz-{p0}-{fpr}".encode())
        _registered[(p0, fpr)] = registry.register_model(owner, model_hash, b"\x01" * 32, 1, p0, fpr, 0)[0]
    assert registry.threshold_for(_registered[(p0, fpr)], n) == chain_threshold(n, p0, fpr)


_OZ = CONTRACTS_DIR / "node_modules" / "@openzeppelin" / "merkle-tree"


@pytest.mark.skipif(not _OZ.is_dir() or shutil.which("node") is None,
                    reason="contracts/node_modules is absent (run `make install`, which runs `npm ci` in contracts/)")
@pytest.mark.parametrize("count", [1, 2, 7, 32])
def test_openzeppelin_merkle_tree_rebuilds_our_root_and_proofs(registry, count):
    # Arrange: fingerprints with shuffled indices (a host's assignment tree is a subset in any order).
    rng = random.Random(count)  # test data, not secrets
    fps = [Fingerprint(i, f"key {i}", f"response {i}", derive_salt(b"s" * 16, b"m" * 32, i))
           for i in rng.sample(range(1000), count)]
    tree = MerkleTree.from_fingerprints(fps)
    values = [[fp.index, *("0x" + x.hex() for x in fp.as_tuple()[1:])] for fp in fps]
    # Execute: @openzeppelin/merkle-tree's StandardMerkleTree.of(values, leafEncoding) in Node.
    out = json.loads(subprocess.run(["node", "scripts/oz_merkle.js"], cwd=CONTRACTS_DIR, input=json.dumps(values),
                                    capture_output=True, text=True, check=True, timeout=60).stdout)
    # Assert: same leaves, root and proofs; JS verifies its own proofs, and the contract accepts them.
    assert out["verified"]
    assert [bytes.fromhex(x[2:]) for x in out["leaves"]] == [fp.leaf() for fp in fps]
    assert bytes.fromhex(out["root"][2:]) == tree.root
    for i, fp in enumerate(fps):
        js_proof = [bytes.fromhex(x[2:]) for x in out["proofs"][i]]
        assert js_proof == tree.proof(i)
        assert registry.verify_fingerprint(tree.root, fp, js_proof)
