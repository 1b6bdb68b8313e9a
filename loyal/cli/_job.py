# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The job of `loyal server start|job|policy`: its flags, the `Job` they build, and the restart check
against the job a store already pins (`loyal.cli.server` holds the commands)."""

from __future__ import annotations

import argparse
import os
import pathlib

from loyal.cli._common import positive_float, positive_int

POLICY_FLAGS = ("mechanism", "steps", "participations", "min_separation", "bands", "buffers", "form", "scale_bits")


def policy_spec_of(args: argparse.Namespace) -> str:
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
    for k in POLICY_FLAGS:
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


def build_job(args: argparse.Namespace):
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
    policy_spec = policy_spec_of(args)
    k, b = policies.policy_schema(policy_spec) or (args.participations or 1, args.min_separation or 1)
    z = _noise_multiplier(args)
    params = args.params or cheapest_params_name(
        dim=args.dim, cohort_size=args.clients_per_round, clip_norm=args.clip_norm, scale=args.scale,
        committee_size=args.committee_size, threshold=args.threshold, noise_multiplier=z, rounds=args.rounds,
        policy_spec=policy_spec, prove_uploads=not args.no_prove_uploads, noise_contributors=args.noise_contributors,
        honest_noise_contributors=args.honest_noise_contributors)
    return Job(
        job_id=os.urandom(16), public_seed=os.urandom(32), dim=args.dim, cohort_size=args.clients_per_round,
        clip_norm=args.clip_norm, scale=args.scale, committee_size=args.committee_size, threshold=args.threshold,
        noise_multiplier=z, params_name=params, rounds=args.rounds, policy_spec=policy_spec,
        participations=k, min_separation=b, min_cohort=args.min_cohort, model_name=args.model_name,
        model_seed=args.model_seed, server_learning_rate=args.server_learning_rate, rotations=tuple(args.rotate or ()),
        member_keys=tuple(args.member_key or ()), prove_uploads=not args.no_prove_uploads,
        noise_contributors=args.noise_contributors, honest_noise_contributors=args.honest_noise_contributors,
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


def add_policy_flags(p: argparse.ArgumentParser) -> None:
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
    "server_learning_rate": "server_learning_rate", "noise_contributors": "noise_contributors",
    "honest_noise_contributors": "honest_noise_contributors",
}


def stored_job(db: str):
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


def check_restart(args: argparse.Namespace, stored) -> None:
    """Refuses a restart whose --job or explicitly given job flags differ from the pinned job (naming them)."""
    import json

    from loyal.protocols.ssa.job import Job

    if args.job:
        given = Job.from_json(json.loads(pathlib.Path(args.job).read_text())).to_json()
        diff = [f"{k}: stored {v!r}, --job {given[k]!r}" for k, v in stored.to_json().items() if given[k] != v]
    else:
        defaults = argparse.ArgumentParser()
        add_job_flags(defaults)
        default = vars(defaults.parse_args([]))
        diff = [f"--{flag.replace('_', '-')} {getattr(args, flag)!r} (stored {getattr(stored, field)!r})"
                for flag, field in _FLAG_FIELDS.items()
                if getattr(args, flag) != default[flag] and getattr(args, flag) != getattr(stored, field)]
    if diff:
        raise ValueError(f"--db {args.db} holds a pinned job that differs: {'; '.join(diff)}. "
                         "Restart without job flags, or serve the new job from a new --db")


def add_job_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--job", help="a pinned job as JSON (Job.to_json(); replaces the job flags below)")
    p.add_argument("--dim", type=positive_int, help="vector length d (default: the parameter count of --model-name, else 64)")
    p.add_argument("--clients-per-round", type=positive_int, default=10, help="clients that close a round (default 10)")
    p.add_argument("--min-cohort", type=positive_int, default=2,
                   help="clients needed to close at the deadline (default 2; 1 releases a lone client's exact update: --insecure)")
    p.add_argument("--committee-size", type=positive_int, default=3, help="committee members n (default 3)")
    p.add_argument("--threshold", type=positive_int, default=2, help="members t needed to decrypt (default 2)")
    p.add_argument("--noise-multiplier", type=float, default=None,
                   help="DP noise multiplier z > 0 (no default: also noise_multiplier in --policy; 0 needs --insecure)")
    p.add_argument("--noise-contributors", type=int, default=0,
                   help="n_c: data uploaders per round that also upload a noise-only share (default 0; issue 15)")
    p.add_argument("--honest-noise-contributors", type=int, default=0,
                   help="h_c <= n_c of them assumed honest: less noise overhead, but trusts clients (needs --insecure)")
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
    add_policy_flags(p)
