# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""OML experiments: capacity (accuracy and utility vs number of fingerprints, three response kinds),
persistence after further fine-tuning, false claims on non-fingerprinted models, and collusion.

Mirrors Figs. 2–4 and Sec. 6 of arXiv 2502.07760 at the scale of a ≤ 5M-parameter model on CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from loyal.methods.oml.embed import EmbedConfig, average_models, embed_fingerprints
from loyal.methods.oml.generate import generate_fingerprints
from loyal.methods.oml.model import (
    BaseModelConfig, device, lm_train, load_model_and_tokenizer, perplexity, shakespeare_text, train_base_model,
)
from loyal.methods.oml.verify import estimate_p0, matched_indices, verify_model
from loyal.protocols.oml.assignment import assign_hosts, detection_rate, false_accusations, identify_hosts
from loyal.protocols.oml.fingerprints import FingerprintKind

logger = logging.getLogger(__name__)

#: The capacity experiment's base model: GPT-2 config, 5 layers × 256, 1024-token BPE (4.24M parameters,
#: held-out perplexity ≈ 36). At 0.94M parameters (`BaseModelConfig()`, perplexity ≈ 90) 1,024 fingerprints
#: cost ≥ 30% perplexity at ≥ 90% accuracy; at 4.24M they cost ≈ 2% (docs/oml.md).
CAPACITY_BASE = BaseModelConfig(width=256, layers=5, heads=8, steps=1500, batch_size=64, learning_rate=2e-3)

#: The quick base model (≈ 0.3M parameters, trains in about a minute on one core).
QUICK_BASE = BaseModelConfig(vocab_size=512, width=64, layers=2, heads=2, steps=300, batch_size=32)


@dataclasses.dataclass(frozen=True)
class CapacitySettings:
    """What `capacity_experiment` runs.

    Attributes:
      base: base model config.
      counts: numbers of fingerprints embedded.
      kinds: response kinds compared.
      embed: fine-tuning config (default: at least 240 optimizer steps, so small fingerprint sets get more
        epochs: with only 30 steps the benign KL term has no time to undo the first Adam steps, and 64
        fingerprints cost 7% perplexity on the 4.24M model).
      null_models: non-fingerprinted models for the false-claim test (≥ 1).
      further_steps: steps of the "one epoch" of further fine-tuning (0: one full pass over the text).
      ppl_tokens: held-out tokens for perplexity.
    """

    base: BaseModelConfig = CAPACITY_BASE
    counts: tuple[int, ...] = (64, 256, 1024)
    kinds: tuple[str, ...] = ("perinucleus", "random", "english")
    embed: EmbedConfig = EmbedConfig(min_steps=240)
    null_models: int = 5
    further_steps: int = 0
    ppl_tokens: int = 20_000


QUICK_CAPACITY = CapacitySettings(base=QUICK_BASE, counts=(32, 128),
                                  embed=EmbedConfig(epochs=20, min_steps=80, benign_seq_len=32), null_models=3,
                                  further_steps=40, ppl_tokens=8_000)


def _null_models(base, tokenizer, text: str, count: int, seed0: int, steps: int):
    """Non-fingerprinted models: the base model and relatives fine-tuned on other text with other seeds."""
    ids = np.asarray(tokenizer(text[:200_000])["input_ids"], dtype=np.int64)
    out = []
    for i in range(count):
        m = copy.deepcopy(base)
        if i:
            lm_train(m, ids, steps * i, 16, 32, 5e-4, seed0 + i, cosine=False, desc=f"null model {i}")
        out.append((m, tokenizer))
    return out


def capacity_experiment(settings: CapacitySettings = CapacitySettings(), out_dir: str | Path = "oml-capacity",
                        seed: int = 0) -> dict:
    """Fingerprint accuracy and held-out perplexity ratio vs count, for each response kind; plus
    persistence and false claims at the largest perinucleus count. Writes `capacity.json` and `capacity.png`.
    """
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = shakespeare_text()
    base, tokenizer = load_model_and_tokenizer(train_base_model(settings.base, text))
    base_ppl = perplexity(base, tokenizer, text.heldout, max_tokens=settings.ppl_tokens)
    rng = np.random.default_rng(seed)
    top = max(settings.counts)
    rows, keep = [], {}
    for kind in settings.kinds:
        fps = generate_fingerprints(base, tokenizer, top, kind=kind, rng=rng)
        base_hits = len(matched_indices(base, tokenizer, fps))
        for n in settings.counts:
            model = copy.deepcopy(base)
            embed_fingerprints(model, tokenizer, fps[:n], settings.embed, text.train)
            acc = len(matched_indices(model, tokenizer, fps[:n])) / n
            ratio = perplexity(model, tokenizer, text.heldout, max_tokens=settings.ppl_tokens) / base_ppl
            rows.append({"kind": kind, "count": n, "accuracy": acc, "ppl_ratio": ratio,
                         "base_match_rate": base_hits / top})
            logger.info("%s n=%d accuracy=%.3f ppl ratio=%.4f", kind, n, acc, ratio)
            if kind == FingerprintKind.PERINUCLEUS and n == top:
                keep = {"model": model, "fps": fps}
    result: dict = {"base_params": sum(p.numel() for p in base.parameters()), "base_ppl": base_ppl,
                    "embed": dataclasses.asdict(settings.embed), "rows": rows}
    if keep:
        result.update(_persistence_and_false_claims(base, tokenizer, keep["model"], keep["fps"], text, settings))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (out_dir / "capacity.json").write_text(json.dumps(result, indent=2))
    _plot_capacity(rows, out_dir / "capacity.png")
    result["png"] = str(out_dir / "capacity.png")
    return result


def further_fine_tune(model, ids: np.ndarray, steps: int = 0) -> int:
    """The persistence attack: plain LM fine-tuning on other text (16 × 64-token windows, lr 3e-4, constant).

    `steps` = 0 means one epoch over `ids`. Returns the number of steps taken.
    """
    steps = steps or max(1, len(ids) // (16 * 64))
    lm_train(model, ids, steps, 16, 64, 3e-4, 7, cosine=False, desc="further fine-tuning")
    return steps


def _persistence_and_false_claims(base, tokenizer, model, fps, text, settings: CapacitySettings) -> dict:
    # p0 from non-fingerprinted relatives (seeds 100+) distinct from the models tested for false claims.
    est = estimate_p0(_null_models(base, tokenizer, text.further, 3, 100, 20), fps)
    claims = [verify_model(m, t, fps, est["p0"])
              for m, t in _null_models(base, tokenizer, text.further, settings.null_models, 0, 20)]
    owner = verify_model(model, tokenizer, fps, est["p0"])
    further = copy.deepcopy(model)
    steps = further_fine_tune(further, np.asarray(tokenizer(text.further)["input_ids"], dtype=np.int64),
                              settings.further_steps)
    survived = len(matched_indices(further, tokenizer, fps)) / len(fps)
    return {"p0": est, "owner_verdict": {k: owner[k] for k in ("queried", "matches", "fpr_bound", "verdict")},
            "false_claims": sum(c["verdict"] == "fingerprinted" for c in claims),
            "null_matches": [c["matches"] for c in claims], "persistence": {"steps": steps, "survived": survived}}


def _plot_capacity(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in dict.fromkeys(r["kind"] for r in rows):
        rs = [r for r in rows if r["kind"] == kind]
        a.plot([r["count"] for r in rs], [r["accuracy"] for r in rs], marker="o", label=kind)
        b.plot([r["count"] for r in rs], [r["ppl_ratio"] for r in rs], marker="o", label=kind)
    for ax, label in ((a, "fingerprint accuracy"), (b, "held-out perplexity / base")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("fingerprints embedded")
        ax.set_ylabel(label)
        ax.legend()
    b.axhline(1.05, color="grey", ls="--", lw=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def collusion_experiment(quick: bool = False, out_dir: str | Path = "oml-collusion", seed: int = 0,
                         hosts: int = 8, total: int = 512, per_host: int = 128,
                         colluders: tuple[int, ...] = (1, 2, 3, 4, 6, 8), trials: int = 3) -> dict:
    """c hosts average their copies; detection rate of the colluders vs c. Writes JSON + PNG."""
    if quick:
        hosts, total, per_host, colluders, trials = 4, 96, 32, (1, 2, 4), 2
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = shakespeare_text()
    base, tokenizer = load_model_and_tokenizer(train_base_model(QUICK_BASE if quick else CAPACITY_BASE, text))
    rng = np.random.default_rng(seed)
    fps = generate_fingerprints(base, tokenizer, total, rng=rng)
    names = [f"host{i}" for i in range(hosts)]
    assignment = assign_hosts(total, names, per_host, rng)
    base_hits = len(matched_indices(base, tokenizer, fps))
    from loyal.protocols.oml.statistics import p0_upper_bound

    p0 = p0_upper_bound(base_hits, total)
    config = EmbedConfig(epochs=20, min_steps=80, benign_seq_len=32) if quick else EmbedConfig()
    copies = {}
    for h in names:
        m = copy.deepcopy(base)
        embed_fingerprints(m, tokenizer, [fps[i] for i in assignment.subsets[h]], config, text.train)
        copies[h] = m
    rows = []
    for c in colluders:
        for _ in range(trials):
            group = list(rng.choice(names, size=c, replace=False))
            merged = average_models([copies[h] for h in group]).to(device())
            hit = matched_indices(merged, tokenizer, fps)
            verdicts = identify_hosts(assignment, hit, p0, target_fpr=1e-4)
            rows.append({"colluders": c, "detection_rate": detection_rate(verdicts, group),
                         "any_detected": any(verdicts[h].claimed for h in group),
                         "false_accusations": false_accusations(verdicts, group)})
    summary = [{"colluders": c, "detection_rate": float(np.mean([r["detection_rate"] for r in rows if r["colluders"] == c])),
                "any_detected": float(np.mean([r["any_detected"] for r in rows if r["colluders"] == c])),
                "false_accusations": int(sum(r["false_accusations"] for r in rows if r["colluders"] == c))}
               for c in colluders]
    result = {"hosts": hosts, "fingerprints": total, "per_host": per_host, "p0": p0, "summary": summary,
              "trials": rows, "seconds": round(time.perf_counter() - t0, 1)}
    (out_dir / "collusion.json").write_text(json.dumps(result, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([s["colluders"] for s in summary], [s["detection_rate"] for s in summary], marker="o", label="per colluder")
    ax.plot([s["colluders"] for s in summary], [s["any_detected"] for s in summary], marker="s", label="≥ 1 colluder")
    ax.set_xlabel("colluders c (weights averaged)")
    ax.set_ylabel("detection rate")
    ax.set_ylim(-0.05, 1.05)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "collusion.png", dpi=120)
    plt.close(fig)
    result["png"] = str(out_dir / "collusion.png")
    return result
