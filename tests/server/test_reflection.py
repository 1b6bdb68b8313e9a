# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Server reflection through the stock `grpcio-reflection` client: the listing and Loyal's descriptors,
beside the stock `grpcio-health-checking` client (what grpcurl and grpc_health_probe use)."""

from __future__ import annotations

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.server.harness import InProcessServer, make_spec

LISTED = ["grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "loyal.v1.ClientService",
          "loyal.v1.CommitteeService", "loyal.v1.ObserverService"]


def test_reflection_lists_every_service_and_serves_their_descriptors(tmp_path) -> None:
    with InProcessServer(str(tmp_path / "s.db"), make_spec()) as srv, grpc.insecure_channel(srv.address) as channel:
        # Execute: the stock reflection client's listing, and a descriptor pool built from reflection alone.
        db = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(db.get_services())
        pool = DescriptorPool(db)
        committee = pool.FindServiceByName("loyal.v1.CommitteeService")
        submit = pool.FindServiceByName("loyal.v1.ClientService").methods_by_name["Submit"]
        # The raw stub answers an unknown symbol with NOT_FOUND (grpcurl's "symbol not found").
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        (answer,) = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol="loyal.v1.Nope")]))
        # The stock health client on the same channel.
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="loyal.v1.ClientService"))
    # Assert
    assert services == LISTED
    assert {"Join", "GetWork", "SubmitPartial"} <= {m.name for m in committee.methods}
    assert submit.client_streaming and submit.input_type.full_name.startswith("loyal.v1.")
    assert answer.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert health.status == health_pb2.HealthCheckResponse.SERVING
