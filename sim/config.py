# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Simulation configuration: one frozen dataclass, read from `configs/NAME.toml` (sections group keys)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from loyal.config import read_toml

AGGREGATIONS = ("fedavg", "dp-fedavg", "dpftrl-plaintext", "dpftrl-ssa")
TASKS = ("shakespeare", "digits")

#: TOML section -> the keys it may hold (each key is a field of `SimConfig`).
SECTIONS: dict[str, tuple[str, ...]] = {
    "task": ("task", "width", "layers", "heads", "digits_clients", "digits_alpha", "eval_clients", "eval_samples_per_client"),
    "rounds": ("rounds", "clients_per_round", "seed"),
    "local": ("learning_rate", "batch_size", "local_steps", "optimizer"),
    "aggregation": ("aggregation", "server_learning_rate", "momentum"),
    "privacy": (
        "clip_norm", "noise_multiplier", "per_round_noise_multiplier", "target_epsilon", "delta", "mechanism", "participations", "min_separation",
    ),
    "ssa": ("scale", "scale_bits", "committee_size", "threshold", "rotate_every", "params", "deterministic",
            "prove_uploads", "noise_contributors", "honest_noise_contributors"),
    "clients": (
        "availability", "dropout", "mid_upload_dropout", "straggler_mean_s", "deadline_s", "client_cpus", "actors",
    ),
    "faults": ("server_restart_round", "committee_offline_round", "committee_offline"),
    "compare": ("compare_aggregations", "compare_seeds"),
    "server": ("kind", "round_seconds"),
}

#: TOML keys whose field has another name (section, key) -> field.
RENAMED: dict[tuple[str, str], str] = {("server", "kind"): "server_kind"}

#: Where dpftrl-ssa's persistent server runs.
SERVER_KINDS = ("inprocess", "grpc")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Every knob of `loyal sim run` (see configs/*.toml and docs/sim.md for ranges and defaults).

    Attributes (by TOML section):
      task: task ("shakespeare" | "digits"); char-transformer width/layers/heads; digits_clients, digits_alpha;
        eval_clients, eval_samples_per_client (the fixed evaluation set).
      rounds: rounds >= 1, clients_per_round >= 1, seed.
      local: client learning_rate > 0, batch_size >= 1, local_steps >= 1, optimizer "sgd" | "adam".
      aggregation: aggregation (one of AGGREGATIONS), server_learning_rate > 0, momentum in [0, 1).
      privacy: clip_norm > 0; exactly one of noise_multiplier z (effective, >= 0), per_round_noise_multiplier
        (Gboard's convention: std of each round's noise / C; z = it / sens(C)) or target_epsilon > 0 (z calibrated);
        delta in (0, 1); mechanism (DP-FTRL only); participations k >= 1 and min_separation b >= 1
        (enforced by the cohort sampler, so the ε report holds).
      ssa: scale, scale_bits, committee_size, threshold, rotate_every R, params (RLWE set name or ""),
        deterministic (derive PRNGs from the seed: simulation only), prove_uploads (zero-knowledge proofs of
        every upload, default false: a simulation trusts its own clients; ~0.4 s per upload on one core),
        noise_contributors n_c >= 0 and honest_noise_contributors h_c in [0, n_c] (cohort noise, `Job`).
      clients: availability in (0, 1] (chance a client is online in a round); dropout in [0, 1) (drops
        before uploading); mid_upload_dropout in [0, 1) (upload truncated); straggler_mean_s >= 0 (mean of
        an exponential extra latency); deadline_s > 0 (later uploads are discarded); client_cpus in (0, 2]
        (fractional CPUs per client actor); actors >= 1 (concurrent client actors).
      compare: compare_aggregations and compare_seeds: run every aggregation with every seed (same ε for
        all DP ones: they share the effective noise multiplier) and write a comparison table + PNG.
      server: kind "inprocess" (default: the SSA server is an object of the driver process) or "grpc" (the
        real `loyal server` process with TLS, enrollment tokens and its SQLite store; Ray client workers
        upload through the gRPC client and committee members run the gRPC member role); round_seconds > 0
        (the grpc server's round deadline, default 60 s: a full round closes at once, one with dropouts then).
      faults: server_restart_round (restart the server after this round; 0 = never); committee_offline_round
        and committee_offline (members offline from that round on; 0 = never).
    """

    task: str = "shakespeare"
    width: int = 64
    layers: int = 1
    heads: int = 2
    digits_clients: int = 100
    digits_alpha: float = 0.5
    eval_clients: int = 50
    eval_samples_per_client: int = 10
    rounds: int = 5
    clients_per_round: int = 10
    seed: int = 0
    learning_rate: float = 0.005
    batch_size: int = 16
    local_steps: int = 5
    optimizer: str = "adam"
    aggregation: str = "fedavg"
    server_learning_rate: float = 1.0
    momentum: float = 0.0
    clip_norm: float = 1.0
    noise_multiplier: float = 0.0
    per_round_noise_multiplier: float = 0.0
    target_epsilon: float = 0.0
    delta: float = 1e-5
    mechanism: str = "blt"
    participations: int = 1
    min_separation: int = 1
    scale: float = 2.0**10
    scale_bits: int = 8
    committee_size: int = 5
    threshold: int = 3
    rotate_every: int = 0
    params: str = ""
    deterministic: bool = True
    prove_uploads: bool = False
    noise_contributors: int = 0
    honest_noise_contributors: int = 0
    availability: float = 1.0
    dropout: float = 0.0
    mid_upload_dropout: float = 0.0
    straggler_mean_s: float = 0.0
    deadline_s: float = math.inf
    client_cpus: float = 0.5
    actors: int = 4
    server_restart_round: int = 0
    committee_offline_round: int = 0
    committee_offline: tuple[int, ...] = ()
    compare_aggregations: tuple[str, ...] = ()
    compare_seeds: tuple[int, ...] = ()
    server_kind: str = "inprocess"
    round_seconds: float = 60.0

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"{name} must be {rule}, got {name}={getattr(self, name)!r}")

        need(self.task in TASKS, "task", f"one of {', '.join(TASKS)}")
        need(self.aggregation in AGGREGATIONS, "aggregation", f"one of {', '.join(AGGREGATIONS)}")
        for name in ("width", "layers", "heads", "digits_clients", "eval_clients", "eval_samples_per_client", "rounds",
                     "clients_per_round", "batch_size", "local_steps", "participations", "min_separation",
                     "committee_size", "threshold", "actors"):
            need(isinstance(getattr(self, name), int) and getattr(self, name) >= 1, name, "an integer >= 1")
        need(self.width % self.heads == 0, "width", f"divisible by heads={self.heads}")
        need(self.optimizer in ("sgd", "adam"), "optimizer", "'sgd' or 'adam'")
        for name in ("learning_rate", "server_learning_rate", "clip_norm", "scale", "digits_alpha", "deadline_s"):
            need(getattr(self, name) > 0, name, "> 0")
        need(0 <= self.momentum < 1, "momentum", "in [0, 1)")
        need(self.noise_multiplier >= 0 and math.isfinite(self.noise_multiplier), "noise_multiplier", "finite and >= 0")
        need(self.target_epsilon >= 0, "target_epsilon", ">= 0 (0 = use noise_multiplier)")
        need(self.per_round_noise_multiplier >= 0, "per_round_noise_multiplier", ">= 0 (0 = use noise_multiplier)")
        need(sum(v > 0 for v in (self.noise_multiplier, self.per_round_noise_multiplier, self.target_epsilon)) <= 1,
             "target_epsilon", "0 when noise_multiplier or per_round_noise_multiplier is set (give one of the three)")
        need(0 < self.delta < 1, "delta", "in (0, 1)")
        need(0 < self.availability <= 1, "availability", "in (0, 1]")
        need(0 <= self.dropout < 1, "dropout", "in [0, 1)")
        need(0 <= self.mid_upload_dropout < 1, "mid_upload_dropout", "in [0, 1)")
        need(self.straggler_mean_s >= 0, "straggler_mean_s", ">= 0")
        need(0 < self.client_cpus <= 2, "client_cpus", "in (0, 2]")
        need(self.server_kind in SERVER_KINDS, "server_kind", f"one of {', '.join(SERVER_KINDS)} ([server] kind)")
        need(self.round_seconds > 0, "round_seconds", "> 0")
        need(1 <= self.threshold <= self.committee_size, "threshold", f"in [1, committee_size={self.committee_size}]")
        need(self.rotate_every >= 0, "rotate_every", ">= 0")
        need(0 <= self.noise_contributors <= self.clients_per_round, "noise_contributors",
             f"in [0, clients_per_round={self.clients_per_round}]")
        need(0 <= self.honest_noise_contributors <= self.noise_contributors, "honest_noise_contributors",
             f"in [0, noise_contributors={self.noise_contributors}]")
        need(0 <= self.server_restart_round <= self.rounds, "server_restart_round", f"in [0, rounds={self.rounds}]")
        need(0 <= self.committee_offline_round <= self.rounds, "committee_offline_round", f"in [0, rounds={self.rounds}]")
        need(all(1 <= i <= self.committee_size for i in self.committee_offline), "committee_offline",
             f"member indices in [1, committee_size={self.committee_size}]")
        need((self.participations - 1) * self.min_separation + 1 <= self.rounds, "min_separation",
             f"such that (participations - 1) * min_separation + 1 <= rounds={self.rounds}")
        need(all(a in AGGREGATIONS for a in self.compare_aggregations), "compare_aggregations",
             f"a list of {', '.join(AGGREGATIONS)}")
        need(bool(self.compare_aggregations) == bool(self.compare_seeds), "compare_seeds",
             "non-empty exactly when compare_aggregations is")
        ssa_only = self.server_restart_round or self.committee_offline_round or self.rotate_every
        need(not ssa_only or self.aggregation == "dpftrl-ssa" or bool(self.compare_aggregations), "aggregation",
             "dpftrl-ssa when server or committee faults or rotate_every are set")
        dp = self.aggregation != "fedavg" or any(a != "fedavg" for a in self.compare_aggregations)
        need(not dp or max(self.noise_multiplier, self.per_round_noise_multiplier, self.target_epsilon) > 0,
             "noise_multiplier", f"> 0 (or set target_epsilon) for aggregation={self.aggregation}")

    @property
    def uses_dp(self) -> bool:
        return self.aggregation != "fedavg"


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SimConfig:
    """Reads a TOML config (a path, or the name of a shipped one: "digits" is `loyal.configs/digits.toml`);
    unknown sections or keys are errors (one line naming them).

    Raises:
      ValueError: missing file, bad TOML, unknown key, wrong type or value out of range.
    """
    path = Path(path)
    if not path.is_file() and path.suffix == "" and len(path.parts) == 1:  # a shipped config by name
        from importlib import resources

        shipped = Path(str(resources.files("loyal.configs") / f"{path.name}.toml"))
        path = shipped if shipped.is_file() else path
    raw = read_toml(path, missing=ValueError)
    flat: dict[str, Any] = {}
    for section, table in raw.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise ValueError(f"{path}: unknown section [{section}]; sections are {', '.join(SECTIONS)}")
        for key, value in table.items():
            if key not in SECTIONS[section]:
                raise ValueError(f"{path}: unknown key {key!r} in [{section}]; allowed: {', '.join(SECTIONS[section])}")
            flat[RENAMED.get((section, key), key)] = value
    flat.update(overrides or {})
    return config_from_dict(flat, str(path))


def config_from_dict(values: dict[str, Any], source: str = "config") -> SimConfig:
    """Builds a `SimConfig` from flat keys, checking each value's type against the default's."""
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ValueError(f"{source}: unknown key {key!r}")
        default = fields[key].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, tuple):
            kind = str if key == "compare_aggregations" else int
            ok = isinstance(value, list | tuple) and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
            value = tuple(value) if ok else value
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ValueError(f"{source}: {key} must be of type {type(default).__name__}, got {value!r}")
        kwargs[key] = value
    return SimConfig(**kwargs)
