# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Experiment of near access-freeness (arXiv 2408.13278; CP-Δ and CP-k of Vyas et al., arXiv 2302.10870).

One arm per seed: Shakespeare's speaking roles (LEAF clients) are split at random into two disjoint shards;
a "copyrighted" passage (a held-out speech, present in neither shard naturally) is inserted `copies` times
into shard 1 only, so safe_C = q_2 for it. Character n-gram models (Witten-Bell, `ngram.py`; a stand-in for
the paper's transformers) are fitted on shard 1 (q_1), shard 2 (q_2) and both (p, CP-k's base model).
Generation is autoregressive and the combination is applied per token (the paper's practical variant):

* `q1`, `q2`, `full`: one model alone; `cp_delta_kl`: p ∝ sqrt(q_1 q_2); `cp_delta_max`: p ∝ min(q_1, q_2);
  `cp_k`: p restricted to p ≤ e^k min(q_1, q_2) (falling back to `cp_delta_max` where nothing is accepted).

Per output y (a generated continuation of T characters), k_x = max_i Σ_t log p_A(y_t|y_<t)/q_i(y_t|y_<t)
(realised max-divergence / privacy loss) and max_i Σ_t KL(p_A(·|y_<t) ‖ q_i(·|y_<t)) (KL along the path),
plus the per-token guarantee summed over positions. Quality: bits per character on held-out speeches.
Memorisation: the passage's first `prompt_len` characters as prompt; the exact-continuation length and the
longest common substring of sampled continuations with the true one; and, teacher-forced on the passage,
bits per character and top-1 accuracy (how much of it the combined model would emit greedily).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.near_access_freeness import maths
from loyal.methods.near_access_freeness.ngram import NgramModel

logger = logging.getLogger(__name__)

ALGORITHMS = ("q1", "q2", "full", "cp_delta_kl", "cp_delta_max", "cp_k")
_LN2 = float(np.log(2.0))


@dataclasses.dataclass(frozen=True)
class NafConfig:
    """Settings of the near-access-freeness experiment.

    Attributes:
      seeds: arms (shard splits), >= 1.
      order: n-gram order in [2, 8] (8: 7-character contexts, enough to memorise an inserted passage).
      shard_chars: characters per shard taken from its roles' train text, >= 10 000.
      heldout_chars: characters of held-out speeches for bits per character, >= 1 000.
      prompts: generation prompts drawn from held-out speeches, >= 2.
      prompt_len: prompt characters, >= order − 1.
      gen_len: generated characters per output T, >= 1; k_x sums over them.
      passage_len: characters of the copyrighted passage, > prompt_len.
      copies: insertions of the passage into shard 1, >= 1.
      samples_per_passage: continuations sampled per algorithm from the passage's prompt, >= 1.
      cp_k_threshold: CP-k's k in nats per token, >= 0.
      dp_delta: δ of the DP comparison, in (0, 1).
      dp_rate, dp_steps: sampling rate and steps of the DP-SGD / DP-FedAvg the comparison calibrates.
    """

    seeds: int = 3
    order: int = 8
    shard_chars: int = 1_500_000
    heldout_chars: int = 50_000
    prompts: int = 64
    prompt_len: int = 40
    gen_len: int = 120
    passage_len: int = 240
    copies: int = 16
    samples_per_passage: int = 16
    cp_k_threshold: float = 1.0
    dp_delta: float = 1e-5
    dp_rate: float = 0.01
    dp_steps: int = 1000

    def __post_init__(self) -> None:
        checks = [
            ("seeds", self.seeds >= 1), ("order", 2 <= self.order <= 8), ("shard_chars", self.shard_chars >= 10_000),
            ("heldout_chars", self.heldout_chars >= 1_000), ("prompts", self.prompts >= 2),
            ("prompt_len", self.prompt_len >= self.order - 1), ("gen_len", self.gen_len >= 1),
            ("passage_len", self.passage_len > self.prompt_len), ("copies", self.copies >= 1),
            ("samples_per_passage", self.samples_per_passage >= 1), ("cp_k_threshold", self.cp_k_threshold >= 0),
            ("dp_delta", 0 < self.dp_delta < 1), ("dp_rate", 0 < self.dp_rate <= 1), ("dp_steps", self.dp_steps >= 1),
        ]
        for key, ok in checks:
            if not ok:
                raise ValueError(f"{key} is out of range (see NafConfig), got {getattr(self, key)!r}")


@dataclasses.dataclass(frozen=True)
class ShardModels:
    """q_1, q_2 (disjoint shards) and p (their union), for one arm."""

    q1: NgramModel
    q2: NgramModel
    full: NgramModel


def next_token(models: ShardModels, contexts: np.ndarray, algorithm: str, k: float) -> dict[str, np.ndarray]:
    """The algorithm's next-token law and both safe models' laws at each context, plus the per-token bound."""
    q1, q2 = models.q1.probs(contexts), models.q2.probs(contexts)
    n = len(contexts)
    bound = np.zeros(n)
    if algorithm == "q1":
        dist = q1
    elif algorithm == "q2":
        dist = q2
    elif algorithm == "full":
        dist = models.full.probs(contexts)
    elif algorithm == "cp_delta_kl":
        dist, bound = maths.cp_delta_kl(q1, q2), maths.cp_delta_kl_bound(q1, q2)
    elif algorithm == "cp_delta_max":
        dist, bound = maths.cp_delta_max(q1, q2), maths.cp_delta_max_bound(q1, q2)
    elif algorithm == "cp_k":
        dist, nu = maths.cp_k(models.full.probs(contexts), q1, q2, k)
        empty = nu <= 0
        dist[empty] = maths.cp_delta_max(q1[empty], q2[empty])
        bound = np.where(empty, maths.cp_delta_max_bound(q1, q2), maths.cp_k_bound(np.maximum(nu, 1e-300), k))
    else:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    return {"dist": dist, "q1": q1, "q2": q2, "bound": bound}


def generate(
    models: ShardModels, prompts: np.ndarray, algorithm: str, length: int, k: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Samples `length` characters after each prompt row; returns tokens and per-output k_x terms.

    Returns:
      tokens (B, T); k_max (B,) realised max_i Σ_t log p_A/q_i; k_kl (B,) max_i Σ_t KL(p_A‖q_i);
      k_bound (B,) Σ_t of the algorithm's per-token guarantee (0 for single models).
    """
    seq = np.asarray(prompts, dtype=np.int64)
    B = len(seq)
    log_ratio, kls, bound, out = np.zeros((2, B)), np.zeros((2, B)), np.zeros(B), np.zeros((B, length), np.int64)
    for t in range(length):
        step = next_token(models, seq, algorithm, k)
        dist = step["dist"]
        y = (rng.random(B)[:, None] > np.cumsum(dist, 1)).sum(1).clip(0, dist.shape[1] - 1)
        rows = np.arange(B)
        for i, q in enumerate((step["q1"], step["q2"])):
            log_ratio[i] += np.log(dist[rows, y]) - np.log(q[rows, y])
            kls[i] += maths.kl(dist, q)
        bound += step["bound"]
        out[:, t] = y
        seq = np.concatenate([seq[:, 1:], y[:, None]], 1)
    return {"tokens": out, "k_max": log_ratio.max(0), "k_kl": kls.max(0), "k_bound": bound}


def teacher_forced(models: ShardModels, ids: np.ndarray, order: int, algorithm: str, k: float) -> dict[str, float]:
    """Scores `ids` character by character (each predicted from the true preceding order − 1).

    Returns:
      bits: bits per character over the positions given mass; zero_fraction: positions given probability 0
      (only CP-k rejects tokens); top1: fraction of positions whose most likely character is the true one.
    """
    ctx = np.lib.stride_tricks.sliding_window_view(ids[:-1], order - 1)
    y = ids[order - 1 :].astype(np.int64)
    dist = next_token(models, ctx, algorithm, k)["dist"]
    prob = dist[np.arange(len(y)), y]
    kept = prob > 0
    return {"bits": float(-np.log(prob[kept]).mean() / _LN2), "zero_fraction": float(1.0 - kept.mean()),
            "top1": float((dist.argmax(1) == y).mean())}


def _longest_common_substring(a: np.ndarray, b: np.ndarray) -> int:
    best, prev = 0, np.zeros(len(b) + 1, np.int64)
    for x in a:
        cur = np.zeros_like(prev)
        cur[1:] = np.where(b == x, prev[:-1] + 1, 0)
        best, prev = max(best, int(cur.max())), cur
    return best


def _shards(config: NafConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(shard-1 ids with the passage inserted, shard-2 ids, held-out ids, the passage)."""
    from loyal.methods.kit.data.shakespeare import load_shakespeare

    data = load_shakespeare()
    roles = [data.client_ids[i] for i in rng.permutation(len(data.client_ids))]
    half = len(roles) // 2
    space = data.vocab.encode(" ")

    def take(role_ids: list[str], texts: dict, limit: int) -> np.ndarray:
        parts, size = [], 0
        for r in role_ids:
            parts += [texts[r], space]
            size += len(texts[r]) + 1
            if size >= limit:
                break
        return np.concatenate(parts)[:limit]

    heldout = take(roles, data.test_text, config.heldout_chars + config.passage_len + 1)
    passage, heldout = heldout[: config.passage_len], heldout[config.passage_len + 1 :]
    shard1 = take(roles[:half], data.train_text, config.shard_chars)
    shard2 = take(roles[half:], data.train_text, config.shard_chars)
    cuts = np.sort(rng.choice(len(shard1), config.copies, replace=False))
    pieces = np.split(shard1, cuts)
    shard1 = np.concatenate([pieces[0]] + [np.concatenate([space, passage, space, p]) for p in pieces[1:]])
    return shard1, shard2, heldout, passage


def run_arm(config: NafConfig, arm: dict) -> dict:
    """Fits q_1, q_2, p on one random role split; k_x, memorisation and held-out quality per algorithm."""
    rng = seed_everything(int(arm["seed"]))
    shard1, shard2, heldout, passage = _shards(config, rng)
    V = 81
    logger.info("seed %s: shard 1 %d chars (passage x%d), shard 2 %d chars", arm["seed"], len(shard1), config.copies, len(shard2))
    models = ShardModels(
        NgramModel.fit(shard1, config.order, V), NgramModel.fit(shard2, config.order, V),
        NgramModel.fit(np.concatenate([shard1, shard2]), config.order, V),
    )
    starts = rng.choice(len(heldout) - config.prompt_len, config.prompts, replace=False)
    prompts = np.stack([heldout[s : s + config.prompt_len] for s in starts])
    target = passage[config.prompt_len :]
    passage_prompts = np.repeat(passage[None, : config.prompt_len], config.samples_per_passage, 0)
    out: dict = {"seed": int(arm["seed"]), "algorithms": {}}
    for alg in ALGORITHMS:
        gen = generate(models, prompts, alg, config.gen_len, config.cp_k_threshold, rng)
        mem = generate(models, passage_prompts, alg, len(target), config.cp_k_threshold, rng)
        exact = [int(np.argmin(np.append(row == target, False))) for row in mem["tokens"]]
        held = teacher_forced(models, heldout, config.order, alg, config.cp_k_threshold)
        forced = teacher_forced(models, passage[config.prompt_len - config.order + 1 :], config.order, alg,
                                config.cp_k_threshold)
        out["algorithms"][alg] = {
            "k_max": gen["k_max"].tolist(), "k_kl": gen["k_kl"].tolist(), "k_bound": gen["k_bound"].tolist(),
            "passage_k_max": mem["k_max"].tolist(),
            "exact_continuation": exact, "lcs": [_longest_common_substring(r, target) for r in mem["tokens"]],
            "heldout_bits_per_char": held["bits"], "heldout_zero_fraction": held["zero_fraction"],
            "passage_bits_per_char": forced["bits"], "passage_top1": forced["top1"],
            "passage_zero_fraction": forced["zero_fraction"],
        }
    return out


def arms(config: NafConfig) -> list[dict]:
    return [{"seed": s} for s in range(config.seeds)]


def dp_equivalent(epsilon: float, config: NafConfig, group_size: int) -> dict:
    """Noise multiplier of Poisson-subsampled DP-SGD/DP-FedAvg reaching ε/group_size per record (RDP accounting)."""
    from loyal.protocols.dpftrl.accounting import calibrate_poisson_noise_multiplier

    per_record = epsilon / group_size
    z = calibrate_poisson_noise_multiplier(per_record, config.dp_delta, rate=config.dp_rate, steps=config.dp_steps,
                                           tolerance=1e-3)
    return {"epsilon_item": epsilon, "group_size": group_size, "epsilon_per_record": per_record, "noise_multiplier": z}


def summarize(config: NafConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    per_alg: dict[str, dict] = {}
    for alg in ALGORITHMS:
        rows = [r["algorithms"][alg] for r in results]
        cat = {key: np.concatenate([row[key] for row in rows]) for key in ("k_max", "k_kl", "k_bound", "exact_continuation", "lcs")}
        per_alg[alg] = {
            "k_max_mean": float(cat["k_max"].mean()), "k_max_q50": float(np.median(cat["k_max"])),
            "k_max_q90": float(np.quantile(cat["k_max"], 0.9)), "k_kl_mean": float(cat["k_kl"].mean()),
            "k_kl_q90": float(np.quantile(cat["k_kl"], 0.9)), "k_bound_mean": float(cat["k_bound"].mean()),
            "k_max_per_token_mean": float(cat["k_max"].mean() / config.gen_len),
            "passage_exact_continuation_mean": float(cat["exact_continuation"].mean()),
            "passage_lcs_mean": float(cat["lcs"].mean()), "passage_lcs_max": int(cat["lcs"].max()),
            "heldout_bits_per_char": float(np.mean([row["heldout_bits_per_char"] for row in rows])),
            "heldout_zero_fraction": float(np.mean([row["heldout_zero_fraction"] for row in rows])),
            "passage_bits_per_char": float(np.mean([row["passage_bits_per_char"] for row in rows])),
            "passage_top1": float(np.mean([row["passage_top1"] for row in rows])),
            "passage_zero_fraction": float(np.mean([row["passage_zero_fraction"] for row in rows])),
            "passage_k_max_q50": float(np.median(np.concatenate([row["passage_k_max"] for row in rows]))),
        }
    # Group size of the item for example-level DP: every 80-character training window touching a copy.
    group = config.copies * (config.passage_len + 80 - 1)
    dp = {}
    for alg in ("cp_delta_kl", "cp_delta_max", "cp_k"):
        eps = per_alg[alg]["k_max_q50"]
        dp[alg] = {"user_level": dp_equivalent(eps, config, 1), "example_level": dp_equivalent(eps, config, group)}
    metrics = {"algorithms": per_alg, "dp_equivalent": dp, "passage_target_chars": config.passage_len - config.prompt_len}
    figures = [_plot_k_hist(out_dir / "k_x_hist.png", results), _plot_quality(out_dir / "quality_vs_k.png", per_alg)]
    return metrics, figures


def _plot_k_hist(path: Path, results: list[dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for alg in ALGORITHMS:
        ks = np.concatenate([r["algorithms"][alg]["k_max"] for r in results])
        ax.hist(ks, bins=30, histtype="step", label=alg)
    ax.set(title="Per-output k_x (realised max-divergence to the safe models)", xlabel="k_x (nats per output)", ylabel="outputs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.name


def _plot_quality(path: Path, per_alg: dict[str, dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for alg, m in per_alg.items():
        ax.scatter(m["k_max_q50"], m["heldout_bits_per_char"], label=alg)
        zero = m["heldout_zero_fraction"]
        text = f"{alg} ({zero:.0%} of held-out chars get p = 0)" if zero > 0 else alg
        ax.annotate(text, (m["k_max_q50"], m["heldout_bits_per_char"]), fontsize=7)
    ax.set(title="Held-out quality vs median k_x", xlabel="median k_x (nats per output)", ylabel="held-out bits per char")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.name


SPEC = MethodSpec(
    name="near_access_freeness",
    paper="2408.13278",
    title="Near access-freeness for copyright (CP-Δ and CP-k of Vyas, Kakade, Barak 2023)",
    claim="Combining models trained on disjoint shards (CP-Δ, CP-k) gives every output a bounded k_x divergence "
    "from a model that never saw a given copyrighted item, so inserted passages are not reproduced, at small cost in quality.",
    quick_runtime="~35 s",
    config_cls=NafConfig,
    quick={"seeds": 1, "shard_chars": 400_000, "heldout_chars": 20_000, "prompts": 32, "samples_per_passage": 8},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
