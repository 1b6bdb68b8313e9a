# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Cohort noise over gRPC (issue 15, deliverable 2): the data answer asks the first n_c uploaders for a
noise-only share (ClientService.SubmitNoise), the round closes with them, the members' audit checks them
(proofs on), and a client with no data in the round is refused."""

from __future__ import annotations

import grpc
import pytest

from loyal.client.constants import Key
from loyal.client.grpc_client import Session
from loyal.client.runner import run_client, wait_for_task
from loyal.client.tls import Identity
from loyal.protocols.proto.loyal.v1 import client_pb2
from loyal.protocols.rlwe.testing import InsecureFakePrng
from loyal.protocols.ssa.client import create_cohort_noise
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens, update_for

CLIENTS = 3


def test_first_uploaders_add_noise_and_the_round_releases(tmp_path):
    spec = make_spec(clients=CLIENTS, rounds=1, noise=1.0, prove_uploads=True, noise_contributors=2,
                     honest_noise_contributors=2)
    cfg = spec.config_for_epoch(0)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS + 1)) as srv:
        with member_threads(srv.address, 3) as members:
            with Session(srv.address, max_attempts=1) as s:  # an enrolled client with no data in the round
                task = wait_for_task(s, 30, insecure=True)
                ident = Identity()
                ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(
                    token=f"tok-{CLIENTS}", public_key=ident.public_key)).client_id
                noise = create_cohort_noise(cfg, round_index=0, client_id=ident.client_id,
                                            public_key_hat=task.public_key_hat, prng=InsecureFakePrng(1))
                with pytest.raises(grpc.RpcError) as e:
                    s.upload(s.client.SubmitNoise, round_index=0, payload=noise, identity=ident, kind="cohort_noise",
                             job_id=cfg.job_id, nonce=b"\x02" * 16)
                assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "sent no data" in e.value.details()
            results = [run_client(srv.address, lambda t, c=c: update_for(0, c), insecure=True, token=f"tok-{c}",
                                  round_index=0) for c in range(CLIENTS)]
        kinds = sorted(k for k, _, _ in srv.coord.store.parts(0)[0])
    assert all(isinstance(r, dict) for r in members.values()), members
    assert [r[Key.NOISE] for r in results] == [True, True, False]
    assert len(srv.coord.releases) == 1
    header = srv.coord.state.core.log[0].header
    assert (header.num_clients, header.num_noise) == (CLIENTS, 3 + 2)
    assert kinds.count("cohort_noise") == 2 and kinds.count("noise") == 3
