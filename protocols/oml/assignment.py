# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Per-host fingerprint assignment and collusion analysis (Sec. 6 of arXiv 2502.07760; OML arXiv 2411.03887).

Each licensed host gets a model carrying its own random subset of the owner's fingerprints. A leaked copy
then identifies its host: the host's own fingerprints match far above chance. When c hosts average their
copies, each colluder's fingerprints are diluted by 1/c in weight space; `identify_hosts` applies the
per-host binomial test to whatever survives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from loyal.protocols.oml.statistics import Verdict, decide


@dataclasses.dataclass(frozen=True)
class HostAssignment:
    """host id → sorted fingerprint indices it carries.

    Attributes:
      total: fingerprints owned (indices 0..total−1).
      subsets: host → its indices.
    """

    total: int
    subsets: Mapping[str, tuple[int, ...]]

    def hosts(self) -> tuple[str, ...]:
        return tuple(self.subsets)

    def overlap(self, a: str, b: str) -> int:
        """How many fingerprints hosts `a` and `b` share."""
        return len(set(self.subsets[a]) & set(self.subsets[b]))


def assign_hosts(total: int, hosts: Sequence[str], per_host: int, rng: np.random.Generator) -> HostAssignment:
    """Gives each host an independent uniform random subset of `per_host` of the `total` fingerprints.

    Args:
      total: fingerprints owned, ≥ 1.
      hosts: distinct host ids (≥ 1).
      per_host: subset size in [1, total]. Smaller subsets overlap less (better attribution) but give
        each verification fewer queries (weaker statistics).
      rng: the owner's generator.
    """
    if total < 1:
        raise ValueError(f"total must be ≥ 1, got {total}")
    if not hosts:
        raise ValueError("hosts must not be empty")
    if len(set(hosts)) != len(hosts):
        raise ValueError("host ids must be distinct")
    if not 1 <= per_host <= total:
        raise ValueError(f"per_host must be in [1, total={total}], got {per_host}")
    subsets = {h: tuple(int(i) for i in np.sort(rng.choice(total, size=per_host, replace=False))) for h in hosts}
    return HostAssignment(total=total, subsets=subsets)


def identify_hosts(assignment: HostAssignment, matched: Iterable[int], p0: float,
                   target_fpr: float = 1e-6, exclusive: bool = True) -> dict[str, Verdict]:
    """Tests every host against the set of fingerprint indices that matched on a suspect model.

    Args:
      assignment: who carries what.
      matched: indices whose key produced the fingerprint response on the suspect model (every index of
        every host was queried).
      p0: chance-match probability.
      target_fpr: per-host false-claim rate; with H hosts the family-wise rate is ≤ H · target_fpr.
      exclusive: count only fingerprints no other host carries (default True). Random subsets overlap,
        so with `exclusive=False` an innocent host that shares fingerprints with a leaking one is
        matched far above p₀ and falsely claimed; exclusive counting keeps the null Bin(M_h, p₀) valid.

    Returns:
      host → Verdict (claimed = this host's copy is in the suspect model).
    """
    hit = set(matched)
    out: dict[str, Verdict] = {}
    for host, subset in assignment.subsets.items():
        indices = set(subset)
        if exclusive:
            others = set().union(*(set(s) for h, s in assignment.subsets.items() if h != host))
            indices -= others
        out[host] = decide(len(indices), len(indices & hit), p0, target_fpr)
    return out


def detection_rate(verdicts: Mapping[str, Verdict], colluders: Sequence[str]) -> float:
    """Fraction of the colluders whose verdict is a claim."""
    if not colluders:
        raise ValueError("colluders must not be empty")
    return sum(verdicts[h].claimed for h in colluders) / len(colluders)


def false_accusations(verdicts: Mapping[str, Verdict], colluders: Sequence[str]) -> int:
    """Innocent hosts (not among the colluders) that were nevertheless claimed."""
    guilty = set(colluders)
    return sum(v.claimed for h, v in verdicts.items() if h not in guilty)
