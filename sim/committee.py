# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The SSA committee on Ray actors (same interface and PRNG labels as `methods.dpftrl_ssa.LocalCommittee`)."""

from __future__ import annotations

import logging

import numpy as np
import ray

from loyal.protocols.rlwe.ahe import ThresholdError
from loyal.sim.actors import ActorCache, remote_member_host

logger = logging.getLogger(__name__)

_HOSTS = ActorCache()


def member_hosts(count: int, cpus: float) -> list:
    """`count` member-host actors for this driver, reused across runs (one host set at a time)."""
    return _HOSTS.get((count, cpus), lambda: [remote_member_host(cpus).remote() for _ in range(count)])


def shutdown_hosts() -> None:
    """Kills every cached member host."""
    _HOSTS.clear()


class RayCommittee:
    """Committee members on Ray actors. Generation g's member i lives on host (i + g) mod n, so after a
    hand-off every share sits in a different process than before; outgoing members are deleted.

    Args:
      config, policy, settings: as for `LocalCommittee`.
      member_cpus: CPUs reserved per host actor (default 0: members are idle most of the round, and a
        reservation would compete with client workers for the 2 cores).
    """

    def __init__(self, config, policy, settings, member_cpus: float = 0.0) -> None:
        self.config, self.policy, self.settings = config, policy, settings
        self.hosts = member_hosts(len(config.committee), member_cpus)
        self.generation = 0
        self.offline: set[int] = set()
        self._spawn()

    @classmethod
    def factory(cls, member_cpus: float = 0.0):
        return lambda config, policy, settings: cls(config, policy, settings, member_cpus)

    def _key(self, i: int, generation: int | None = None) -> tuple:
        return (self.config.job_id, self.generation if generation is None else generation, i)

    def _host(self, i: int, generation: int | None = None):
        g = self.generation if generation is None else generation
        return self.hosts[(i + g) % len(self.hosts)]

    def _spawn(self) -> None:
        ray.get([
            self._host(i).create_member.remote(self._key(i), self.config, self.policy, self.settings)
            for i in self.config.committee
        ])

    def setup(self) -> np.ndarray:
        contribs = ray.get([self._host(i).create_keygen_contribution.remote(self._key(i)) for i in self.config.committee])
        ray.get([self._host(i).handle_keygen.remote(self._key(i), contribs) for i in self.config.committee])
        return self.config.ahe.combine_public_key(contribs)

    def take_offline(self, members) -> None:
        """Fault injection: these members vanish with their shares."""
        for i in members:
            if i not in self.offline:
                ray.get(self._host(i).drop_member.remote(self._key(i)))
                self.offline.add(i)
        logger.info("committee members %s offline", sorted(self.offline))

    def live_members(self) -> tuple[int, ...]:
        return tuple(i for i in self.config.committee if i not in self.offline)

    def noise_contributions(self, round_index: int, public_key_hat: np.ndarray) -> list[bytes]:
        pk = ray.put(public_key_hat)
        return ray.get([
            self._host(i).create_noise_contribution.remote(self._key(i), round_index, pk) for i in self.live_members()
        ])

    def partial_decryptions(self, request, trusted_head: bytes, subset: tuple[int, ...]) -> list[bytes]:
        ref = ray.put(request)
        return ray.get([self._host(i).handle_release_request.remote(self._key(i), ref, trusted_head) for i in subset])

    def rotate(self, generation: int) -> None:
        live, t = self.live_members(), self.config.threshold
        if len(live) < t:
            raise ThresholdError(f"hand-off needs threshold={t} live members, got {len(live)}")
        subset = live[:t]
        subs = dict(zip(subset, ray.get(
            [self._host(i).create_handoff.remote(self._key(i), subset, self.config.committee, t) for i in subset]
        )))
        ray.get([self._host(i).drop_member.remote(self._key(i)) for i in live])
        self.generation = generation
        self.offline = set()
        self._spawn()
        ray.get([
            self._host(k).handle_handoff.remote(self._key(k), [subs[i][k] for i in subset], t)
            for k in self.config.committee
        ])

    def shutdown(self) -> None:
        """Deletes the remaining members (the hosts stay for the next run)."""
        ray.get([self._host(i).drop_member.remote(self._key(i)) for i in self.live_members()])
        self.offline = set(self.config.committee)
