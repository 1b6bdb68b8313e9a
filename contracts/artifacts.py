# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Loads the committed solc artifacts under contracts/build/ (written by contracts/compile.js)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
#: The committed artifacts: package data of `loyal.contracts` (found the same way in a wheel and a checkout).
BUILD_DIR = Path(str(resources.files("loyal.contracts") / "build"))
SOURCE_DIR = CONTRACTS_DIR / "src"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: ABI, creation bytecode, runtime bytecode and solc metadata."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    metadata: str
    compiler: str


@functools.cache
def load_artifact(name: str = "OMLRegistry") -> Artifact:
    """Returns the artifact `contracts/build/<name>.json`.

    Raises:
      FileNotFoundError: if the artifact is missing (run `node contracts/compile.js`).
    """
    path = BUILD_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no artifact {path}; run `node contracts/compile.js`")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Artifact(
        name=data["contractName"],
        abi=tuple(data["abi"]),
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        metadata=data["metadata"],
        compiler=data["compiler"],
    )
