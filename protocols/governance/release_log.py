# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The public release log of an SSA job: what a server publishes so that anyone can audit it without access to
the server (technical governance, arXiv 2407.14981: the "verification" capacity of its taxonomy).

It holds the pinned job configuration (`Job.to_json`, whose genesis the chain anchors), every round's log
header (hash-chained to the anchored heads), every release's quantized row (never its values) and the
participation log as (contributor id, round) pairs (`ledger.contributor_id`; never what was sent). The server
writes it with `loyal.server.export.release_log`; `loyal audit` reads it. Data only (JSON), never pickle.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.messages import LogHeader

FORMAT = "loyal.release_log.v1"


@dataclasses.dataclass(frozen=True)
class PublishedRelease:
    """One release as the log shows it: its round, request id, policy id, quantized row and integer digest."""

    round_index: int
    request_id: bytes
    policy_id: str
    data: dict[int, int]
    noise: dict[int, int]
    integer_sha256: bytes


@dataclasses.dataclass(frozen=True)
class ReleaseLog:
    """A job's public release log (module doc).

    Attributes:
      job: the pinned configuration.
      headers: log headers of rounds 0..R-1, in order.
      releases: releases in publication order.
      participations: (32-byte contributor id, round) of every accepted client upload.
    """

    job: Job
    headers: tuple[LogHeader, ...]
    releases: tuple[PublishedRelease, ...]
    participations: tuple[tuple[bytes, int], ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form (bytes as hex; rows as sorted [round, coefficient] pairs)."""
        return {
            "format": FORMAT,
            "job": self.job.to_json(),
            "headers": [{k: v.hex() if isinstance(v, bytes) else v for k, v in dataclasses.asdict(h).items()}
                        for h in self.headers],
            "releases": [{"round": r.round_index, "request_id": r.request_id.hex(), "policy_id": r.policy_id,
                          "data": [list(p) for p in sorted(r.data.items())],
                          "noise": [list(p) for p in sorted(r.noise.items())],
                          "integer_sha256": r.integer_sha256.hex()} for r in self.releases],
            "participations": [[c.hex(), r] for c, r in self.participations],
        }

    @classmethod
    def from_json(cls, d: Any) -> ReleaseLog:
        """Inverse of `to_json`.

        Raises:
          ValueError: not a release log of this format, or a malformed field (named in the message).
        """
        keys = {"format", "job", "headers", "releases", "participations"}
        if not isinstance(d, dict) or set(d) != keys or d["format"] != FORMAT:
            got = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"a release log is a JSON object with keys {sorted(keys)} and format {FORMAT!r}, got {got}")
        try:
            job = Job.from_json(d["job"])
            headers = tuple(LogHeader(**{k: bytes.fromhex(v) if isinstance(v, str) else _int(v) for k, v in h.items()})
                            for h in d["headers"])  # digests are hex, counts and indices integers (as to_json)
            releases = tuple(PublishedRelease(
                _int(r["round"]), bytes.fromhex(r["request_id"]), str(r["policy_id"]),
                {_int(j): _int(c) for j, c in r["data"]}, {_int(j): _int(c) for j, c in r["noise"]},
                bytes.fromhex(r["integer_sha256"])) for r in d["releases"])
            participations = tuple((bytes.fromhex(c), _int(r)) for c, r in d["participations"])
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed release log: {type(e).__name__}: {e}") from None
        return cls(job, headers, releases, participations)


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an integer in the release log, got {v!r}")
    return v


__all__ = ["FORMAT", "PublishedRelease", "ReleaseLog"]
