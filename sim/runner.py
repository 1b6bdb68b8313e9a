# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Ray simulation: weak ephemeral clients, a persistent server, a rotating committee, faults.

Each round the driver (the persistent server) samples a cohort among available clients that still
respect the participation schema, sends each a `ClientTask` through the object store to a pool of
`ClientWorker` actors with fractional CPUs, and aggregates what arrives before the deadline with one of
fedavg / dp-fedavg / dpftrl-plaintext / dpftrl-ssa. Straggler latency is virtual (added to the measured
compute time, nothing sleeps), so a simulated deadline costs no wall time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import ray
import torch

from loyal.methods.kit.train import LocalTrainConfig, evaluate, get_flat_params, set_flat_params
from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dp_fedavg import DPFedAvg
from loyal.methods.fl.dpftrl_plaintext import DPFTRLPlaintext
from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa, SsaSettings
from loyal.methods.fl.fedavg import FedAvg
from loyal.protocols.dpftrl import ParticipationSchema, accounting
from loyal.protocols.dpftrl.ledger import ParticipationLedger
from loyal.sim.actors import ActorCache, ClientResult, ClientTask, ModelSpec, remote_client_worker
from loyal.sim.committee import RayCommittee
from loyal.sim.config import SimConfig
from loyal.sim.inprocess import RoundConfig, evaluation_set

logger = logging.getLogger(__name__)


class SimulationError(RuntimeError):
    """A run could not continue (e.g. too few eligible clients, committee below threshold)."""


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Joins the cluster at `address` ("auto" or HOST:PORT) or starts a local one (idempotent)."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)


def load_task(config: SimConfig):
    """The federated data set and model spec of the configured task."""
    from loyal.methods.kit.data import load_digits_federated, load_shakespeare

    if config.task == "shakespeare":
        data = load_shakespeare()
        return data, ModelSpec("shakespeare", data.vocab.size, config.width, config.layers, config.heads)
    data = load_digits_federated(num_clients=config.digits_clients, alpha=config.digits_alpha, seed=0)
    return data, ModelSpec("digits")


def privacy_config(config: SimConfig) -> PrivacyConfig:
    """Clip, (calibrated) effective noise multiplier, schema and δ of a run."""
    z = config.noise_multiplier
    if config.target_epsilon > 0:
        z = accounting.calibrate_noise_multiplier(config.target_epsilon, config.delta)
    kw = dict(
        clip_norm=config.clip_norm, rounds=config.rounds, expected_clients=config.clients_per_round,
        participations=config.participations, min_separation=config.min_separation, mechanism=config.mechanism,
        delta=config.delta,
    )
    if config.per_round_noise_multiplier > 0:
        name = config.mechanism if config.aggregation.startswith("dpftrl") else "identity"
        sens = PrivacyConfig(noise_multiplier=0.0, **kw).build(name).sensitivity()
        z = config.per_round_noise_multiplier / sens
    return PrivacyConfig(noise_multiplier=z, **kw)


def ssa_settings(config: SimConfig) -> SsaSettings:
    return SsaSettings(
        scale=config.scale, scale_bits=config.scale_bits, committee_size=config.committee_size,
        threshold=config.threshold, rotate_every=config.rotate_every, params=config.params or None,
        insecure_seed=config.seed if config.deterministic else None, prove_uploads=config.prove_uploads,
        noise_contributors=config.noise_contributors, honest_noise_contributors=config.honest_noise_contributors,
    )


def build_aggregator(config: SimConfig, dim: int, committee_factory: Callable | None = None, clients: int = 0):
    """The configured aggregator (`sim.inprocess.Aggregator`). dpftrl-ssa runs against the in-process
    server with Ray committee actors, or (`[server] kind = "grpc"`) against the real `loyal server`
    process with `clients` enrollment tokens (`sim.grpc_backend`)."""
    if config.aggregation == "fedavg":
        return FedAvg(config.server_learning_rate)
    privacy = privacy_config(config)
    if config.aggregation == "dp-fedavg":
        return DPFedAvg(privacy, config.server_learning_rate, seed=config.seed)
    if config.aggregation == "dpftrl-plaintext":
        return DPFTRLPlaintext(privacy, config.server_learning_rate, config.momentum, seed=config.seed)
    if config.server_kind == "grpc":
        from loyal.sim.grpc_backend import GrpcDPFTRL

        return GrpcDPFTRL(privacy, dim, ssa_settings(config), config.server_learning_rate, config.momentum,
                          cohort_size=config.clients_per_round, clients=clients, round_seconds=config.round_seconds)
    return DPFTRLSsa(
        privacy, dim, ssa_settings(config), config.server_learning_rate, config.momentum,
        committee_factory=committee_factory or RayCommittee.factory(), max_clients=config.clients_per_round,
    )


_POOL = ActorCache()


def worker_pool(spec: ModelSpec, actors: int, cpus: float, gpus: float) -> list:
    """Client worker actors for `spec`, reused across runs of this driver (they hold no client state)."""
    return _POOL.get((spec, actors, cpus, gpus), lambda: [remote_client_worker(cpus, gpus).remote(spec) for _ in range(actors)])


def release_actors() -> None:
    """Kills the cached client workers and committee hosts, freeing their CPU reservations (call before
    handing the cluster to another framework, e.g. Flower, that sizes its actor pool from the cluster)."""
    from loyal.sim.committee import shutdown_hosts

    shutdown_pool()
    shutdown_hosts()


def shutdown_pool() -> None:
    """Kills every cached client worker (call before `ray.shutdown()` when reusing a driver)."""
    _POOL.clear()


class CohortSampler:
    """Uniform cohorts among clients that are online (availability) and within k participations spaced ≥ b.

    The schema is enforced by a `ParticipationLedger` whose identities are the clients' positions in `clients`.
    """

    def __init__(self, clients: list[str], config: SimConfig, rng: np.random.Generator) -> None:
        self.clients, self.config, self.rng = clients, config, rng
        # SimConfig allows b > rounds only when k = 1, where b never applies; ParticipationSchema asks b <= rounds.
        schema = ParticipationSchema(config.rounds, config.participations, min(config.min_separation, config.rounds))
        self.ledger = ParticipationLedger(schema)

    def sample(self, round_index: int) -> np.ndarray:
        c = self.config
        online = self.rng.random(len(self.clients)) < c.availability
        ok = online & self.ledger.eligible(range(len(self.clients)), round_index)
        eligible = np.flatnonzero(ok)
        if len(eligible) < c.clients_per_round:
            raise SimulationError(
                f"round {round_index + 1}: only {len(eligible)} clients are online and within the participation "
                f"limit, fewer than clients_per_round={c.clients_per_round}"
            )
        cohort = np.sort(self.rng.choice(eligible, c.clients_per_round, replace=False))
        for client in cohort:
            self.ledger.record(int(client), round_index)
        return cohort


def run_simulation(
    config: SimConfig,
    *,
    ray_address: str | None = None,
    on_round: Callable[[dict], None] | None = None,
    on_client: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Runs the configured simulation; returns {"history", "privacy", "model", ...} (model = trained torch module)."""
    connect(ray_address)
    t_start = time.perf_counter()
    data, spec = load_task(config)
    torch.manual_seed(config.seed)
    model = spec.build()
    dim = get_flat_params(model).numel()
    eligible = [c for c in data.client_ids if data.num_train(c) > 0]
    rng = np.random.default_rng(config.seed)
    sampler = CohortSampler(eligible, config, rng)
    eval_cfg = RoundConfig(
        rounds=1, clients_per_round=1, eval_clients=config.eval_clients,
        eval_samples_per_client=config.eval_samples_per_client, seed=config.seed,
    )
    x_eval, y_eval = evaluation_set(data, eval_cfg)
    aggregator = build_aggregator(config, dim, clients=len(eligible))
    grpc = config.aggregation == "dpftrl-ssa" and config.server_kind == "grpc"
    ssa = grpc or isinstance(aggregator, DPFTRLSsa)
    local = LocalTrainConfig(
        learning_rate=config.learning_rate, batch_size=config.batch_size, max_steps=config.local_steps,
        optimizer=config.optimizer,
    )
    gpus = 1.0 / config.actors if torch.cuda.is_available() else 0.0
    workers = worker_pool(spec, config.actors, config.client_cpus, gpus)
    settings_ref = ray.put(ssa_settings(config)) if ssa else None
    history: list[dict] = []
    try:
        for rnd in range(config.rounds):
            t0 = time.perf_counter()
            if ssa and config.committee_offline_round and rnd + 1 == config.committee_offline_round:
                aggregator.committee.take_offline(config.committee_offline)
            cohort = sampler.sample(rnd)
            params = get_flat_params(model).detach().cpu().numpy()
            params_ref = ray.put(params)
            ticket_ref = ray.put(aggregator.ticket(config.deadline_s) if grpc else aggregator.ticket()) if ssa else None
            dropped = rng.random(len(cohort)) < config.dropout
            truncate = rng.random(len(cohort)) < config.mid_upload_dropout
            straggle = rng.exponential(config.straggler_mean_s, len(cohort)) if config.straggler_mean_s else np.zeros(len(cohort))
            refs = []
            for pos, idx in enumerate(cohort):
                if dropped[pos]:
                    continue
                x, y = data.train_arrays(eligible[idx])
                task = ClientTask(int(idx), x, y, local, int(rng.integers(2**31)), bool(truncate[pos]), float(straggle[pos]),
                                  aggregator.identity(int(idx)) if grpc else None)
                refs.append(workers[len(refs) % len(workers)].run.remote(params_ref, task, ticket_ref, settings_ref))
            results: list[ClientResult] = []
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                results.append(ray.get(done[0]))
                if on_client:
                    on_client()
            on_time = [r for r in results if r.latency_s <= config.deadline_s]
            arrived = [r for r in on_time if (r.upload if ssa else r.update) is not None]
            if grpc:  # the workers uploaded to the server themselves
                accepted = sum(bool(r.accepted) for r in on_time)
                aggregator.rejected += sum(r.accepted is False for r in on_time)
                new = aggregator.finish_round(get_flat_params(model).double(), accepted)
            elif ssa:
                accepted = aggregator.handle_uploads([r.upload for r in sorted(arrived, key=lambda r: r.client_id)])
                new = aggregator.finish_round(get_flat_params(model).double())
            else:
                accepted = len(arrived)
                if not arrived:
                    raise SimulationError(f"round {rnd + 1}: no client update arrived before the deadline")
                updates = [torch.tensor(r.update) for r in arrived]
                new = aggregator.apply(get_flat_params(model), updates, [1.0] * len(updates))
            set_flat_params(model, new.float())
            if grpc and config.server_restart_round and rnd + 1 == config.server_restart_round:
                aggregator.restart_server()  # SIGKILL, then a restart on the same SQLite store
            elif ssa and config.server_restart_round and rnd + 1 == config.server_restart_round:
                saved = ray.get(ray.put(aggregator.save_state()))  # the server's own state travels through Ray
                aggregator.restore_state(saved)
                logger.info("server restarted after round %d", rnd + 1)
            test_loss, test_acc = evaluate(model, x_eval, y_eval)
            record = {
                "round": rnd + 1,
                "train_loss": float(np.mean([r.loss for r in results])) if results else math.nan,
                "test_loss": test_loss,
                "test_accuracy": test_acc,
                "cohort": int(len(cohort)),
                "dropped": int(dropped.sum()),
                "late": len(results) - len(on_time),
                "accepted": int(accepted),
                "seconds": time.perf_counter() - t0,
            }
            history.append(record)
            logger.info("round %d: %s", rnd + 1, record)
            if on_round:
                on_round(record)
    finally:
        if grpc:
            aggregator.close()
        elif ssa and hasattr(aggregator.committee, "shutdown"):
            aggregator.committee.shutdown()
    out: dict[str, Any] = {
        "task": config.task,
        "aggregation": config.aggregation,
        "rounds": config.rounds,
        "clients_per_round": config.clients_per_round,
        "parameters": dim,
        "test_accuracy": history[-1]["test_accuracy"],
        "history": history,
        "seconds": time.perf_counter() - t_start,
        "model": model,
        "eval_labels": y_eval,
    }
    if config.uses_dp:
        out["privacy"] = aggregator.privacy_report()
        out["epsilon"], out["delta"] = out["privacy"]["epsilon"], out["privacy"]["delta"]
    if ssa:
        out["rejected_uploads"] = aggregator.rejected
        out["committee_epoch"] = aggregator.epoch
        out["release_digests"] = list(aggregator.release_digests)
        out["server"] = config.server_kind
    return out


__all__ = ["SimulationError", "connect", "release_actors", "shutdown_pool", "privacy_config", "run_simulation", "CohortSampler"]
