# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Ray simulation scale benchmark: one real SSA round (dpftrl-ssa, arXiv 2410.11368) with many clients.

Run with `loyal bench sim --json [--clients N] [--dim D] [--baseline-clients B]`. One round of a
`DPFTRLSsa` job (blt, ROUNDS rounds, noise multiplier NOISE_MULTIPLIER, committee of 5, threshold 3):

* clients: Ray tasks of CHUNK clients each; every client draws a synthetic update from its own seed
  (seeded Gaussian direction, L2 norm UPDATE_NORM < clip norm, so inside the clip ball) and encrypts it
  with `create_upload` (`SsaClient.create_contribution`: clip, encode, KAHE + AHE, frame): one upload per
  client, no pre-summing;
* server: the driver streams task results in as they finish (`ray.wait`, at most IN_FLIGHT_PER_CPU tasks
  per CPU submitted ahead) and feeds every upload to `DPFTRLSsa.handle_upload` (`RoundDriver.check_upload`
  + `include_upload`): it never holds more than one task's uploads;
* release: `DPFTRLSsa.finish_round` with the committee as Ray actors (`RayCommittee.factory()`): noise
  shares, close, release request, partial decryptions, recovery.

The release is checked: its integers must equal c·Σ encoded updates + c'·Σ member noise exactly (c, c' the
quantized row; the workers replay each client's encoding, the members' noise is replayed from the
simulation seed), and its real values minus the noise must lie within c/2^f · clients / s of c/2^f · Σ clipped
updates (stochastic rounding moves each coordinate by less than one step 1/s, `FixedPointEncoder.encode`).

The baseline is the plaintext round done by one process with numpy (same updates, clip, sum, Gaussian
noise), measured in the same run on --baseline-clients clients and scaled; ratios are SSA / baseline. A grid
over (clients, d) of SSA rounds gives the PNG of round time.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import ray

CHUNK = 25  # clients per Ray task (each encrypts and uploads its own update)
IN_FLIGHT_PER_CPU = 2  # tasks submitted ahead per CPU: finished uploads never pile up in the object store
CLIP_NORM = 1.0
UPDATE_NORM = 0.9  # synthetic updates lie strictly inside the clip ball
NOISE_MULTIPLIER = 1.0
ROUNDS = 20  # rounds of the benchmark's job (sizes the parameters); one round runs
SEED = 0  # simulation seed (`SsaSettings.insecure_seed`, simulation only): lets the check replay encodings and noise


def _client_update(seed: int, dim: int) -> np.ndarray:
    """A synthetic update: seeded Gaussian direction with L2 norm UPDATE_NORM (float32)."""
    v = np.random.default_rng(seed).standard_normal(dim, dtype=np.float32)
    return v * np.float32(UPDATE_NORM / float(np.linalg.norm(v)))


def _clip(update: np.ndarray) -> np.ndarray:
    """The plaintext server's clip to CLIP_NORM, in float64."""
    v = update.astype(np.float64)
    return v * min(1.0, CLIP_NORM / float(np.linalg.norm(v)))


# ---- SSA round ------------------------------------------------------------------------------------
def _encrypt_chunk(ticket, settings, first: int, count: int, dim: int) -> dict:
    """A Ray task: clients first..first+count-1 each encrypt their update (one upload per client).

    Also returns, for the release check, Σ encoded updates (each client's first PRNG draw replayed
    through the encoder) and Σ clipped updates, and this worker's peak RSS in KiB.
    """
    from loyal.methods.fl.ticket import create_upload

    uploads, encrypt_s = [], 0.0
    encoded = np.zeros(dim, dtype=np.int64)
    clipped = np.zeros(dim, dtype=np.float64)
    t_task = time.perf_counter()
    for cid in range(first, first + count):
        update = _client_update(cid, dim).astype(np.float64)
        label = f"client/{ticket.round_index}/{cid}"
        t = time.perf_counter()
        uploads.append(create_upload(ticket, update, cid, settings.prng(label)))
        encrypt_s += time.perf_counter() - t
        encoded += ticket.config.encoder.encode(update, settings.prng(label))
        clipped += ticket.config.encoder.clip(update)
    return {
        "uploads": uploads, "encoded": encoded, "clipped": clipped, "encrypt_s": encrypt_s,
        "task_s": time.perf_counter() - t_task, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _reset_peak_rss() -> None:
    """Resets this process's peak RSS (VmHWM) where Linux allows it, so the peak covers the round only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's RSS (`field` "VmRSS") or peak RSS ("VmHWM") in MB; ru_maxrss where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _check_release(agg, encoded: np.ndarray, clipped: np.ndarray, clients: int) -> dict:
    """Compares the decrypted release with the replayed encodings and noise (module docstring)."""
    from loyal.methods.fl.dpftrl_ssa import noise_from_committee

    release, cfg = agg.last_release, agg.config
    header = agg.state.core.log[release.round_index].header
    members = agg.job.committee(0)[0]
    if set(release.data) != {0} or not set(release.noise) <= {0} or header.num_noise != len(members):
        raise AssertionError(f"round 0's row or noise shares differ: data={release.data}, noise={release.noise}, "
                             f"num_noise={header.num_noise}, members={members}")
    c, c_noise = release.data[0], release.noise.get(0, 0)
    # The members' summed discrete Gaussian in encoded units (exact: integers / 2^10 and back).
    noise = np.rint(noise_from_committee(agg.settings, cfg, 0, members) * cfg.encoder.scale).astype(np.int64)
    exact = bool(np.array_equal(release.integer_values, c * encoded + c_noise * noise))
    multiplier = float(1 << agg.job.policy.scale_bits)
    data_part = release.values - cfg.encoder.decode(c_noise * noise, multiplier)
    return {
        "clients_aggregated": int(header.num_clients),
        "noise_shares": int(header.num_noise),
        "release_integers_exact": exact,
        "release_max_abs_error": float(np.max(np.abs(data_part - c / multiplier * clipped))),
        "release_error_bound": c / multiplier * clients * cfg.encoder.quantization_step,
    }


def _ssa_round(clients: int, dim: int, cpus: int) -> dict:
    """One SSA round of `clients` clients of length-`dim` updates (module docstring); timings and checks."""
    import torch

    from loyal.methods.fl.dp_common import PrivacyConfig
    from loyal.methods.fl.dpftrl_ssa import DPFTRLSsa, SsaSettings
    from loyal.sim.committee import RayCommittee

    t_setup = time.perf_counter()
    privacy = PrivacyConfig(clip_norm=CLIP_NORM, noise_multiplier=NOISE_MULTIPLIER, rounds=ROUNDS, expected_clients=clients)
    settings = SsaSettings(insecure_seed=SEED)
    agg = DPFTRLSsa(privacy, dim, settings, committee_factory=RayCommittee.factory(), max_clients=clients)
    task = ray.remote(num_cpus=1)(_encrypt_chunk)
    try:
        ticket_ref, settings_ref = ray.put(agg.ticket()), ray.put(settings)
        setup_s = time.perf_counter() - t_setup
        encoded, clipped = np.zeros(dim, dtype=np.int64), np.zeros(dim)
        encrypt_s = task_s = aggregate_s = get_s = 0.0
        accepted = upload_bytes = worker_kb = 0
        starts = iter(range(0, clients, CHUNK))

        def submit() -> None:
            first = next(starts, None)
            if first is not None:
                pending.append(task.remote(ticket_ref, settings_ref, first, min(CHUNK, clients - first), dim))

        _reset_peak_rss()
        rss_before_mb = _rss_mb()
        t0 = time.perf_counter()
        pending: list = []
        for _ in range(IN_FLIGHT_PER_CPU * cpus):
            submit()
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            submit()  # the workers go on encrypting while the server aggregates
            t = time.perf_counter()
            part = ray.get(done[0])
            get_s += time.perf_counter() - t
            t = time.perf_counter()
            for data in part["uploads"]:
                accepted += agg.handle_upload(data)
                upload_bytes = max(upload_bytes, len(data))
            aggregate_s += time.perf_counter() - t
            encoded += part["encoded"]
            clipped += part["clipped"]
            encrypt_s += part["encrypt_s"]
            task_s += part["task_s"]
            worker_kb = max(worker_kb, part["peak_kb"])
            del part, done  # at most one task's uploads live in the driver
        collect_s = time.perf_counter() - t0
        t = time.perf_counter()
        agg.finish_round(torch.zeros(dim, dtype=torch.float64))
        release_s = time.perf_counter() - t
        round_s = time.perf_counter() - t0
        peak_mb = _rss_mb("VmHWM")
        check = _check_release(agg, encoded, clipped, clients)
    finally:
        agg.committee.shutdown()
    return {
        "clients": clients, "dim": dim, "round_s": round_s, "setup_s": setup_s, "collect_s": collect_s,
        "encrypt_worker_s": encrypt_s, "generate_and_check_worker_s": task_s - encrypt_s, "transfer_s": get_s,
        "aggregate_server_s": aggregate_s, "release_s": release_s, "accepted": int(accepted),
        "rejected": agg.rejected, "upload_bytes": upload_bytes, "bytes_per_client": agg.config.bytes_per_client(),
        "parameter_set": agg.job.params_name, "driver_rss_before_round_mb": rss_before_mb, "driver_peak_rss_mb": peak_mb, "worker_peak_rss_mb": worker_kb / 1024,
        "clipped_sum": clipped, **check,
    }


# ---- numpy baseline -------------------------------------------------------------------------------
def _chunk_sum(first: int, count: int, dim: int) -> np.ndarray:
    total = np.zeros(dim, dtype=np.float64)
    for seed in range(first, first + count):
        total += _clip(_client_update(seed, dim))
    return total


def _numpy_round(clients: int, dim: int) -> tuple[float, np.ndarray]:
    """The plaintext round in one process: clip, sum, Gaussian noise of std z·C; (seconds, clipped sum)."""
    t = time.perf_counter()
    clipped = _chunk_sum(0, clients, dim)
    _ = clipped + np.random.default_rng(SEED).normal(0.0, NOISE_MULTIPLIER * CLIP_NORM, dim)
    return time.perf_counter() - t, clipped


def _grid(clients: int, dim: int) -> list[tuple[int, int]]:
    """(clients, d) of the plotted rounds: clients/100 and clients/10 at d/10 and d, plus the full round
    (the full clients at d/10 would cost most of another full round)."""
    small = sorted({max(1, clients // 100), max(1, clients // 10)} - {clients})
    return sorted({(c, d) for c in small for d in {max(1, dim // 10), dim}} | {(clients, dim)})


def _plot(grid: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for d in sorted({g["dim"] for g in grid}):
        pts = sorted((g["clients"], g["round_s"]) for g in grid if g["dim"] == d)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"d = {d:,}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("clients in the round")
    ax.set_ylabel("SSA round time (s), Ray, 2 cores")
    ax.set_title("One SSA round: time vs clients and d")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict:
    clients, dim = args.clients, args.dim
    if clients < 1 or dim < 1:
        raise ValueError(f"--clients and --dim must be >= 1, got clients={clients}, dim={dim}")
    if args.baseline_clients < 1:
        raise ValueError(f"--baseline-clients must be >= 1, got baseline_clients={args.baseline_clients}")
    t0 = time.perf_counter()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        _ssa_round(2 * cpus * CHUNK, 8, cpus)  # warm workers and committee hosts (process start is not part of a round)
        main = _ssa_round(clients, dim, cpus)
        base_clients = min(clients, args.baseline_clients)
        base_s, base_clipped = _numpy_round(base_clients, dim)
        base_scaled = base_s * clients / base_clients
        grid = []
        for c, d in _grid(clients, dim):
            r = main if (c, d) == (clients, dim) else _ssa_round(c, d, cpus)
            grid.append({"clients": c, "dim": d, "round_s": r["round_s"], "release_integers_exact": r["release_integers_exact"]})
    finally:
        if started:
            ray.shutdown()
    clipped = main.pop("clipped_sum")
    if base_clients == clients and not np.allclose(clipped, base_clipped, rtol=1e-9, atol=1e-9):
        raise AssertionError("the SSA clients' clipped updates differ from the baseline's")
    bad = [g for g in grid if not g["release_integers_exact"]]
    if not main["release_integers_exact"] or bad or not main["release_max_abs_error"] <= main["release_error_bound"]:
        raise AssertionError(f"release check failed: {main['release_max_abs_error']=} {main['release_error_bound']=} {bad=}")
    if main["clients_aggregated"] != clients or main["rejected"]:
        raise AssertionError(f"aggregated {main['clients_aggregated']} of {clients} clients, rejected {main['rejected']}")
    out_png = getattr(args, "png", None) or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "sim.png")
    os.makedirs(os.path.dirname(out_png), exist_ok=True)
    _plot(grid, out_png)
    ssa_s = main["round_s"]
    return {
        **main,
        "cpus": cpus,
        "clients_per_task": CHUNK,
        "ssa_round_s": ssa_s,
        "clients_per_s": clients / ssa_s,
        "encrypt_ms_per_client": 1e3 * main["encrypt_worker_s"] / clients,
        "aggregate_ms_per_client": 1e3 * main["aggregate_server_s"] / clients,
        "numpy_baseline_round_s": base_scaled,
        "baseline_clients_measured": base_clients,
        "ratio_ssa_vs_numpy": ssa_s / base_scaled,
        "noise_multiplier": NOISE_MULTIPLIER,
        "job_rounds": ROUNDS,
        "grid": grid,
        "png": os.path.relpath(out_png, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "bench_wall_s": time.perf_counter() - t0,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }


def markdown(results: dict) -> str:
    r = results
    n = r["clients"]
    lines = [
        f"# Ray simulation scale: one SSA round ({n:,} clients × d = {r['dim']:,})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| round time (SSA on Ray, {r['cpus']} CPUs) | {r['ssa_round_s']:.1f} s |",
        f"| clients / s | {r['clients_per_s']:.1f} |",
        f"| encryption on workers | {r['encrypt_worker_s']:.1f} CPU-s ({r['encrypt_ms_per_client']:.1f} ms per client) |",
        f"| update generation + release check on workers (encoding replayed) | {r['generate_and_check_worker_s']:.1f} CPU-s |",
        f"| aggregation in the server | {r['aggregate_server_s']:.1f} s ({r['aggregate_ms_per_client']:.2f} ms per client) |",
        f"| results fetched from the object store | {r['transfer_s']:.1f} s |",
        f"| uploads collected (wall) | {r['collect_s']:.1f} s |",
        f"| release (noise shares, close, partial decryptions, recovery; committee on Ray actors) | {r['release_s']:.2f} s |",
        f"| numpy single-process baseline (plaintext) | {r['numpy_baseline_round_s']:.1f} s (measured on {r['baseline_clients_measured']:,} clients, scaled) |",
        f"| ratio SSA on Ray / baseline | {r['ratio_ssa_vs_numpy']:.1f}× |",
        f"| upload per client | {r['upload_bytes']:,} bytes ({r['parameter_set']}) |",
        f"| driver peak RSS during the round | {r['driver_peak_rss_mb']:.0f} MB ({r['driver_rss_before_round_mb']:.0f} MB before it) |",
        f"| Ray worker peak RSS (max over workers) | {r['worker_peak_rss_mb']:.0f} MB |",
        f"| clients aggregated / rejected | {r['clients_aggregated']:,} / {r['rejected']} |",
        f"| release integers = c·Σ encoded + c'·Σ noise | {r['release_integers_exact']} |",
        f"| release max abs error (noise removed) | {r['release_max_abs_error']:.3g} ≤ bound {r['release_error_bound']:.3g} |",
        "",
        "| clients | d | SSA round time (s) |",
        "|---|---|---|",
        *[f"| {g['clients']:,} | {g['dim']:,} | {g['round_s']:.2f} |" for g in r["grid"]],
        "",
        f"Plot: {r['png']}. Wall {r['bench_wall_s']:.0f} s (job setup {r['setup_s']:.1f} s, not in the round); {r['machine']}.",
        f"Job: blt, {r['job_rounds']} rounds, noise multiplier {r['noise_multiplier']}, committee 5 (threshold 3) on Ray actors;",
        f"synthetic updates (seeded Gaussian, norm {UPDATE_NORM} < clip {CLIP_NORM}); each Ray task encrypts {r['clients_per_task']} clients,",
        "one upload each, streamed into the server as tasks finish.",
        "",
    ]
    return "\n".join(lines)
