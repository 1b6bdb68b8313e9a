# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The one proto <-> dataclass conversion module of the gRPC API (style.md §1, `protocols/proto/`).

Servicers and clients call these functions and never touch protobuf fields of ciphertexts
themselves. Ciphertexts stay SSA frames (`loyal.protocols.ssa.messages`) inside `bytes` fields.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

from loyal.protocols.proto import policies
from loyal.protocols.proto.loyal.v1 import common_pb2, observer_pb2
from loyal.protocols.rlwe.params import BY_NAME
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.messages import Release
from loyal.protocols.ssa.policy import ReleasePolicy


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """Public description of a served SSA job; `to_config()` rebuilds the identical `SsaConfig`.

    Attributes:
      job_id: 16 bytes.
      public_seed: 32 public bytes (common polynomials).
      dim: vector length d >= 1.
      clients_per_round: the server closes a round once this many clients contributed (>= 1).
      clip_norm: C > 0.
      scale: fixed-point scale s > 0.
      committee_size: members 1..n (n >= 1).
      threshold: t in [1, n].
      noise_multiplier: z >= 0 (0: no committee noise shares are requested).
      params_name: RLWE parameter set name in `loyal.protocols.rlwe.params.BY_NAME`.
      policy_id: id of the policy `policy_spec` builds (checked).
      coefficient_l1: max ||c||_1 of a quantized release row (>= 1).
      min_cohort: minimum clients a round needs before it can close at its deadline (default 1).
      model_name: model clients train (empty: the caller supplies updates).
      model_seed: torch seed of the initial model.
      server_learning_rate: model = init + lr · release / clients_per_round.
      policy_spec: canonical policy JSON (`policies.canonical_policy_spec`; "" = prefix sum). A finite
        mechanism needs coefficient_l1 >= the largest quantized row's L1 norm.
      rotations: committee hand-offs ((after_round, committee_size, threshold), ...), after_round
        strictly increasing; epoch e's members are numbered on from epoch e-1's (fresh ids).
    """

    job_id: bytes
    public_seed: bytes = dataclasses.field(repr=False)
    dim: int
    clients_per_round: int
    clip_norm: float
    scale: float
    committee_size: int
    threshold: int
    noise_multiplier: float
    params_name: str
    policy_id: str = policies.PREFIX_SUM_ID
    coefficient_l1: int = 1 << 10
    min_cohort: int = 1
    model_name: str = ""
    model_seed: int = 0
    server_learning_rate: float = 1.0
    policy_spec: str = ""
    rotations: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.params_name not in BY_NAME:
            raise ValueError(f"params_name must be one of {sorted(BY_NAME)}, got {self.params_name!r}")
        if policies.canonical_policy_spec(self.policy_spec) != self.policy_spec:
            raise ValueError(f"policy_spec must be canonical JSON (policies.canonical_policy_spec), got {self.policy_spec!r}")
        if self.policy().policy_id != self.policy_id:
            raise ValueError(f"policy_id {self.policy_id!r} does not match the policy_spec's {self.policy().policy_id!r}")
        need = policies.policy_l1(self.policy_spec)
        if need is not None and need > self.coefficient_l1:
            raise ValueError(f"coefficient_l1 must be >= {need} (largest quantized row of {self.policy_id}), got {self.coefficient_l1}")
        prev = -1
        for rot in self.rotations:
            if len(rot) != 3 or rot[0] <= prev or rot[1] < 1 or not 1 <= rot[2] <= rot[1]:
                raise ValueError(
                    f"rotations must be (after_round, committee_size, threshold) with after_round increasing and "
                    f"1 <= threshold <= committee_size, got {rot}"
                )
            prev = rot[0]
        for name in ("dim", "clients_per_round", "committee_size", "threshold", "coefficient_l1", "min_cohort"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.min_cohort <= self.clients_per_round:
            raise ValueError(f"min_cohort must be in [1, clients_per_round={self.clients_per_round}], got {self.min_cohort}")
        if not math.isfinite(self.server_learning_rate):
            raise ValueError(f"server_learning_rate must be finite, got {self.server_learning_rate}")

    def to_config(self) -> SsaConfig:
        """The job's `SsaConfig` (validates the no-wrap bound; raises ValueError if it fails)."""
        return SsaConfig.create(
            job_id=self.job_id, public_seed=self.public_seed, dim=self.dim, max_clients=self.clients_per_round,
            clip_norm=self.clip_norm, scale=self.scale, committee_size=self.committee_size,
            threshold=self.threshold, noise_multiplier=self.noise_multiplier, min_cohort=self.min_cohort,
            coefficient_l1=self.coefficient_l1, params=BY_NAME[self.params_name],
        )

    def policy(self) -> ReleasePolicy:
        return policies.build_policy(self.policy_spec)

    def genesis(self, config: SsaConfig) -> bytes:
        """The log genesis both the server and the members use (binds the policy digest)."""
        return policies.job_genesis(config, self.policy_spec)

    # ---- committee epochs (hand-off) --------------------------------------------------------------
    def committee(self, epoch: int) -> tuple[tuple[int, ...], int]:
        """(member ids, threshold) of committee `epoch` (0: the key-generation committee)."""
        if not 0 <= epoch <= len(self.rotations):
            raise ValueError(f"epoch must be in [0, {len(self.rotations)}], got {epoch}")
        sizes = [(self.committee_size, self.threshold)] + [(n, t) for _, n, t in self.rotations]
        first = 1 + sum(n for n, _ in sizes[:epoch])
        n, t = sizes[epoch]
        return tuple(range(first, first + n)), t

    def epoch_of_round(self, round_index: int) -> int:
        """The committee serving round `round_index` (rotations happen after a round's release)."""
        return sum(1 for after, _, _ in self.rotations if after < round_index)

    def epoch_of_member(self, member_id: int) -> int:
        """Raises ValueError if `member_id` is in no committee of the job."""
        for e in range(len(self.rotations) + 1):
            if member_id in self.committee(e)[0]:
                return e
        raise ValueError(f"member_id {member_id} is in no committee of this job (ids 1..{self.committee(len(self.rotations))[0][-1]})")

    def config_for_epoch(self, epoch: int) -> SsaConfig:
        """The job config with committee `epoch` (same keys, ring and seeds; new members and threshold)."""
        base = self.to_config()
        if epoch == 0:
            return base
        members, t = self.committee(epoch)
        return dataclasses.replace(base, committee=members, threshold=t, honest_members=t)


def job_to_proto(spec: JobSpec) -> common_pb2.JobSpec:
    return common_pb2.JobSpec(
        job_id=spec.job_id, public_seed=spec.public_seed, dim=spec.dim, max_clients=spec.clients_per_round,
        clip_norm=spec.clip_norm, scale=spec.scale, committee_size=spec.committee_size, threshold=spec.threshold,
        noise_multiplier=spec.noise_multiplier, min_cohort=spec.min_cohort, coefficient_l1=spec.coefficient_l1,
        params_name=spec.params_name, policy_id=spec.policy_id, clients_per_round=spec.clients_per_round,
        model_name=spec.model_name, model_seed=spec.model_seed, server_learning_rate=spec.server_learning_rate,
        policy_spec=spec.policy_spec,
        rotations=[common_pb2.Rotation(after_round=a, committee_size=n, threshold=t) for a, n, t in spec.rotations],
    )


def job_from_proto(msg: common_pb2.JobSpec) -> JobSpec:
    """Raises ValueError if the message does not describe a valid job."""
    return JobSpec(
        job_id=bytes(msg.job_id), public_seed=bytes(msg.public_seed), dim=msg.dim,
        clients_per_round=msg.clients_per_round, clip_norm=msg.clip_norm, scale=msg.scale,
        committee_size=msg.committee_size, threshold=msg.threshold, noise_multiplier=msg.noise_multiplier,
        params_name=msg.params_name, policy_id=msg.policy_id, coefficient_l1=msg.coefficient_l1,
        min_cohort=msg.min_cohort, model_name=msg.model_name, model_seed=msg.model_seed,
        server_learning_rate=msg.server_learning_rate, policy_spec=msg.policy_spec,
        rotations=tuple((r.after_round, r.committee_size, r.threshold) for r in msg.rotations),
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
def submit_message(job_id: bytes, round_index: int, nonce: bytes, payload_sha256: bytes, kind: str) -> bytes:
    """What a client (kind "client") or member (kind "noise") signs for one upload."""
    return b"loyal/v1/submit/" + kind.encode() + b"\x00" + job_id + round_index.to_bytes(4, "little") + nonce + payload_sha256


def member_message(kind: str, member_id: int, *parts: bytes) -> bytes:
    """What a committee member signs for join, key generation and partial decryptions."""
    h = hashlib.sha256(b"loyal/v1/member/" + kind.encode() + b"\x00" + member_id.to_bytes(4, "little"))
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.digest()
