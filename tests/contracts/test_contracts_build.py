# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The committed artifacts under contracts/build/ are what solcjs makes of contracts/src/ today."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from loyal.contracts.artifacts import BUILD_DIR, CONTRACTS_DIR, load_artifact
from loyal.contracts import errors

_NODE_MODULES = CONTRACTS_DIR / "node_modules" / "solc"


@pytest.mark.skipif(
    not _NODE_MODULES.is_dir() or shutil.which("node") is None,
    reason="contracts/node_modules is absent (run `make install`, which runs `npm ci` in contracts/)",
)
def test_artifacts_are_not_stale(tmp_path):
    # Execute: recompile into a temporary folder with the pinned solcjs.
    subprocess.run(
        ["node", str(CONTRACTS_DIR / "compile.js"), "--out", str(tmp_path)],
        check=True, capture_output=True, text=True, timeout=120,
    )
    # Assert: same files, byte-identical ABI, bytecode and metadata.
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in BUILD_DIR.glob("*.json"))
    assert fresh == committed, "contracts/build/ is stale: run `node contracts/compile.js` and commit"
    for name in fresh:
        new = json.loads((tmp_path / name).read_text())
        old = json.loads((BUILD_DIR / name).read_text())
        for key in ("abi", "bytecode", "deployedBytecode", "metadata", "compiler"):
            assert new[key] == old[key], f"contracts/build/{name}: {key} is stale; run `node contracts/compile.js`"


@pytest.mark.slow
@pytest.mark.skipif(
    not (CONTRACTS_DIR / "node_modules" / "hardhat").is_dir() or shutil.which("npx") is None,
    reason="contracts/node_modules is absent (run `make install`, which runs `npm ci` in contracts/)",
)
def test_hardhat_compile_reproduces_the_committed_bytecode(tmp_path):
    # Execute: `npx hardhat compile` (the project's hardhat.config.js) into a temporary folder.
    env = {**os.environ, "LOYAL_HARDHAT_OUT": str(tmp_path), "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    subprocess.run(["npx", "hardhat", "compile", "--force"], cwd=CONTRACTS_DIR, env=env, check=True,
                   capture_output=True, text=True, timeout=300)
    # Assert: every committed contract is there, with the same ABI and byte-identical bytecode.
    for path in sorted(BUILD_DIR.glob("*.json")):
        ours = json.loads(path.read_text())
        built = json.loads((tmp_path / "artifacts" / ours["sourceName"] / path.name).read_text())
        for key in ("abi", "bytecode", "deployedBytecode"):
            assert built[key] == ours[key], f"npx hardhat compile differs from contracts/build/{path.name} in {key}"


def test_artifact_is_cancun_solc_0_8_28():
    artifact = load_artifact()
    metadata = json.loads(artifact.metadata)
    assert metadata["compiler"]["version"].startswith("0.8.28")
    assert metadata["settings"]["evmVersion"] == "cancun"
    assert artifact.bytecode.startswith("0x") and len(artifact.bytecode) > 1000


def test_every_registry_error_has_a_python_exception():
    abi_errors = {item["name"] for item in load_artifact().abi if item["type"] == "error"}
    ours = {name for name in abi_errors if name.startswith("OMLRegistry")}
    assert ours == set(errors.ERROR_CLASSES)
