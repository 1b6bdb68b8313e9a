# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""End-to-end ownership proof on chain: register → license → an unlicensed host serves → committed challenge → slash.

This is the last stage of `loyal demo` and the body of `loyal chain demo`. It follows the registry section of
the design note (OML, arXiv 2411.03887 §4; docs/contracts.md): hosts stake once to join, a licensed host gets its
own subset of the owner's fingerprints (per-host assignment) and is never slashable for serving, and an unlicensed
host that serves the model is caught by a challenge the owner committed to before querying. The contract verifies
every revealed fingerprint and signature and compares the matches with τ(n) = min{τ : P[Bin(n, p₀) ≥ τ] ≤ FPR},
computed on chain.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from loyal.contracts.chain import Chain, insecure_dev_account, open_chain
from loyal.contracts.client import ChallengeStatus, ConfigRecord, OMLRegistryClient
from loyal.contracts.eip712 import LicenseOffer
from loyal.contracts.host import HostServer
from loyal.contracts.merkle import hash_text
from loyal.contracts.workflow import FingerprintPair, OwnerCommitment, StandInModel, challenge_host, license_host
from loyal.protocols.oml.assignment import assign_hosts
from loyal.protocols.oml.statistics import binomial_tail, chain_threshold, to_wad

__all__ = ["DEMO_CONFIG", "run_chain_demo", "stand_in_fingerprints"]

logger = logging.getLogger(__name__)

#: Deployment parameters of the demo registry: 0.001 ether to join, 3-day notice, 1-day windows.
DEMO_CONFIG = ConfigRecord(min_host_stake=10**15, notice_period=3 * 86400, reveal_window=86400,
                           dispute_window=86400, voting_window=86400)

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
    """Runs the whole flow on a fresh embedded chain (or the test node at `rpc_url`, whose clock it moves).

    An owner registers the model; a licensed host joins, takes a licence for its assigned fingerprints and is
    never challengeable; an unlicensed host ("pirate") joins the platform and serves `model`. The owner commits
    to `queries` fingerprint keys, queries the pirate over HTTP, reveals every answer; the contract counts the
    matches and compares them with τ(queries) computed on chain. After the dispute window the claim is final and
    the pirate's stake (up to the slash cap) goes to the owner.

    Args:
      model: the pirate's model, prompt → output; default: `StandInModel` over `fingerprints`.
      fingerprints: the owner's pairs; default: `stand_in_fingerprints(num_fingerprints, seed)`.
      num_fingerprints: used only without `fingerprints`.
      assignment_size: fingerprints in the licensed host's copy, in [1, #fingerprints].
      queries: n, keys committed and revealed by the challenge, in [1, #fingerprints].
      p0: chance-match bound of an independent model, in (0, 1/2].
      target_fpr: false-claim probability per challenge, in (0, 1).
      stake_wei / license_fee_wei: each host's platform stake (also the slash cap) and the licence fee.
      rpc_url: a JSON-RPC test node instead of the embedded chain.
      seed: seeds the stand-in fingerprints and the assignment (not the salts).

    Returns:
      ``{"model_id", "verdict", "slashed", "spent_fingerprints", "gas", ...}``: verdict is "owned" when the
      claim was upheld, "not-proven" when the challenge failed; gas maps each call to gas used.

    Raises:
      ValueError: if the sizes are inconsistent or τ(queries) > queries (no claim possible at this FPR).
    """
    pairs = tuple(fingerprints) if fingerprints is not None else stand_in_fingerprints(num_fingerprints, seed)
    if not (1 <= queries <= len(pairs) and 1 <= assignment_size <= len(pairs)):
        raise ValueError(f"need 1 ≤ queries, assignment_size ≤ #fingerprints, got {queries}, {assignment_size}, "
                         f"{len(pairs)}")
    threshold = chain_threshold(queries, to_wad(p0), to_wad(target_fpr))
    if threshold > queries:
        raise ValueError(f"no threshold ≤ queries={queries} reaches target_fpr={target_fpr} at p0={p0}")
    model = model if model is not None else StandInModel(pairs)

    chain: Chain = open_chain(rpc_url, state_path=None)
    owner, host, pirate = (insecure_dev_account(r) for r in ("owner", "host", "pirate"))
    arbiters = [insecure_dev_account(f"arbiter-{i}") for i in (1, 2, 3)]
    for account in (owner, host, pirate, *arbiters):
        chain.ensure_funded(account.address, 10 * stake_wei + 10**18)
    gas: dict[str, int] = {}

    registry, tx = OMLRegistryClient.deploy(chain, owner, [a.address for a in arbiters], 2, DEMO_CONFIG)
    gas["deploy"] = tx.gas_used
    model_hash = hashlib.sha256(b"".join(p.key.encode() + b"\0" + p.response.encode() for p in pairs)).digest()
    secret = secrets.token_bytes(32)
    commitment = OwnerCommitment.create(pairs, secret, model_hash)
    model_id, tx = registry.register_model(owner, model_hash, commitment.tree.root, len(pairs), to_wad(p0),
                                           to_wad(target_fpr), stake_wei, "loyal://stand-in")
    gas["registerModel"] = tx.gas_used

    gas["joinPlatform"] = registry.join_platform(host, hash_text("loyal://licensed-host"), stake_wei).gas_used
    assignment = assign_hosts(len(pairs), [host.address], assignment_size, np.random.default_rng(seed))
    _, assignment_tree = commitment.subset(assignment.subsets[host.address])
    offer = LicenseOffer(model_id, assignment_tree.root, term=30 * 86400, expiry=chain.now() + 3600,
                         fee=license_fee_wei, nonce=1)
    gas["acceptLicense"] = license_host(registry, owner, host, offer).gas_used

    registry.join_platform(pirate, hash_text("loyal://pirate"), stake_wei)
    with HostServer(model, pirate, registry.domain, "loyal://pirate", clock=chain.now) as server:
        challenge = challenge_host(registry, owner, model_id, commitment, pirate.address, server.url, queries,
                                   secret, clock=chain.now)
    gas.update(challenge["gas"])
    slashed = 0
    if challenge["status"] == "pending":
        chain.advance_time(DEMO_CONFIG.dispute_window + 1)
        tx = registry.finalize_claim(owner, challenge["challenge_id"])
        gas["finalizeClaim"] = tx.gas_used
        slashed = registry.get_challenge(challenge["challenge_id"]).slashed
        gas["withdraw"] = registry.withdraw(owner).gas_used
    record = registry.get_challenge(challenge["challenge_id"])
    result = {
        "model_id": model_id,
        "verdict": "owned" if record.status == ChallengeStatus.UPHELD else "not-proven",
        "slashed": slashed,
        "spent_fingerprints": registry.get_model(model_id).spent_fingerprints,
        "gas": gas,
        "matches": record.matches,
        "queries": queries,
        "threshold": record.threshold,
        "false_positive_bound": binomial_tail(queries, p0, record.matches),
        "host": pirate.address,
        "licensed_host": host.address,
        "licensed_host_stake": registry.get_host(host.address).stake,
        "registry": registry.address,
        "chain_id": chain.chain_id,
        "host_url_served": server.served,
    }
    logger.info("chain demo: model %d, %d/%d matches (τ=%d), slashed %d wei", model_id, record.matches, queries,
                record.threshold, slashed)
    return result
