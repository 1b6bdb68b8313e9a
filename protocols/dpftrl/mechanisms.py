# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Builds any DP-FTRL mechanism by name (the single entry point the CLI and benchmarks use)."""

from __future__ import annotations

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema
from loyal.protocols.dpftrl.blt import blt
from loyal.protocols.dpftrl.dense import dense
from loyal.protocols.dpftrl.identity import IdentityMechanism
from loyal.protocols.dpftrl.toeplitz import banded_toeplitz
from loyal.protocols.dpftrl.tree import TreeMechanism

MECHANISMS = ("identity", "tree", "tree-honaker", "banded-toeplitz", "blt", "dense")


def build_mechanism(
    name: str,
    steps: int,
    *,
    participations: int = 1,
    min_separation: int | None = None,
    bands: int | None = None,
    buffers: int | None = None,
    optimize: str = "mean",
) -> MatrixMechanism:
    """A mechanism for the prefix-sum workload over `steps` rounds.

    Args:
      name: one of MECHANISMS.
      steps: n >= 1.
      participations: k >= 1.
      min_separation: b; default n // k (one participation per "epoch"), 1 when k = 1.
      bands: banded-toeplitz only, in [1, n]; default b for k > 1, else n.
      buffers: blt only, m in [1, 32]; default 4.
      optimize: "mean" or "max" (banded-toeplitz and blt).

    Raises:
      ValueError: unknown name, impossible schema, bad bands/buffers, or options for another mechanism.
    """
    if name not in MECHANISMS:
        raise ValueError(f"unknown mechanism {name!r}; choose one of {', '.join(MECHANISMS)}")
    _checks.check_positive_int(steps, "steps")
    _checks.check_positive_int(participations, "participations")
    if min_separation is None:
        min_separation = max(steps // participations, 1) if participations > 1 else 1
    schema = ParticipationSchema(steps, participations, min_separation)
    if bands is not None and name != "banded-toeplitz":
        raise ValueError(f"bands applies to banded-toeplitz only, got mechanism={name!r}")
    if buffers is not None and name != "blt":
        raise ValueError(f"buffers applies to blt only, got mechanism={name!r}")
    if bands is not None and not 1 <= bands <= steps:
        raise ValueError(f"too many bands: bands must be in [1, steps], got bands={bands}, steps={steps}")
    if name == "identity":
        return IdentityMechanism(schema)
    if name in ("tree", "tree-honaker"):
        restart = min_separation if participations > 1 else None
        return TreeMechanism(
            schema, estimator="vanilla" if name == "tree" else "honaker", restart_every=restart
        )
    if name == "banded-toeplitz":
        return banded_toeplitz(schema, bands, reduction=optimize)
    if name == "blt":
        return blt(schema, 4 if buffers is None else buffers, reduction=optimize)
    return dense(schema)
