# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal server start|job|policy|status|certs|tokens`: the persistent SSA server."""

from __future__ import annotations

import argparse
import logging
import pathlib
import secrets

from loyal.cli._common import add_anchor_flags, anchor_account, anchor_client, emit_json, positive_float, positive_int, tcp_port
from loyal.cli._job import add_job_flags, add_policy_flags, build_job, check_restart, policy_spec_of, stored_job


def _policy(args: argparse.Namespace) -> int:
    from loyal.protocols.proto import policies

    spec = policy_spec_of(args)
    out = {"policy_id": policies.build_policy(spec).policy_id, "policy_spec": spec, "digest": policies.policy_digest(spec).hex()}
    emit_json(out) if args.json else print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def _start(args: argparse.Namespace) -> int:
    import asyncio

    from loyal.server.app import configure_json_logs, open_coordinator, serve

    if args.tls_dir and not (pathlib.Path(args.tls_dir) / "server.crt").is_file():
        raise ValueError(f"--tls-dir {args.tls_dir} has no server.crt; run `loyal server certs --out DIR` first")
    tokens = []
    if args.tokens_file:
        tokens = [t.strip() for t in pathlib.Path(args.tokens_file).read_text().splitlines() if t.strip()]
    from loyal.server.limits import check_transport

    check_transport(args.host, args.tls_dir is not None, args.insecure)
    if not pathlib.Path(args.db).resolve().parent.is_dir():
        raise ValueError(f"--db {args.db}: folder {pathlib.Path(args.db).resolve().parent} does not exist")
    authority = anchor_client(args, write=True)
    if authority is None and not args.insecure:
        raise ValueError("give the job's log authority (--anchor ADDRESS --chain-rpc URL), or --insecure")
    stored = stored_job(args.db)
    if stored is not None:
        check_restart(args, stored)
    configure_json_logs()
    coord = open_coordinator(
        args.db, job=build_job(args) if stored is None else None, round_seconds=args.round_seconds, tokens=tokens,
        synchronous=args.synchronous, reissue_seconds=args.reissue_seconds, authority=authority,
    )
    coord.job.check_secure(args.insecure)  # the stored job on a restart, too
    for issue in coord.job.security_issues():  # accepted with --insecure: say what was accepted
        logging.getLogger("loyal.server").warning("insecure job: %s", issue)
    from loyal.server import runtime

    runtime.tune_allocator()
    runtime.single_blas_thread()
    runtime.freeze_long_lived()
    asyncio.run(serve(coord, host=args.host, port=args.port, tls_dir=args.tls_dir, port_file=args.port_file,
                      insecure=args.insecure))
    return 0


def _deploy_anchor(args: argparse.Namespace) -> int:
    """`loyal server anchor`: deploys an `SsaLogAnchor` (one serves every job) and prints its address."""
    from loyal.contracts.anchor import AnchorClient
    from loyal.contracts.chain import open_chain

    account = anchor_account(args)  # before any connection: a missing key is the first thing to say
    deployed = AnchorClient.deploy(open_chain(args.chain_rpc, state_path=None), account)
    emit_json({"anchor": deployed.address}) if args.json else print(deployed.address)
    return 0


def _write_job(args: argparse.Namespace) -> int:
    """`loyal server job`: a pinned job file to publish (its genesis is what clients and members pin)."""
    import json

    job = build_job(args)
    job.check_secure(args.insecure)
    pathlib.Path(args.out).write_text(json.dumps(job.to_json(), indent=1, sort_keys=True) + "\n")
    out = {"job": args.out, "genesis": job.genesis.hex()}
    emit_json(out) if args.json else print(out["genesis"])
    return 0


def _status(args: argparse.Namespace) -> int:
    from loyal.client.grpc_client import Session
    from loyal.protocols.proto.loyal.v1 import common_pb2

    ca = str(pathlib.Path(args.tls_dir) / "ca.crt") if args.tls_dir else None
    with Session(f"{args.host}:{args.port}", ca, max_attempts=3) as s:
        st = s.status()
    out = {
        "round": st.round, "state": common_pb2.RoundState.Name(st.state).removeprefix("ROUND_STATE_").lower(),
        "stored_rounds": st.stored_rounds, "submissions": st.submissions,
    }
    if args.json:
        emit_json(out)
    else:
        print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def _certs(args: argparse.Namespace) -> int:
    from loyal.server.certs import create_certificates

    files = create_certificates(args.out, tuple(args.host or ("127.0.0.1", "localhost")), ca_key_path=args.ca_key)
    emit_json(files) if args.json else print("\n".join(files.values()))
    return 0


def _tokens(args: argparse.Namespace) -> int:
    tokens = [secrets.token_urlsafe(24) for _ in range(args.count)]
    from loyal.server.certs import write_private

    write_private(args.out, ("\n".join(tokens) + "\n").encode())
    print(args.out)
    return 0


def expand_argv(argv: list[str]) -> list[str]:
    """`server start --config FILE.toml`: the file's keys become flags (same names, `_` or `-`, top level or
    under [server], [job] and [policy]); flags on the command line override them. Parsed by the same
    parser as the flags, so every value gets the same validation."""
    import tomllib

    if "start" not in argv or "--config" not in argv:
        return argv
    i = argv.index("--config")
    if i + 1 >= len(argv):
        raise ValueError("--config needs a TOML file")
    path, rest = argv[i + 1], argv[:i] + argv[i + 2:]
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"--config {path} is not valid TOML: {e}") from None
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for section in ("server", "job", "policy"):
        flat.update(data.get(section, {}))
    unknown = set(data) - set(flat) - {"server", "job", "policy"}
    if unknown:
        raise ValueError(f"--config {path}: unknown sections {sorted(unknown)} (use [server], [job], [policy])")
    given = {a.split("=", 1)[0] for a in rest if a.startswith("--")}
    tokens: list[str] = []
    for key, value in flat.items():
        flag = "--" + str(key).replace("_", "-")
        if flag in given:
            continue  # the command line overrides the file
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, bool):
                tokens += [flag] if v else []
            else:
                tokens += [flag, str(v)]
    j = rest.index("start") + 1
    return rest[:j] + tokens + rest[j:]


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    group = subparsers.add_parser("server", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(group))
    group.set_defaults(func=lambda a: (group.print_help(), 2)[1])

    p = sub.add_parser("start", help="serve a job (created on first start; restored from --db afterwards); "
                                     "--config FILE.toml gives any of these flags (command-line flags override)")
    p.add_argument("--db", required=True, help="SQLite store (created if missing)")
    p.add_argument("--port", type=tcp_port, required=True, help="TCP port (0: any free port, see --port-file)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--tls-dir", help="folder with server.crt/server.key (omit only on loopback tests)")
    p.add_argument("--port-file", help="write the bound port here once serving")
    p.add_argument("--tokens-file", help="one-time client enrollment tokens, one per line")
    add_job_flags(p)
    p.add_argument("--round-seconds", type=positive_float, default=300.0, help="round deadline (default 300 s)")
    p.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL", help="SQLite durability (default FULL)")
    p.add_argument("--reissue-seconds", type=positive_float, default=60.0,
                   help="reissue a release whose named members stay silent this long (default 60 s)")
    add_anchor_flags(p)
    p.set_defaults(func=_start)

    p = sub.add_parser("anchor", help="deploy the SSA log authority contract (SsaLogAnchor); prints its address")
    p.add_argument("--chain-rpc", required=True, help="JSON-RPC URL (e.g. a hardhat node)")
    p.add_argument("--insecure", action="store_true", help="TESTS ONLY: deploy from the public dev key")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_deploy_anchor)

    p = sub.add_parser("job", help="write a pinned job file to publish; prints its genesis (what clients and members pin)")
    p.add_argument("--out", required=True, help="job JSON to write (then `server start --job FILE`)")
    add_job_flags(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_write_job)

    p = sub.add_parser("policy", help="print a release policy's id, canonical spec and digest (to publish and pin)")
    p.add_argument("--rounds", type=positive_int, default=None, help="default --steps")
    add_policy_flags(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_policy)

    p = sub.add_parser("status", help="round, state, stored rounds and submissions of a running server")
    p.add_argument("--port", type=tcp_port, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--tls-dir", help="folder with ca.crt (TLS)")
    p.add_argument("--json", action="store_true", help='print {"round","state","stored_rounds","submissions"}')
    p.set_defaults(func=_status)

    p = sub.add_parser("certs", help="write a CA and a server certificate for 127.0.0.1/localhost")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--host", action="append", default=None, help="SAN host (repeatable; default 127.0.0.1, localhost)")
    p.add_argument("--ca-key", help="keep the CA key in this file, outside --out (default: discard it after signing)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_certs)

    p = sub.add_parser("tokens", help="write one-time enrollment tokens (pass to start --tokens-file)")
    p.add_argument("--count", type=positive_int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_tokens)
