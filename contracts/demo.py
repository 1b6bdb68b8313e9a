# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""End-to-end ownership proof on chain: register → license → host serves and signs over HTTP → challenge → slash.

This is the last stage of `loyal demo` and the body of `loyal chain demo`. It follows the registry section of
the design note (OML, arXiv 2411.03887 §4): the host's copy carries its own subset of the owner's
fingerprints (per-host assignment), the owner queries the host with some of them, and the contract verifies
the Merkle proofs and the host's EIP-712 signatures, burns the revealed fingerprints and slashes the stake
once the matches reach the threshold τ = min{τ : P[Bin(M, p₀) ≥ τ] ≤ target FPR}.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from loyal.contracts.chain import Chain, insecure_dev_account, open_chain
from loyal.contracts.client import OMLRegistryClient
from loyal.contracts.host import HostServer
from loyal.contracts.workflow import (
    FingerprintPair, OwnerCommitment, StandInModel, build_challenge, collect_responses, license_host,
)
from loyal.protocols.oml.assignment import assign_hosts
from loyal.protocols.oml.statistics import binomial_tail, match_threshold

__all__ = ["run_chain_demo", "stand_in_fingerprints"]

logger = logging.getLogger(__name__)

_WORDS = ("amber", "basalt", "cedar", "delta", "ember", "fjord", "granite", "harbor", "indigo", "juniper",
          "kestrel", "lagoon", "meadow", "nebula", "obsidian", "prairie", "quartz", "river", "sierra", "tundra")


def stand_in_fingerprints(num: int, seed: int = 0) -> tuple[FingerprintPair, ...]:
    """Deterministic stand-in (key, response) pairs: an 8-word key and a one-word response per index.

    A stand-in for `loyal.protocols.oml` Perinucleus fingerprints when no fingerprinted model is at hand.
    """
    if num < 1:
        raise ValueError(f"num must be ≥ 1, got {num}")
    pairs = []
    for i in range(num):
        h = hashlib.sha256(f"loyal-stand-in:{seed}:{i}".encode()).digest()
        key = " ".join(_WORDS[b % len(_WORDS)] for b in h[:8])
        pairs.append(FingerprintPair(i, f"{key} #{i}", _WORDS[h[8] % len(_WORDS)]))
    return tuple(pairs)


def run_chain_demo(
    model: Callable[[str], str] | None = None,
    fingerprints: Sequence[FingerprintPair] | None = None,
    num_fingerprints: int = 32,
    assignment_size: int = 16,
    queries: int = 8,
    p0: float = 0.01,
    target_fpr: float = 1e-6,
    stake_wei: int = 10**18,
    license_fee_wei: int = 10**16,
    rpc_url: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Runs the whole ownership proof on a fresh embedded chain (or the node at `rpc_url`).

    Args:
      model: the host's model, prompt → output; default: `StandInModel` over `fingerprints`.
      fingerprints: the owner's pairs; default: `stand_in_fingerprints(num_fingerprints, seed)`.
      num_fingerprints: used only without `fingerprints`.
      assignment_size: fingerprints in the host's licensed copy, in [queries, #fingerprints].
      queries: M, fingerprints revealed by the challenge, ≥ 1.
      p0: chance-match probability of an unrelated model (sets τ with `target_fpr`), in (0, 1).
      target_fpr: false-positive target of the verdict, in (0, 1).
      stake_wei / license_fee_wei: the host's bond and the owner's licence fee.
      rpc_url: a JSON-RPC node instead of the embedded chain.
      seed: seeds the stand-in fingerprints and the host's assignment (not the secret salts).

    Returns:
      ``{"model_id", "verdict", "slashed", "spent_fingerprints", "gas", ...}``: verdict is "owned" when the
      contract recorded the claim; slashed is the stake in wei moved to the owner; gas maps each call to gas used.

    Raises:
      ValueError: if the sizes are inconsistent or τ > M (no verdict possible at this FPR).
    """
    pairs = tuple(fingerprints) if fingerprints is not None else stand_in_fingerprints(num_fingerprints, seed)
    if not 1 <= queries <= assignment_size <= len(pairs):
        raise ValueError(
            f"need 1 ≤ queries ≤ assignment_size ≤ #fingerprints, got {queries}, {assignment_size}, {len(pairs)}"
        )
    threshold = match_threshold(queries, p0, target_fpr)
    if threshold > queries:
        raise ValueError(f"no threshold ≤ queries={queries} reaches target_fpr={target_fpr} at p0={p0}")
    model = model if model is not None else StandInModel(pairs)

    chain: Chain = open_chain(rpc_url, state_path=None)
    owner, host = insecure_dev_account("owner"), insecure_dev_account("host")
    for account in (owner, host):
        chain.ensure_funded(account.address, 10 * stake_wei + 10**18)
    gas: dict[str, int] = {}

    registry, tx = OMLRegistryClient.deploy(chain, owner)
    gas["deploy"] = tx.gas_used
    commitment = OwnerCommitment.create(pairs, secret=secrets.token_bytes(32))
    model_hash = hashlib.sha256(b"".join(p.key.encode() + b"\0" + p.response.encode() for p in pairs)).digest()
    model_id, tx = registry.register_model(
        owner, model_hash, commitment.tree.root, len(pairs), threshold, license_fee_wei, "loyal://stand-in"
    )
    gas["registerModel"] = tx.gas_used

    assignment = assign_hosts(len(pairs), [host.address], assignment_size, np.random.default_rng(seed))
    assigned, assignment_tree = commitment.subset(assignment.subsets[host.address])
    tx = license_host(registry, owner, host, model_id, assignment_tree.root, stake_wei)
    gas["licenseHost"] = tx.gas_used

    with HostServer(model, host, registry.domain, model_id) as server:
        revealed = assigned[:queries]
        outputs = collect_responses(server.url, revealed)
    items = build_challenge(revealed, assignment_tree, outputs)
    matches = sum(item.output_hash == item.fingerprint.response_hash for item in items)
    claim_id, tx = registry.challenge(owner, model_id, host.address, items)
    gas[f"challenge({queries})"] = tx.gas_used
    tx = registry.withdraw(owner)
    gas["withdraw"] = tx.gas_used

    claim = registry.get_claim(claim_id)
    record = registry.get_model(model_id)
    result = {
        "model_id": model_id,
        "verdict": "owned" if claim.model_id == model_id and claim.matches >= threshold else "not-proven",
        "slashed": claim.slashed,
        "spent_fingerprints": record.spent_fingerprints,
        "gas": gas,
        "matches": claim.matches,
        "queries": queries,
        "threshold": threshold,
        "false_positive_bound": binomial_tail(queries, p0, matches),
        "host": host.address,
        "registry": registry.address,
        "chain_id": chain.chain_id,
        "host_url_served": server.served,
    }
    logger.info("chain demo: model %d, %d/%d matches, slashed %d wei", model_id, claim.matches, queries, claim.slashed)
    return result
