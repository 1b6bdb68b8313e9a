# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Task vectors, lottery-ticket masks and sparse merging (LoTA and LoTTO of arXiv 2406.16797).

LoTA has three phases: (1) *mask calibration*: fine-tune θ_base densely for a few steps, task vector
Δ = θ_cal − θ_base; (2) *mask extraction*: m = 1 on the top k = round((1 − s)·n) entries of |Δ| (s the
sparsity, 0.9 by default), n counting the entries of all masked tensors together (``scope="global"``, one
threshold as in the authors' ``get_global_sparsity_masks``) or of each tensor alone (``scope="tensor"``);
(3) *sparse adaptation*: restart from θ_base and fine-tune with gradients g ⊙ m. LoTTO (lottery ticket
together optimisation) gives task t only entries outside the masks of tasks 1..t−1 (``exclude``, the
authors' ``get_constrained_mask``), so the sparse task vectors have disjoint supports and
θ_base + Σ_t Δ_t merges them without two tasks writing the same weight.

All functions act on state dicts (name -> tensor) and never modify their inputs. Ties in |Δ| are broken
by the lower flat index (global scope: in key order), so masks are deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

Tensors = Mapping[str, torch.Tensor]
SCOPES = ("tensor", "global")


def task_vector(finetuned: Tensors, base: Tensors) -> dict[str, torch.Tensor]:
    """Δ = θ_ft − θ_base, tensor by tensor (the task vector of task arithmetic, Ilharco et al. 2023).

    Raises:
      ValueError: the two state dicts have different keys or shapes.
    """
    _check_same_keys(finetuned, base, "finetuned", "base")
    return {name: finetuned[name].detach() - base[name].detach() for name in base}


def kept_count(numel: int, sparsity: float) -> int:
    """k = round((1 − sparsity) · numel), at least 1: how many entries a mask keeps.

    Args:
      numel: entries in scope, >= 1.
      sparsity: fraction of entries left out, in [0, 1).
    """
    if numel < 1:
        raise ValueError(f"numel must be >= 1, got {numel}")
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    return max(1, round((1.0 - sparsity) * numel))


def _top_k_flat(scores: torch.Tensor, free: torch.Tensor, k: int, where: str) -> torch.Tensor:
    """Boolean mask of the k highest `scores` among `free` entries (1-D); ties -> lower index."""
    n_free = int(free.sum())
    if k > n_free:
        raise ValueError(f"{where}: mask needs k={k} entries but only {n_free} are free of earlier masks")
    order = torch.sort(torch.where(free, scores, torch.full_like(scores, -1.0)), descending=True, stable=True).indices
    mask = torch.zeros_like(free)
    mask[order[:k]] = True
    return mask


def lottery_mask(
    delta: Tensors,
    sparsity: float = 0.9,
    *,
    scope: str = "global",
    exclude: Tensors | None = None,
) -> dict[str, torch.Tensor]:
    """The LoTA mask: True on the top (1 − sparsity) fraction of |Δ| (phase 2, mask extraction).

    Args:
      delta: the calibration task vector (name -> tensor).
      sparsity: fraction of entries frozen, in [0, 1); 0.9 (the paper's default) keeps 10 %.
      scope: "global" (default) ranks the entries of all tensors together and keeps round((1 − s)·total);
        "tensor" keeps k = round((1 − s)·numel) entries of every tensor.
      exclude: LoTTO: boolean masks of entries earlier tasks own; they are never chosen, and k is still
        counted on the full tensor (so every task of a sequence gets the same budget).

    Returns:
      name -> boolean tensor of `delta[name]`'s shape.

    Raises:
      ValueError: bad sparsity or scope, mismatched `exclude`, or fewer free entries than k.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    names = list(delta)
    if not names:
        raise ValueError("delta must hold at least one tensor")
    if exclude is not None:
        _check_same_keys(exclude, delta, "exclude", "delta")
    scores = {n: delta[n].detach().abs().flatten().to(torch.float64) for n in names}
    free = {n: torch.ones_like(scores[n], dtype=torch.bool) if exclude is None else ~exclude[n].flatten().bool()
            for n in names}
    if scope == "tensor":
        return {n: _top_k_flat(scores[n], free[n], kept_count(scores[n].numel(), sparsity), n).reshape(delta[n].shape)
                for n in names}
    flat = _top_k_flat(torch.cat([scores[n] for n in names]), torch.cat([free[n] for n in names]),
                       kept_count(sum(scores[n].numel() for n in names), sparsity), "global")
    out, start = {}, 0
    for n in names:
        size = scores[n].numel()
        out[n] = flat[start:start + size].reshape(delta[n].shape)
        start += size
    return out


def union(masks: Sequence[Tensors]) -> dict[str, torch.Tensor]:
    """Entry-wise OR of masks with the same keys (the entries owned by any earlier task, for LoTTO)."""
    if not masks:
        raise ValueError("masks must be non-empty")
    for m in masks[1:]:
        _check_same_keys(m, masks[0], "mask", "first mask")
    return {n: torch.stack([m[n].bool() for m in masks]).any(dim=0) for n in masks[0]}


def are_disjoint(masks: Sequence[Tensors]) -> bool:
    """True when no entry is True in two of the masks."""
    if not masks:
        return True
    return all(int(torch.stack([m[n].to(torch.int64) for m in masks]).sum(dim=0).max()) <= 1 for n in masks[0])


def sparsify(delta: Tensors, mask: Tensors) -> dict[str, torch.Tensor]:
    """Δ ⊙ m: the task vector restricted to its mask."""
    _check_same_keys(mask, delta, "mask", "delta")
    return {n: torch.where(mask[n].bool(), delta[n], torch.zeros_like(delta[n])) for n in delta}


def merge(base: Tensors, deltas: Sequence[Tensors], scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Task arithmetic: θ_base + scale · Σ_t Δ_t (LoTA merges its sparse task vectors this way).

    Args:
      base: θ_base.
      deltas: task vectors, each with `base`'s keys and shapes.
      scale: λ multiplying the sum, > 0.
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    for d in deltas:
        _check_same_keys(d, base, "delta", "base")
    return {n: base[n].detach() + scale * sum((d[n] for d in deltas), torch.zeros_like(base[n])) for n in base}


def density(mask: Tensors) -> float:
    """Fraction of True entries over all tensors of a mask."""
    total = sum(m.numel() for m in mask.values())
    return sum(int(m.bool().sum()) for m in mask.values()) / total


def _check_same_keys(a: Tensors, b: Tensors, a_name: str, b_name: str) -> None:
    if set(a) != set(b):
        raise ValueError(f"{a_name} and {b_name} must have the same tensors; differ on {sorted(set(a) ^ set(b))}")
    for n in b:
        if tuple(a[n].shape) != tuple(b[n].shape):
            raise ValueError(f"{a_name}[{n!r}] has shape {tuple(a[n].shape)}, {b_name} has {tuple(b[n].shape)}")


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float | None]:
    """Mean and half-width of its Student-t confidence interval: t_{(1+level)/2, n−1} · sd / √n.

    Returns None as the half-width when fewer than 2 values are given.
    """
    from scipy import stats

    if not values:
        raise ValueError("values must be non-empty")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if len(x) < 2:
        return float(x[0]), None
    half = float(stats.t.ppf((1.0 + level) / 2.0, len(x) - 1)) * float(x.std(unbiased=True)) / len(x) ** 0.5
    return float(x.mean()), half
