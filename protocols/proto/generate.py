# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Regenerates the committed `_pb2`/`.pyi` messages and `_pb2_grpc` service stubs from the `.proto` files (build tool).

Run `make proto` (or `python -m loyal.protocols.proto.generate`). Messages are data and stay here,
in `loyal.protocols.proto.loyal.v1`; the service stubs import grpc, so they go to the transport
package `loyal.rpc` (see its docstring), keeping `protocols/` free of grpc. protoc writes imports as
`from loyal.v1 import common_pb2`; those are rewritten to the full module path
`loyal.protocols.proto.loyal.v1` (as Flower keeps `flwr/proto/*.proto` importable under `flwr.proto`).
`tests/server/test_proto_stubs.py` regenerates into a temporary folder and fails if the committed
files differ.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys
import tempfile

PROTO_ROOT = pathlib.Path(__file__).resolve().parent
PACKAGE_DIR = PROTO_ROOT / "loyal" / "v1"
#: Folder of the `loyal.rpc` package, where the service stubs are committed.
RPC_DIR = pathlib.Path(importlib.util.find_spec("loyal.rpc").origin).resolve().parent
_IMPORT = re.compile(rb"^from loyal\.v1 import ", re.MULTILINE)
_FULL = b"from loyal.protocols.proto.loyal.v1 import "
MESSAGE_SUFFIXES = ("_pb2.py", "_pb2.pyi")
SERVICE_SUFFIX = "_pb2_grpc.py"
SUFFIXES = (*MESSAGE_SUFFIXES, SERVICE_SUFFIX)


def proto_sources() -> list[pathlib.Path]:
    """The .proto files, sorted."""
    return sorted(PACKAGE_DIR.glob("*.proto"))


def generate(messages_dir: pathlib.Path, services_dir: pathlib.Path) -> list[pathlib.Path]:
    """Runs grpc_tools.protoc on every source and writes the fixed-up files.

    Args:
      messages_dir: folder for the `_pb2.py`/`_pb2.pyi` message modules (`PACKAGE_DIR` for `make proto`).
      services_dir: folder for the `_pb2_grpc.py` service stubs (`RPC_DIR` for `make proto`).
        Both are created if missing; existing files of the same name are overwritten.

    Returns:
      The written files.

    Raises:
      RuntimeError: if protoc fails.
    """
    from grpc_tools import protoc  # build-time dependency only

    include = pathlib.Path(protoc.__file__).resolve().parent / "_proto"
    files = []
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={tmp}",
            f"--pyi_out={tmp}", f"--grpc_python_out={tmp}",
            *[str(p.relative_to(PROTO_ROOT)) for p in proto_sources()],
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed: {' '.join(args)}")
        for src in proto_sources():
            for suffix in SUFFIXES:
                generated = pathlib.Path(tmp) / "loyal" / "v1" / (src.stem + suffix)
                path = (services_dir if suffix == SERVICE_SUFFIX else messages_dir) / generated.name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_IMPORT.sub(_FULL, generated.read_bytes()))
                files.append(path)
    return files


def main() -> int:
    generate(PACKAGE_DIR, RPC_DIR)
    for d in (PROTO_ROOT / "loyal", PACKAGE_DIR):
        init = d / "__init__.py"
        if not init.exists():
            init.write_text(
                "# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.\n"
                '"""Generated protobuf stubs (do not edit; run `make proto`)."""\n'
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
