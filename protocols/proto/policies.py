# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Release policies served over the wire: a canonical JSON spec, its digest, and the job genesis
that commits to it (server and committee members derive both from the same spec).

A spec is `""` (the built-in `prefix-sum/v1`) or a JSON object naming a DP-FTRL matrix mechanism
(`loyal.protocols.dpftrl.mechanisms.build_mechanism`) wrapped in `MatrixMechanismPolicy`:

    {"mechanism": "banded-toeplitz", "steps": 8, "participations": 2, "min_separation": 4,
     "bands": 4, "form": "encoded", "scale_bits": 12}

The policy digest hashes the policy id, the scale and — for a finite mechanism — every quantized row
(data and noise coefficients of rounds 0..n-1), so two parties with equal digests allow exactly the
same releases, whatever floating-point path built their factorization. The job genesis
(`loyal.protocols.ssa.job.Job.genesis`) hashes the digest with the rest of the pinned configuration:
every log header a member verifies chains from it, so a server that switched policy cannot show a
chain a member accepts.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from loyal.protocols.ssa.policy import PrefixSumPolicy, ReleasePolicy, coefficient_l1, quantized_rows

PREFIX_SUM_ID = PrefixSumPolicy().policy_id
_KEYS = {"mechanism", "steps", "participations", "min_separation", "bands", "buffers", "form", "scale_bits"}


def canonical_policy_spec(spec: dict[str, Any] | str) -> str:
    """The canonical JSON text of a policy spec ("" for prefix sum).

    Raises:
      ValueError: unknown keys, missing mechanism or steps, or values of the wrong type.
    """
    if isinstance(spec, str):
        if not spec.strip():
            return ""
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as e:
            raise ValueError(f"policy_spec must be JSON, got {spec[:60]!r} ({e.msg})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"policy_spec must be a JSON object, got {type(spec).__name__}")
    unknown = set(spec) - _KEYS
    if unknown:
        raise ValueError(f"policy_spec has unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    if "mechanism" not in spec or "steps" not in spec:
        raise ValueError(f"policy_spec must name 'mechanism' and 'steps', got keys {sorted(spec)}")
    out = {k: v for k, v in spec.items() if v is not None}
    for k in ("steps", "participations", "min_separation", "bands", "buffers", "scale_bits"):
        if k in out and (isinstance(out[k], bool) or not isinstance(out[k], int)):
            raise ValueError(f"policy_spec {k} must be an integer, got {out[k]!r}")
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=16)
def build_policy(policy_spec: str) -> ReleasePolicy:
    """The policy of a canonical spec (cached: building a factorization can take seconds).

    Raises:
      ValueError: if the mechanism cannot be built with these parameters.
    """
    if not policy_spec:
        return PrefixSumPolicy()
    from loyal.protocols.dpftrl.mechanisms import build_mechanism
    from loyal.protocols.dpftrl.policy import MatrixMechanismPolicy

    d = json.loads(policy_spec)
    mech = build_mechanism(
        d["mechanism"], d["steps"], participations=d.get("participations", 1),
        min_separation=d.get("min_separation"), bands=d.get("bands"), buffers=d.get("buffers"),
    )
    return MatrixMechanismPolicy(mech, form=d.get("form", "prefix"), scale_bits=d.get("scale_bits", 24))


def policy_schema(policy_spec: str) -> tuple[int, int] | None:
    """(participations k, min_separation b) of a mechanism's policy (None for prefix sum: the job sets them)."""
    schema = getattr(getattr(build_policy(policy_spec), "mechanism", None), "schema", None)
    return None if schema is None else (schema.participations, schema.min_separation)


def policy_steps(policy_spec: str) -> int | None:
    """Rounds the policy covers (None: unbounded, prefix sum)."""
    return json.loads(policy_spec)["steps"] if policy_spec else None


@functools.lru_cache(maxsize=16)
def policy_l1(policy_spec: str) -> int | None:
    """`coefficient_l1` over every round of a finite policy (None for prefix sum: it grows with the rounds)."""
    steps = policy_steps(policy_spec)
    return None if steps is None else coefficient_l1(build_policy(policy_spec), steps)


@functools.lru_cache(maxsize=16)
def policy_digest(policy_spec: str) -> bytes:
    """SHA-256 over the policy id, scale and (finite mechanisms) every quantized row."""
    policy = build_policy(policy_spec)
    h = hashlib.sha256(b"loyal/policy/v1")
    h.update(json.dumps([policy.policy_id, policy.scale_bits]).encode())
    steps = policy_steps(policy_spec)
    for t in range(steps or 0):
        rows = [[sorted(r.data.items()), sorted(r.noise.items())] for r in quantized_rows(policy, t)]
        h.update(json.dumps([t, rows, policy.window_start(t)]).encode())
    return h.digest()
