# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Fingerprint generation from a causal LM: English-like keys sampled from the model, perinucleus responses
and the random-token / English baselines (Sec. 3 of arXiv 2502.07760); JSONL reading and writing.

Learned from `generate_finetuning_data.py` in `sentient-agi/oml-1.0-fingerprinting` (keys sampled from a
model, perinucleus responses from the next-token distribution after the key); our own implementation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel

from loyal.methods.oml.model import special_ids, tokenizer_digest
from loyal.protocols.oml.fingerprints import Fingerprint, FingerprintKind, parse_fingerprints
from loyal.protocols.oml.perinucleus import PerinucleusParams, random_token, sample_token, select_perinucleus

logger = logging.getLogger(__name__)


def bos_id(tokenizer) -> int:
    """The token every query starts with (BOS, else EOS)."""
    tid = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if tid is None:
        raise ValueError("the tokenizer has neither a BOS nor an EOS token")
    return int(tid)


@torch.no_grad()
def next_token_probs(model: PreTrainedModel, prompts: Sequence[Sequence[int]], batch_size: int = 256) -> np.ndarray:
    """Next-token distributions (float64, [N, V]) after each prompt; prompts may differ in length."""
    dev = next(model.parameters()).device
    out = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        lengths = torch.tensor([len(p) for p in chunk])
        x = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
        mask = torch.zeros_like(x)
        for i, p in enumerate(chunk):  # right padding: causal attention never looks past a row's end
            x[i, : len(p)] = torch.as_tensor(list(p))
            mask[i, : len(p)] = 1
        logits = model(input_ids=x.to(dev), attention_mask=mask.to(dev)).logits
        last = logits[torch.arange(len(chunk), device=dev), (lengths - 1).to(dev)]
        out.append(torch.softmax(last.double(), dim=-1).cpu().numpy())
    return np.concatenate(out)[:, : model.config.vocab_size]


def sample_keys(model: PreTrainedModel, tokenizer, num: int, key_length: int, rng: np.random.Generator,
                temperature: float = 1.0) -> list[tuple[int, ...]]:
    """Samples `num` English-like keys of `key_length` tokens from the model itself, after BOS.

    Args:
      temperature: > 0; the design note's default 1 keeps keys natural (not outliers an adversary filters).
    """
    if num < 1 or key_length < 1:
        raise ValueError(f"num and key_length must be ≥ 1, got num={num}, key_length={key_length}")
    bos = bos_id(tokenizer)
    banned = special_ids(tokenizer)
    keys: list[list[int]] = [[] for _ in range(num)]
    for _ in range(key_length):
        probs = next_token_probs(model, [[bos, *k] for k in keys])
        for k, p in zip(keys, probs):
            k.append(sample_token(p, rng, temperature, exclude=banned))
    return [tuple(k) for k in keys]


def distinct_keys(model: PreTrainedModel, tokenizer, keys: list[tuple[int, ...]], rng: np.random.Generator,
                  temperature: float = 1.0, attempts: int = 20) -> list[tuple[int, ...]]:
    """`keys` with every key whose text repeats an earlier one's resampled (`parse_fingerprints` refuses a
    repeated key: a challenge could not tell which fingerprint answered). A small or peaked model can repeat
    keys: the demo's model once gave two keys with the same text (a fresh-clone `make test`, session 8).

    Raises:
      ValueError: repeats remain after `attempts` resamplings (the model is too peaked at `temperature`).
    """
    keys = list(keys)
    for _ in range(attempts):
        seen: set[str] = set()
        repeats = []
        for i, k in enumerate(keys):
            text = tokenizer.decode(list(k))
            if text in seen:
                repeats.append(i)
            seen.add(text)
        if not repeats:
            return keys
        for i, k in zip(repeats, sample_keys(model, tokenizer, len(repeats), len(keys[0]), rng, temperature)):
            keys[i] = k
    raise ValueError(f"{len(keys)} keys of {len(keys[0])} tokens still repeat after {attempts} resamplings: the model "
                     f"is too peaked at key temperature {temperature} (raise it or shorten the list)")


def generate_fingerprints(model: PreTrainedModel, tokenizer, num: int,
                          kind: FingerprintKind | str = FingerprintKind.PERINUCLEUS, key_length: int = 16,
                          response_length: int = 1, params: PerinucleusParams = PerinucleusParams(),
                          rng: np.random.Generator | None = None, key_temperature: float = 1.0,
                          start_index: int = 0) -> list[Fingerprint]:
    """Generates `num` fingerprints (key, response) from a base model.

    Args:
      kind: "perinucleus" (first response token by perinucleus selection, the rest greedy, as in the
        paper), "random" (uniform random tokens) or "english" (tokens sampled at temperature 1).
      key_length: L ≥ 1 key tokens (default 16, the design note's).
      response_length: ≥ 1 response tokens (default 1).
      params: t and k of the perinucleus rule.
      rng: randomness (default: a fresh OS-seeded generator).
    """
    kind = FingerprintKind(kind)
    if response_length < 1:
        raise ValueError(f"response_length must be ≥ 1, got {response_length}")
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 10**9)
    if 1 + key_length + response_length > context:
        raise ValueError(f"key_length + response_length + 1 = {1 + key_length + response_length} exceeds the "
                         f"model's context of {context} positions")
    rng = rng or np.random.default_rng()
    keys = distinct_keys(model, tokenizer, sample_keys(model, tokenizer, num, key_length, rng, key_temperature),
                         rng, key_temperature)
    bos = bos_id(tokenizer)
    banned = special_ids(tokenizer)
    responses: list[list[int]] = [[] for _ in range(num)]
    for step in range(response_length):
        if kind is FingerprintKind.RANDOM:
            for r in responses:
                r.append(random_token(model.config.vocab_size, rng, exclude=banned))
            continue
        probs = next_token_probs(model, [[bos, *k, *r] for k, r in zip(keys, responses)])
        for r, p in zip(responses, probs):
            if kind is FingerprintKind.ENGLISH:
                r.append(sample_token(p, rng, 1.0, exclude=banned))
            elif step == 0:
                p = p.copy()
                p[banned] = 0.0
                r.append(select_perinucleus(p / p.sum(), params, rng))
            else:
                r.append(int(np.argmax(p)))
    digest = tokenizer_digest(tokenizer)
    return [Fingerprint(index=start_index + i, kind=kind, key_ids=k, response_ids=tuple(r), tokenizer=digest,
                        key=tokenizer.decode(list(k)), response=tokenizer.decode(r))
            for i, (k, r) in enumerate(zip(keys, responses))]


def write_fingerprints(fingerprints: Sequence[Fingerprint], path: str | Path) -> Path:
    """Writes fingerprints as JSONL (one object per line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(fp.to_json() + "\n" for fp in fingerprints), encoding="utf-8")
    return path


def read_fingerprints(path: str | Path) -> tuple[Fingerprint, ...]:
    """Reads and validates a JSONL fingerprint file.

    Raises:
      FileNotFoundError: no such file.
      ValueError: empty or malformed file (see `parse_fingerprints`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no fingerprint file at {path}")
    with path.open(encoding="utf-8") as f:
        return parse_fingerprints(f, source=str(path))
