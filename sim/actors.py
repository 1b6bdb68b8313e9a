# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Ray actors that wrap `client/` and `protocols/ssa` role objects (no protocol math here).

`ClientWorker` is a slot a client borrows for one task: it keeps only the model *architecture*; the
round's weights arrive with each task and every task starts from them, so nothing a client did survives
it (clients are ephemeral). `MemberHost` holds committee members, each with its private `MemberState`.
All inputs and results travel through Ray's object store; no actor reads a path another wrote.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Hashable

import numpy as np
import ray
import torch

from loyal.methods.kit.train import LocalTrainConfig, device, local_update, set_flat_params
from loyal.methods.fl.dpftrl_ssa import SsaSettings
from loyal.methods.fl.ticket import RoundTicket, create_upload


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build the task's model in any process (the architecture, not the weights)."""

    task: str
    vocab_size: int = 81
    width: int = 64
    layers: int = 1
    heads: int = 2

    def build(self) -> torch.nn.Module:
        from loyal.methods.kit.models import build_model, char_transformer

        if self.task == "shakespeare":
            return char_transformer(self.vocab_size, width=self.width, layers=self.layers, heads=self.heads)
        return build_model("digits-mlp")


@dataclasses.dataclass(frozen=True)
class ClientTask:
    """One client's work in one round (its data travels with it).

    Attributes:
      client_id: the client's identity (its index among eligible clients; its upload carries it and the
        participation ledger counts it).
      x, y: the client's training arrays.
      local: local training settings.
      seed: batch-order seed.
      truncate_upload: the client drops mid-upload (only half its bytes arrive).
      straggle_s: extra simulated latency (virtual time; nothing sleeps).
      identity: (raw Ed25519 key, server client id) when the worker uploads to a real server (grpc backend).
    """

    client_id: int
    x: np.ndarray
    y: np.ndarray
    local: LocalTrainConfig
    seed: int
    truncate_upload: bool = False
    straggle_s: float = 0.0
    identity: tuple[bytes, int] | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class ClientResult:
    """What reaches the server: a plaintext update (non-SSA) or the encrypted upload bytes (SSA)."""

    client_id: int
    update: np.ndarray | None
    upload: bytes | None
    loss: float
    latency_s: float
    truncated: bool
    accepted: bool | None = None


class ClientWorker:
    """Runs client tasks; holds no client state between tasks (see the module docstring)."""

    def __init__(self, spec: ModelSpec) -> None:
        torch.set_num_threads(1)
        self.device = device()  # CUDA when the actor was given a GPU share
        self.model = spec.build().to(self.device)

    def run(
        self, params: np.ndarray, task: ClientTask, ticket=None, settings: SsaSettings | None = None
    ) -> ClientResult:
        t0 = time.perf_counter()
        # A private copy on the model's device (Ray hands out read-only buffers).
        set_flat_params(self.model, torch.tensor(params, device=self.device))
        delta, loss = local_update(self.model, task.x, task.y, task.local, seed=task.seed)
        update, upload, accepted = delta.detach().cpu().numpy().astype(np.float32), None, None
        if ticket is not None:
            assert settings is not None
            prng = settings.prng(f"client/{ticket.round_index}/{task.client_id}")
            if task.identity is not None:  # the grpc backend: upload to the real server, if on time
                from loyal.sim.grpc_backend import upload_through_grpc

                late = time.perf_counter() - t0 + task.straggle_s > ticket.deadline_s
                accepted = not late and upload_through_grpc(
                    ticket, update.astype(np.float64), task.identity, prng, task.truncate_upload)
            else:
                upload = create_upload(ticket, update.astype(np.float64), task.client_id, prng)
                if task.truncate_upload:
                    upload = upload[: len(upload) // 2]
            update = None
        elif task.truncate_upload:
            update = None  # a plaintext update cut mid-way is unusable: lost
        latency = time.perf_counter() - t0 + task.straggle_s
        return ClientResult(task.client_id, update, upload, loss, latency, task.truncate_upload, accepted)


class MemberHost:
    """A process hosting committee members (`loyal.protocols.ssa.committee.CommitteeMember`, each with its
    private state), keyed by member id; a member's state lives only here and is deleted when the member
    leaves (hand-off or fault). Hosts are reused across runs so a run does not pay a process start per member.
    """

    def __init__(self) -> None:
        self.members: dict[int, object] = {}

    def create_member(self, job, member_id: int, insecure_seed: bytes | None) -> bool:
        from loyal.protocols.ssa.committee import CommitteeMember

        self.members[member_id] = CommitteeMember(job, member_id, insecure_seed)
        return True

    def drop_member(self, member_id: int) -> bool:
        return self.members.pop(member_id, None) is not None

    def call(self, member_id: int, method: str, *args):
        """Runs one `CommitteeMember` method of a hosted member."""
        return getattr(self.members[member_id], method)(*args)


def remote_client_worker(num_cpus: float, num_gpus: float = 0.0):
    """The `ClientWorker` actor class with fractional CPUs (and GPUs when CUDA exists)."""
    return ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(ClientWorker)


def remote_member_host(num_cpus: float = 0.05):
    """The `MemberHost` actor class with a small CPU share (members are idle most of the round)."""
    return ray.remote(num_cpus=num_cpus)(MemberHost)


class ActorCache:
    """One set of actors at a time, reused across runs of this driver and keyed by shape and Ray job.

    Asking for another key kills the cached set first: an idle set of another shape would hold its CPU
    reservations forever and starve later runs (or Flower, which sizes its pool from the cluster).
    """

    def __init__(self) -> None:
        self._sets: dict[tuple, list] = {}

    def get(self, key: Hashable, make: Callable[[], list]) -> list:
        """The actors cached under `key` (plus the current job id), made by `make()` if absent."""
        full_key = (key, ray.get_runtime_context().get_job_id())
        if full_key not in self._sets:
            self.clear()
            self._sets[full_key] = make()
        return self._sets[full_key]

    def clear(self) -> None:
        """Kills every cached actor."""
        for actors in self._sets.values():
            for actor in actors:
                with contextlib.suppress(Exception):  # the cluster may already be gone
                    ray.kill(actor)
        self._sets.clear()
