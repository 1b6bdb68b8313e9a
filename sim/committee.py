# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The SSA committee on Ray actors: a `Transport` (`loyal.protocols.ssa.committee`) whose members are
`CommitteeMember`s living in `MemberHost` actors, one member per host at a time."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np
import ray

from loyal.protocols.ssa.committee import insecure_member_seed
from loyal.protocols.ssa.job import Job
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
    """Committee members in Ray actors. Member m lives on host m mod n, so after a hand-off (fresh member
    ids) every share sits in a different process than before; outgoing members are deleted.

    Args:
      job: the job; insecure_seed: the committee seed (simulation only; None: os.urandom in each member).
      member_cpus: CPUs reserved per host actor (default 0: members are idle most of the round, and a
        reservation would compete with client workers for the 2 cores).
    """

    def __init__(self, job: Job, insecure_seed: bytes | None = None, member_cpus: float = 0.0) -> None:
        self.job, self.seed = job, insecure_seed
        self.hosts = member_hosts(max(len(job.committee(e)[0]) for e in range(len(job.rotations) + 1)), member_cpus)
        self.created: set[int] = set()
        self.offline: set[int] = set()

    @classmethod
    def factory(cls, member_cpus: float = 0.0):
        return lambda job, seed: cls(job, seed, member_cpus)

    def _host(self, m: int):
        return self.hosts[m % len(self.hosts)]

    def _ensure(self, members: Iterable[int]) -> None:
        new = [m for m in members if m not in self.created]
        ray.get([self._host(m).create_member.remote(
            self.job, m, None if self.seed is None else insecure_member_seed(self.seed, m)) for m in new])
        self.created.update(new)

    def take_offline(self, members: Iterable[int]) -> None:
        """Fault injection: these members vanish with their shares."""
        for m in members:
            if m not in self.offline:
                ray.get(self._host(m).drop_member.remote(m))
                self.offline.add(m)
        logger.info("committee members %s offline", sorted(self.offline))

    def live(self, members: Iterable[int]) -> list[int]:
        return [m for m in members if m not in self.offline]

    def keygen(self, members: Sequence[int]) -> np.ndarray:
        self._ensure(members)
        contribs = ray.get([self._host(m).call.remote(m, "create_keygen_contribution") for m in members])
        ray.get([self._host(m).call.remote(m, "handle_keygen", contribs) for m in members])
        return self.job.config_for_epoch(0).ahe.combine_public_key(contribs)

    def noise(self, members: Sequence[int], round_index: int, public_key_hat: np.ndarray) -> list[bytes]:
        pk = ray.put(public_key_hat)
        return ray.get([self._host(m).call.remote(m, "create_noise_contribution", round_index, pk) for m in members])

    def partials(self, members: Sequence[int], frame: bytes) -> list[bytes]:
        ref = ray.put(frame)
        return ray.get([self._host(m).call.remote(m, "handle_release_request", ref) for m in members])

    def handoff(self, subset: Sequence[int], epoch: int, new_threshold: int) -> None:
        new = self.job.committee(epoch)[0]
        out = dict(zip(subset, ray.get(
            [self._host(i).call.remote(i, "create_handoff", epoch, tuple(subset), new_threshold) for i in subset])))
        old = self.job.committee(epoch - 1)[0]
        ray.get([self._host(i).drop_member.remote(i) for i in old if i in self.created and i not in self.offline])
        self.offline.update(old)  # outgoing members never return
        self._ensure(new)
        ray.get([self._host(k).call.remote(k, "handle_handoff", [out[i][1][k] for i in subset], [out[i][0] for i in subset])
                 for k in new])

    def shutdown(self) -> None:
        """Deletes the remaining members (the hosts stay for the next run)."""
        ray.get([self._host(m).drop_member.remote(m) for m in self.created - self.offline])
        self.offline |= self.created
