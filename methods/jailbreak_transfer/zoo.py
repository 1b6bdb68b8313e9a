# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The model zoo of one repetition: which VLMs share initialisation, data and backbone (arXiv 2407.15211, Sec. 3).

Per repetition `rep` (all seeds derived from it):

* ``S0..S{n_same-1}``: MLP backbone, one shared `init_seed`, data subsets 0, 1, … (identically initialised,
  different data: the paper's Sec. 3.3 "same initialisation, different training data").
* ``R1..R{n_diff}``: MLP backbone, data subset 0 (as S0), each its own `init_seed` (only the seed differs).
* ``C0..C{n_cnn-1}``: CNN backbone, one shared `init_seed`, data subsets 0, 1, ….

The batch order depends only on the data subset, so S0 and the R models see the same batches.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from loyal.methods.jailbreak_transfer.vlm import TinyVlm, VlmConfig, new_vlm, train_vlm

RELATIONS = ("white_box", "same_init_diff_data", "diff_init_same_data", "diff_init_diff_data", "diff_backbone")


@dataclasses.dataclass(frozen=True)
class ZooMember:
    """One VLM of the zoo: its name, backbone, initialisation seed and training-data subset."""

    name: str
    backbone: str
    init_seed: int
    data_id: int


def relation(a: ZooMember, b: ZooMember) -> str:
    """How model b relates to model a: one of `RELATIONS` ("identical" if nothing differs)."""
    if a == b:
        return "white_box"
    if a.backbone != b.backbone:
        return "diff_backbone"
    if a.init_seed == b.init_seed:
        return "same_init_diff_data" if a.data_id != b.data_id else "identical"
    return "diff_init_same_data" if a.data_id == b.data_id else "diff_init_diff_data"


def zoo_members(rep: int, n_same: int, n_diff: int, n_cnn: int) -> list[ZooMember]:
    """The members of repetition `rep` in the order S…, R…, C… (see the module docstring)."""
    base = 1000 * (rep + 1)
    same = [ZooMember(f"S{k}", "mlp", base + 1, k) for k in range(n_same)]
    diff = [ZooMember(f"R{k}", "mlp", base + 10 + k, 0) for k in range(1, n_diff + 1)]
    cnn = [ZooMember(f"C{k}", "cnn", base + 50, k) for k in range(n_cnn)]
    return same + diff + cnn


def data_subset(rep: int, data_id: int, size: int, fraction: float) -> np.ndarray:
    """Indices of training subset `data_id`: a seeded random `fraction` of the `size` training images."""
    rng = np.random.default_rng(1000 * (rep + 1) + 200 + data_id)
    return np.sort(rng.permutation(size)[: max(1, int(round(fraction * size)))])


def order_seed(rep: int, data_id: int) -> int:
    """Seed of the batch order; a function of the data subset only, not of the initialisation."""
    return 1000 * (rep + 1) + 100 + data_id


def train_member(
    member: ZooMember, rep: int, x: np.ndarray, y: np.ndarray, config: VlmConfig, fraction: float
) -> TinyVlm:
    """Initialises `member` from its seed and trains it on its data subset."""
    subset = data_subset(rep, member.data_id, len(y), fraction)
    model = new_vlm(member.backbone, member.init_seed, config)
    return train_vlm(model, x[subset], y[subset], config, order_seed(rep, member.data_id))
