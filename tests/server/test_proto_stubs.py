# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The committed protobuf messages and gRPC stubs match a fresh generation from the .proto files (fails when stale)."""

from __future__ import annotations

import pathlib

import importlib

import pytest

from loyal.protocols.proto import generate


def test_committed_stubs_are_not_stale(tmp_path):
    # Prepare / Execute: regenerate every message module and service stub into temporary folders.
    fresh = generate.generate(tmp_path / "messages", tmp_path / "services")
    # Assert: byte-identical to the committed files, and no committed file without a source.
    assert fresh, "no stubs generated"
    for path in fresh:
        folder = generate.RPC_DIR if path.name.endswith(generate.SERVICE_SUFFIX) else generate.PACKAGE_DIR
        committed = folder / path.name
        assert committed.exists(), f"{committed} is not committed; run `make proto`"
        assert committed.read_bytes() == path.read_bytes(), f"{committed} is stale; run `make proto`"
    messages = {p.name for p in generate.PACKAGE_DIR.iterdir() if p.name.endswith(generate.SUFFIXES)}
    services = {p.name for p in generate.RPC_DIR.iterdir() if p.name.endswith(generate.SUFFIXES)}
    assert messages == {p.name for p in fresh if p.parent == tmp_path / "messages"}
    assert services == {p.name for p in fresh if p.parent == tmp_path / "services"}


@pytest.mark.parametrize("module", ["client_pb2_grpc", "committee_pb2_grpc", "observer_pb2_grpc"])
def test_stubs_import_from_the_installed_package(module):
    mod = importlib.import_module(f"loyal.rpc.{module}")
    assert any(name.endswith("Stub") for name in dir(mod))


def test_health_is_the_stock_service_and_loads_beside_ours():
    """No copied health proto: importing ours and grpcio-health-checking together raised a duplicate symbol."""
    from grpc_health.v1 import health_pb2

    import loyal.protocols.proto.loyal.v1 as ours
    import loyal.server.app  # noqa: F401 - wires the stock servicer

    assert health_pb2.DESCRIPTOR.services_by_name["Health"].full_name == "grpc.health.v1.Health"
    assert not list(pathlib.Path(ours.__file__).parent.glob("health*"))
