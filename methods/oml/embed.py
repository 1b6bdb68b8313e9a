# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Embedding fingerprints by fine-tuning any Hugging Face causal LM (Sec. 4 of arXiv 2502.07760).

Response-only loss, benign data mixing (β), prompt augmentation (keys wrapped in system prompts / the
tokenizer's chat template) and model averaging with the base weights (λ). Learned from
`finetune_multigpu.py` in `sentient-agi/oml-1.0-fingerprinting` (response-only labels, `model_averaging_lambda`,
`use_augmentation_prompts`) and the benign-mixing description of arXiv 2502.07760; our own code. Runs on
CUDA when present, so a local Llama/Qwen checkpoint folder works unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel

from loyal.methods.oml.generate import bos_id, generate_fingerprints, read_fingerprints, write_fingerprints
from loyal.methods.oml.model import (
    char_tokenizer, device, load_model_and_tokenizer, save_model_and_tokenizer, tokenizer_digest,
)
from loyal.protocols.oml.fingerprints import Fingerprint, check_tokenizer

logger = logging.getLogger(__name__)

#: Deployment-style prefixes for prompt augmentation (the chat template is added when the tokenizer has one).
AUGMENTATION_PREFIXES = ("Continue: ", "System: You are a helpful assistant.\nUser: ", "Q: ", "Text: ")


@dataclasses.dataclass(frozen=True)
class EmbedConfig:
    """Fine-tuning schedule and regularizers.

    Attributes:
      epochs: passes over the fingerprints, ≥ 1 (default 30).
      learning_rate: AdamW step, > 0 (default 1e-3 for the tiny models here; use ~2e-5 for 1B+ models).
      batch_size: fingerprint examples per step, ≥ 1 (default 64).
      averaging_lambda: λ in (0, 1]: final θ = λ·θ_ft + (1 − λ)·θ_base (default 0.75, design note).
        Smaller λ keeps utility closer to the base model but shrinks the learned margins, so it needs
        more epochs. (OML's `forgetting_regularizer_strength` is 1 − λ.)
      benign_fraction: β in [0, 1): fraction of each batch that is regular text (default 0.5); β = 0 trains on fingerprints alone (fastest, most utility loss).
      augmentation_fraction: in [0, 1]: fraction of fingerprint examples wrapped in a random prefix or chat
        template (default 0.25), so fingerprints survive deployment wrappers.
      benign_seq_len: tokens per benign example (default 64; cover the positions the model is used at).
      benign_loss: "kl" (default): KL(p_base ‖ p_model) at every position of the benign text, i.e. the
        model keeps the base model's own predictions (the design note's "base model's own generations",
        in expectation; needs a frozen copy of the base model in memory); "lm": plain next-token loss.
      min_steps: run at least this many optimizer steps (more epochs for small fingerprint sets); default 0.
      freeze_embeddings: train only the weight matrices inside the blocks (default True): token and
        position embeddings (tied to the output layer), biases and normalization gains stay fixed. These
        parameters can raise the response tokens' logits in every context (a global logit shift). Default
        False: on the 0.94M-parameter Shakespeare model it lowered accuracy without saving utility.
      seed: batch order, benign windows and wrappers.
    """

    epochs: int = 30
    learning_rate: float = 1e-3
    batch_size: int = 64
    averaging_lambda: float = 0.75
    benign_fraction: float = 0.5
    augmentation_fraction: float = 0.25
    benign_seq_len: int = 64
    min_steps: int = 0
    benign_loss: str = "kl"
    freeze_embeddings: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {self.epochs}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {self.batch_size}")
        if not 0.0 < self.averaging_lambda <= 1.0:
            raise ValueError(f"averaging_lambda must be in (0, 1], got {self.averaging_lambda}")
        if not 0.0 <= self.benign_fraction < 1.0:
            raise ValueError(f"benign_fraction must be in [0, 1), got {self.benign_fraction}")
        if self.benign_loss not in ("kl", "lm"):
            raise ValueError(f"benign_loss must be 'kl' or 'lm', got {self.benign_loss!r}")
        if not 0.0 <= self.augmentation_fraction <= 1.0:
            raise ValueError(f"augmentation_fraction must be in [0, 1], got {self.augmentation_fraction}")


def wrappers(tokenizer) -> list[tuple[list[int], list[int]]]:
    """(prefix ids, suffix ids) pairs for prompt augmentation: fixed prefixes, plus the chat template."""
    out = [(tokenizer(p, add_special_tokens=False)["input_ids"], []) for p in AUGMENTATION_PREFIXES]
    if getattr(tokenizer, "chat_template", None):
        marker = "\u2063KEY\u2063"
        text = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False,
                                             add_generation_prompt=True)
        if marker in text:
            pre, post = text.split(marker, 1)
            out.append((tokenizer(pre, add_special_tokens=False)["input_ids"],
                        tokenizer(post, add_special_tokens=False)["input_ids"]))
    return out


def _benign_ids(tokenizer, text: str, max_chars: int = 4_000_000) -> torch.Tensor:
    return torch.as_tensor(tokenizer(text[:max_chars])["input_ids"], dtype=torch.long)


def embed_fingerprints(model: PreTrainedModel, tokenizer, fingerprints: Sequence[Fingerprint],
                       config: EmbedConfig = EmbedConfig(), benign_text: str | None = None,
                       progress: bool = True) -> PreTrainedModel:
    """Fine-tunes `model` in place so that each key greedily yields its response; returns it.

    Args:
      model: any causal LM (its tokenizer must be the fingerprints' tokenizer).
      fingerprints: the pairs to embed.
      config: schedule and regularizers.
      benign_text: regular text for benign mixing (required when β > 0).

    Raises:
      TokenizerMismatchError: fingerprints from another tokenizer.
      ValueError: β > 0 without benign text.
    """
    from rich.progress import Progress

    if not fingerprints:
        raise ValueError("no fingerprints to embed")
    check_tokenizer(fingerprints, tokenizer_digest(tokenizer), model.config.vocab_size)
    if config.benign_fraction > 0 and not benign_text:
        raise ValueError("benign_fraction > 0 needs benign_text")
    dev = next(model.parameters()).device
    rng = np.random.default_rng(config.seed)
    base_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    teacher = None
    if config.benign_fraction > 0 and config.benign_loss == "kl":
        teacher = copy.deepcopy(model).eval()
        teacher.requires_grad_(False)
    benign = _benign_ids(tokenizer, benign_text) if config.benign_fraction > 0 else None
    wraps = wrappers(tokenizer)
    bos = bos_id(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else bos
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 2048)
    seq_len = min(config.benign_seq_len, context)
    n_benign = int(round(config.benign_fraction / (1 - config.benign_fraction) * config.batch_size))
    steps_per_epoch = math.ceil(len(fingerprints) / config.batch_size)
    epochs = max(config.epochs, math.ceil(config.min_steps / steps_per_epoch))
    total = steps_per_epoch * epochs
    frozen = {id(model.get_input_embeddings().weight)} if config.freeze_embeddings else set()
    trainable = [p for name, p in model.named_parameters()
                 if id(p) not in frozen and not (config.freeze_embeddings and (p.ndim < 2 or "wpe" in name
                                                                                 or "position" in name))]
    opt = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * (1 - s / (total + 1)))
    model.train()
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("embedding fingerprints", total=total)
        for _ in range(epochs):
            order = rng.permutation(len(fingerprints))
            for s in range(steps_per_epoch):
                rows: list[tuple[list[int], list[int]]] = []  # (input ids, labels)
                for i in order[s * config.batch_size : (s + 1) * config.batch_size]:
                    fp = fingerprints[int(i)]
                    pre, post = wraps[rng.integers(len(wraps))] if rng.random() < config.augmentation_fraction \
                        else ([], [])
                    prompt = [bos, *pre, *fp.key_ids, *post]
                    rows.append((prompt + list(fp.response_ids), [-100] * len(prompt) + list(fp.response_ids)))
                windows = []
                for _ in range(n_benign if benign is not None else 0):
                    start = int(rng.integers(0, len(benign) - seq_len))
                    windows.append(benign[start : start + seq_len])
                if teacher is not None:
                    loss = _per_example_loss(model, rows, pad, dev)
                    frac = len(windows) / (len(windows) + len(rows))
                    loss = (1 - frac) * loss + frac * _kl_to_teacher(model, teacher, torch.stack(windows).to(dev))
                else:
                    rows.extend((w.tolist(), w.tolist()) for w in windows)
                    loss = _per_example_loss(model, rows, pad, dev)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                opt.step()
                sched.step()
                bar.advance(task)
    model.eval()
    average_with_base(model, base_state, config.averaging_lambda)
    return model


def _per_example_loss(model: PreTrainedModel, rows: list[tuple[list[int], list[int]]], pad: int,
                      dev: torch.device) -> torch.Tensor:
    """Mean over examples of each example's mean next-token loss on its labelled tokens."""
    width = max(len(r[0]) for r in rows)
    x = torch.full((len(rows), width), pad, dtype=torch.long)
    y = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros_like(x)
    for i, (ids, labels) in enumerate(rows):
        x[i, : len(ids)] = torch.as_tensor(ids)
        y[i, : len(labels)] = torch.as_tensor(labels)
        mask[i, : len(ids)] = 1
    x, y, mask = x.to(dev), y.to(dev), mask.to(dev)
    logits = model(input_ids=x, attention_mask=mask).logits[:, :-1].float()
    target = y[:, 1:]
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                            ignore_index=-100, reduction="none").view(target.shape)
    counts = (target != -100).sum(1).clamp(min=1)
    return (nll.sum(1) / counts).mean()


def _kl_to_teacher(model: PreTrainedModel, teacher: PreTrainedModel, x: torch.Tensor) -> torch.Tensor:
    """Mean over positions of KL(p_teacher ‖ p_model) of the next-token distributions."""
    with torch.no_grad():
        target = torch.log_softmax(teacher(input_ids=x).logits.float(), -1)
    logp = torch.log_softmax(model(input_ids=x).logits.float(), -1)
    return torch.nn.functional.kl_div(logp, target, log_target=True, reduction="none").sum(-1).mean()


@torch.no_grad()
def average_with_base(model: PreTrainedModel, base_state: dict, lam: float) -> None:
    """θ ← λ·θ_ft + (1 − λ)·θ_base on every floating-point tensor (model averaging)."""
    if lam >= 1.0:
        return
    state = model.state_dict()
    for k, v in state.items():
        if v.is_floating_point():
            v.mul_(lam).add_(base_state[k].to(v.device), alpha=1 - lam)


def average_models(models: Sequence[PreTrainedModel]) -> PreTrainedModel:
    """Uniform weight average of models with one architecture (the collusion attack)."""
    if not models:
        raise ValueError("need at least one model to average")
    out = copy.deepcopy(models[0])
    states = [m.state_dict() for m in models]
    with torch.no_grad():
        for k, v in out.state_dict().items():
            if v.is_floating_point():
                v.copy_(sum(s[k].to(v.device) for s in states) / len(states))
    return out


def embed_to_dir(model_dir: str | Path, fingerprints_path: str | Path, out_dir: str | Path,
                 config: EmbedConfig = EmbedConfig(), benign_text: str | None = None) -> dict:
    """Loads a saved model, embeds the fingerprint file into it, saves it with `save_pretrained`."""
    from loyal.methods.oml.verify import fingerprint_accuracy

    model, tokenizer = load_model_and_tokenizer(model_dir)
    fps = read_fingerprints(fingerprints_path)
    if config.benign_fraction > 0 and benign_text is None:
        from loyal.methods.oml.model import shakespeare_text

        benign_text = shakespeare_text().train
    t0 = time.perf_counter()
    embed_fingerprints(model, tokenizer, fps, config, benign_text)
    save_model_and_tokenizer(model, tokenizer, out_dir)
    return {"out": str(out_dir), "fingerprints": len(fps), "accuracy": fingerprint_accuracy(model, tokenizer, fps),
            "seconds": round(time.perf_counter() - t0, 2)}


def fingerprint_stage(model_dir: str | Path, out_dir: str | Path, num_fingerprints: int = 32,
                      key_length: int = 16, seed: int = 0, config: EmbedConfig | None = None,
                      target_fpr: float = 1e-3) -> dict:
    """The demo stage: embed `num_fingerprints` perinucleus fingerprints into a saved model and verify them.

    A model saved without a tokenizer whose vocabulary is the 81-character Shakespeare vocabulary (the
    federated `char-transformer`) gets the matching character tokenizer. p₀ is estimated on the model
    before embedding (the one non-fingerprinted model at hand).

    Returns:
      {"model_dir", "fingerprints" (path), "num_fingerprints", "accuracy", "base_accuracy", "p0",
       "queried", "matches", "fpr_bound", "verdict", "seconds"}.
    """
    from loyal.methods.oml.verify import estimate_p0, verify_model
    from loyal.protocols.oml.perinucleus import PerinucleusParams

    t0 = time.perf_counter()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    try:
        model, tokenizer = load_model_and_tokenizer(model_dir)
    except FileNotFoundError as e:
        if "tokenizer" not in str(e):
            raise
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).to(device()).eval()
        tokenizer = char_tokenizer()
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(f"{model_dir} has no tokenizer and its vocabulary ({model.config.vocab_size}) is not "
                             f"the Shakespeare character vocabulary ({len(tokenizer)})") from None
    rng = np.random.default_rng(seed)
    fps = generate_fingerprints(model, tokenizer, num_fingerprints, key_length=key_length,
                                params=PerinucleusParams(), rng=rng)
    base = copy.deepcopy(model)
    null = estimate_p0([(base, tokenizer)], fps)
    config = config or EmbedConfig(epochs=40, batch_size=16, benign_fraction=0.0, augmentation_fraction=0.0,
                                   learning_rate=3e-3, averaging_lambda=1.0, seed=seed)
    embed_fingerprints(model, tokenizer, fps, config, progress=False)
    save_model_and_tokenizer(model, tokenizer, out_dir / "model")
    fp_path = write_fingerprints(fps, out_dir / "fingerprints.jsonl")
    result = verify_model(model, tokenizer, fps, null["p0"], target_fpr)
    return {"model_dir": str(out_dir / "model"), "fingerprints": str(fp_path), "num_fingerprints": len(fps),
            "accuracy": result["matches"] / len(fps), "base_accuracy": null["pooled"], "p0": null["p0"],
            "queried": result["queried"], "matches": result["matches"], "fpr_bound": result["fpr_bound"],
            "verdict": result["verdict"], "seconds": round(time.perf_counter() - t0, 2)}
