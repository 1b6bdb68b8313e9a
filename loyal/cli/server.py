# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal server start|job|policy|status|certs|tokens`: the persistent SSA server."""

from __future__ import annotations

import argparse
import os
import pathlib
import secrets

from loyal.cli._common import add_anchor_flags, anchor_account, anchor_client, emit_json, positive_float, positive_int, tcp_port


_POLICY_FLAGS = ("mechanism", "steps", "participations", "min_separation", "bands", "buffers", "form", "scale_bits")


def _policy_spec(args: argparse.Namespace) -> str:
    """Canonical policy JSON from --policy FILE.toml (keys as the flags, optionally under [policy]) and/or flags."""
    import tomllib

    from loyal.protocols.proto.policies import canonical_policy_spec

    d: dict = {}
    if getattr(args, "policy", None):
        with open(args.policy, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"--policy {args.policy} is not valid TOML: {e}") from None
        d = dict(data.get("policy", data))
        d.pop("noise_multiplier", None)  # a job field the policy file may carry (`_noise_multiplier`)
    for k in _POLICY_FLAGS:
        if getattr(args, k, None) is not None:
            d[k] = getattr(args, k)
    if "mechanism" not in d and set(d) <= {"participations", "min_separation"}:
        return ""  # prefix sum: the schema is the job's alone (the participation ledger enforces it)
    if "mechanism" in d and "steps" not in d and getattr(args, "rounds", None):
        d["steps"] = args.rounds
    return canonical_policy_spec(d)


def _noise_multiplier(args: argparse.Namespace) -> float:
    """--noise-multiplier, else `noise_multiplier` of the --policy file; neither: 0 only with --insecure."""
    import tomllib

    if args.noise_multiplier is not None:
        return args.noise_multiplier
    if getattr(args, "policy", None):
        with open(args.policy, "rb") as f:
            data = tomllib.load(f)
        value = dict(data.get("policy", data)).get("noise_multiplier")
        if value is not None:
            return float(value)
    if getattr(args, "insecure", False):
        return 0.0
    raise ValueError("give --noise-multiplier (or noise_multiplier in --policy): no default noise; "
                     "--insecure runs without noise")


def _rotation(text: str) -> tuple[int, int, int]:
    try:
        after, size, t = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rotate must be AFTER_ROUND:SIZE:THRESHOLD, got {text!r}") from None
    return after, size, t


def _job(args: argparse.Namespace):
    """The job of `loyal server start`: --job FILE (a pinned job), else from the flags (random job id and
    seed; the schema from the mechanism or the flags)."""
    import json

    from loyal.protocols.proto import policies
    from loyal.protocols.ssa.job import Job, cheapest_params_name

    if getattr(args, "job", None):
        try:
            return Job.from_json(json.loads(pathlib.Path(args.job).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"--job {args.job}: {e}") from None

    args.dim = _job_dim(args)
    policy_spec = _policy_spec(args)
    k, b = policies.policy_schema(policy_spec) or (args.participations or 1, args.min_separation or 1)
    z = _noise_multiplier(args)
    params = args.params or cheapest_params_name(
        dim=args.dim, cohort_size=args.clients_per_round, clip_norm=args.clip_norm, scale=args.scale,
        committee_size=args.committee_size, threshold=args.threshold, noise_multiplier=z, rounds=args.rounds,
        policy_spec=policy_spec, prove_uploads=not args.no_prove_uploads)
    return Job(
        job_id=os.urandom(16), public_seed=os.urandom(32), dim=args.dim, cohort_size=args.clients_per_round,
        clip_norm=args.clip_norm, scale=args.scale, committee_size=args.committee_size, threshold=args.threshold,
        noise_multiplier=z, params_name=params, rounds=args.rounds, policy_spec=policy_spec,
        participations=k, min_separation=b, min_cohort=args.min_cohort, model_name=args.model_name,
        model_seed=args.model_seed, server_learning_rate=args.server_learning_rate, rotations=tuple(args.rotate or ()),
        member_keys=tuple(args.member_key or ()), prove_uploads=not args.no_prove_uploads,
    )


def _job_dim(args: argparse.Namespace) -> int:
    """d: --dim, or the parameter count of --model-name (they must agree when both are given; 64 without either)."""
    if not args.model_name:
        return args.dim or 64
    from loyal.methods.kit.models import build_model, num_parameters

    size = num_parameters(build_model(args.model_name))
    if args.dim is not None and args.dim != size:
        raise ValueError(f"--dim {args.dim} does not match --model-name {args.model_name} ({size} parameters): drop --dim")
    return size


def _policy(args: argparse.Namespace) -> int:
    from loyal.protocols.proto import policies

    spec = _policy_spec(args)
    out = {"policy_id": policies.build_policy(spec).policy_id, "policy_spec": spec, "digest": policies.policy_digest(spec).hex()}
    emit_json(out) if args.json else print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def _add_policy_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", help="release policy TOML (keys: mechanism, steps, participations, min_separation, "
                                    "bands, buffers, form, scale_bits; optionally under [policy])")
    p.add_argument("--mechanism", help="DP-FTRL mechanism (identity, tree, tree-honaker, banded-toeplitz, blt, dense; "
                                       "default: prefix sum with independent noise)")
    p.add_argument("--steps", type=positive_int, help="rounds the mechanism covers (default --rounds)")
    p.add_argument("--participations", type=positive_int, help="k, participations per client")
    p.add_argument("--min-separation", type=positive_int, help="b, rounds between two participations")
    p.add_argument("--bands", type=positive_int, help="banded-toeplitz bands")
    p.add_argument("--buffers", type=positive_int, help="blt buffers")
    p.add_argument("--form", choices=("prefix", "encoded", "gradient"), help="release form (default prefix)")
    p.add_argument("--scale-bits", type=int, help="fixed-point bits of the coefficients (default 24)")


#: `server start` job flags -> the `Job` field each pins (compared with the stored job on a restart).
_FLAG_FIELDS = {
    "dim": "dim", "clients_per_round": "cohort_size", "min_cohort": "min_cohort", "committee_size": "committee_size",
    "threshold": "threshold", "noise_multiplier": "noise_multiplier", "clip_norm": "clip_norm", "scale": "scale",
    "params": "params_name", "rounds": "rounds", "model_name": "model_name", "model_seed": "model_seed",
    "server_learning_rate": "server_learning_rate",
}


def _stored_job(db: str):
    """The job pinned in an existing store (read-only), or None for a new store."""
    import contextlib
    import json
    import sqlite3

    from loyal.protocols.ssa.job import Job

    if not pathlib.Path(db).is_file():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{pathlib.Path(db).resolve()}?mode=ro", uri=True)) as con:
        try:
            row = con.execute("SELECT spec FROM job").fetchone()
        except sqlite3.Error:
            return None  # not a job store yet, or another schema: the store itself says which
    return None if row is None else Job.from_json(json.loads(row[0]))


def _check_restart(args: argparse.Namespace, stored) -> None:
    """Refuses a restart whose --job or explicitly given job flags differ from the pinned job (naming them)."""
    import json

    from loyal.protocols.ssa.job import Job

    if args.job:
        given = Job.from_json(json.loads(pathlib.Path(args.job).read_text())).to_json()
        diff = [f"{k}: stored {v!r}, --job {given[k]!r}" for k, v in stored.to_json().items() if given[k] != v]
    else:
        defaults = argparse.ArgumentParser()
        _add_job_flags(defaults)
        default = vars(defaults.parse_args([]))
        diff = [f"--{flag.replace('_', '-')} {getattr(args, flag)!r} (stored {getattr(stored, field)!r})"
                for flag, field in _FLAG_FIELDS.items()
                if getattr(args, flag) != default[flag] and getattr(args, flag) != getattr(stored, field)]
    if diff:
        raise ValueError(f"--db {args.db} holds a pinned job that differs: {'; '.join(diff)}. "
                         "Restart without job flags, or serve the new job from a new --db")


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
    stored = _stored_job(args.db)
    if stored is not None:
        _check_restart(args, stored)
    configure_json_logs()
    coord = open_coordinator(
        args.db, job=_job(args) if stored is None else None, round_seconds=args.round_seconds, tokens=tokens,
        synchronous=args.synchronous, reissue_seconds=args.reissue_seconds, authority=authority,
    )
    coord.job.check_secure(args.insecure)  # the stored job on a restart, too
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

    job = _job(args)
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


def _add_job_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--job", help="a pinned job as JSON (Job.to_json(); replaces the job flags below)")
    p.add_argument("--dim", type=positive_int, help="vector length d (default: the parameter count of --model-name, else 64)")
    p.add_argument("--clients-per-round", type=positive_int, default=10, help="clients that close a round (default 10)")
    p.add_argument("--min-cohort", type=positive_int, default=2,
                   help="clients needed to close at the deadline (default 2; 1 releases a lone client's exact update: --insecure)")
    p.add_argument("--committee-size", type=positive_int, default=3, help="committee members n (default 3)")
    p.add_argument("--threshold", type=positive_int, default=2, help="members t needed to decrypt (default 2)")
    p.add_argument("--noise-multiplier", type=float, default=None,
                   help="DP noise multiplier z > 0 (no default: also noise_multiplier in --policy; 0 needs --insecure)")
    p.add_argument("--clip-norm", type=positive_float, default=1.0, help="clip norm C (default 1)")
    p.add_argument("--scale", type=positive_float, default=1024.0, help="fixed-point scale s (default 1024)")
    p.add_argument("--params", default=None,
                   help="RLWE parameter set (default: the cheapest 128-bit set that fits the job, proofs included)")
    p.add_argument("--rounds", type=positive_int, default=3, help="rounds before the job is done (default 3)")
    p.add_argument("--model-name", default="", help="model clients train (e.g. digits-mlp; default none)")
    p.add_argument("--model-seed", type=int, default=0, help="torch seed of the initial model (default 0)")
    p.add_argument("--server-learning-rate", type=float, default=1.0, help="model step per release (default 1)")
    p.add_argument("--rotate", type=_rotation, action="append",
                   help="AFTER_ROUND:SIZE:THRESHOLD: hand the committee off after that round's release (repeatable)")
    p.add_argument("--member-key", action="append",
                   help="pinned Ed25519 public key (hex, `loyal committee key`) of member 1, 2, ... in order (repeatable)")
    p.add_argument("--no-prove-uploads", action="store_true",
                   help="TESTS ONLY: uploads without zero-knowledge proofs of well-formed AHE parts (needs --insecure)")
    p.add_argument("--insecure", action="store_true",
                   help="TESTS ONLY: accept an unsafe job (no noise, min cohort 1, unpinned member keys, test parameters) "
                        "and plaintext gRPC off loopback")
    _add_policy_flags(p)


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
    _add_job_flags(p)
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
    _add_job_flags(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_write_job)

    p = sub.add_parser("policy", help="print a release policy's id, canonical spec and digest (to publish and pin)")
    p.add_argument("--rounds", type=positive_int, default=None, help="default --steps")
    _add_policy_flags(p)
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
