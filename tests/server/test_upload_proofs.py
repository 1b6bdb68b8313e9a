# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Upload proofs over gRPC (issue 14, attack 1): honest clients' proofs verify and their round releases;
the attack ciphertext (c0, c1) = (0, 2^j) under an honest client's proof is refused with
INVALID_ARGUMENT before it touches the aggregate."""

from __future__ import annotations

import dataclasses

import grpc
import numpy as np
import pytest

from loyal.client.grpc_client import Session
from loyal.client.runner import run_client, wait_for_task
from loyal.client.tls import Identity
from loyal.protocols.proto.loyal.v1 import client_pb2
from loyal.protocols.rlwe.ahe import AheCiphertext
from loyal.protocols.ssa.client import SsaClient
from loyal.protocols.ssa.messages import Kind, parse_contribution, serialize_contribution
from tests.server.harness import InProcessServer, make_spec, member_threads, tokens, update_for

CLIENTS = 2


def test_proven_uploads_release_and_the_attack_upload_is_refused(tmp_path):
    spec = make_spec(clients=CLIENTS, rounds=1, prove_uploads=True)
    cfg = spec.config_for_epoch(0)
    with InProcessServer(str(tmp_path / "s.db"), spec, toks=tokens(CLIENTS + 1)) as srv:
        with member_threads(srv.address, 3) as results:
            with Session(srv.address, max_attempts=1) as s:
                task = wait_for_task(s, 30, insecure=True)
                ident = Identity()
                ident.client_id = s.call(s.client.Enroll, client_pb2.EnrollRequest(
                    token=f"tok-{CLIENTS}", public_key=ident.public_key)).client_id
                honest = SsaClient(cfg).create_contribution(update_for(0, 9), round_index=0, client_id=ident.client_id,
                                                            public_key_hat=task.public_key_hat)
                msg, _ = parse_contribution(honest, job_id=cfg.job_id, kahe_ring=cfg.kahe.ring, ahe_ring=cfg.ahe.ring,
                                            num_polys=cfg.num_polys, kind=Kind.CLIENT_CONTRIBUTION)
                ring = cfg.ahe.ring
                c1 = ring.ntt(ring.from_int(np.concatenate([[1 << 50], np.zeros(ring.degree - 1, dtype=object)])))
                attack = dataclasses.replace(msg, ahe=AheCiphertext(np.zeros_like(c1).astype(np.uint32), c1.astype(np.uint32)))
                with pytest.raises(grpc.RpcError) as e:
                    s.upload(s.client.Submit, round_index=0, payload=serialize_contribution(attack, cfg.job_id),
                             identity=ident, kind="client", job_id=cfg.job_id, nonce=b"\x01" * 16)
                assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ProofError" in e.value.details()
                assert srv.coord.state.clients == 0  # nothing stored
            for c in range(CLIENTS):
                run_client(srv.address, lambda t, c=c: update_for(0, c), insecure=True, token=f"tok-{c}", round_index=0)
    assert all(isinstance(r, dict) for r in results.values()), results
    assert len(srv.coord.releases) == 1
