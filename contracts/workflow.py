# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Owner and host steps on top of the client: commit fingerprints, offer licences, plan and reveal challenges."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from loyal.contracts.client import ChallengeItem, OMLRegistryClient, TxResult
from loyal.contracts.eip712 import Domain, LicenseOffer, license_message, sign_license, try_recover
from loyal.contracts.host import Clock, SignedOutput, query_host, wall_clock
from loyal.contracts.merkle import Fingerprint, MerkleTree, derive_salt

__all__ = [
    "ChallengePlan", "FingerprintPair", "OwnerCommitment", "StandInModel", "build_reveal", "challenge_host",
    "challenge_salt", "check_offer",
    "collect_responses", "keys_hash", "license_host", "load_fingerprint_pairs", "model_directory_hash",
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
      ValueError: if a line is malformed, an index or a key repeats, or the file holds no fingerprint.
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
    first: dict[str, int] = {}
    for p in pairs:
        if p.key in first:
            raise ValueError(f"{path}: fingerprints {first[p.key]} and {p.index} repeat the same key")
        first[p.key] = p.index
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
    """The owner's salted fingerprints of one model and the Merkle tree registered on chain.

    Salts are ``HMAC-SHA256(secret, model_hash ‖ index)`` (`merkle.derive_salt`): one secret, distinct leaves per
    model.
    """

    fingerprints: tuple[Fingerprint, ...]
    tree: MerkleTree

    @classmethod
    def create(cls, pairs: Sequence[FingerprintPair], secret: bytes, model_hash: bytes) -> OwnerCommitment:
        """Salts `pairs` (in index order) for the model `model_hash` and builds the fingerprint tree.

        Raises:
          ValueError: if a key repeats (one trial would count twice).
        """
        keys = [p.key for p in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("fingerprint keys must be distinct, got a repeated key")
        fps = tuple(Fingerprint(p.index, p.key, p.response, derive_salt(secret, model_hash, p.index)) for p in pairs)
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

    def proof(self, fingerprint: Fingerprint) -> tuple[bytes, ...]:
        """The proof of `fingerprint` against the model's fingerprint root."""
        return tuple(self.tree.proof(fingerprint.index))


class StandInModel:
    """A stand-in fingerprinted model: answers each fingerprint key with its response, anything else with a
    fixed benign reply. Replace with the real model (any `str -> str` callable) where one is available."""

    def __init__(self, pairs: Sequence[FingerprintPair], default: str = "I am a helpful assistant.") -> None:
        self._answers = {p.key: p.response for p in pairs}
        self._default = default

    def __call__(self, prompt: str) -> str:
        return self._answers.get(prompt, self._default)


def license_host(
    registry: OMLRegistryClient, owner: LocalAccount, host: LocalAccount, offer: LicenseOffer,
) -> TxResult:
    """Owner signs `offer` for `host`; the host checks it client-side and accepts it, paying the fee.

    Raises:
      ValueError: if the signature does not recover to the model owner, the offer has expired, or its nonce is
        used or revoked (nothing is sent then).
    """
    signature = sign_license(owner, registry.domain, offer, host.address)
    check_offer(registry, offer, host.address, signature)
    return registry.accept_license(host, offer, signature)


def check_offer(registry: OMLRegistryClient, offer: LicenseOffer, host: str, signature: bytes) -> None:
    """The host's client-side check of a licence offer before it pays (same rules as `acceptLicense`).

    Raises:
      ValueError: naming the rule that fails.
    """
    owner = registry.get_model(offer.model_id).owner
    signer = try_recover(license_message(registry.domain, offer, host), signature)
    if signer != owner:
        raise ValueError(f"licence offer {offer.nonce} is signed by {signer}, not by the model owner {owner}")
    if offer.expiry < registry.chain.now():
        raise ValueError(f"licence offer {offer.nonce} expired at {offer.expiry}")
    if registry.is_nonce_used(offer.model_id, offer.nonce):
        raise ValueError(f"licence offer nonce {offer.nonce} of model {offer.model_id} is used or revoked")


def keys_hash(key_hashes: Sequence[bytes]) -> bytes:
    """The contract's key hash chain: h_0 = 0, h_i = keccak256(abi.encode(h_{i-1}, keyHash_i))."""
    h = b"\0" * 32
    for k in key_hashes:
        h = keccak(encode(["bytes32", "bytes32"], [h, k]))
    return h


@dataclass(frozen=True)
class ChallengePlan:
    """A committed challenge: the fingerprints to query (sorted by key hash), the host and the salt.

    `commitment` = keccak256(abi.encode(host, keys_hash, salt)) is what `commitChallenge` stores; the host stays
    hidden until the reveal.
    """

    host: str
    fingerprints: tuple[Fingerprint, ...]
    salt: bytes = field(repr=False)

    @classmethod
    def create(cls, host: str, fingerprints: Sequence[Fingerprint], salt: bytes) -> ChallengePlan:
        """Sorts `fingerprints` by key hash (the reveal order).

        Raises:
          ValueError: if `fingerprints` is empty, a key repeats, or `salt` is not 32 bytes.
        """
        if not fingerprints:
            raise ValueError("a challenge needs at least one fingerprint, got 0")
        if len(salt) != 32:
            raise ValueError(f"salt must be 32 bytes, got {len(salt)}")
        ordered = tuple(sorted(fingerprints, key=lambda fp: fp.key_hash))
        if len({fp.key_hash for fp in ordered}) != len(ordered):
            raise ValueError("challenge keys must be distinct, got a repeated key")
        return cls(host=to_checksum_address(host), fingerprints=ordered, salt=salt)

    @property
    def commitment(self) -> bytes:
        """keccak256(abi.encode(host, keysHash, salt))."""
        chain = keys_hash([fp.key_hash for fp in self.fingerprints])
        return keccak(encode(["address", "bytes32", "bytes32"], [self.host, chain, self.salt]))


def collect_responses(url: str, fingerprints: Sequence[Fingerprint]) -> list[SignedOutput]:
    """Queries the host at `url` with each fingerprint key; returns its signed answers in order."""
    return [query_host(url, fp.key) for fp in fingerprints]


def build_reveal(
    plan: ChallengePlan, commitment: OwnerCommitment, outputs: Sequence[SignedOutput], domain: Domain,
    endpoint_hash: bytes, committed_at: int, now: int,
) -> tuple[list[ChallengeItem], int]:
    """Pairs every planned fingerprint with its proof and the host's answer; checks the answers client-side.

    An answer counts as a match only as the contract counts it: the output equals the committed response, the
    timestamp lies in [committed_at, now], the endpoint is the host's, and the signature recovers to the host by
    OpenZeppelin's rules. Other answers are still revealed (misses count).

    Returns:
      The items in reveal order and the number of matches the contract will find.

    Raises:
      ValueError: on a length mismatch or an answer to another prompt.
    """
    if len(outputs) != len(plan.fingerprints):
        raise ValueError(f"need one output per fingerprint, got {len(outputs)} for {len(plan.fingerprints)}")
    items, matches = [], 0
    for fp, out in zip(plan.fingerprints, outputs, strict=True):
        if out.prompt != fp.key:
            raise ValueError(f"output for fingerprint {fp.index} answers a different prompt")
        items.append(ChallengeItem(fp, commitment.proof(fp), out.output_hash, out.timestamp, out.signature))
        matches += (out.output_hash == fp.response_hash and committed_at <= out.timestamp <= now
                    and out.endpoint_hash == endpoint_hash and out.signer(domain) == plan.host)
    return items, matches


def challenge_salt(secret: bytes, fingerprint_root: bytes, host: str, key_chain: bytes) -> bytes:
    """The commitment salt of a challenge: HMAC-SHA256(secret, "loyal-challenge" ‖ root ‖ host ‖ keysHash).

    Derived rather than drawn, so an owner whose process dies between commit and reveal recomputes it (a commit
    that is never revealed blocks the model's next challenge).
    """
    if len(secret) < 16:
        raise ValueError(f"secret must be at least 16 bytes, got {len(secret)}")
    message = b"loyal-challenge" + fingerprint_root + bytes.fromhex(to_checksum_address(host)[2:]) + key_chain
    return hmac.new(secret, message, "sha256").digest()


def challenge_host(
    registry: OMLRegistryClient, owner: LocalAccount, model_id: int, commitment: OwnerCommitment, host: str,
    host_url: str, count: int, secret: bytes, clock: Clock = wall_clock, max_wait_s: float = 30.0,
) -> dict[str, Any]:
    """Commits to `count` unspent fingerprints against `host`, queries it, checks the answers and reveals.

    The keys are fixed on chain before the first query, so the owner cannot pick them after seeing answers; the
    host's answers must be signed after the commit (its `clock` must reach the commit's block time first). If the
    model's open commit is this very plan (same host, keys and `secret`: a run that died before revealing), it is
    resumed instead of committed again.

    Returns:
      ``{"challenge_id", "host", "count", "threshold", "matches", "expected_matches", "status", "gas"}``;
      status is "pending" (a claim in its dispute window) or "failed".

    Raises:
      ValueError: if fewer than `count` fingerprints are unspent, the host is licensed (checked before any
        transaction: a licensed host's answers are never slashable; report a leak instead), or another plan's
        commit is open.
      TimeoutError: if `clock` does not reach the commit time within `max_wait_s`.
    """
    if registry.licensed_during(model_id, host, registry.chain.now(), 2**64 - 1):
        raise ValueError(f"host {host} holds a licence for model {model_id}: its answers are not slashable")
    unspent = [fp for fp in commitment.fingerprints if not registry.is_spent(model_id, fp.index)]
    if len(unspent) < count:
        raise ValueError(f"need {count} unspent fingerprints of model {model_id}, {len(unspent)} left")
    ordered = ChallengePlan.create(host, unspent[:count], b"\0" * 32).fingerprints
    salt = challenge_salt(secret, commitment.tree.root, host, keys_hash([fp.key_hash for fp in ordered]))
    plan = ChallengePlan.create(host, ordered, salt)
    gas: dict[str, int] = {}
    open_id = registry.get_model(model_id).open_challenge
    if open_id and registry.get_challenge(open_id).commitment != plan.commitment:
        raise ValueError(f"model {model_id} has the open challenge {open_id} of another plan; reveal it first")
    if open_id:
        challenge_id = open_id
    else:
        challenge_id, commit_tx = registry.commit_challenge(owner, model_id, count, plan.commitment)
        gas["commitChallenge"] = commit_tx.gas_used
    committed_at = registry.get_challenge(challenge_id).committed_at
    deadline = time.monotonic() + max_wait_s
    while clock() < committed_at:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the host clock did not reach the commit time {committed_at} in {max_wait_s} s")
        time.sleep(0.2)
    outputs = collect_responses(host_url, plan.fingerprints)
    endpoint_hash = registry.get_host(host).endpoint_hash
    now = max(registry.chain.now() + 1, wall_clock())
    items, expected = build_reveal(plan, commitment, outputs, registry.domain, endpoint_hash, committed_at, now)
    gas["revealChallenge"] = registry.reveal_challenge(owner, challenge_id, plan.host, plan.salt, items).gas_used
    record = registry.get_challenge(challenge_id)
    return {"challenge_id": challenge_id, "host": plan.host, "count": count, "threshold": record.threshold,
            "matches": record.matches, "expected_matches": expected, "status": record.status.name.lower(),
            "gas": gas}
