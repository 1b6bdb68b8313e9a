# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""k-NAF, CP-Δ and CP-k over finite supports (Vyas, Kakade, Barak, arXiv 2302.10870; used by arXiv 2408.13278).

Notation (Vyas et al., Def. 2 and Sec. 4): q_1, q_2 are models trained on disjoint shards; for a copyrighted
item C, safe_C is the q_i whose shard excludes C. A model p is k_x-NAF on prompt x w.r.t. a divergence Δ if
Δ(p(·|x) ‖ safe_C(·|x)) ≤ k_x for every C, i.e. k_x = max_i Δ(p ‖ q_i). Logs are natural (nats), where the
paper writes log base 2 and 2^k.

* CP-Δ, Δ = KL (Alg. 1 with the square-root combination): p(y) = sqrt(q_1(y) q_2(y)) / Z, Z = Σ_y sqrt(q_1 q_2)
  = 1 − H²(q_1, q_2) (H² the squared Hellinger distance, H² = 1 − Bhattacharyya coefficient). Since
  KL(p‖q_1) + KL(p‖q_2) = −2 log Z and both terms are ≥ 0, each is ≤ −2 log(1 − H²) (the KL case of their CP-Δ guarantee, Sec. 4).
* CP-Δ, Δ = max-divergence (Alg. 1 with the min combination): p(y) = min(q_1, q_2)(y) / (1 − TV(q_1, q_2)),
  so log p(y)/q_i(y) ≤ −log(1 − TV) for all y.
* CP-k (Alg. 2, rejection sampling): draw y ~ p from the model trained on all data until
  p(y) ≤ e^k · min_i q_i(y). The output law is p_k(y) = p(y)·1[accept(y)] / ν_k with acceptance probability
  ν_k = Σ_y p(y)·1[accept(y)], and log p_k(y)/q_i(y) ≤ k + log(1/ν_k) (their CP-k guarantee, Sec. 4).

Every function takes probability vectors over one finite support (the last axis): next-token distributions
(vocabulary) or whole sequences enumerated explicitly. Sequence-level quantities of an autoregressive model
are sums over positions (chain rule): `sequence_log_ratio` and the per-position KL summed along a path.
"""
# Paper symbols (q, p, k, Z, nu) are used on purpose; see the notation above.

from __future__ import annotations

import numpy as np

_TINY = 1e-300


def _check_dist(name: str, q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if q.ndim < 1 or q.shape[-1] < 1:
        raise ValueError(f"{name} must have a non-empty last axis, got shape {q.shape}")
    if np.any(q < 0) or not np.allclose(q.sum(-1), 1.0, atol=1e-6):
        raise ValueError(f"{name} must be non-negative and sum to 1 on its last axis, got sums {np.ravel(q.sum(-1))[:4]}")
    return q


def _check_pair(q1: np.ndarray, q2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q1, q2 = _check_dist("q1", q1), _check_dist("q2", q2)
    if q1.shape != q2.shape:
        raise ValueError(f"q1 and q2 must have the same shape, got {q1.shape} and {q2.shape}")
    return q1, q2


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p‖q) = Σ p log(p/q) in nats over the last axis (0·log 0 = 0; inf where p > 0 = q)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.maximum(p, _TINY)) - np.log(q)), 0.0)
    return terms.sum(-1)


def max_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """D_∞(p‖q) = max_{y: p(y)>0} log p(y)/q(y), the divergence of pure differential privacy (nats)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        ratio = np.where(p > 0, np.log(np.maximum(p, _TINY)) - np.log(q), -np.inf)
    return ratio.max(-1)


def hellinger_squared(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """H²(q_1, q_2) = 1 − Σ sqrt(q_1 q_2) (so that CP-Δ's normaliser is Z = 1 − H²)."""
    return 1.0 - np.sqrt(np.asarray(q1, float) * np.asarray(q2, float)).sum(-1)


def total_variation(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """TV(q_1, q_2) = ½ Σ |q_1 − q_2| = 1 − Σ min(q_1, q_2)."""
    return 0.5 * np.abs(np.asarray(q1, float) - np.asarray(q2, float)).sum(-1)


def cp_delta_kl(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """CP-Δ for Δ = KL (Vyas et al. Alg. 1): p ∝ sqrt(q_1 q_2), normalised on the last axis.

    Raises:
      ValueError: q1, q2 are not distributions of one shape, or have disjoint supports (Z = 0).
    """
    q1, q2 = _check_pair(q1, q2)
    g = np.sqrt(q1 * q2)
    Z = g.sum(-1, keepdims=True)
    if np.any(Z <= 0):
        raise ValueError("q1 and q2 have disjoint supports: CP-Δ (KL) is undefined (Z = 0)")
    return g / Z


def cp_delta_kl_bound(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """k_x guaranteed by `cp_delta_kl` for Δ = KL: −2 log(1 − H²(q_1, q_2)) = −2 log Z."""
    return -2.0 * np.log(1.0 - hellinger_squared(q1, q2))


def cp_delta_max(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """CP-Δ for Δ = max-divergence: p = min(q_1, q_2) / (1 − TV(q_1, q_2)).

    Raises:
      ValueError: as `cp_delta_kl` (TV = 1 when the supports are disjoint).
    """
    q1, q2 = _check_pair(q1, q2)
    m = np.minimum(q1, q2)
    Z = m.sum(-1, keepdims=True)
    if np.any(Z <= 0):
        raise ValueError("q1 and q2 have disjoint supports: CP-Δ (max) is undefined (TV = 1)")
    return m / Z


def cp_delta_max_bound(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """k_x guaranteed by `cp_delta_max` for the max-divergence: −log(1 − TV(q_1, q_2))."""
    return -np.log(1.0 - total_variation(q1, q2))


def cp_k_accept(p: np.ndarray, q1: np.ndarray, q2: np.ndarray, k: float) -> np.ndarray:
    """The acceptance set of CP-k (Alg. 2): p(y) ≤ e^k · min(q_1(y), q_2(y)), as a boolean array.

    Args:
      p: the model trained on all data. q1, q2: the shard models. k: threshold in nats, ≥ 0.
    """
    if not k >= 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return np.asarray(p, float) <= np.exp(k) * np.minimum(q1, q2)


def cp_k(p: np.ndarray, q1: np.ndarray, q2: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """The output law p_k = p·1[accept]/ν_k of CP-k's rejection sampler and its acceptance probability ν_k.

    Returns:
      (p_k, ν_k); rows with ν_k = 0 (the sampler never stops) are returned as all-zero with ν_k = 0.

    Raises:
      ValueError: p, q1, q2 are not distributions of one shape, or k < 0.
    """
    p = _check_dist("p", p)
    q1, q2 = _check_pair(q1, q2)
    if p.shape != q1.shape:
        raise ValueError(f"p must have the shape of q1, got {p.shape} and {q1.shape}")
    kept = np.where(cp_k_accept(p, q1, q2, k), p, 0.0)
    nu = kept.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_k = np.where(nu[..., None] > 0, kept / np.maximum(nu, _TINY)[..., None], 0.0)
    return p_k, nu


def cp_k_bound(nu: np.ndarray, k: float) -> np.ndarray:
    """Max-divergence k_x guaranteed by CP-k: k + log(1/ν_k) (inf when ν_k = 0)."""
    with np.errstate(divide="ignore"):
        return k - np.log(np.asarray(nu, float))


def cp_k_sample(
    p: np.ndarray, q1: np.ndarray, q2: np.ndarray, k: float, rng: np.random.Generator, max_tries: int = 10_000
) -> tuple[int, int]:
    """Runs CP-k's rejection loop once on one support: (index of the accepted y, number of draws).

    Raises:
      RuntimeError: nothing is accepted within `max_tries` draws (ν_k is 0 or tiny).
    """
    p = _check_dist("p", p)
    accept = cp_k_accept(p, q1, q2, k)
    for tries in range(1, max_tries + 1):
        y = int(rng.choice(len(p), p=p))
        if accept[y]:
            return y, tries
    raise RuntimeError(f"CP-k accepted nothing in max_tries={max_tries} draws (k={k})")


def naf_k(p: np.ndarray, q1: np.ndarray, q2: np.ndarray, divergence: str = "kl") -> np.ndarray:
    """k_x = max_i Δ(p ‖ q_i) over the two safe models (Def. 2), Δ = "kl" or "max"."""
    if divergence == "kl":
        return np.maximum(kl(p, q1), kl(p, q2))
    if divergence == "max":
        return np.maximum(max_divergence(p, q1), max_divergence(p, q2))
    raise ValueError(f"divergence must be 'kl' or 'max', got {divergence!r}")


def sequence_log_ratio(p_tokens: np.ndarray, q_tokens: np.ndarray) -> np.ndarray:
    """log p(y)/q(y) of whole sequences from per-position probabilities of the realised tokens.

    Args:
      p_tokens, q_tokens: (..., T) probabilities p(y_t | y_<t), q(y_t | y_<t) of the tokens actually emitted.

    Returns:
      (...,) Σ_t log p(y_t|y_<t) − log q(y_t|y_<t): the per-output privacy loss; its max over outputs is D_∞.
    """
    return (np.log(np.maximum(p_tokens, _TINY)) - np.log(np.maximum(q_tokens, _TINY))).sum(-1)


def group_epsilon(epsilon: float, group_size: int) -> float:
    """Pure-DP group privacy: ε-DP per record gives (group_size·ε)-DP for an item of `group_size` records."""
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    return epsilon * group_size
