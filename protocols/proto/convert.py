# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The one proto <-> dataclass conversion module of the gRPC API (style.md §1, `protocols/proto/`).

Servicers and clients call these functions and never touch protobuf fields of ciphertexts
themselves. Ciphertexts stay SSA frames (`loyal.protocols.ssa.messages`) inside `bytes` fields.
"""

from __future__ import annotations

import hashlib

import numpy as np

from loyal.protocols.proto.loyal.v1 import common_pb2, observer_pb2
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.messages import Release


_JOB_FIELDS = (
    "dim", "clip_norm", "scale", "committee_size", "threshold", "noise_multiplier", "min_cohort", "params_name",
    "cohort_size", "model_name", "model_seed", "server_learning_rate", "policy_spec", "rounds", "participations",
    "min_separation", "honest_members", "prove_uploads", "noise_contributors", "honest_noise_contributors",
)


def job_to_proto(job: Job) -> common_pb2.JobSpec:
    """The wire `JobSpec`: a serialization of `Job` (every field, nothing derived)."""
    return common_pb2.JobSpec(
        job_id=job.job_id, public_seed=job.public_seed, **{f: getattr(job, f) for f in _JOB_FIELDS},
        rotations=[common_pb2.Rotation(after_round=a, committee_size=n, threshold=t) for a, n, t in job.rotations],
        member_keys=[bytes.fromhex(k) for k in job.member_keys],
    )


def job_from_proto(msg: common_pb2.JobSpec) -> Job:
    """Raises ValueError if the message does not describe a valid job."""
    return Job(
        job_id=bytes(msg.job_id), public_seed=bytes(msg.public_seed), **{f: getattr(msg, f) for f in _JOB_FIELDS},
        rotations=tuple((r.after_round, r.committee_size, r.threshold) for r in msg.rotations),
        member_keys=tuple(bytes(k).hex() for k in msg.member_keys),
    )


# ---- arrays ----------------------------------------------------------------------------------------
def residues_to_bytes(a: np.ndarray) -> bytes:
    """RNS residues (each < 2^32) as little-endian uint32."""
    return np.ascontiguousarray(a, dtype="<u4").tobytes()


def residues_from_bytes(data: bytes, ring: RnsRing, name: str) -> np.ndarray:
    """Inverse of `residues_to_bytes` for one (L, N) ring element, with shape and range checks.

    Raises:
      ValueError: wrong length or a residue outside [0, q).
    """
    shape = (ring.num_moduli, ring.degree)
    if len(data) != 4 * ring.num_moduli * ring.degree:
        raise ValueError(f"{name} must be {4 * shape[0] * shape[1]} bytes for shape {shape}, got {len(data)}")
    a = np.frombuffer(data, dtype="<u4").reshape(shape).astype(np.int64)
    if (a >= ring.q).any():
        raise ValueError(f"{name} has residues outside [0, q)")
    return a


def floats_to_bytes(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


def floats_from_bytes(data: bytes, dim: int) -> np.ndarray:
    if len(data) != 4 * dim:
        raise ValueError(f"model_delta must be {4 * dim} bytes (float32 × {dim}), got {len(data)}")
    return np.frombuffer(data, dtype="<f4").astype(np.float64)


# ---- releases --------------------------------------------------------------------------------------
def release_to_proto(rel: Release) -> observer_pb2.Release:
    return observer_pb2.Release(
        request_id=rel.request_id, policy_id=rel.policy_id, round=rel.round_index,
        data=[observer_pb2.Coefficient(round=r, value=c) for r, c in sorted(rel.data.items())],
        noise=[observer_pb2.Coefficient(round=r, value=c) for r, c in sorted(rel.noise.items())],
        integer_values=np.ascontiguousarray(rel.integer_values, dtype="<i8").tobytes(),
        values=np.ascontiguousarray(rel.values, dtype="<f8").tobytes(),
    )


def release_from_proto(msg: observer_pb2.Release) -> Release:
    if len(msg.integer_values) % 8 or len(msg.values) != len(msg.integer_values):
        raise ValueError(f"release arrays must be int64/float64 of equal length, got {len(msg.integer_values)}, {len(msg.values)} bytes")
    return Release(
        bytes(msg.request_id), msg.policy_id, msg.round,
        {c.round: c.value for c in msg.data}, {c.round: c.value for c in msg.noise},
        np.frombuffer(msg.integer_values, dtype="<i8").copy(), np.frombuffer(msg.values, dtype="<f8").copy(),
    )


# ---- signed messages (Ed25519 over domain-separated digests) -----------------------------------------
def submit_message(job_id: bytes, round_index: int, nonce: bytes, payload_digest: bytes, kind: str) -> bytes:
    """What a client (kind "client") or member (kind "noise") signs for one upload."""
    return b"loyal/v1/submit/" + kind.encode() + b"\x00" + job_id + round_index.to_bytes(4, "little") + nonce + payload_digest


def member_message(kind: str, member_id: int, *parts: bytes) -> bytes:
    """What a committee member signs for join, key generation and partial decryptions."""
    h = hashlib.sha256(b"loyal/v1/member/" + kind.encode() + b"\x00" + member_id.to_bytes(4, "little"))
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.digest()
