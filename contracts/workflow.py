# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Owner and host steps on top of the client: commit fingerprints, register, license, challenge a host URL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from loyal.contracts.client import ChallengeItem, OMLRegistryClient, TxResult
from loyal.contracts.eip712 import sign_license
from loyal.contracts.host import SignedOutput, query_host
from loyal.contracts.merkle import Fingerprint, MerkleTree, derive_salt

__all__ = [
    "FingerprintPair", "OwnerCommitment", "load_fingerprint_pairs", "model_directory_hash", "StandInModel",
    "license_host", "collect_responses", "build_challenge",
]


@dataclass(frozen=True)
class FingerprintPair:
    """A (key, response) pair at `index` (the OML fingerprint, before salting)."""

    index: int
    key: str = field(repr=False)
    response: str = field(repr=False)


def load_fingerprint_pairs(path: str | Path) -> tuple[FingerprintPair, ...]:
    """Reads a fingerprint JSONL file: one object per line with "key" and "response" (and optional "index").

    Files written by `loyal.protocols.oml.fingerprints` carry more fields; only these three are used here.
    Without "index", the line order (from 0) is the index.

    Raises:
      ValueError: if a line is malformed, an index repeats, or the file holds no fingerprint.
      FileNotFoundError: if `path` does not exist.
    """
    path = Path(path)
    pairs: list[FingerprintPair] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            pair = FingerprintPair(int(obj.get("index", len(pairs))), str(obj["key"]), str(obj["response"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{path}:{lineno}: expected {{\"key\": str, \"response\": str}}, got an error: {e}") from None
        pairs.append(pair)
    if not pairs:
        raise ValueError(f"{path}: fingerprint file is empty (expected one JSON object per line)")
    indices = [p.index for p in pairs]
    if sorted(indices) != list(range(len(pairs))):
        raise ValueError(f"{path}: fingerprint indices must be 0..{len(pairs) - 1} without repeats")
    return tuple(sorted(pairs, key=lambda p: p.index))


def model_directory_hash(directory: str | Path) -> bytes:
    """SHA-256 over every file of `directory` (relative path, NUL, size, NUL, content; sorted by path).

    Raises:
      NotADirectoryError: if `directory` is not a directory.
      ValueError: if it holds no file.
    """
    root = Path(directory)
    if not root.is_dir():
        raise NotADirectoryError(f"model must be a directory, got {root}")
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        raise ValueError(f"model directory {root} holds no file")
    for p in files:
        data = p.read_bytes()
        digest.update(p.relative_to(root).as_posix().encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.digest()


@dataclass(frozen=True)
class OwnerCommitment:
    """The owner's salted fingerprints and the Merkle tree registered on chain.

    Salts are ``HMAC-SHA256(secret, index)`` (`merkle.derive_salt`), so the owner keeps one secret.
    """

    fingerprints: tuple[Fingerprint, ...]
    tree: MerkleTree

    @classmethod
    def create(cls, pairs: Sequence[FingerprintPair], secret: bytes) -> OwnerCommitment:
        """Salts `pairs` (in index order) and builds the fingerprint tree."""
        fps = tuple(Fingerprint(p.index, p.key, p.response, derive_salt(secret, p.index)) for p in pairs)
        return cls(fingerprints=fps, tree=MerkleTree.from_fingerprints(fps))

    def subset(self, indices: Sequence[int]) -> tuple[tuple[Fingerprint, ...], MerkleTree]:
        """The fingerprints at `indices` (in that order) and their assignment tree.

        Raises:
          ValueError: if `indices` is empty, repeats, or leaves [0, n).
        """
        n = len(self.fingerprints)
        if not indices or len(set(indices)) != len(indices) or not all(0 <= i < n for i in indices):
            raise ValueError(f"assignment indices must be distinct and in [0, {n}), got {list(indices)}")
        fps = tuple(self.fingerprints[i] for i in indices)
        return fps, MerkleTree.from_fingerprints(fps)


class StandInModel:
    """A stand-in fingerprinted model: answers each fingerprint key with its response, anything else with a
    fixed benign reply. Replace with the real model (any `str -> str` callable) where one is available."""

    def __init__(self, pairs: Sequence[FingerprintPair], default: str = "I am a helpful assistant.") -> None:
        self._answers = {p.key: p.response for p in pairs}
        self._default = default

    def __call__(self, prompt: str) -> str:
        return self._answers.get(prompt, self._default)


def license_host(
    registry: OMLRegistryClient,
    owner: LocalAccount,
    host: LocalAccount,
    model_id: int,
    assignment_root: bytes,
    stake: int,
) -> TxResult:
    """Owner signs the licence offer for `assignment_root`; the host pays fee + `stake` and takes it."""
    if stake <= 0:
        raise ValueError(f"stake must be > 0 wei, got {stake}")
    fee = registry.get_model(model_id).license_fee
    signature = sign_license(owner, registry.domain, model_id, host.address, assignment_root)
    return registry.license_host(host, model_id, assignment_root, signature, value=fee + stake)


def collect_responses(url: str, fingerprints: Sequence[Fingerprint]) -> list[SignedOutput]:
    """Queries the host at `url` with each fingerprint key; returns its signed answers in order."""
    return [query_host(url, fp.key) for fp in fingerprints]


def build_challenge(
    fingerprints: Sequence[Fingerprint], tree: MerkleTree, outputs: Sequence[SignedOutput]
) -> list[ChallengeItem]:
    """Pairs each revealed fingerprint with its proof in `tree` and the host's signed output.

    Args:
      fingerprints: revealed fingerprints; each must be a leaf of `tree`.
      tree: the tree the contract checks against (the host's assignment tree if it is licensed, else the
        model's fingerprint tree).
      outputs: the host's signed answer to each fingerprint key, same order.

    Raises:
      ValueError: on a length mismatch, a fingerprint not in `tree`, or an output for another prompt.
    """
    if len(fingerprints) != len(outputs):
        raise ValueError(f"need one output per fingerprint, got {len(outputs)} for {len(fingerprints)}")
    position = {leaf: i for i, leaf in enumerate(tree.layers[0])}
    items = []
    for fp, out in zip(fingerprints, outputs, strict=True):
        leaf = fp.leaf()
        if leaf not in position:
            raise ValueError(f"fingerprint {fp.index} is not a leaf of the tree with root 0x{tree.root.hex()}")
        if out.prompt != fp.key:
            raise ValueError(f"output for fingerprint {fp.index} answers a different prompt")
        items.append(ChallengeItem(fp, tuple(tree.proof(position[leaf])), out.output_hash, out.signature))
    return items
