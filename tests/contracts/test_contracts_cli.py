# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal chain ...`: successive calls share the journaled embedded chain; the demo proves ownership."""

from __future__ import annotations

import json

import pytest

from loyal.app import main
from loyal.contracts import errors
from loyal.contracts.chain import insecure_dev_account, open_chain
from loyal.contracts.client import OMLRegistryClient
from loyal.contracts.demo import run_chain_demo, stand_in_fingerprints
from loyal.contracts.host import HostServer
from loyal.contracts.workflow import StandInModel


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x01\x02")
    fps = tmp_path / "fp.jsonl"
    pairs = stand_in_fingerprints(16)
    fps.write_text("".join(json.dumps({"key": p.key, "response": p.response}) + "\n" for p in pairs))
    return model, fps, pairs, tmp_path / "state.json"


def test_cli_flow_persists_the_embedded_chain(capsys, files):
    model, fps, pairs, state = files
    s = ["--state", str(state), "--json"]
    deployed = _json(capsys, ["chain", "deploy", *s])
    registered = _json(capsys, ["chain", "register-model", "--model", str(model), "--fingerprints", str(fps), *s])
    assert registered["model_id"] == 1 and registered["threshold"] == 4  # τ for M=8, p0=0.01, FPR 1e-6
    licensed = _json(capsys, ["chain", "license-host", "--model-id", "1", "--fingerprints", str(fps),
                              "--assignment-size", "10", "--stake", "5000", *s])
    assert licensed["assigned"] == 10
    # The host serves from this process; the CLI replays the journal into a fresh chain on every call.
    chain = open_chain(None, state)
    registry = OMLRegistryClient(chain, deployed["registry"])
    with HostServer(StandInModel(pairs), insecure_dev_account("host"), registry.domain, 1) as server:
        claim = _json(capsys, ["chain", "challenge", "--model-id", "1", "--fingerprints", str(fps),
                               "--host-url", server.url, "--queries", "6", *s])
    assert (claim["licensed"], claim["matches"], claim["slashed"]) == (True, 6, 5000)
    status = _json(capsys, ["chain", "status", *s])
    assert status["registry"] == deployed["registry"]
    assert status["models"][0]["spent_fingerprints"] == 6 and status["claims"][0]["slashed"] == 5000


def test_cli_fails_if_registering_twice(capsys, files):
    model, fps, _, state = files
    s = ["--state", str(state)]
    assert main(["chain", "deploy", *s]) == 0
    assert main(["chain", "register-model", "--model", str(model), "--fingerprints", str(fps), *s]) == 0
    capsys.readouterr()
    assert main(["chain", "register-model", "--model", str(model), "--fingerprints", str(fps), *s]) == 2
    assert "OMLRegistryModelAlreadyRegistered(modelHash=0x" in capsys.readouterr().err


def test_cli_fails_without_deployment(capsys, files):
    model, fps, _, state = files
    assert main(["chain", "register-model", "--model", str(model), "--fingerprints", str(fps), "--state", str(state)]) == 2
    assert "no registry deployed on this chain; run `loyal chain deploy` first" in capsys.readouterr().err


def test_chain_demo_json_reports_verdict_and_slash(capsys):
    out = _json(capsys, ["chain", "demo", "--json"])
    assert {"model_id", "verdict", "slashed", "spent_fingerprints", "gas"} <= out.keys()
    assert (out["verdict"], out["slashed"], out["spent_fingerprints"]) == ("owned", 10**18, 8)
    assert out["matches"] == 8 and out["gas"]["challenge(8)"] > out["gas"]["licenseHost"]


def test_chain_demo_fails_if_host_serves_an_unrelated_model():
    with pytest.raises(errors.OMLRegistryBelowThreshold, match=r"OMLRegistryBelowThreshold\(matches=0, threshold=4\)"):
        run_chain_demo(model=lambda prompt: "an unrelated answer")
