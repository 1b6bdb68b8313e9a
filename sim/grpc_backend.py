# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The simulation's `grpc` server backend: the real `loyal server` as a process (TLS, one-time
enrollment tokens, SQLite store), committee members as gRPC member processes (threads of a Ray
actor, `client.committee.CommitteeRunner`), and Ray client workers that upload through the gRPC
client. `GrpcDPFTRL` gives `run_simulation` the same surface as the in-process `DPFTRLSsa`; both
build the job with `ssa_job` and draw client and member randomness from the same labels, so
same-seed runs of the two backends release identical aggregates (tested).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import secrets
import tempfile
import threading
import time

import numpy as np
import ray
import torch

from loyal.client.grpc_client import Session
from loyal.client.tls import Identity, raw_private
from loyal.methods.fl.dp_common import PrivacyConfig
from loyal.methods.fl.dpftrl_plaintext import LearnerState
from loyal.methods.fl.dpftrl_ssa import SsaSettings, ssa_job
from loyal.protocols.proto.convert import release_from_proto
from loyal.protocols.proto.loyal.v1 import client_pb2, observer_pb2
from loyal.protocols.ssa.committee import insecure_member_seed
from loyal.protocols.ssa.job import Job
from loyal.protocols.ssa.log import release_digest
from loyal.server.process import ServerProcess

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GrpcTicket:
    """What a Ray client worker needs to upload to the real server (public data plus the CA)."""

    address: str
    ca_pem: bytes = dataclasses.field(repr=False)
    job: Job
    round_index: int
    public_key_hat: np.ndarray = dataclasses.field(repr=False)
    deadline_s: float = float("inf")


class CommitteeHost:
    """A Ray actor running the gRPC member role of several committee members, one thread each."""

    def __init__(self) -> None:
        self.stops: dict[int, threading.Event] = {}
        self.results: dict[int, object] = {}

    def start(self, address: str, ca_pem: bytes, members: list[int], seeds: dict[int, bytes | None], genesis: bytes) -> bool:
        from loyal.client.committee import CommitteeRunner

        ca = pathlib.Path(tempfile.mkdtemp(prefix="loyal-member-")) / "ca.crt"
        ca.write_bytes(ca_pem)

        def run(m: int) -> None:
            try:
                self.results[m] = CommitteeRunner(address, m, ca_file=str(ca), insecure_seed=seeds[m], stop=self.stops[m],
                                                 genesis=genesis, insecure=True).run(3600)
            except Exception as e:  # noqa: BLE001 - reported through results
                self.results[m] = repr(e)

        for m in members:
            self.stops[m] = threading.Event()
            threading.Thread(target=run, args=(m,), daemon=True).start()
        return True

    def stop(self, members: list[int]) -> bool:
        for m in members:
            self.stops[m].set()
        return True

    def report(self) -> dict[int, object]:
        return dict(self.results)


class GrpcCommittee:
    """The committee of a served job: every epoch's members in one Ray actor (zero CPUs: they poll)."""

    def __init__(self, job: Job, server: ServerProcess, seed: bytes | None) -> None:
        self.members = [m for e in range(len(job.rotations) + 1) for m in job.committee(e)[0]]
        self.actor = ray.remote(num_cpus=0)(CommitteeHost).remote()
        seeds = {m: None if seed is None else insecure_member_seed(seed, m) for m in self.members}
        ray.get(self.actor.start.remote(server.address, server.ca_pem, self.members, seeds, job.genesis))

    def take_offline(self, members) -> None:
        """Fault injection: these members vanish (the server reissues their requests after its deadline)."""
        ray.get(self.actor.stop.remote(list(members)))

    def shutdown(self) -> None:
        ray.get(self.actor.stop.remote(self.members))
        ray.kill(self.actor)


class GrpcDPFTRL:
    """DP-FTRL under SSA with the real server; the surface `run_simulation` uses of `DPFTRLSsa`.

    Args:
      privacy, dim, settings, server_learning_rate, momentum, cohort_size: as for `DPFTRLSsa`.
      clients: identities of every client the run may sample (each gets a one-time enrollment token).
      round_seconds: the server's round deadline (a round with dropouts closes then).
      reissue_seconds: the server reissues a silent member's request after this long.
    """

    name = "dpftrl-ssa"

    def __init__(self, privacy: PrivacyConfig, dim: int, settings: SsaSettings, server_learning_rate: float,
                 momentum: float, cohort_size: int, clients: int, round_seconds: float = 60.0,
                 reissue_seconds: float = 2.0) -> None:
        self.privacy, self.settings = privacy, settings
        self.mechanism = privacy.build()
        self.job = ssa_job(privacy, dim, settings, cohort_size)
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="loyal-sim-server-"))
        self.tokens = [secrets.token_urlsafe(18) for _ in range(clients)]
        self.server = ServerProcess(self.job, self.folder, self.tokens, round_seconds, reissue_seconds)
        self.session = Session(self.server.address, str(self.server.tls / "ca.crt"))
        self.committee = GrpcCommittee(self.job, self.server, settings.committee_seed)
        self.identities: dict[int, Identity] = {}
        self.learner = LearnerState(server_learning_rate, momentum)
        self.values: list[np.ndarray] = []
        self.release_digests: list[str] = []
        self.rejected = 0

    @property
    def config(self):
        return self.job.config_for_epoch(0)

    @property
    def epoch(self) -> int:
        """The committee epoch that served the last released round."""
        return self.job.epoch_of_round(max(len(self.values) - 1, 0))

    def _reconnect(self) -> None:
        self.session.close()
        self.session = Session(self.server.address, str(self.server.tls / "ca.crt"))

    def ticket(self, deadline_s: float = float("inf")) -> GrpcTicket:
        """Waits until the server accepts uploads for the next round; its public data for the workers."""
        from loyal.client.runner import wait_for_task

        task = wait_for_task(self.session, 120.0, len(self.values), genesis=self.job.genesis, insecure=True)
        return GrpcTicket(self.server.address, self.server.ca_pem, self.job, task.round_index, task.public_key_hat, deadline_s)

    def identity(self, client: int) -> tuple[bytes, int]:
        """(raw Ed25519 key, server client id) of sampled client `client`, enrolled on first use."""
        ident = self.identities.get(client)
        if ident is None:
            ident = Identity()
            ident.client_id = self.session.call(self.session.client.Enroll, client_pb2.EnrollRequest(
                token=self.tokens[client], public_key=ident.public_key)).client_id
            self.identities[client] = ident
        return raw_private(ident.key), ident.client_id

    def finish_round(self, params: torch.Tensor, accepted: int, timeout_s: float = 300.0) -> torch.Tensor:
        """Waits for the round's release (the server closes it once full or at its deadline) and steps the learner."""
        rnd, end = len(self.values), time.monotonic() + timeout_s
        while True:
            rels = self.session.observer.ListReleases(observer_pb2.ReleasesRequest(from_index=rnd)).releases
            if rels:
                break
            if time.monotonic() > end:
                raise TimeoutError(f"round {rnd} was not released within {timeout_s} s ({accepted} uploads accepted)")
            time.sleep(0.05)
        rel = release_from_proto(rels[0])
        self.values.append(rel.values)
        self.release_digests.append(release_digest(rel.integer_values).hex())
        return self.learner.step(params, self.job.policy.prefix_sum(self.values), self.privacy.expected_clients)

    def restart_server(self) -> None:
        """Fault: SIGKILL the server and restart it on the same store and port."""
        self.server.kill()
        self.server.start()
        self._reconnect()
        logger.info("server killed and restarted on %s", self.server.address)

    def privacy_report(self) -> dict:
        out = self.privacy.report(self.mechanism)
        out.update(parameter_set=self.job.params_name, bytes_per_client=self.config.bytes_per_client(),
                   committee_size=self.settings.committee_size, threshold=self.settings.threshold,
                   quantization_step=self.config.encoder.quantization_step, coefficient_scale_bits=self.settings.scale_bits,
                   server="grpc")
        return out

    def close(self) -> None:
        self.committee.shutdown()
        self.session.close()
        self.server.kill()


def upload_through_grpc(ticket: GrpcTicket, update: np.ndarray, identity: tuple[bytes, int], prng, truncate: bool) -> bool:
    """The client step of a Ray worker: encrypt, then sign and stream to the server; True if accepted."""
    import grpc
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from loyal.protocols.ssa.client import SsaClient

    from loyal.client.runner import upload_cohort_noise

    key, client_id = identity
    config = ticket.job.config_for_epoch(0)
    payload = SsaClient(config).create_contribution(
        update, round_index=ticket.round_index, client_id=client_id, public_key_hat=ticket.public_key_hat, prng=prng)
    if truncate:
        payload = payload[: len(payload) // 2]  # the connection drops mid-upload: the server gets half
    ca = pathlib.Path(tempfile.gettempdir()) / f"loyal-ca-{os.getpid()}.crt"
    ca.write_bytes(ticket.ca_pem)
    ident = Identity(Ed25519PrivateKey.from_private_bytes(key), client_id)
    with Session(ticket.address, str(ca), max_attempts=3) as s:
        try:
            answer = s.upload(s.client.Submit, round_index=ticket.round_index, payload=payload, identity=ident,
                              kind="client", job_id=ticket.job.job_id, nonce=prng.random_bytes(16))
            upload_cohort_noise(s, answer, config=config, round_index=ticket.round_index,
                                public_key_hat=ticket.public_key_hat, identity=ident, prng=prng)
            return True
        except grpc.RpcError as e:
            logger.info("upload rejected: %s", e.details())
            return False


__all__ = ["GrpcDPFTRL", "GrpcTicket", "upload_through_grpc"]
