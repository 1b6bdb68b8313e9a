# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""TTT-Linear / TTT-MLP vs a Transformer and an LSTM on Shakespeare characters (arXiv 2407.04620, Sec. 3, small scale).

Arms: one per (model, seed) with model in `MODELS`, plus one `timing` arm.

* LM arms train a character LM (81-character vocabulary of `kit.data.shakespeare`) on the first 90 % of the
  local Shakespeare texts and measure validation cross-entropy at every position of `seq_len`-character
  windows of the last 10 %, reported as perplexity per position bucket (the paper's Fig. 2/Fig. 11 view:
  does perplexity keep falling with more context?). The TTT and attention models share one skeleton
  (`model.TttLmForCausalLM`); the LSTM is `kit.models.char_lstm` with its hidden size chosen to match the
  TTT-Linear model's parameter count.
* The timing arm times one forward pass of a single mixer layer (batch 1, `width` channels) at each
  context length and fits log time = a + p · log n (p ≈ 1 linear, ≈ 2 quadratic).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from pathlib import Path

import numpy as np

from loyal.methods.harness.corpora import load_documents
from loyal.methods.harness.plots import line_plot
from loyal.methods.harness.registry import MethodSpec
from loyal.methods.harness.seeding import seed_everything

logger = logging.getLogger(__name__)

MODELS = ("ttt_linear", "ttt_mlp", "transformer", "lstm")
_MIXER = {"ttt_linear": "ttt_linear", "ttt_mlp": "ttt_mlp", "transformer": "attention"}


@dataclasses.dataclass(frozen=True)
class TttConfig:
    """Settings of the TTT experiment.

    Attributes:
      seeds: seeds per model, >= 1.
      width: model width, divisible by `heads`, >= 16.
      layers: blocks, >= 1.
      heads: heads of attention and of the TTT inner models, >= 1.
      mini_batch: TTT mini-batch size b, >= 1 (paper: 16).
      seq_len: training and evaluation window, a power of two >= 32.
      steps: Adam steps per LM, >= 1.
      batch_size: windows per step, >= 1.
      learning_rate: Adam step size, > 0.
      corpus_chars: Shakespeare characters read (90 % train, 10 % validation), >= 100 000.
      eval_windows: validation windows for the per-position curve, >= 1.
      timing_lengths: context lengths of the wall-time arm, increasing, each >= 16.
      timing_repeats: forward passes per length (the median is kept), >= 1.
    """

    seeds: int = 1
    width: int = 64
    layers: int = 2
    heads: int = 4
    mini_batch: int = 16
    seq_len: int = 256
    steps: int = 400
    batch_size: int = 8
    learning_rate: float = 3e-3
    corpus_chars: int = 2_000_000
    eval_windows: int = 512
    timing_lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096, 8192, 16384)
    timing_repeats: int = 3

    def __post_init__(self) -> None:
        for name in ("seeds", "layers", "heads", "mini_batch", "steps", "batch_size", "eval_windows", "timing_repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width < 16 or self.width % self.heads:
            raise ValueError(f"width must be >= 16 and divisible by heads, got width={self.width}, heads={self.heads}")
        if self.seq_len < 32 or self.seq_len & (self.seq_len - 1):
            raise ValueError(f"seq_len must be a power of two >= 32, got {self.seq_len}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.corpus_chars < 100_000:
            raise ValueError(f"corpus_chars must be >= 100000, got {self.corpus_chars}")
        lengths = list(self.timing_lengths)
        if len(lengths) < 2 or min(lengths) < 16 or lengths != sorted(set(lengths)):
            raise ValueError(f"timing_lengths must be >= 2 increasing lengths >= 16, got {self.timing_lengths}")


@functools.lru_cache(maxsize=2)
def shakespeare_ids(corpus_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) character ids: the first 90 % and the last 10 % of the local Shakespeare texts."""
    from loyal.methods.kit.data.shakespeare import CharVocab

    text = "".join(load_documents("english", 2000, corpus_chars))[:corpus_chars]
    ids = CharVocab.load().encode(text).astype(np.int64)
    cut = int(0.9 * len(ids))
    return ids[:cut], ids[cut:]


def build_model(name: str, config: TttConfig, vocab_size: int, seed: int):
    """The LM `name` (one of `MODELS`), initialised from `seed`, on CUDA when present."""
    import torch

    from loyal.methods.kit.models.char_lstm import CharLstmConfig, CharLstmForCausalLM
    from loyal.methods.ttt.model import TttLmConfig, TttLmForCausalLM, parameter_count

    torch.manual_seed(seed)
    if name == "lstm":
        target = parameter_count(build_model("ttt_linear", config, vocab_size, seed))

        def lstm(hidden: int):
            cfg = CharLstmConfig(vocab_size=vocab_size, embedding_size=config.width, hidden_size=hidden, num_layers=config.layers)
            return CharLstmForCausalLM(cfg)

        def count(h: int) -> int:  # embedding + LSTM layers (4 gates, two bias vectors) + head
            inputs = [config.width] + [h] * (config.layers - 1)
            return vocab_size * config.width + sum(4 * h * (i + h) + 8 * h for i in inputs) + (h + 1) * vocab_size

        hidden = min(range(8, 1024), key=lambda h: abs(count(h) - target))
        torch.manual_seed(seed)
        model = lstm(hidden)
    elif name in _MIXER:
        model = TttLmForCausalLM(TttLmConfig(vocab_size=vocab_size, width=config.width, layers=config.layers, heads=config.heads,
                                             mixer=_MIXER[name], mini_batch=config.mini_batch, max_len=config.seq_len))
    else:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    return model.to("cuda" if torch.cuda.is_available() else "cpu")


def position_cross_entropy(model, ids: np.ndarray, seq_len: int, windows: int) -> np.ndarray:
    """Mean next-character cross-entropy (nats) at each of the seq_len predicted positions."""
    import torch

    count = min(windows, (len(ids) - 1) // (seq_len + 1))
    device = next(model.parameters()).device
    batch = torch.as_tensor(ids[: count * (seq_len + 1)].reshape(count, seq_len + 1), device=device)
    model.eval()
    total = torch.zeros(seq_len, device=device)
    with torch.no_grad():
        for chunk in batch.split(16):
            logits = model(input_ids=chunk[:, :-1]).logits
            ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")
            total += ce.sum(0)
    return (total / count).cpu().numpy()


def train_lm(name: str, config: TttConfig, seed: int) -> dict:
    """Trains LM `name`; returns its parameter count, losses, times and per-position validation CE."""
    import torch

    from loyal.methods.kit.data.shakespeare import CharVocab
    from loyal.methods.ttt.model import parameter_count

    train, valid = shakespeare_ids(config.corpus_chars)
    model = build_model(name, config, CharVocab.load().size, seed)
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(seed)
    losses, start = [], time.perf_counter()
    model.train()
    for step in range(1, config.steps + 1):
        starts = rng.integers(0, len(train) - config.seq_len - 1, size=config.batch_size)
        batch = torch.as_tensor(np.stack([train[s : s + config.seq_len + 1] for s in starts]), device=device)
        logits = model(input_ids=batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            logger.info("%s seed %d: step %d/%d, loss %.3f", name, seed, step, config.steps, losses[-1])
    train_seconds = time.perf_counter() - start
    ce = position_cross_entropy(model, valid, config.seq_len, config.eval_windows)
    return {"params": parameter_count(model), "train_seconds": train_seconds, "train_loss": losses[-20:],
            "position_ce": [float(v) for v in ce]}


def time_mixers(config: TttConfig) -> dict:
    """Median wall seconds of one forward pass of each mixer at each length (batch 1, no grad)."""
    import torch

    from loyal.methods.ttt.model import MIXERS, make_mixer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    out: dict[str, list[float]] = {}
    for mixer in MIXERS:
        layer = make_mixer(mixer, config.width, config.heads, config.mini_batch).to(device).eval()
        out[mixer] = []
        for n in config.timing_lengths:
            x = torch.randn(1, n, config.width, device=device)
            runs = []
            with torch.no_grad():
                layer(x)  # warm-up
                for _ in range(config.timing_repeats):
                    if device == "cuda":
                        torch.cuda.synchronize()
                    start = time.perf_counter()
                    layer(x)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    runs.append(time.perf_counter() - start)
            out[mixer].append(float(np.median(runs)))
    return {"lengths": list(config.timing_lengths), "seconds": out}


def run_arm(config: TttConfig, arm: dict) -> dict:
    """An LM arm (train + per-position CE) or the timing arm."""
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)  # tiny models, arms run side by side (see harness/lm.py)
    seed = int(arm["seed"])
    seed_everything(seed)
    if arm["model"] == "timing":
        return {"model": "timing", "seed": seed} | time_mixers(config)
    return {"model": arm["model"], "seed": seed} | train_lm(arm["model"], config, seed)


def arms(config: TttConfig) -> list[dict]:
    return [{"model": m, "seed": s} for s in range(config.seeds) for m in MODELS] + [{"model": "timing", "seed": 0}]


def position_buckets(seq_len: int) -> list[tuple[int, int]]:
    """Position buckets [0, 1), [1, 2), [2, 4), …, [seq_len/2, seq_len) of a window's seq_len predictions
    (the prediction at position i has seen i + 1 characters)."""
    return [(0, 1)] + [(2**i, 2 ** (i + 1)) for i in range(int(np.log2(seq_len)))]


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope p of log y = a + p log x."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def summarize(config: TttConfig, results: list[dict], out_dir: Path) -> tuple[dict, list[str]]:
    by = {m: [r for r in results if r["model"] == m] for m in MODELS}
    edges = position_buckets(config.seq_len)
    centers = [float(np.sqrt(max(lo, 0.5) * hi)) for lo, hi in edges]
    curves, metrics = {}, {"models": {}}
    for m, rs in by.items():
        ce = np.mean([r["position_ce"] for r in rs], axis=0)
        ppl = [float(np.exp(ce[lo:hi].mean())) for lo, hi in edges]
        curves[m] = ppl
        metrics["models"][m] = {
            "params": rs[0]["params"], "train_seconds": float(np.mean([r["train_seconds"] for r in rs])),
            "valid_ppl": float(np.exp(ce.mean())), "ppl_by_bucket": ppl,
            # < 1: the second half of the window is predicted better than the quarter before it (more context helps)
            "last_over_previous_bucket": ppl[-1] / ppl[-2],
        }
    timing = next(r for r in results if r["model"] == "timing")
    lengths, seconds = timing["lengths"], timing["seconds"]
    upper = min(len(lengths) // 2, len(lengths) - 2)  # the fit over the longer half keeps >= 2 points
    metrics["timing"] = {
        "lengths": lengths, "seconds": seconds,
        "loglog_slope": {k: loglog_slope(lengths, v) for k, v in seconds.items()},
        "loglog_slope_upper_half": {k: loglog_slope(lengths[upper:], v[upper:]) for k, v in seconds.items()},
    }
    metrics["buckets"] = edges
    figures = [
        line_plot(out_dir / "ppl_vs_position.png", {m: (centers, c) for m, c in curves.items()},
                  title=f"Validation perplexity vs position (Shakespeare chars, {config.steps} steps)",
                  xlabel="position in the window (buckets [2^i, 2^(i+1)))", ylabel="perplexity", log_x=True, log_y=True),
        line_plot(out_dir / "time_vs_length.png",
                  {f"{k} (slope {metrics['timing']['loglog_slope_upper_half'][k]:.2f})": (lengths, v) for k, v in seconds.items()},
                  title="Forward wall time of one layer vs context length", xlabel="context length n",
                  ylabel="seconds", log_x=True, log_y=True),
    ]
    return metrics, figures


SPEC = MethodSpec(
    name="ttt",
    paper="2407.04620",
    title="Learning to (Learn at Test Time): RNNs with Expressive Hidden States",
    claim="TTT layers (hidden state = weights of a model trained by self-supervised gradient steps) have linear cost "
    "in context length and, like Transformers, keep lowering perplexity with more context.",
    quick_runtime="~80 s CPU; 1.5–4 min wall (2 shared cores)",
    config_cls=TttConfig,
    quick={"steps": 150, "seq_len": 128, "corpus_chars": 600_000, "eval_windows": 256,
           "timing_lengths": (256, 512, 1024, 2048, 4096, 8192), "timing_repeats": 3},
    arms=arms,
    run_arm=run_arm,
    summarize=summarize,
)
