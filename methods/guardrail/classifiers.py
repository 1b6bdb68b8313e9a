# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Three classifiers over the K-12 policy: keyword matching, zero-shot cosine similarity, and a trained head.

arXiv 2408.01452 fine-tunes a domain-specific guardrail LLM; here, as the issue asks, the trained guard is a
small head on a sentence encoder: multinomial logistic regression on all-MiniLM-L6-v2 embeddings, its inverse
regularisation C chosen on the validation split by macro F1. The zero-shot baseline embeds each category's
definition and examples and picks the category whose mean embedding is most cosine-similar.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence

import numpy as np

from loyal.methods.guardrail.data import ALLOWED, Dataset, Policy
from loyal.methods.guardrail.metrics import macro_f1

logger = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The guard's decision on one prompt: its category, whether it may reach the model, and the confidence."""

    category: str
    allowed: bool
    score: float


class KeywordClassifier:
    """Baseline: the harmful category with most keyword hits (whole words, case-insensitive), else `allowed`."""

    def __init__(self, policy: Policy):
        self._patterns = [(c.name, [re.compile(rf"\b{re.escape(k.lower())}\b") for k in c.keywords])
                          for c in policy.categories if c.name != ALLOWED]

    def predict(self, texts: Sequence[str]) -> list[str]:
        out = []
        for text in texts:
            low = text.lower()
            hits = [(sum(bool(p.search(low)) for p in pats), -i, name) for i, (name, pats) in enumerate(self._patterns)]
            best = max(hits)
            out.append(best[2] if best[0] > 0 else ALLOWED)
        return out


class ZeroShotClassifier:
    """Baseline: argmax cosine similarity to each category's mean embedding of definition + examples."""

    def __init__(self, policy: Policy, embed: Embed):
        self._names = policy.names
        self._embed = embed
        anchors = []
        for c in policy.categories:
            v = embed([c.definition, *c.examples]).mean(axis=0)
            anchors.append(v / np.linalg.norm(v))
        self._anchors = np.stack(anchors)

    def predict(self, texts: Sequence[str]) -> list[str]:
        sims = self._embed(texts) @ self._anchors.T
        return [self._names[i] for i in sims.argmax(axis=1)]


class HeadClassifier:
    """The trained guard: embeddings → logistic-regression head → category probabilities.

    Args:
      embed: texts → unit-norm embeddings.
      names: category names (the label space), `allowed` among them.
      head: a fitted sklearn classifier with `predict_proba` over `names`' indices.
      refuse_threshold: refuse when P(allowed) < refuse_threshold, in (0, 1]; 0.5 ≈ argmax for two-way
        splits; higher refuses more (fewer misses, more false refusals).
    """

    def __init__(self, embed: Embed, names: Sequence[str], head, refuse_threshold: float = 0.5):
        if not 0 < refuse_threshold <= 1:
            raise ValueError(f"refuse_threshold must be in (0, 1], got {refuse_threshold}")
        if ALLOWED not in names:
            raise ValueError(f"names must include {ALLOWED!r}, got {tuple(names)}")
        self._embed, self._names, self._head = embed, tuple(names), head
        self._allowed = self._names.index(ALLOWED)
        self.refuse_threshold = refuse_threshold

    @property
    def head(self):
        """The fitted sklearn head."""
        return self._head

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), len(names))."""
        proba = np.zeros((len(texts), len(self._names)))
        if texts:
            proba[:, self._head.classes_] = self._head.predict_proba(self._embed(texts))
        return proba

    def check(self, texts: Sequence[str]) -> list[Verdict]:
        """One verdict per text, computed in one batch."""
        out = []
        for p in self.probabilities(texts):
            if p[self._allowed] >= self.refuse_threshold:
                out.append(Verdict(ALLOWED, True, float(p[self._allowed])))
            else:
                harm = p.copy()
                harm[self._allowed] = -1.0
                k = int(harm.argmax())
                out.append(Verdict(self._names[k], False, float(p[k])))
        return out

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [v.category for v in self.check(texts)]


def fit_head(x: np.ndarray, y: np.ndarray, c: float, seed: int = 0):
    """A multinomial logistic regression fitted on (x, y) with inverse regularisation `c` > 0."""
    from sklearn.linear_model import LogisticRegression

    if c <= 0:
        raise ValueError(f"c must be > 0, got {c}")
    return LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x, y)


def train_guard(policy: Policy, train: Dataset, val: Dataset, embed: Embed,
                grid: Sequence[float] = (0.3, 1.0, 3.0, 10.0, 30.0), seed: int = 0) -> tuple[HeadClassifier, dict]:
    """Fits the head for each C in `grid`, keeps the best validation macro F1, refits on train + val.

    Returns:
      The guard and a record {"c": chosen C, "val_macro_f1": {C: score}}.
    """
    names = policy.names
    xt, xv = embed(train.texts), embed(val.texts)
    yt = np.array([names.index(y) for y in train.labels])
    yv = np.array([names.index(y) for y in val.labels])
    scores = {}
    cached = dict(zip(val.texts, xv))
    for c in grid:  # scored with the deployed decision rule (refusal threshold), not plain argmax
        clf = HeadClassifier(lambda ts: np.stack([cached[t] for t in ts]), names, fit_head(xt, yt, c, seed))
        scores[c] = macro_f1(list(val.labels), clf.predict(list(val.texts)), names)
    best = max(grid, key=lambda c: (scores[c], -c))
    logger.info("guardrail head: C=%s (validation macro F1 %.3f)", best, scores[best])
    head = fit_head(np.concatenate([xt, xv]), np.concatenate([yt, yv]), best, seed)
    return HeadClassifier(embed, names, head), {"c": best, "val_macro_f1": {str(c): s for c, s in scores.items()}}
