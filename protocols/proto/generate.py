# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Regenerates the committed `_pb2`/`_pb2_grpc`/`.pyi` stubs from the `.proto` sources (build tool).

Run `make proto` (or `python -m loyal.protocols.proto.generate`). protoc writes imports as
`from loyal.v1 import common_pb2`; the stubs live in the installed package
`loyal.protocols.proto.loyal.v1`, so those imports are rewritten to the full module path (as
Flower keeps `flwr/proto/*.proto` importable under `flwr.proto`). `tests/server/test_proto_stubs.py`
regenerates into a temporary folder and fails if the committed stubs differ.
"""

from __future__ import annotations

import pathlib
import re
import sys

PROTO_ROOT = pathlib.Path(__file__).resolve().parent
PACKAGE_DIR = PROTO_ROOT / "loyal" / "v1"
_IMPORT = re.compile(rb"^from loyal\.v1 import ", re.MULTILINE)
_FULL = b"from loyal.protocols.proto.loyal.v1 import "
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_sources() -> list[pathlib.Path]:
    """The .proto files, sorted."""
    return sorted(PACKAGE_DIR.glob("*.proto"))


def generate(out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Runs grpc_tools.protoc on every source into `out_dir`/loyal/v1 and fixes imports.

    Returns:
      The generated files.

    Raises:
      RuntimeError: if protoc fails.
    """
    from grpc_tools import protoc  # build-time dependency only

    include = pathlib.Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_dir}",
        f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}",
        *[str(p.relative_to(PROTO_ROOT)) for p in proto_sources()],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    files = []
    for src in proto_sources():
        for suffix in SUFFIXES:
            path = out_dir / "loyal" / "v1" / (src.stem + suffix)
            path.write_bytes(_IMPORT.sub(_FULL, path.read_bytes()))
            files.append(path)
    return files


def main() -> int:
    generate(PROTO_ROOT)
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
