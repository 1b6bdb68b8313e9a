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
from loyal.contracts.client import OMLRegistryClient
from loyal.contracts.errors import ChainError
from loyal.contracts.host import HostServer, host_address
from loyal.contracts.workflow import (
    OwnerCommitment, StandInModel, build_challenge, collect_responses, license_host, load_fingerprint_pairs,
    model_directory_hash,
)
from loyal.protocols.oml.assignment import assign_hosts
from loyal.protocols.oml.statistics import match_threshold

__all__ = [
    "account_from", "deploy", "register_model", "license", "challenge", "status", "serve_host", "load_secret",
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


def deploy(chain: Chain, owner: LocalAccount) -> dict[str, Any]:
    """Deploys a registry and records it in the state file."""
    chain.ensure_funded(owner.address, _FUNDING_WEI)
    registry, tx = OMLRegistryClient.deploy(chain, owner)
    chain.state["registry"] = registry.address
    chain.save()
    return {"registry": registry.address, "chain_id": chain.chain_id, "gas": tx.gas_used}


def register_model(
    chain: Chain, owner: LocalAccount, model_dir: Path, fingerprints: Path, secret: bytes,
    threshold: int | None, queries: int, p0: float, target_fpr: float, license_fee: int, metadata_uri: str,
) -> dict[str, Any]:
    """Commits to the fingerprints (salted with `secret`) and registers the model.

    Without `threshold`, τ = min{τ : P[Bin(queries, p0) ≥ τ] ≤ target_fpr}.
    """
    registry = _registry(chain)
    pairs = load_fingerprint_pairs(fingerprints)
    if threshold is None:
        threshold = match_threshold(min(queries, len(pairs)), p0, target_fpr)
    commitment = OwnerCommitment.create(pairs, secret)
    chain.ensure_funded(owner.address, _FUNDING_WEI)
    model_id, tx = registry.register_model(
        owner, model_directory_hash(model_dir), commitment.tree.root, len(pairs), threshold, license_fee, metadata_uri
    )
    return {"model_id": model_id, "fingerprint_root": "0x" + commitment.tree.root.hex(),
            "num_fingerprints": len(pairs), "threshold": threshold, "gas": tx.gas_used}


def license(  # noqa: A001 (the registry's verb)
    chain: Chain, owner: LocalAccount, host: LocalAccount, model_id: int, fingerprints: Path, secret: bytes,
    stake: int, assignment_size: int | None, seed: int,
) -> dict[str, Any]:
    """Assigns the host a random subset of the fingerprints, and licenses it with `stake` wei."""
    registry = _registry(chain)
    commitment = OwnerCommitment.create(load_fingerprint_pairs(fingerprints), secret)
    n = len(commitment.fingerprints)
    size = n if assignment_size is None else assignment_size
    indices = assign_hosts(n, [host.address], size, np.random.default_rng(seed)).subsets[host.address]
    _, tree = commitment.subset(indices)
    chain.ensure_funded(host.address, stake + registry.get_model(model_id).license_fee + _FUNDING_WEI)
    tx = license_host(registry, owner, host, model_id, tree.root, stake)
    chain.state.setdefault("assignments", {})[f"{model_id}:{host.address}"] = list(indices)
    chain.save()
    return {"model_id": model_id, "host": host.address, "assignment_root": "0x" + tree.root.hex(),
            "assigned": len(indices), "stake": stake, "gas": tx.gas_used}


def challenge(
    chain: Chain, owner: LocalAccount, model_id: int, fingerprints: Path, secret: bytes, host_url: str, queries: int,
) -> dict[str, Any]:
    """Queries the host at `host_url` with `queries` unspent fingerprints and submits the challenge.

    A licensed host is tested on its own assignment (proofs against its assignment root); any other host on
    the whole fingerprint set.
    """
    registry = _registry(chain)
    commitment = OwnerCommitment.create(load_fingerprint_pairs(fingerprints), secret)
    host = host_address(host_url)
    licensed = registry.get_license(model_id, host).active
    indices = chain.state.get("assignments", {}).get(f"{model_id}:{host}") if licensed else None
    if licensed and indices is None:
        raise ValueError(f"host {host} is licensed but its assignment is not in this state file")
    pool, tree = commitment.subset(indices) if indices else (commitment.fingerprints, commitment.tree)
    unspent = [fp for fp in pool if not registry.is_spent(model_id, fp.index)][:queries]
    if not unspent:
        raise ValueError(f"no unspent fingerprint left for host {host} on model {model_id}")
    items = build_challenge(unspent, tree, collect_responses(host_url, unspent))
    claim_id, tx = registry.challenge(owner, model_id, host, items)
    claim = registry.get_claim(claim_id)
    return {"claim_id": claim_id, "model_id": model_id, "host": host, "licensed": licensed,
            "matches": claim.matches, "revealed": claim.revealed, "slashed": claim.slashed,
            "verdict": "owned", "gas": tx.gas_used}


def status(chain: Chain) -> dict[str, Any]:
    """Chain, registry, models and claims (off-chain iteration over ids)."""
    out: dict[str, Any] = {"kind": chain.kind, "chain_id": chain.chain_id, "block": chain.w3.eth.block_number,
                           "registry": chain.state.get("registry"), "models": [], "claims": []}
    if not out["registry"]:
        return out
    registry = _registry(chain)
    for model_id in range(1, registry.model_count() + 1):
        m = registry.get_model(model_id)
        out["models"].append({"model_id": model_id, "owner": m.owner, "model_hash": "0x" + m.model_hash.hex(),
                              "num_fingerprints": m.num_fingerprints, "threshold": m.threshold,
                              "spent_fingerprints": m.spent_fingerprints, "license_fee": m.license_fee,
                              "metadata_uri": m.metadata_uri})
    for claim_id in range(1, registry.claim_count() + 1):
        c = registry.get_claim(claim_id)
        out["claims"].append({"claim_id": claim_id, "model_id": c.model_id, "host": c.host,
                              "matches": c.matches, "revealed": c.revealed, "slashed": c.slashed})
    return out


def serve_host(chain: Chain, host: LocalAccount, model_id: int, fingerprints: Path, port: int) -> HostServer:
    """A started `HostServer` for the stand-in model of `fingerprints` (the caller stops it)."""
    registry = _registry(chain)
    registry.get_model(model_id)  # reverts with OMLRegistryUnknownModel for a wrong id
    model = StandInModel(load_fingerprint_pairs(fingerprints))
    return HostServer(model, host, registry.domain, model_id, port=port).start()
