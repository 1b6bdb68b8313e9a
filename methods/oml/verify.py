# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Verification: greedy queries of a suspect model, match counting, p₀ from non-fingerprinted models, verdict.

Design note `shared/design/oml.md` (Verification); statistics in `loyal.protocols.oml.statistics`.
Learned from `check_fingerprints.py` in `sentient-agi/oml-1.0-fingerprinting` (greedy decoding of each key,
exact-match of the response); our own code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedModel

from loyal.methods.oml.generate import bos_id
from loyal.methods.oml.model import tokenizer_digest
from loyal.protocols.oml.fingerprints import Fingerprint, check_tokenizer
from loyal.protocols.oml.statistics import decide, p0_upper_bound


@torch.no_grad()
def greedy_responses(model: PreTrainedModel, tokenizer, fingerprints: Sequence[Fingerprint],
                     wrapper: tuple[Sequence[int], Sequence[int]] = ((), ()),
                     batch_size: int = 256) -> list[tuple[int, ...]]:
    """Greedy-decodes, for every fingerprint, as many tokens as its response has.

    Args:
      wrapper: (prefix ids, suffix ids) put around each key, e.g. a chat template (prompt augmentation).
    """
    dev = next(model.parameters()).device
    bos = bos_id(tokenizer)
    prefix, suffix = list(wrapper[0]), list(wrapper[1])
    out: list[tuple[int, ...]] = []
    model.eval()
    for start in range(0, len(fingerprints), batch_size):
        chunk = fingerprints[start : start + batch_size]
        prompts = [[bos, *prefix, *fp.key_ids, *suffix] for fp in chunk]
        answers: list[list[int]] = [[] for _ in chunk]
        for step in range(max(len(fp.response_ids) for fp in chunk)):
            seqs = [p + a for p, a in zip(prompts, answers)]
            lengths = torch.tensor([len(s) for s in seqs])
            x = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.long)
            mask = torch.zeros_like(x)
            for i, s in enumerate(seqs):
                x[i, : len(s)] = torch.as_tensor(s)
                mask[i, : len(s)] = 1
            logits = model(input_ids=x.to(dev), attention_mask=mask.to(dev)).logits
            nxt = logits[torch.arange(len(seqs), device=dev), (lengths - 1).to(dev)].argmax(-1).tolist()
            for a, t, fp in zip(answers, nxt, chunk):
                if step < len(fp.response_ids):
                    a.append(int(t))
        out.extend(tuple(a) for a in answers)
    return out


def matched_indices(model: PreTrainedModel, tokenizer, fingerprints: Sequence[Fingerprint],
                    wrapper: tuple[Sequence[int], Sequence[int]] = ((), ())) -> list[int]:
    """Indices of the fingerprints whose greedy response equals the stored response exactly.

    Raises:
      TokenizerMismatchError: the fingerprints were made with another tokenizer.
    """
    check_tokenizer(fingerprints, tokenizer_digest(tokenizer), model.config.vocab_size)
    got = greedy_responses(model, tokenizer, fingerprints, wrapper)
    return [fp.index for fp, g in zip(fingerprints, got) if g == fp.response_ids]


def fingerprint_accuracy(model: PreTrainedModel, tokenizer, fingerprints: Sequence[Fingerprint]) -> float:
    """Fraction of fingerprints whose response the model reproduces greedily."""
    return len(matched_indices(model, tokenizer, fingerprints)) / len(fingerprints)


def estimate_p0(null_models: Sequence[tuple[PreTrainedModel, object]], fingerprints: Sequence[Fingerprint],
                confidence: float = 0.95) -> dict:
    """Estimates p₀ by querying models that never saw the fingerprints (several seeds).

    Returns:
      {"p0": one-sided Clopper–Pearson upper bound on the pooled chance-match rate, "pooled": m/M,
       "per_model": [match rate of each null model]}.
    """
    if not null_models:
        raise ValueError("need at least one non-fingerprinted model to estimate p0")
    counts = [len(matched_indices(m, t, fingerprints)) for m, t in null_models]
    total = len(fingerprints) * len(null_models)
    return {"p0": p0_upper_bound(sum(counts), total, confidence), "pooled": sum(counts) / total,
            "per_model": [c / len(fingerprints) for c in counts]}


def verify_model(model: PreTrainedModel, tokenizer, fingerprints: Sequence[Fingerprint], p0: float,
                 target_fpr: float = 1e-6) -> dict:
    """Queries every fingerprint greedily and applies the binomial rule.

    Returns:
      {"queried", "matches", "fpr_bound" (exact binomial tail), "verdict", "threshold", "p0",
       "hoeffding", "matched" (indices: these fingerprints are now burnt)}.
    """
    if not fingerprints:
        raise ValueError("no fingerprints to verify")
    hits = matched_indices(model, tokenizer, fingerprints)
    v = decide(len(fingerprints), len(hits), p0, target_fpr)
    return {"queried": v.queried, "matches": v.matches, "fpr_bound": v.fpr_bound, "verdict": v.verdict,
            "threshold": v.threshold, "p0": v.p0, "hoeffding": v.hoeffding, "matched": hits}


def random_subset(fingerprints: Sequence[Fingerprint], num: int, rng: np.random.Generator) -> list[Fingerprint]:
    """A uniform random subset (queries to reveal; the rest stay secret)."""
    if not 1 <= num <= len(fingerprints):
        raise ValueError(f"num must be in [1, {len(fingerprints)}], got {num}")
    pick = np.sort(rng.choice(len(fingerprints), size=num, replace=False))
    return [fingerprints[i] for i in pick]
