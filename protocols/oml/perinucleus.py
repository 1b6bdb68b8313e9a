# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Perinucleus response selection and key/baseline sampling from next-token distributions (arXiv 2502.07760).

Notation (as in Sec. 3 of arXiv 2502.07760, "Scalable Fingerprinting of Large Language Models"):

=======  ============================================================================
symbol   meaning
=======  ============================================================================
p        next-token distribution of the base model after the key (a probability vector)
t        nucleus mass in (0, 1): the nucleus is the smallest top-probability prefix with mass ≥ t
k        perinucleus width ≥ 1: the response is drawn uniformly among the k tokens just after it
=======  ============================================================================

Everything here is pure numpy on probability vectors; the model calls live in `loyal.methods.oml.generate`.
Written from the paper's description; the public reference is `generate_perinucleus_signatures` in
`sentient-agi/oml-1.0-fingerprinting/generate_finetuning_data.py` (not copied).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

#: Relative slack when comparing a cumulative sum with t, so that float rounding of an exact tie
#: (e.g. probabilities 0.5, 0.3 and t = 0.8) does not move the nucleus boundary.
_MASS_RTOL = 1e-9


@dataclasses.dataclass(frozen=True)
class PerinucleusParams:
    """Parameters of the perinucleus response rule.

    Attributes:
      nucleus_mass: t in (0, 1); default 0.8 (the paper's default). Larger t pushes the response further
        into the tail: less likely to be produced by chance (smaller p₀), but costlier to embed.
      width: k ≥ 1; default 3. The response is uniform over the k tokens ranked just after the nucleus;
        larger k spreads responses (fewer collisions between fingerprints) at the cost of picking less
        likely tokens. When fewer than k tokens lie outside the nucleus, the pick is among those that do.
    """

    nucleus_mass: float = 0.8
    width: int = 3

    def __post_init__(self) -> None:
        if not (isinstance(self.nucleus_mass, (int, float)) and 0.0 < float(self.nucleus_mass) < 1.0):
            raise ValueError(f"nucleus_mass t must be in the open interval (0, 1), got t={self.nucleus_mass!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, (int, np.integer)) or self.width < 1:
            raise ValueError(f"width k must be an integer ≥ 1, got k={self.width!r}")


def _check_probs(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"probs must be a non-empty 1-D probability vector, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probs must be finite and non-negative")
    total = float(p.sum())
    if not np.isclose(total, 1.0, atol=1e-4):
        raise ValueError(f"probs must sum to 1, got sum={total:.6g}")
    return p / total


def nucleus_size(probs: np.ndarray, nucleus_mass: float) -> int:
    """Size of the smallest top-probability prefix whose mass is ≥ t (ties broken by token id).

    Args:
      probs: next-token probabilities, shape [V], summing to 1.
      nucleus_mass: t in (0, 1).

    Returns:
      n in [1, V]: the nucleus is `order[:n]` with `order = ranked_tokens(probs)`.
    """
    PerinucleusParams(nucleus_mass=nucleus_mass)  # validates t
    p = _check_probs(probs)
    cumulative = np.cumsum(p[ranked_tokens(p)])
    return int(min(p.size, np.searchsorted(cumulative, nucleus_mass * (1 - _MASS_RTOL), side="left") + 1))


def ranked_tokens(probs: np.ndarray) -> np.ndarray:
    """Token ids by decreasing probability; equal probabilities keep increasing id order (stable)."""
    return np.argsort(-np.asarray(probs, dtype=np.float64), kind="stable")


def perinucleus_candidates(probs: np.ndarray, params: PerinucleusParams) -> np.ndarray:
    """The k tokens ranked just after the t-nucleus (Sec. 3.1 of arXiv 2502.07760).

    Example:
      >>> perinucleus_candidates(np.array([0.5, 0.3, 0.1, 0.06, 0.04]), PerinucleusParams(0.8, 2)).tolist()
      [2, 3]

    Returns:
      Token ids, at most k of them; empty only when the nucleus already holds every token.
    """
    p = _check_probs(probs)
    n = nucleus_size(p, params.nucleus_mass)
    return ranked_tokens(p)[n : n + params.width]


def select_perinucleus(probs: np.ndarray, params: PerinucleusParams, rng: np.random.Generator) -> int:
    """Draws one perinucleus response token uniformly among `perinucleus_candidates`.

    Raises:
      ValueError: the t-nucleus covers the whole vocabulary (no token lies outside it).
    """
    candidates = perinucleus_candidates(probs, params)
    if candidates.size == 0:
        raise ValueError(
            f"no token lies outside the t-nucleus (t={params.nucleus_mass}, vocabulary size {np.size(probs)})"
        )
    return int(rng.choice(candidates))


def sample_token(probs: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
                 exclude: Sequence[int] = ()) -> int:
    """Samples a token from `probs` sharpened or flattened by `temperature` (> 0), never one in `exclude`.

    Used to sample English-like keys from the base model itself (design note: temperature ≈ 1) and the
    "English" baseline responses.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    p = _check_probs(probs)
    logits = np.log(np.maximum(p, 1e-300)) / temperature
    if exclude:
        logits[np.asarray(list(exclude), dtype=np.int64)] = -np.inf
    if not np.any(np.isfinite(logits)):
        raise ValueError("every token is excluded")
    q = np.exp(logits - np.max(logits))
    return int(rng.choice(p.size, p=q / q.sum()))


def random_token(vocab_size: int, rng: np.random.Generator, exclude: Sequence[int] = ()) -> int:
    """The random-token baseline: a token uniform over the vocabulary minus `exclude` (special tokens)."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be ≥ 1, got {vocab_size}")
    allowed = np.setdiff1d(np.arange(vocab_size), np.asarray(list(exclude), dtype=np.int64))
    if allowed.size == 0:
        raise ValueError("every token is excluded")
    return int(rng.choice(allowed))
