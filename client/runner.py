# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The ephemeral gRPC client: fetch the task, train locally, clip/encode/encrypt, submit once, exit.

The SSA steps wrap a training callable (as Flower's `secaggplus_mod.py` wraps the client app):
`run_client(..., train=fn)` calls `fn(task) -> update` and then the SSA core's `SsaClient` clips,
encodes and encrypts; this module only moves bytes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np

from loyal.client import constants
from loyal.client.constants import ClientStage, Key
from loyal.client.grpc_client import Session
from loyal.client.tls import Identity
from loyal.protocols.proto import convert
from loyal.protocols.ssa.job import Job
from loyal.protocols.proto.loyal.v1 import client_pb2, common_pb2
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.ssa import enrollment
from loyal.protocols.ssa.client import SsaClient, create_cohort_noise
from loyal.protocols.ssa.config import SsaConfig
from loyal.protocols.ssa.errors import AuthenticationError, PolicyViolationError

logger = logging.getLogger(__name__)

_ACCEPTING = (common_pb2.ROUND_STATE_OPEN, common_pb2.ROUND_STATE_COLLECTING)


@dataclasses.dataclass(frozen=True)
class TaskView:
    """The fetched task, decoded (what a training callable receives)."""

    job: Job
    round_index: int
    model_version: int
    public_key_hat: np.ndarray = dataclasses.field(repr=False)
    model_delta: np.ndarray | None = dataclasses.field(repr=False)


def check_task(t: client_pb2.Task, genesis: bytes | None, insecure: bool) -> TaskView:
    """Decodes a task a client may encrypt for: the pinned job (`genesis`), no unacknowledged
    `Job.security_issues`, and a committee key signed by t pinned members (`enrollment.verify_committee_key`).

    Raises:
      PolicyViolationError: the server runs another job than the published genesis.
      InsecureJobError: an unsafe job without `insecure`.
      AuthenticationError: the committee key lacks t valid member signatures.
    """
    job = convert.job_from_proto(t.job)
    if genesis is not None and job.genesis != genesis:
        raise PolicyViolationError(
            f"the server's job has genesis {job.genesis.hex()[:16]}…, not the published {genesis.hex()[:16]}…")
    job.check_secure(insecure)
    config = job.config_for_epoch(0)  # encryption does not depend on who decrypts
    pk = convert.residues_from_bytes(t.public_key_hat, config.ahe.ring, "public_key_hat")
    relayed = {k.member_id: bytes(k.signing_key) for k in t.member_keys}
    enrollment.verify_committee_key(job, pk, {g.member_id: bytes(g.signature) for g in t.key_signatures}, relayed)
    delta = convert.floats_from_bytes(t.model_delta, job.dim) if t.model_delta else None
    return TaskView(job, t.round, t.model_version, pk, delta)


class RoundClosed(TimeoutError):
    """The round a client waits for has closed (the server is past it): it will never accept the upload."""


def wait_for_task(session: Session, timeout_s: float, round_index: int | None = None, *, genesis: bytes | None = None,
                  insecure: bool = False) -> TaskView:
    """Polls GetTask until a round (or `round_index`) accepts uploads under a key t members signed
    (`check_task`); in-process callers of a known job pass `insecure=True` to skip the pin.

    Raises:
      TimeoutError: if none does within `timeout_s`; `RoundClosed` at once if `round_index` has closed.
      AuthenticationError: the committee key still lacks t valid signatures at the deadline.
    """
    end = time.monotonic() + timeout_s
    while True:
        t: client_pb2.Task = session.task()
        if t.state in _ACCEPTING and (round_index is None or t.round == round_index):
            try:
                return check_task(t, genesis, insecure)
            except AuthenticationError:
                if time.monotonic() > end:  # signatures arrive just after key generation: wait for them
                    raise
        if t.state == common_pb2.ROUND_STATE_DONE:
            raise TimeoutError("the job is done; no round accepts uploads")
        if round_index is not None and t.round > round_index:
            raise RoundClosed(f"round {round_index} has closed (the server is on round {t.round})")
        if time.monotonic() > end:
            raise TimeoutError(f"no round accepted uploads within {timeout_s} s (round {t.round}, state {t.state})")
        time.sleep(constants.POLL_S)


#: Federated data sets a client can train on, and the models each trains (`methods.kit.models.build_model`).
DATASETS: dict[str, tuple[str, ...]] = {
    "digits": ("digits-mlp", "digits-cnn"),
    "shakespeare": ("char-transformer-small", "char-transformer", "char-lstm"),
}


def trainer(data: str, client_index: int, *, num_clients: int = 100, local_steps: int = 5,
            local: dict[str, Any] | None = None) -> Callable[[TaskView], np.ndarray]:
    """A training callable: local steps of the job's model (`Job.model_name`) on one client's shard.

    The initial model is `build_model(job.model_name)` under `torch.manual_seed(job.model_seed)`, moved by
    the server's released model delta; the update is the local weight change. Digits shards come from a
    Dirichlet split into `num_clients`; Shakespeare shards are the speaking roles.

    Raises (when called):
      ValueError: the job's model is not one `data` trains, or its size is not the job's dim.
    """
    if data not in DATASETS:
        raise ValueError(f"data must be one of {sorted(DATASETS)}, got {data!r}")

    def train(task: TaskView) -> np.ndarray:
        import torch

        from loyal.methods.kit.models import build_model
        from loyal.methods.kit.train import LocalTrainConfig, get_flat_params, local_update, set_flat_params

        if task.job.model_name not in DATASETS[data]:
            raise ValueError(f"the job trains model {task.job.model_name!r}; {data} clients train {DATASETS[data]}")
        torch.manual_seed(task.job.model_seed)
        model = build_model(task.job.model_name)
        flat = get_flat_params(model)
        if flat.numel() != task.job.dim:
            raise ValueError(f"model {task.job.model_name!r} has {flat.numel()} parameters, job dim is {task.job.dim}")
        if task.model_delta is not None:
            set_flat_params(model, flat + torch.as_tensor(task.model_delta, dtype=flat.dtype))
        if data == "digits":
            from loyal.methods.kit.data import load_digits_federated

            shards = load_digits_federated(num_clients=num_clients)
        else:
            from loyal.methods.kit.data.shakespeare import load_shakespeare

            shards = load_shakespeare()
        x, y = shards.train_arrays(shards.client_ids[client_index % len(shards.client_ids)])
        config = LocalTrainConfig(**{"max_steps": local_steps, **(local or {})})
        delta, _ = local_update(model, x, y, config, seed=client_index)
        return delta.numpy().astype(np.float64)

    return train


def run_client(
    address: str,
    train: Callable[[TaskView], np.ndarray],
    *,
    identity: Identity | None = None,
    token: str | None = None,
    ca_file: str | None = None,
    round_index: int | None = None,
    timeout_s: float = 60.0,
    insecure_seed: bytes | None = None,
    genesis: bytes | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """One client's whole life: (enroll), fetch task, train, encrypt, submit once.

    Args:
      address: HOST:PORT of the server.
      train: task -> real update vector of length spec.dim.
      identity: an enrolled key (with client_id); else `token` enrolls a fresh key.
      token: one-time enrollment token.
      ca_file: CA certificate for TLS (None: plaintext on loopback).
      round_index: wait for this round (default: whichever round accepts uploads).
      insecure_seed: 32 bytes seeding encoding and encryption randomness (TESTS ONLY: makes the
        ciphertext reproducible and therefore not secret).
      genesis: the published genesis of the job (`Job.genesis`); the client refuses any other job.
      insecure: run without `genesis` and accept `Job.security_issues` (TESTS ONLY).

    Returns:
      {client_id, round, duplicate, bytes, attempts}.
    """
    if identity is None and token is None:
        raise ValueError("either identity (an enrolled key) or token (one-time enrollment) is required")
    if genesis is None and not insecure:
        raise ValueError("a client needs the job's published genesis (--genesis), or --insecure")
    with Session(address, ca_file) as s:
        if identity is None or identity.client_id is None:
            identity = identity or Identity()
            logger.info("stage %s", ClientStage.ENROLL)
            resp = s.call(s.client.Enroll, client_pb2.EnrollRequest(token=token, public_key=identity.public_key))
            identity.client_id = resp.client_id
        logger.info("stage %s", ClientStage.FETCH_TASK)
        task = wait_for_task(s, timeout_s, round_index, genesis=genesis, insecure=insecure)
        logger.info("stage %s", ClientStage.TRAIN)
        update = np.asarray(train(task), dtype=np.float64)
        logger.info("stage %s", ClientStage.ENCRYPT)
        config = task.job.config_for_epoch(0)
        prng = AesCtrPrng(insecure_seed, b"loyal/client") if insecure_seed else AesCtrPrng.from_os(b"loyal/client")
        payload = SsaClient(config).create_contribution(
            update, round_index=task.round_index, client_id=identity.client_id, public_key_hat=task.public_key_hat, prng=prng,
        )
        logger.info("stage %s", ClientStage.SUBMIT)
        nonce = prng.random_bytes(16) if insecure_seed else os.urandom(16)
        resp = s.upload(
            s.client.Submit, round_index=task.round_index, payload=payload, identity=identity, kind="client",
            job_id=config.job_id, nonce=nonce,
        )
        noise = upload_cohort_noise(s, resp, config=config, round_index=task.round_index,
                                    public_key_hat=task.public_key_hat, identity=identity, prng=prng)
        return {
            Key.CLIENT_ID: identity.client_id, Key.ROUND: resp.round, Key.DUPLICATE: resp.duplicate,
            Key.BYTES: len(payload), Key.ATTEMPTS: s.attempts, Key.NOISE: noise,
        }


def upload_cohort_noise(s: Session, answer: common_pb2.SubmitResponse, *, config: SsaConfig, round_index: int,
                        public_key_hat: np.ndarray, identity: Identity, prng: AesCtrPrng) -> bool:
    """After a data upload whose answer says `noise_wanted`: a noise-only share for the round (issue 15).
    True if stored; False if not asked, or if the round got its shares from others meanwhile."""
    if not answer.noise_wanted or answer.duplicate:
        return False
    payload = create_cohort_noise(config, round_index=round_index, client_id=identity.client_id,
                                  public_key_hat=public_key_hat, prng=prng)
    try:
        s.upload(s.client.SubmitNoise, round_index=round_index, payload=payload, identity=identity,
                 kind="cohort_noise", job_id=config.job_id, nonce=prng.random_bytes(16))
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        logger.info("noise share not taken: %s", e.details())
        return False
    return True


def is_status(error: BaseException, code: grpc.StatusCode) -> bool:
    """True if `error` is a gRPC error with `code` (helper for callers deciding what to retry)."""
    return isinstance(error, grpc.RpcError) and error.code() == code
