# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The operations behind `loyal chain ...`: each opens a chain, acts, and keeps the deployment state file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account
from eth_account.signers.local import LocalAccount

from loyal.contracts.chain import Chain, insecure_dev_account
from loyal.contracts.client import ConfigRecord, OMLRegistryClient
from loyal.contracts.eip712 import LicenseOffer
from loyal.contracts.errors import ChainError
from loyal.contracts.host import Clock, HostServer, host_address, wall_clock
from loyal.contracts.merkle import hash_text
from loyal.contracts.workflow import (
    OwnerCommitment, StandInModel, challenge_host, license_host, load_fingerprint_pairs, model_directory_hash,
)
from loyal.protocols.oml.assignment import assign_hosts
from loyal.protocols.oml.statistics import to_wad

__all__ = [
    "account_from", "challenge", "deploy", "finalize", "join", "license", "load_secret", "register_model",
    "serve_host", "status",
]

#: Gas funding for CLI accounts on test chains.
_FUNDING_WEI = 100 * 10**18


def account_from(key_hex: str | None, role: str) -> LocalAccount:
    """The account for `role`: `key_hex`, else env `LOYAL_CHAIN_<ROLE>_KEY`, else the public dev key."""
    key = key_hex or os.environ.get(f"LOYAL_CHAIN_{role.upper()}_KEY")
    if key:
        try:
            return Account.from_key(key)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{role} key must be a 32-byte hex private key: {e}") from None
    return insecure_dev_account(role)


def load_secret(path: Path, create: bool) -> bytes:
    """Reads the owner's salt secret (hex) from `path`, creating a random one (mode 0600) if allowed.

    Raises:
      FileNotFoundError: if it is missing and `create` is False.
    """
    if path.is_file():
        return bytes.fromhex(path.read_text().strip())
    if not create:
        raise FileNotFoundError(f"no owner secret at {path}; register the model first (or pass --secret-file)")
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex())
    return secret


def _registry(chain: Chain) -> OMLRegistryClient:
    address = chain.state.get("registry")
    if not address:
        raise ChainError("no registry deployed on this chain; run `loyal chain deploy` first")
    return OMLRegistryClient(chain, address)


def _commitment(registry: OMLRegistryClient, model_id: int, fingerprints: Path, secret: bytes) -> OwnerCommitment:
    model_hash = registry.get_model(model_id).model_hash
    return OwnerCommitment.create(load_fingerprint_pairs(fingerprints), secret, model_hash)


def deploy(
    chain: Chain, owner: LocalAccount, arbiters: list[str] | None, quorum: int, config: ConfigRecord
) -> dict[str, Any]:
    """Deploys a registry and records it in the state file.

    Without `arbiters`, the public dev accounts "arbiter-1".."arbiter-3" (test chains only).
    """
    chain.ensure_funded(owner.address, _FUNDING_WEI)
    arbiters = arbiters or [insecure_dev_account(f"arbiter-{i}").address for i in (1, 2, 3)]
    registry, tx = OMLRegistryClient.deploy(chain, owner, arbiters, quorum, config)
    chain.state["registry"] = registry.address
    chain.save()
    return {"registry": registry.address, "chain_id": chain.chain_id, "arbiters": arbiters, "quorum": quorum,
            "gas": tx.gas_used}


def register_model(
    chain: Chain, owner: LocalAccount, model_dir: Path, fingerprints: Path, secret: bytes, p0: float,
    target_fpr: float, slash_cap: int, metadata_uri: str, queries: int,
) -> dict[str, Any]:
    """Commits to the fingerprints (salted with `secret` for this model) and registers the model.

    The contract computes τ(n) from `p0` and `target_fpr` for every challenge size n; the result reports τ(queries).
    """
    registry = _registry(chain)
    pairs = load_fingerprint_pairs(fingerprints)
    model_hash = model_directory_hash(model_dir)
    commitment = OwnerCommitment.create(pairs, secret, model_hash)
    chain.ensure_funded(owner.address, _FUNDING_WEI)
    model_id, tx = registry.register_model(owner, model_hash, commitment.tree.root, len(pairs), to_wad(p0),
                                           to_wad(target_fpr), slash_cap, metadata_uri)
    return {"model_id": model_id, "fingerprint_root": "0x" + commitment.tree.root.hex(),
            "num_fingerprints": len(pairs), "queries": queries,
            "threshold": registry.threshold_for(model_id, min(queries, len(pairs))), "gas": tx.gas_used}


def join(chain: Chain, host: LocalAccount, endpoint: str, stake: int) -> dict[str, Any]:
    """Joins `host` to the platform with `stake` wei (once, for all licences)."""
    registry = _registry(chain)
    chain.ensure_funded(host.address, stake + _FUNDING_WEI)
    tx = registry.join_platform(host, hash_text(endpoint), stake)
    return {"host": host.address, "endpoint": endpoint, "stake": stake, "gas": tx.gas_used}


def license(  # noqa: A001 (the registry's verb)
    chain: Chain, owner: LocalAccount, host: LocalAccount, model_id: int, fingerprints: Path, secret: bytes,
    term: int, fee: int, offer_valid_s: int, assignment_size: int | None, seed: int,
) -> dict[str, Any]:
    """Assigns the host a random subset of the fingerprints; the owner offers a licence, the host checks and takes it.

    The offer's nonce is the next one this state file has not used for the model.
    """
    registry = _registry(chain)
    commitment = _commitment(registry, model_id, fingerprints, secret)
    n = len(commitment.fingerprints)
    size = n if assignment_size is None else assignment_size
    indices = assign_hosts(n, [host.address], size, np.random.default_rng(seed)).subsets[host.address]
    _, tree = commitment.subset(indices)
    nonces = chain.state.setdefault("offer_nonces", {})
    nonce = nonces.get(str(model_id), 0) + 1
    chain.ensure_funded(host.address, fee + _FUNDING_WEI)
    offer = LicenseOffer(model_id, tree.root, term, chain.now() + offer_valid_s, fee, nonce)
    tx = license_host(registry, owner, host, offer)
    nonces[str(model_id)] = nonce
    chain.state.setdefault("assignments", {})[f"{model_id}:{host.address}"] = list(indices)
    chain.save()
    period = registry.get_licenses(model_id, host.address)[-1]
    return {"model_id": model_id, "host": host.address, "assignment_root": "0x" + tree.root.hex(),
            "assigned": len(indices), "nonce": nonce, "start": period.start, "end": period.end, "fee": fee,
            "gas": tx.gas_used}


def challenge(
    chain: Chain, owner: LocalAccount, model_id: int, fingerprints: Path, secret: bytes, host_url: str, queries: int,
    clock: Clock = wall_clock,
) -> dict[str, Any]:
    """Commits to `queries` unspent fingerprints, queries the (unlicensed) host at `host_url`, reveals every answer.

    Raises:
      ValueError: if the host holds a licence (its answers are not slashable) or too few fingerprints are left.
    """
    registry = _registry(chain)
    commitment = _commitment(registry, model_id, fingerprints, secret)
    host = host_address(host_url)
    result = challenge_host(registry, owner, model_id, commitment, host, host_url, queries, secret, clock=clock)
    return {"model_id": model_id, **result}


def finalize(chain: Chain, account: LocalAccount, challenge_id: int) -> dict[str, Any]:
    """Finalizes a claim whose dispute (or voting) window has closed."""
    registry = _registry(chain)
    tx = registry.finalize_claim(account, challenge_id)
    record = registry.get_challenge(challenge_id)
    return {"challenge_id": challenge_id, "status": record.status.name.lower(), "slashed": record.slashed,
            "gas": tx.gas_used}


def status(chain: Chain) -> dict[str, Any]:
    """Chain, registry, models and challenges (off-chain iteration over ids)."""
    out: dict[str, Any] = {"kind": chain.kind, "chain_id": chain.chain_id, "block": chain.w3.eth.block_number,
                           "registry": chain.state.get("registry"), "models": [], "challenges": []}
    if not out["registry"]:
        return out
    registry = _registry(chain)
    for model_id in range(1, registry.model_count() + 1):
        m = registry.get_model(model_id)
        out["models"].append({"model_id": model_id, "owner": m.owner, "model_hash": "0x" + m.model_hash.hex(),
                              "num_fingerprints": m.num_fingerprints, "spent_fingerprints": m.spent_fingerprints,
                              "p0": m.p0 / 1e18, "target_fpr": m.target_fpr / 1e18, "slash_cap": m.slash_cap,
                              "metadata_uri": m.metadata_uri})
    for challenge_id in range(1, registry.challenge_count() + 1):
        c = registry.get_challenge(challenge_id)
        out["challenges"].append({"challenge_id": challenge_id, "model_id": c.model_id, "host": c.host,
                                  "status": c.status.name.lower(), "count": c.count, "threshold": c.threshold,
                                  "matches": c.matches, "deadline": c.deadline, "slashed": c.slashed})
    return out


def serve_host(
    chain: Chain, host: LocalAccount, fingerprints: Path, endpoint: str, port: int, clock: Clock = wall_clock
) -> HostServer:
    """A started `HostServer` for the stand-in model of `fingerprints` (the caller stops it)."""
    registry = _registry(chain)
    model = StandInModel(load_fingerprint_pairs(fingerprints))
    return HostServer(model, host, registry.domain, endpoint, clock=clock, port=port).start()
