# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Generated gRPC service stubs (`*_pb2_grpc`) of the `loyal.v1` services (do not edit; run `make proto`).

The `.proto` sources and the message modules (`_pb2`, `.pyi`) stay in `loyal.protocols.proto`:
messages are data, and `protocols/` never imports grpc. The stubs are transport, and both
`loyal.server` (servicer bases, `add_*_to_server`) and `loyal.client` (`*Stub`) need them, so they
cannot live in either package without one importing the other. They live here, in the root
package: every `loyal.*` module already depends on it (importing any of them imports `loyal`), and it
already holds layer-neutral shared modules (`loyal.errors`). Flower does the same: its generated
code is `flwr.proto`, under the root package, shared by `flwr.server` and `flwr.client`.
Generated code only: no logic, and importing this package alone does not import grpc.
"""
