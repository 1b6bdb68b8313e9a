# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The committed gRPC stubs match a fresh generation from the .proto sources (fails when stale)."""

from __future__ import annotations

import importlib

import pytest

from loyal.protocols.proto import generate


def test_committed_stubs_are_not_stale(tmp_path):
    # Prepare / Execute: regenerate every stub into a temporary folder.
    fresh = generate.generate(tmp_path)
    # Assert: byte-identical to the committed files, and no committed stub without a source.
    assert fresh, "no stubs generated"
    for path in fresh:
        committed = generate.PACKAGE_DIR / path.name
        assert committed.exists(), f"{path.name} is not committed; run `make proto`"
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} is stale; run `make proto`"
    expected = {p.name for p in fresh}
    committed = {p.name for p in generate.PACKAGE_DIR.iterdir() if p.name.endswith(generate.SUFFIXES)}
    assert committed == expected


@pytest.mark.parametrize("module", ["client_pb2_grpc", "committee_pb2_grpc", "observer_pb2_grpc", "health_pb2_grpc"])
def test_stubs_import_from_the_installed_package(module):
    mod = importlib.import_module(f"loyal.protocols.proto.loyal.v1.{module}")
    assert any(name.endswith("Stub") for name in dir(mod))


def test_health_service_uses_the_standard_wire_name():
    from loyal.protocols.proto.loyal.v1 import health_pb2

    assert health_pb2.DESCRIPTOR.services_by_name["Health"].full_name == "grpc.health.v1.Health"
