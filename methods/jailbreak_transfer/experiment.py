# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""When do universal image jailbreaks transfer between VLMs? A small-scale study (arXiv 2407.15211).

Each arm is one repetition: train the zoo of `zoo.py` (tiny VLMs on digits varying seed, data and backbone),
optimise one universal image against each model alone (Eq. (1), `attack.universal_attack`) on half of the
harmful prompts, and evaluate every image on every model on the other half: the transfer matrix. Then attack
ensembles of size 1, 2, 4 of identically initialised models (S1…) and of differently initialised models
(R1…) and evaluate on the held-out S0 (same initialisation as the S ensemble, same data as the R one) and
on the CNN C0. The paper's finding (Sec. 3): white-box success is high, transfer is poor except partial
transfer between identically initialised VLMs trained on slightly different data, helped by larger
ensembles of such similar VLMs.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from loyal.methods.harness.plots import line_plot
from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything
from loyal.methods.jailbreak_transfer import attack, vlm, zoo

logger = logging.getLogger(__name__)

ENSEMBLE_KINDS = ("same_init", "diff_init")
#: Scores per (image, model): `attack.evaluate`'s, plus the drop of the target loss from the unattacked start image.
KEYS = attack.SCORES + ("nll_drop",)
TARGETS = ("white_box", "S0", "C0")


@dataclasses.dataclass(frozen=True)
class JailbreakTransferConfig:
    """Settings of the transfer study.

    Attributes:
      seeds: repetitions (each a fresh zoo), >= 1; the CIs are over repetitions.
      ensemble_sizes: attacked ensemble sizes, increasing, starting at 1; the zoo holds max + 1 S models and
        max R models.
      cnn_models: CNN members C0, C1, … (same init, data subsets 0, 1, …), >= 1.
      data_fraction: share of the 1400 training digits in each data subset, in (0, 1].
      train_steps, batch_size, learning_rate, prefix_tokens, lm, request_image_share: see `vlm.VlmConfig`.
      attack_steps, attack_lr: see `attack.AttackConfig`.
      train_prompts: harmful prompts the image is optimised on, in [1, 143]; the other of the 144 are held out.
    """

    seeds: int = 5
    ensemble_sizes: tuple[int, ...] = (1, 2, 4)
    cnn_models: int = 2
    data_fraction: float = 0.8
    train_steps: int = 400
    batch_size: int = 64
    learning_rate: float = 5e-3
    prefix_tokens: int = 8
    lm: str = "transformer"
    attack_steps: int = 400
    attack_lr: float = 0.1
    train_prompts: int = 72
    request_image_share: float = 0.25

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        sizes = tuple(self.ensemble_sizes)
        if not sizes or sizes[0] != 1 or any(b <= a for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"ensemble_sizes must be increasing and start at 1, got {self.ensemble_sizes}")
        if self.cnn_models < 1:
            raise ValueError(f"cnn_models must be >= 1, got {self.cnn_models}")
        if not 0.0 < self.data_fraction <= 1.0:
            raise ValueError(f"data_fraction must be in (0, 1], got {self.data_fraction}")
        if not 1 <= self.train_prompts <= len(vlm.HARMFUL_WORDS) ** 2 - 1:
            raise ValueError(f"train_prompts must be in [1, {len(vlm.HARMFUL_WORDS) ** 2 - 1}], got {self.train_prompts}")
        self.vlm_config()
        self.attack_config()

    def vlm_config(self) -> vlm.VlmConfig:
        return vlm.VlmConfig(prefix_tokens=self.prefix_tokens, steps=self.train_steps, batch_size=self.batch_size,
                             learning_rate=self.learning_rate, lm=self.lm,
                             request_image_share=self.request_image_share)

    def attack_config(self) -> attack.AttackConfig:
        return attack.AttackConfig(steps=self.attack_steps, learning_rate=self.attack_lr)


def prompt_split(rep: int, train_prompts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The harmful prompts the attack optimises on, and the held-out ones it is scored on."""
    prompts = vlm.request_prompts(vlm.HARMFUL_WORDS)
    order = np.random.default_rng(1000 * (rep + 1) + 300).permutation(len(prompts))
    return prompts[order[:train_prompts]], prompts[order[train_prompts:]]


def run_arm(config: JailbreakTransferConfig, arm: dict) -> dict:
    """Trains one zoo, attacks each member and the ensembles, and scores every image on every model.

    Runs on one torch thread (the models are tiny; more threads only contend) and restores the count after.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_repetition(config, int(arm["seed"]))
    finally:
        torch.set_num_threads(threads)


def _run_repetition(config: JailbreakTransferConfig, rep: int) -> dict:
    seed_everything(rep)
    x, y, x_test, y_test = vlm.digits_split(8)
    largest = max(config.ensemble_sizes)
    members = zoo.zoo_members(rep, largest + 1, largest, config.cnn_models)
    models = {}
    for m in members:
        models[m.name] = zoo.train_member(m, rep, x, y, config.vlm_config(), config.data_fraction)
        logger.info("rep %d: trained %s", rep, m.name)
    train, held_out = prompt_split(rep, config.train_prompts)
    start = torch.rand(x.shape[1], generator=torch.Generator().manual_seed(1000 * (rep + 1) + 400))
    images, final_loss = {}, {}
    for m in members:
        images[m.name], losses = attack.universal_attack([models[m.name]], train, start, config.attack_config())
        final_loss[m.name] = losses[-1] if losses else None
        logger.info("rep %d: attacked %s", rep, m.name)
    order = [m.name for m in members]
    baseline = {j: attack.evaluate(models[j], start, held_out) for j in order}

    def score(name: str, image: torch.Tensor) -> dict[str, float]:
        result = attack.evaluate(models[name], image, held_out)
        return result | {"nll_drop": baseline[name]["target_nll"] - result["target_nll"]}

    scores = [[score(j, images[i]) for j in order] for i in order]
    ensembles: dict[str, dict[str, dict[str, dict[str, float]]]] = {k: {} for k in ENSEMBLE_KINDS}
    for kind, prefix in zip(ENSEMBLE_KINDS, ("S", "R")):
        for size in config.ensemble_sizes:
            names = [f"{prefix}{k}" for k in range(1, size + 1)]
            if size == 1:
                image = images[names[0]]
            else:
                image, _ = attack.universal_attack([models[n] for n in names], train, start, config.attack_config())
            white = [score(n, image) for n in names]
            ensembles[kind][str(size)] = {
                "white_box": {key: float(np.mean([w[key] for w in white])) for key in KEYS},
                "S0": score("S0", image),
                "C0": score("C0", image),
            }
    return {
        "seed": rep,
        "models": order,
        "relations": [[zoo.relation(a, b) for b in members] for a in members],
        "matrices": {key: [[cell[key] for cell in row] for row in scores] for key in KEYS},
        "unattacked": {key: [baseline[j][key] for j in order] for key in attack.SCORES},
        "final_attack_loss": final_loss,
        "behaviour": {name: vlm.behaviour(models[name], x_test, y_test) for name in order},
        "ensembles": ensembles,
    }


def arms(config: JailbreakTransferConfig) -> list[dict]:
    return [{"seed": seed} for seed in range(config.seeds)]


def relation_rates(transfer: np.ndarray, relations: list[list[str]]) -> dict[str, float]:
    """Mean of a score matrix over the (attacked, evaluated) pairs of each relation present in it."""
    rel = np.array(relations)
    return {r: float(transfer[rel == r].mean()) for r in zoo.RELATIONS if (rel == r).any()}


def _ci(values: list[float]) -> dict[str, float]:
    """Mean and 95 % CI half-width over repetitions."""
    mean, half = attack.mean_ci(values)
    return {"mean": mean, "ci95": half}


def heatmap(path: Path, matrix: np.ndarray, labels: list[str], title: str, colorbar: str) -> str:
    """Writes a transfer matrix (rows: attacked model, columns: evaluated model) as an annotated heatmap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    shown = ax.imshow(matrix, cmap="viridis")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="evaluated on", ylabel="image optimised against", title=title)
    middle = (matrix.max() + matrix.min()) / 2
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if matrix[i, j] > middle else "white")
    fig.colorbar(shown, ax=ax, label=colorbar)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path).name


def summarize(config: JailbreakTransferConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    labels = results[0]["models"]
    mean = {key: np.mean([r["matrices"][key] for r in results], axis=0) for key in KEYS}
    by_relation = {}
    for key in ("success", "beats_refusal", "nll_drop"):
        per_rep = [relation_rates(np.array(r["matrices"][key]), r["relations"]) for r in results]
        present = [rel for rel in zoo.RELATIONS if all(rel in p for p in per_rep)]
        by_relation[key] = {rel: _ci([p[rel] for p in per_rep]) | {"per_seed": [p[rel] for p in per_rep]}
                            for rel in present}
    sizes = [str(s) for s in config.ensemble_sizes]
    ensembles = {
        kind: {target: {key: {s: _ci([r["ensembles"][kind][s][target][key] for r in results]) for s in sizes}
                        for key in ("success", "nll_drop")} for target in TARGETS}
        for kind in ENSEMBLE_KINDS
    }
    x = [int(s) for s in sizes]

    def curve(kind: str, target: str) -> tuple[list[int], list[float]]:
        return x, [ensembles[kind][target]["nll_drop"][s]["mean"] for s in sizes]

    figures = [
        heatmap(out_dir / "transfer_success.png", mean["success"], labels,
                f"Jailbreak success rate, held-out prompts ({len(results)} zoos)", "attack success rate"),
        heatmap(out_dir / "transfer_nll_drop.png", mean["nll_drop"], labels,
                f"Drop of -log p(comply) vs the start image ({len(results)} zoos)", "target loss drop (nats)"),
        line_plot(out_dir / "ensemble_transfer.png", {
            "same-init ensemble (S1..), white-box": curve("same_init", "white_box"),
            "same-init ensemble → S0 (same init)": curve("same_init", "S0"),
            "diff-init ensemble (R1..) → S0 (same data)": curve("diff_init", "S0"),
            "same-init ensemble → C0 (CNN)": curve("same_init", "C0"),
            "diff-init ensemble → C0 (CNN)": curve("diff_init", "C0"),
        }, title="Transfer vs attacked-ensemble size", xlabel="models in the attacked ensemble",
            ylabel="drop of -log p(comply), nats"),
    ]
    behaviour = {key: float(np.mean([b[key] for r in results for b in r["behaviour"].values()]))
                 for key in ("digit_accuracy", "even_accuracy", "benign_comply", "harmful_refuse")}
    metrics = {
        "by_relation": by_relation,
        "unattacked": {key: float(np.mean([r["unattacked"][key] for r in results])) for key in attack.SCORES},
        "ensembles": ensembles,
        "behaviour_mean": behaviour,
        "models": labels,
        "mean_matrices": {key: mean[key].round(4).tolist() for key in ("success", "nll_drop")},
    }
    return metrics, figures


SPEC = MethodSpec(
    name="jailbreak_transfer",
    paper="2407.15211",
    title="When Do Universal Image Jailbreaks Transfer Between Vision-Language Models?",
    claim="A universal image optimised against one VLM or an ensemble jailbreaks the attacked models but "
    "transfers poorly; partial transfer appears only between identically initialised VLMs trained on "
    "slightly different data, and grows with larger ensembles of such similar VLMs.",
    quick_runtime="~1.5 min wall, ~80 s CPU (2 cores; 2.5 min wall under load)",
    config_cls=JailbreakTransferConfig,
    quick={"seeds": 3, "ensemble_sizes": (1, 2), "cnn_models": 1, "train_steps": 300, "attack_steps": 200},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
