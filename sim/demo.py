# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The main job (`loyal demo`) as a list of replaceable stages.

Stage 1 (this module): federated training of the Shakespeare char LM with FedAvg, in process. Later
stages (SSA + DP-FTRL on Ray, OML fingerprinting, on-chain registration) are appended to `STAGES` or
replace `train_stage`; each stage takes the shared `DemoContext` and returns a dict merged into
metrics.json.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from loyal.client.data import load_shakespeare
from loyal.client.models import build_model, num_parameters
from loyal.client.train import LocalTrainConfig, device
from loyal.methods.fedavg import FedAvg
from loyal.sim.inprocess import RoundConfig, evaluation_set, run_federated

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Embedded defaults of the main job (sized to finish in a few minutes on 2 CPU cores).

    Attributes:
      rounds: federated rounds (default 10).
      clients_per_round: clients sampled each round (default 20).
      local_steps: client optimizer steps per round (default 15).
      batch_size: client batch size (default 16).
      learning_rate: client Adam step size (default 0.005).
      model: a Shakespeare model name from `loyal.client.models.MODELS`.
      seed: seeds everything (data split is fixed; sampling, batches and init follow this).
    """

    rounds: int = 10
    clients_per_round: int = 20
    local_steps: int = 15
    batch_size: int = 16
    learning_rate: float = 0.005
    model: str = "char-transformer"
    eval_clients: int = 100
    eval_samples_per_client: int = 20
    seed: int = 0

    def round_config(self) -> RoundConfig:
        local = LocalTrainConfig(
            learning_rate=self.learning_rate, batch_size=self.batch_size, max_steps=self.local_steps, optimizer="adam"
        )
        return RoundConfig(
            rounds=self.rounds, clients_per_round=self.clients_per_round, local=local,
            eval_clients=self.eval_clients, eval_samples_per_client=self.eval_samples_per_client, seed=self.seed,
        )


@dataclasses.dataclass
class DemoContext:
    """What stages share: config, output folder, the trained model and accumulated metrics."""

    config: DemoConfig
    out_dir: Path
    on_round: Callable[[dict], None] | None = None
    model: torch.nn.Module | None = None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)


def unigram_accuracy(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent training character (the baseline to beat)."""
    return float(np.mean(y_test == np.bincount(y_train).argmax()))


def train_stage(ctx: DemoContext) -> dict[str, Any]:
    """Federated averaging of the char LM over sampled Shakespeare roles; saves the model."""
    cfg = ctx.config
    round_config = cfg.round_config()
    data = load_shakespeare()
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, vocab_size=data.vocab.size).to(device())
    history = run_federated(model, data, FedAvg(), round_config, on_round=ctx.on_round)
    ctx.model = model
    model.save_pretrained(ctx.out_dir / "model")
    _, y_eval = evaluation_set(data, round_config)
    y_train = np.concatenate([data.train_text[c] for c in data.client_ids])
    return {
        "aggregation": "fedavg",
        "model": cfg.model,
        "parameters": num_parameters(model),
        "rounds": cfg.rounds,
        "clients_per_round": cfg.clients_per_round,
        "test_accuracy": history[-1]["test_accuracy"],
        "unigram_accuracy": unigram_accuracy(y_train, y_eval),
        "test_samples": int(len(y_eval)),
        "history": history,
        "model_dir": str(ctx.out_dir / "model"),
    }


#: The stages `loyal demo` runs, in order.
STAGES: list[Callable[[DemoContext], dict[str, Any]]] = [train_stage]


def new_run_dir(root: str | Path = "runs") -> Path:
    """Creates `root/<UTC timestamp>` (with a numeric suffix if it exists)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise NotADirectoryError(f"output folder {root} is not a directory") from e
    except PermissionError as e:
        raise PermissionError(f"output folder {root} is not writable") from e
    for i in range(1000):
        path = root / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except PermissionError as e:
            raise PermissionError(f"output folder {root} is not writable") from e
    raise FileExistsError(f"could not create a fresh run folder under {root}")


def plot_accuracy(history: list[dict], baseline: float, path: Path) -> None:
    """Test accuracy per round against the unigram baseline, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    rounds = [h["round"] for h in history]
    ax.plot(rounds, [h["test_accuracy"] for h in history], marker="o", label="federated model")
    ax.axhline(baseline, color="gray", linestyle="--", label="unigram baseline")
    ax.set_xlabel("round")
    ax.set_ylabel("next-character test accuracy")
    ax.set_title("Federated Shakespeare")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_demo(config: DemoConfig, run_dir: Path, on_round: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Runs every stage; writes metrics.json and accuracy.png into `run_dir` (see `new_run_dir`); returns the metrics."""
    ctx = DemoContext(config=config, out_dir=Path(run_dir), on_round=on_round)
    for stage in STAGES:
        ctx.metrics.update(stage(ctx))
    ctx.metrics["run_dir"] = str(ctx.out_dir)
    (ctx.out_dir / "metrics.json").write_text(json.dumps(ctx.metrics, indent=2))
    if "history" in ctx.metrics:
        plot_accuracy(ctx.metrics["history"], ctx.metrics.get("unigram_accuracy", 0.0), ctx.out_dir / "accuracy.png")
    return ctx.metrics
