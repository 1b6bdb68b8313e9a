# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""LoTA mask extraction, LoTTO exclusion and sparse merging (arXiv 2406.16797) against brute force."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from loyal.methods.lota import maths

SHAPES = {"a.weight": (3, 4), "b.weight": (5,), "c.weight": (2, 2, 2)}


def _delta(seed: int, ties: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {n: torch.randn(s, generator=g) for n, s in SHAPES.items()}
    if ties:  # few distinct magnitudes: many ties, broken by the lower flat index
        out = {n: torch.round(t) for n, t in out.items()}
    return out


def _brute_force_top_k(entries: list[tuple[float, int]], k: int) -> set[int]:
    """The k positions of largest score, ties to the lower position: a plain sort of (−score, position)."""
    return {pos for _, pos in sorted((-score, pos) for score, pos in entries)[:k]}


def _positions(mask: dict[str, torch.Tensor]) -> set[int]:
    flat = torch.cat([mask[n].flatten() for n in SHAPES])
    return set(torch.nonzero(flat).flatten().tolist())


@given(seed=st.integers(0, 10_000), sparsity=st.floats(0.0, 0.95), ties=st.booleans())
@example(seed=0, sparsity=0.9, ties=True)
def test_global_mask_keeps_exactly_the_top_k_magnitudes(seed: int, sparsity: float, ties: bool) -> None:
    # Prepare
    delta = _delta(seed, ties)
    flat = torch.cat([delta[n].flatten() for n in SHAPES]).abs().tolist()
    k = max(1, round((1 - sparsity) * len(flat)))
    # Execute
    mask = maths.lottery_mask(delta, sparsity, scope="global")
    # Assert
    assert _positions(mask) == _brute_force_top_k([(v, i) for i, v in enumerate(flat)], k)
    assert all(mask[n].shape == delta[n].shape and mask[n].dtype == torch.bool for n in SHAPES)


@given(seed=st.integers(0, 10_000), sparsity=st.floats(0.0, 0.95), ties=st.booleans())
def test_tensor_mask_keeps_the_top_k_of_every_tensor(seed: int, sparsity: float, ties: bool) -> None:
    delta = _delta(seed, ties)
    mask = maths.lottery_mask(delta, sparsity, scope="tensor")
    for n in SHAPES:
        values = delta[n].flatten().abs().tolist()
        k = max(1, round((1 - sparsity) * len(values)))
        kept = set(torch.nonzero(mask[n].flatten()).flatten().tolist())
        assert kept == _brute_force_top_k([(v, i) for i, v in enumerate(values)], k)


@given(seed=st.integers(0, 10_000), scope=st.sampled_from(maths.SCOPES))
def test_lotto_mask_is_the_top_k_of_the_free_entries_and_disjoint_from_earlier(seed: int, scope: str) -> None:
    # Prepare: an earlier task's mask, then a new task's calibration vector.
    earlier = maths.lottery_mask(_delta(seed), 0.7, scope=scope)
    delta = _delta(seed + 1)
    # Execute
    mask = maths.lottery_mask(delta, 0.7, scope=scope, exclude=earlier)
    # Assert: brute force over the free entries only, with the same budget k as an unconstrained mask.
    assert maths.are_disjoint([earlier, mask])
    names = SHAPES if scope == "global" else [[n] for n in SHAPES]
    for group in (list(SHAPES),) if scope == "global" else names:
        flat = torch.cat([delta[n].flatten() for n in group]).abs().tolist()
        taken = torch.cat([earlier[n].flatten() for n in group]).tolist()
        got = set(torch.nonzero(torch.cat([mask[n].flatten() for n in group])).flatten().tolist())
        k = max(1, round(0.3 * len(flat)))
        assert got == _brute_force_top_k([(v, i) for i, v in enumerate(flat) if not taken[i]], k)


def test_lotto_masks_of_three_tasks_partition_a_third_each() -> None:
    used: list[dict[str, torch.Tensor]] = []
    for t in range(3):
        mask = maths.lottery_mask(_delta(t), 2 / 3, exclude=maths.union(used) if used else None)
        used.append(mask)
    total = sum(math.prod(s) for s in SHAPES.values())
    assert maths.are_disjoint(used)
    assert [len(_positions(m)) for m in used] == [round(total / 3)] * 3
    assert not maths.are_disjoint([used[0], used[1], used[0]])


def test_lottery_mask_fails_if_too_few_entries_are_free() -> None:
    everything = {n: torch.ones(s, dtype=torch.bool) for n, s in SHAPES.items()}
    everything["b.weight"][0] = False
    with pytest.raises(ValueError, match=r"global: mask needs k=2 entries but only 1 are free of earlier masks"):
        maths.lottery_mask(_delta(0), 0.9, exclude=everything)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sparsity": 1.0}, r"sparsity must be in \[0, 1\), got 1.0"),
        ({"sparsity": -0.1}, r"sparsity must be in \[0, 1\), got -0.1"),
        ({"scope": "layer"}, r"scope must be one of \('tensor', 'global'\), got 'layer'"),
    ],
)
def test_lottery_mask_fails_if_arguments_are_out_of_range(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        maths.lottery_mask(_delta(0), **kwargs)


def test_task_vector_fails_if_shapes_differ() -> None:
    with pytest.raises(ValueError, match=r"finetuned\['w'\] has shape \(2,\), base has \(3,\)"):
        maths.task_vector({"w": torch.zeros(2)}, {"w": torch.zeros(3)})


@given(seed=st.integers(0, 10_000), scale=st.sampled_from([0.5, 1.0]))
def test_sparse_merge_is_the_base_plus_the_sum_of_sparse_deltas(seed: int, scale: float) -> None:
    # Prepare: a base and three fine-tuned models whose sparse (disjoint, LoTTO) task vectors we merge.
    base = _delta(seed)
    finetuned = [{n: base[n] + d[n] for n in SHAPES} for d in (_delta(seed + 1 + t) for t in range(3))]
    masks: list[dict[str, torch.Tensor]] = []
    sparse = []
    for ft in finetuned:
        delta = maths.task_vector(ft, base)
        masks.append(maths.lottery_mask(delta, 0.7, exclude=maths.union(masks) if masks else None))
        sparse.append(maths.sparsify(delta, masks[-1]))
    # Execute
    merged = maths.merge(base, sparse, scale)
    # Assert: entry by entry, the owner's fine-tuned value (λ = 1) or base + λ·Δ_owner; base elsewhere.
    for n in SHAPES:
        for i in range(base[n].numel()):
            owners = [t for t in range(3) if masks[t][n].flatten()[i]]
            expected = base[n].flatten()[i] + sum(scale * (finetuned[t][n].flatten()[i] - base[n].flatten()[i])
                                                  for t in owners)
            assert len(owners) <= 1
            assert torch.isclose(merged[n].flatten()[i], torch.as_tensor(expected), atol=1e-6)
            if scale == 1.0 and owners:
                assert torch.isclose(merged[n].flatten()[i], finetuned[owners[0]][n].flatten()[i], atol=1e-6)


def test_merge_fails_if_scale_is_not_positive() -> None:
    with pytest.raises(ValueError, match=r"scale must be > 0, got 0.0"):
        maths.merge(_delta(0), [_delta(1)], 0.0)


def test_mean_ci_matches_the_student_t_closed_form() -> None:
    # [1, 2, 3]: mean 2, sd 1, t_{0.975, 2} = 4.302652729911275 (standard table value).
    mean, half = maths.mean_ci([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert maths.mean_ci([0.5]) == (0.5, None)
