# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Gas per OMLRegistry call (embedded chain, or --rpc-url), as ratios to a plain transfer measured in the same run."""

from __future__ import annotations

import argparse
import hashlib

from loyal.contracts import eip712
from loyal.contracts.chain import insecure_dev_account, open_chain
from loyal.contracts.client import OMLRegistryClient
from loyal.contracts.demo import stand_in_fingerprints
from loyal.contracts.workflow import OwnerCommitment, build_challenge, license_host
from loyal.contracts.host import SignedOutput


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `loyal bench gas`."""
    parser.add_argument("--rpc-url", default=None, help="JSON-RPC node (default: embedded py-evm chain)")
    parser.add_argument("--fingerprints", type=int, default=256, help="fingerprints per model (default 256)")
    parser.add_argument("--sizes", default="1,4,8,16,32", help="challenge sizes M (default 1,4,8,16,32)")


def run(args: argparse.Namespace) -> dict:
    """Deploys, registers, licenses and challenges with each size M; returns gas per call."""
    chain = open_chain(args.rpc_url, state_path=None)
    owner, host = insecure_dev_account("owner"), insecure_dev_account("host")
    for account in (owner, host):
        chain.ensure_funded(account.address, 10**21)
    before = chain.w3.eth.get_balance(host.address)
    receipt = chain.send(owner, {"to": host.address, "value": 1, "gas": 21000,
                                 "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9})
    baseline = int(receipt["gasUsed"])
    assert chain.w3.eth.get_balance(host.address) == before + 1
    registry, tx = OMLRegistryClient.deploy(chain, owner)
    rows = [("deploy", tx.gas_used)]
    sizes = [int(s) for s in args.sizes.split(",")]
    pairs = stand_in_fingerprints(args.fingerprints)
    commitment = OwnerCommitment.create(pairs, b"gas-benchmark-secret-000000000000")
    model_ids = []
    for k in range(len(sizes)):
        model_hash = hashlib.sha256(f"gas-model-{k}".encode()).digest()
        model_id, tx = registry.register_model(owner, model_hash, commitment.tree.root, len(pairs), 1, 10, "ipfs://m")
        model_ids.append(model_id)
    rows.append(("registerModel", tx.gas_used))
    for size, model_id in zip(sizes, model_ids, strict=True):
        tx = license_host(registry, owner, host, model_id, commitment.tree.root, 10**15)
        if size == sizes[0]:
            rows.append(("licenseHost (full assignment)", tx.gas_used))
        revealed = commitment.fingerprints[:size]
        outputs = [SignedOutput(fp.key, fp.response, model_id, host.address, eip712.sign_response(
            host, registry.domain, model_id, fp.key_hash, fp.response_hash)) for fp in revealed]
        _, tx = registry.challenge(owner, model_id, host.address, build_challenge(revealed, commitment.tree, outputs))
        rows.append((f"challenge M={size} (n={len(pairs)}, slash)", tx.gas_used))
    rows.append(("withdraw", registry.withdraw(owner).gas_used))
    return {
        "chain": chain.kind,
        "chain_id": chain.chain_id,
        "fingerprints": len(pairs),
        "baseline": {"call": "plain ETH transfer", "gas": baseline},
        "calls": [{"call": name, "gas": gas, "ratio_to_transfer": round(gas / baseline, 2)} for name, gas in rows],
    }


def markdown(results: dict) -> str:
    """The results as a Markdown table."""
    lines = [
        f"# OMLRegistry gas ({results['chain']} chain, {results['fingerprints']} fingerprints per model)",
        "",
        f"Baseline: {results['baseline']['call']} = {results['baseline']['gas']} gas (same run).",
        "",
        "| call | gas | × transfer |",
        "|---|---:|---:|",
    ]
    lines += [f"| {row['call']} | {row['gas']:,} | {row['ratio_to_transfer']} |" for row in results["calls"]]
    return "\n".join(lines) + "\n"
