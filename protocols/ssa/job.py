# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The one job model of SSA: everything a job pins, its committee epochs and its log genesis.

Every party builds the same `Job`: the gRPC server from `loyal server start` (flags or TOML), its
clients and committee members from the wire `JobSpec` (`loyal.protocols.proto.convert`, a
serialization of this class), simulations from their configs. The genesis of the job's hash-chained
log (design note ssa.md, "Threat model") binds the *whole* pinned configuration — parameter set,
dimension, scale, clip norm, noise multiplier, the mechanism with a digest of every quantized row,
the participation schema (k, b), committee n/t/h and its hand-offs, minimum cohort and rounds — so a
member that checks a chain from `job.genesis` also checks that the server runs this exact job.

Derived, never stored twice: the release policy (`policy`), `coefficient_l1` (the largest quantized
row, `policy.coefficient_l1`), each epoch's `SsaConfig` (`config_for_epoch`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math

from loyal.protocols.rlwe.params import BY_NAME
from loyal.protocols.ssa import policy as policy_lib
from loyal.protocols.ssa.config import SsaConfig

GENESIS_DOMAIN = b"loyal/ssa/genesis/v2"


class InsecureJobError(ValueError):
    """A job with an unsafe choice (`Job.security_issues`) served without `--insecure`."""


@dataclasses.dataclass(frozen=True)
class Job:
    """A served SSA job for DP-FTRL.

    Attributes:
      job_id: 16 bytes naming the job (bound into every message).
      public_seed: 32 public bytes (common polynomials).
      dim: update length d >= 1.
      cohort_size: clients per round; the parameters are sized for it and a round closes once it is full.
      clip_norm: C > 0, the L2 bound of every client update.
      scale: fixed-point scale s > 0 of client values.
      committee_size: n >= 1 members of the key-generation committee (epoch 0).
      threshold: t in [1, n], members needed to decrypt.
      noise_multiplier: z >= 0 (0: no noise shares are requested).
      params_name: RLWE parameter set in `loyal.protocols.rlwe.params.BY_NAME`.
      rounds: rounds the job runs (>= 1; <= the mechanism's steps for a finite policy).
      policy_spec: canonical policy JSON (`loyal.protocols.proto.policies`; "" = prefix sum).
      participations: k >= 1, rounds one client may join (enforced by the participation ledger).
      min_separation: b >= 1, rounds between two participations of one client.
      honest_members: h, honest noise shares each round must hold (h + t - 1 <= n shares close a round, since
        fewer than t members may be malicious); None: `default_honest_members`, which later committees use.
      min_cohort: clients a round needs before it may close at its deadline, in [1, cohort_size].
      model_name: the model clients train ("" : the caller supplies updates).
      model_seed: torch seed of the initial model.
      server_learning_rate: model step size applied to releases.
      rotations: committee hand-offs ((after_round, committee_size, threshold), ...), after_round strictly
        increasing; epoch e's member ids continue the numbering of epoch e-1.
      prove_uploads: uploads must carry zero-knowledge proofs of well-formed AHE parts (issue 14; off only
        for simulations that trust their own clients, a `security_issues` entry).
      member_keys: the pinned Ed25519 public keys (hex) of members 1..M of every epoch, or () for an
        unpinned committee (whoever joins first becomes the member: tests and simulations only, `security_issues`).
      noise_contributors: n_c data uploaders per round that also upload a noise-only share (`SsaConfig`;
        issue 15): the noise overhead becomes sqrt((n + n_c)/(h + h_c)).
      honest_noise_contributors: h_c <= n_c of them assumed honest; h_c > 0 trusts clients for noise, so
        it is a `security_issues` entry stating the floor the job falls back to if they all lie.
    """

    job_id: bytes
    public_seed: bytes = dataclasses.field(repr=False)
    dim: int
    cohort_size: int
    clip_norm: float
    scale: float
    committee_size: int
    threshold: int
    noise_multiplier: float
    params_name: str
    rounds: int
    policy_spec: str = ""
    participations: int = 1
    min_separation: int = 1
    honest_members: int | None = None
    min_cohort: int = 1
    model_name: str = ""
    model_seed: int = 0
    server_learning_rate: float = 1.0
    rotations: tuple[tuple[int, int, int], ...] = ()
    member_keys: tuple[str, ...] = ()
    prove_uploads: bool = True
    noise_contributors: int = 0
    honest_noise_contributors: int = 0

    def __post_init__(self) -> None:
        if self.honest_members is None:
            object.__setattr__(self, "honest_members", default_honest_members(self.committee_size, self.threshold))
        object.__setattr__(self, "rotations", tuple(tuple(int(x) for x in r) for r in self.rotations))
        object.__setattr__(self, "member_keys", tuple(str(k).lower() for k in self.member_keys))
        self._check_init_params()

    def _check_init_params(self) -> None:
        from loyal.protocols.proto import policies  # the policy codec (pure)

        if len(self.job_id) != 16 or len(self.public_seed) != 32:
            raise ValueError(f"job_id must be 16 and public_seed 32 bytes, got {len(self.job_id)} and {len(self.public_seed)}")
        for name in ("dim", "cohort_size", "committee_size", "threshold", "rounds", "participations",
                     "min_separation", "min_cohort"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {name}={v!r}")
        if not 1 <= self.threshold <= self.committee_size:
            raise ValueError(f"threshold must be in [1, committee_size={self.committee_size}], got threshold={self.threshold}")
        for name in ("noise_contributors", "honest_noise_contributors"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {name}={v!r}")
        if not isinstance(self.prove_uploads, bool):
            raise ValueError(f"prove_uploads must be true or false, got {self.prove_uploads!r}")
        if not 1 <= self.honest_members <= self.committee_size:
            raise ValueError(f"honest_members must be in [1, committee_size={self.committee_size}], got {self.honest_members}")
        if not self.min_cohort <= self.cohort_size:
            raise ValueError(f"min_cohort must be in [1, cohort_size={self.cohort_size}], got min_cohort={self.min_cohort}")
        for name in ("clip_norm", "scale"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be finite and > 0, got {name}={getattr(self, name)}")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0):
            raise ValueError(f"noise_multiplier must be finite and >= 0, got noise_multiplier={self.noise_multiplier}")
        if not math.isfinite(self.server_learning_rate):
            raise ValueError(f"server_learning_rate must be finite, got {self.server_learning_rate}")
        if self.params_name not in BY_NAME:
            raise ValueError(f"params_name must be one of {sorted(BY_NAME)}, got {self.params_name!r}")
        if policies.canonical_policy_spec(self.policy_spec) != self.policy_spec:
            raise ValueError(f"policy_spec must be canonical JSON (policies.canonical_policy_spec), got {self.policy_spec!r}")
        steps = policies.policy_steps(self.policy_spec)
        if steps is not None and self.rounds > steps:
            raise ValueError(f"rounds must be <= the policy's steps={steps}, got rounds={self.rounds}")
        if (self.participations - 1) * self.min_separation + 1 > self.rounds and self.participations > 1:
            raise ValueError(
                f"participations={self.participations} at min_separation={self.min_separation} do not fit in "
                f"rounds={self.rounds} ((k-1)·b + 1 <= rounds)"
            )
        schema = getattr(getattr(self.policy, "mechanism", None), "schema", None)
        if schema is not None and (schema.participations, schema.min_separation) != (self.participations, self.min_separation):
            raise ValueError(
                f"participations/min_separation ({self.participations}, {self.min_separation}) differ from the "
                f"mechanism's schema ({schema.participations}, {schema.min_separation})"
            )
        prev = -1
        for rot in self.rotations:
            if len(rot) != 3 or rot[0] <= prev or rot[1] < 1 or not 1 <= rot[2] <= rot[1]:
                raise ValueError(
                    f"rotations must be (after_round, committee_size, threshold) with after_round increasing and "
                    f"1 <= threshold <= committee_size, got {rot}"
                )
            prev = rot[0]
        if self.rotations and self.rotations[-1][0] >= self.rounds - 1:
            raise ValueError(
                f"rotation after round {self.rotations[-1][0]} leaves no round for the new committee (rounds={self.rounds})"
            )
        total = self.committee(len(self.rotations))[0][-1]
        if self.member_keys and len(self.member_keys) != total:
            raise ValueError(f"member_keys must pin all {total} members of every epoch, got {len(self.member_keys)}")
        for k in self.member_keys:
            if len(k) != 64 or any(c not in "0123456789abcdef" for c in k):
                raise ValueError(f"member_keys must be 32-byte Ed25519 public keys in hex, got {k!r}")
        if len(set(self.member_keys)) != len(self.member_keys):
            raise ValueError("member_keys must be distinct (one key per member id)")
        for epoch in range(len(self.rotations) + 1):
            self.config_for_epoch(epoch)  # the no-wrap-around and noise-share checks (raise ValueError)

    # ---- derived ------------------------------------------------------------------------------------
    @property
    def policy(self) -> policy_lib.ReleasePolicy:
        from loyal.protocols.proto import policies

        return policies.build_policy(self.policy_spec)

    @property
    def policy_id(self) -> str:
        return self.policy.policy_id

    @functools.cached_property
    def coefficient_l1(self) -> int:
        """Largest quantized row of the job's rounds (`policy.coefficient_l1`): sizes the plaintext space."""
        return policy_lib.coefficient_l1(self.policy, self.rounds)

    @functools.cached_property
    def releases(self) -> int:
        """Rows the job releases (`policy.release_count`): sizes the smudging for the whole job."""
        return policy_lib.release_count(self.policy, self.rounds)

    def to_json(self) -> dict:
        """The pinned configuration as JSON data (what stores keep and the genesis hashes)."""
        d = dataclasses.asdict(self)
        d["job_id"], d["public_seed"] = self.job_id.hex(), self.public_seed.hex()
        d["rotations"] = [list(r) for r in self.rotations]
        d["member_keys"] = list(self.member_keys)
        return d

    @classmethod
    def from_json(cls, d: dict) -> Job:
        """Inverse of `to_json`.

        Raises:
          ValueError: unknown or missing fields (a store or file of another version), or an invalid job.
        """
        expect = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(d, dict) or set(d) != expect:
            got = set(d) if isinstance(d, dict) else set()
            raise ValueError(f"a job needs exactly the fields {sorted(expect)}; differs in {sorted(got ^ expect)}")
        return cls(**dict(d, job_id=bytes.fromhex(d["job_id"]), public_seed=bytes.fromhex(d["public_seed"]),
                          rotations=tuple(tuple(r) for r in d["rotations"]), member_keys=tuple(d["member_keys"])))

    @functools.cached_property
    def genesis(self) -> bytes:
        """Root of the log's hash chain: SHA-256(domain | canonical pinned JSON | policy digest)."""
        from loyal.protocols.proto import policies

        blob = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(GENESIS_DOMAIN + len(blob).to_bytes(8, "little") + blob
                              + policies.policy_digest(self.policy_spec)).digest()

    def member_key(self, member_id: int) -> bytes | None:
        """The pinned Ed25519 key of `member_id`, or None in an unpinned job."""
        self.epoch_of_member(member_id)
        return bytes.fromhex(self.member_keys[member_id - 1]) if self.member_keys else None

    def security_issues(self) -> tuple[str, ...]:
        """Why this job is unsafe to serve (empty when none): what `--insecure` must acknowledge."""
        issues = []
        if BY_NAME[self.params_name].insecure:
            issues.append(f"parameter set {self.params_name!r} is below 128-bit security (tests only)")
        if self.noise_multiplier == 0:
            issues.append("noise_multiplier is 0: releases carry no DP noise")
        if self.min_cohort < 2:
            issues.append(f"min_cohort={self.min_cohort}: a one-client round releases that client's exact update")
        if not self.member_keys:
            issues.append("member_keys are not pinned: whoever joins first becomes a committee member")
        if not self.prove_uploads:
            issues.append("prove_uploads is off: a malicious upload can expose the committee secret")
        if self.honest_noise_contributors:
            cfg = self.config_for_epoch(0)
            issues.append(
                f"honest_noise_contributors={self.honest_noise_contributors} trusts clients for noise: if all "
                f"{self.noise_contributors} lie, the noise multiplier falls from {self.noise_multiplier:g} to "
                f"{cfg.floor_noise_multiplier:.3g}")
        return tuple(issues)

    def check_secure(self, insecure: bool = False) -> None:
        """Raises InsecureJobError listing `security_issues` unless `insecure` acknowledges them."""
        issues = self.security_issues()
        if issues and not insecure:
            raise InsecureJobError("refusing an insecure job (pass --insecure to run it anyway): " + "; ".join(issues))

    # ---- committee epochs ----------------------------------------------------------------------------
    def committee(self, epoch: int) -> tuple[tuple[int, ...], int]:
        """(member ids, threshold) of committee `epoch` (0: the key-generation committee)."""
        if not 0 <= epoch <= len(self.rotations):
            raise ValueError(f"epoch must be in [0, {len(self.rotations)}], got {epoch}")
        sizes = [(self.committee_size, self.threshold)] + [(n, t) for _, n, t in self.rotations]
        first = 1 + sum(n for n, _ in sizes[:epoch])
        n, t = sizes[epoch]
        return tuple(range(first, first + n)), t

    def epoch_of_round(self, round_index: int) -> int:
        """The committee serving `round_index` (hand-offs happen after a round's release)."""
        return sum(1 for after, _, _ in self.rotations if after < round_index)

    def epoch_of_member(self, member_id: int) -> int:
        """Raises ValueError if `member_id` is in no committee of the job."""
        for e in range(len(self.rotations) + 1):
            if member_id in self.committee(e)[0]:
                return e
        last = self.committee(len(self.rotations))[0][-1]
        raise ValueError(f"member_id {member_id} is in no committee of this job (ids 1..{last})")

    def hands_off_after(self, round_index: int) -> bool:
        return any(after == round_index for after, _, _ in self.rotations)

    def config_for_epoch(self, epoch: int) -> SsaConfig:
        """The `SsaConfig` every role of committee `epoch` uses (same keys, ring and seeds)."""
        return _config(self, epoch)


def cheapest_params_name(*, dim: int, cohort_size: int, clip_norm: float, scale: float, committee_size: int,
                         threshold: int, noise_multiplier: float, rounds: int, policy_spec: str = "",
                         prove_uploads: bool = True, noise_contributors: int = 0,
                         honest_noise_contributors: int = 0) -> str:
    """The cheapest 128-bit parameter set that fits a job of these fields (`rlwe.selection`)."""
    from loyal.protocols.proto import policies

    policy = policies.build_policy(policy_spec)
    l1 = policy_lib.coefficient_l1(policy, rounds)
    return SsaConfig.create(
        job_id=bytes(16), public_seed=bytes(32), dim=dim, max_clients=cohort_size, clip_norm=clip_norm, scale=scale,
        committee_size=committee_size, threshold=threshold, noise_multiplier=noise_multiplier, coefficient_l1=l1,
        releases=policy_lib.release_count(policy, rounds), genesis=bytes(32), prove_uploads=prove_uploads,
        noise_contributors=noise_contributors, honest_noise_contributors=honest_noise_contributors,
    ).selection.params.name


def default_honest_members(committee_size: int, threshold: int) -> int:
    """min(t, n - t + 1): the most honest members n members with fewer than t malicious guarantee, capped at t."""
    return min(threshold, committee_size - threshold + 1)


@functools.lru_cache(maxsize=64)
def _config(job: Job, epoch: int) -> SsaConfig:
    members, t = job.committee(epoch)
    base = SsaConfig.create(
        job_id=job.job_id, public_seed=job.public_seed, dim=job.dim, max_clients=job.cohort_size,
        clip_norm=job.clip_norm, scale=job.scale, committee_size=job.committee_size, threshold=job.threshold,
        honest_members=job.honest_members, noise_multiplier=job.noise_multiplier, min_cohort=job.min_cohort,
        coefficient_l1=job.coefficient_l1, releases=job.releases, params=BY_NAME[job.params_name], genesis=job.genesis,
        prove_uploads=job.prove_uploads, noise_contributors=job.noise_contributors,
        honest_noise_contributors=job.honest_noise_contributors,
    )
    if epoch == 0:
        return base
    return dataclasses.replace(base, committee=members, threshold=t, honest_members=default_honest_members(len(members), t))


__all__ = ["GENESIS_DOMAIN", "InsecureJobError", "Job", "cheapest_params_name"]
