# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Gas per OMLRegistry call (embedded chain, or --rpc-url), as ratios to a plain transfer measured in the same run,
and the gas per revealed fingerprint beside the v1 registry's (17.3k, issue #20's baseline)."""

from __future__ import annotations

import argparse
import hashlib

from loyal.contracts import eip712
from loyal.contracts.chain import insecure_dev_account, open_chain
from loyal.contracts.client import ChallengeItem, OMLRegistryClient
from loyal.contracts.demo import DEMO_CONFIG, stand_in_fingerprints
from loyal.contracts.eip712 import LicenseOffer
from loyal.contracts.merkle import hash_text
from loyal.contracts.workflow import ChallengePlan, OwnerCommitment, license_host

#: v1 registry (docs/contracts.md before issue #20, 256 fingerprints, proofs of depth 8): challenge gas at M = 1
#: and M = 32 revealed fingerprints; the slope is 17,291 gas per revealed fingerprint.
V1_CHALLENGE_GAS = {1: 221_602, 32: 757_615}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `loyal bench gas`."""
    parser.add_argument("--rpc-url", default=None, help="JSON-RPC node (default: embedded py-evm chain)")
    parser.add_argument("--fingerprints", type=int, default=256, help="fingerprints per model (default 256)")
    parser.add_argument("--sizes", default="1,4,8,16,32", help="challenge sizes n (default 1,4,8,16,32)")


def run(args: argparse.Namespace) -> dict:
    """Deploys, registers, joins, licenses, then commits and reveals one challenge per size n; returns gas.

    `loyal bench gas` does not register this module's options, so each falls back to its default here.
    """
    rpc_url = getattr(args, "rpc_url", None)
    num_fingerprints = getattr(args, "fingerprints", 256)
    sizes = [int(s) for s in getattr(args, "sizes", "1,4,8,16,32").split(",")]
    chain = open_chain(rpc_url, state_path=None)
    owner, host, pirate = (insecure_dev_account(r) for r in ("owner", "host", "pirate"))
    for account in (owner, host, pirate):
        chain.ensure_funded(account.address, 10**21)
    before = chain.w3.eth.get_balance(host.address)
    receipt = chain.send(owner, {"to": host.address, "value": 1, "gas": 21000,
                                 "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9})
    baseline = int(receipt["gasUsed"])
    assert chain.w3.eth.get_balance(host.address) == before + 1
    arbiters = [insecure_dev_account(f"arbiter-{i}").address for i in (1, 2, 3)]
    registry, tx = OMLRegistryClient.deploy(chain, owner, arbiters, 2, DEMO_CONFIG)
    rows = [("deploy", tx.gas_used)]
    if sum(sizes) > num_fingerprints:
        raise ValueError(f"sizes must sum to at most --fingerprints={num_fingerprints}, got {sum(sizes)}")
    pairs = stand_in_fingerprints(num_fingerprints)
    model_hash = hashlib.sha256(b"gas-model").digest()
    commitment = OwnerCommitment.create(pairs, b"gas-benchmark-secret-000000000000", model_hash)
    # p0 = 1e-7, FPR = 1e-6: τ(n) = 1 up to n = 10 and 2 above, so every size makes a claim.
    model_id, tx = registry.register_model(owner, model_hash, commitment.tree.root, len(pairs), 10**11, 10**12,
                                           10**17, "ipfs://m")
    rows.append(("registerModel", tx.gas_used))
    rows.append(("joinPlatform", registry.join_platform(host, hash_text("host"), 10**18).gas_used))
    registry.join_platform(pirate, hash_text("pirate"), 10**18)
    offer = LicenseOffer(model_id, commitment.tree.root, 86400, chain.now() + 3600, 10, 1)
    rows.append(("acceptLicense", license_host(registry, owner, host, offer).gas_used))
    reveal: dict[int, int] = {}
    start, first_claim = 0, None
    for size in sizes:
        fps = commitment.fingerprints[start:start + size]
        start += size
        plan = ChallengePlan.create(pirate.address, fps, hashlib.sha256(f"salt-{size}".encode()).digest())
        challenge_id, tx = registry.commit_challenge(owner, model_id, size, plan.commitment)
        rows.append((f"commitChallenge n={size}", tx.gas_used))
        items = []
        for fp in plan.fingerprints:
            ts = chain.now()
            sig = eip712.sign_response(pirate, registry.domain, fp.key_hash, fp.response_hash, ts, hash_text("pirate"))
            items.append(ChallengeItem(fp, commitment.proof(fp), fp.response_hash, ts, sig))
        tx = registry.reveal_challenge(owner, challenge_id, pirate.address, plan.salt, items)
        reveal[size] = tx.gas_used
        rows.append((f"revealChallenge n={size} (all match)", tx.gas_used))
        first_claim = first_claim or challenge_id
    chain.advance_time(DEMO_CONFIG.dispute_window + 1)
    rows.append(("finalizeClaim (slash)", registry.finalize_claim(owner, first_claim).gas_used))
    rows.append(("withdraw", registry.withdraw(owner).gas_used))
    lo, hi = min(sizes), max(sizes)
    per_fingerprint = (reveal[hi] - reveal[lo]) / (hi - lo) if hi > lo else float(reveal[hi])
    v1 = (V1_CHALLENGE_GAS[32] - V1_CHALLENGE_GAS[1]) / 31
    return {
        "chain": chain.kind,
        "chain_id": chain.chain_id,
        "fingerprints": len(pairs),
        "baseline": {"call": "plain ETH transfer", "gas": baseline},
        "calls": [{"call": name, "gas": gas, "ratio_to_transfer": round(gas / baseline, 2)} for name, gas in rows],
        "per_revealed_fingerprint": {"v2": round(per_fingerprint), "v1": round(v1),
                                     "ratio_v2_to_v1": round(per_fingerprint / v1, 3),
                                     "sizes": [lo, hi], "target_ratio": 1.5},
    }


def markdown(results: dict) -> str:
    """The results as a Markdown table."""
    per = results["per_revealed_fingerprint"]
    lines = [
        f"# OMLRegistry gas ({results['chain']} chain, {results['fingerprints']} fingerprints per model)",
        "",
        f"Baseline: {results['baseline']['call']} = {results['baseline']['gas']} gas (same run).",
        "",
        "| call | gas | × transfer |",
        "|---|---:|---:|",
    ]
    lines += [f"| {row['call']} | {row['gas']:,} | {row['ratio_to_transfer']} |" for row in results["calls"]]
    lines += [
        "",
        f"Gas per revealed fingerprint (slope of revealChallenge between n = {per['sizes'][0]} and {per['sizes'][1]}):"
        f" {per['v2']:,} vs {per['v1']:,} in v1 — ratio {per['ratio_v2_to_v1']} (target ≤ {per['target_ratio']}).",
    ]
    return "\n".join(lines) + "\n"
