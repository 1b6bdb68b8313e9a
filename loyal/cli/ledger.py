# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal ledger`: the contributor ledger of an SSA job (export the public release log, sign a payee, deploy,
commit, claim). Keys: the job server's from $LOYAL_ANCHOR_KEY (as `loyal server`), a payee's from
$LOYAL_PAYEE_KEY; --insecure uses PUBLIC dev keys (test chains only)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from loyal.cli._common import anchor_account, emit_json, parse_genesis


def register(subparsers: Any, help_text: str) -> None:
    """Adds `loyal ledger` and its subcommands."""
    parser = subparsers.add_parser("ledger", help=help_text, description=help_text)
    sub = parser.add_subparsers(dest="ledger_command", metavar="SUBCOMMAND", parser_class=type(parser))
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    p = sub.add_parser("export", help="write the job's public release log from the server's store (for `loyal audit`)")
    p.add_argument("--db", type=Path, required=True, help="the server's SQLite store (opened read-only)")
    p.add_argument("--out", type=Path, required=True, help="release log JSON to write")
    p.set_defaults(func=_export)

    p = sub.add_parser("sign-payee", help="a contributor names the address its share is paid to (prints JSON)")
    p.add_argument("--identity", type=Path, required=True, help="the client's identity file (its enrolled key)")
    p.add_argument("--job", required=True, help="the job id (32 hex characters)")
    p.add_argument("--payee", required=True, help="the address to pay (0x…)")
    p.set_defaults(func=_sign_payee)

    for name, help_ in (("deploy", "deploy a ContributorLedger reading job servers from --anchor; prints its address"),
                        ("commit", "derive the ledger from the release log and payees, commit its root (job server)"),
                        ("claim", "claim a contributor's share with its proof (from the payee's key)")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--rpc-url", "--chain-rpc", dest="rpc_url", required=True, help="JSON-RPC URL of the chain")
        p.add_argument("--insecure", action="store_true", help="TESTS ONLY: sign with a public dev key")
        p.add_argument("--json", action="store_true")
        if name == "deploy":
            p.add_argument("--anchor", required=True, help="the SsaLogAnchor address")
            p.set_defaults(func=_deploy)
            continue
        p.add_argument("--ledger", required=True, help="the ContributorLedger address")
        p.add_argument("--ledger-file", type=Path, required=True,
                       help="the derived ledger JSON (commit writes it, claim reads it)")
        if name == "commit":
            p.add_argument("--release-log", type=Path, required=True, help="the job's public release log")
            p.add_argument("--payees", type=Path, help="JSON list of `sign-payee` statements")
            p.set_defaults(func=_commit)
        else:
            p.add_argument("--genesis", required=True, help="the job's genesis (64 hex characters)")
            p.add_argument("--contributor", required=True, help="the contributor id (64 hex characters)")
            p.set_defaults(func=_claim)


def _export(args: argparse.Namespace) -> int:
    from loyal.server.export import release_log

    log = release_log(args.db)
    args.out.write_text(json.dumps(log.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(log.headers)} rounds, {len(log.releases)} releases, "
          f"{len(log.participations)} participations")
    return 0


def _sign_payee(args: argparse.Namespace) -> int:
    from eth_utils import to_canonical_address

    from loyal.client.tls import Identity
    from loyal.protocols.governance.ledger import payee_message

    identity = Identity.load(args.identity)
    job_id, payee = bytes.fromhex(args.job), to_canonical_address(args.payee)
    signature = identity.sign(payee_message(job_id, identity.public_key, payee))
    emit_json({"public_key": identity.public_key.hex(), "payee": payee.hex(), "signature": signature.hex()})
    return 0


def _payee_account(args: argparse.Namespace):
    key = os.environ.get("LOYAL_PAYEE_KEY")
    if key:
        from eth_account import Account

        return Account.from_key(key)
    if args.insecure:
        from loyal.contracts.chain import insecure_dev_account

        return insecure_dev_account("payee")
    raise ValueError("set LOYAL_PAYEE_KEY to the payee's chain key (or --insecure for the public dev key)")


def _deploy(args: argparse.Namespace) -> int:
    from loyal.contracts.chain import open_chain
    from loyal.contracts.ledger import LedgerClient

    account = anchor_account(args)
    ledger = LedgerClient.deploy(open_chain(args.rpc_url, state_path=None), account, args.anchor)
    emit_json({"ledger": ledger.address}) if args.json else print(ledger.address)
    return 0


def _commit(args: argparse.Namespace) -> int:
    from loyal.contracts.chain import open_chain
    from loyal.contracts.ledger import LedgerClient, LedgerCommitment
    from loyal.protocols.governance.ledger import PayeeStatement, derive_ledger
    from loyal.protocols.governance.release_log import ReleaseLog

    account = anchor_account(args)
    log = ReleaseLog.from_json(json.loads(args.release_log.read_text(encoding="utf-8")))
    raw = json.loads(args.payees.read_text(encoding="utf-8")) if args.payees else []
    payees = [PayeeStatement(bytes.fromhex(s["public_key"]), bytes.fromhex(s["payee"]), bytes.fromhex(s["signature"]))
              for s in raw]
    ledger = derive_ledger(job_id=log.job.job_id, rounds=len(log.headers), participations=log.participations,
                           payees=payees)
    commitment = LedgerCommitment.of(ledger)
    client = LedgerClient(open_chain(args.rpc_url, state_path=None), args.ledger)
    client.commit(account, log.job.genesis, commitment)
    args.ledger_file.write_text(json.dumps(ledger.to_json(), indent=1) + "\n", encoding="utf-8")
    out = {"genesis": log.job.genesis.hex(), "root": commitment.root.hex(), "total_weight": ledger.total_weight,
           "contributors": len(ledger.entries), "payable": len(ledger.payable)}
    emit_json(out) if args.json else print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def _claim(args: argparse.Namespace) -> int:
    from loyal.contracts.chain import open_chain
    from loyal.contracts.ledger import LedgerClient, LedgerCommitment
    from loyal.protocols.governance.ledger import ContributorLedger

    account = _payee_account(args)
    genesis = parse_genesis(args.genesis)
    commitment = LedgerCommitment.of(ContributorLedger.from_json(json.loads(args.ledger_file.read_text("utf-8"))))
    try:
        entry, proof = commitment.proof(bytes.fromhex(args.contributor))
    except KeyError as e:
        raise ValueError(str(e.args[0])) from None
    client = LedgerClient(open_chain(args.rpc_url, state_path=None), args.ledger)
    tx = client.claim(account, genesis, entry.contributor, entry.weight, proof)
    amount = tx.named("Claimed")[0].args["amount"]
    emit_json({"amount": amount, "tx": tx.tx_hash}) if args.json else print(f"claimed {amount} wei ({tx.tx_hash})")
    return 0
