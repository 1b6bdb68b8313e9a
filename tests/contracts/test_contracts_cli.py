# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal chain ...`: successive calls share the journaled embedded chain; the demo proves ownership."""

from __future__ import annotations

import json
import time

import pytest

from loyal.app import main
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
    deployed = _json(capsys, ["chain", "deploy", "--dispute-window", "2", "--reveal-window", "600", "--min-stake", "1000",
                              "--notice-period", "3600", *s])
    registered = _json(capsys, ["chain", "register-model", "--model", str(model), "--fingerprints", str(fps),
                                "--slash-cap", "3000", *s])
    assert registered["model_id"] == 1 and registered["threshold"] == 4  # τ(8) for p0 = 0.01, FPR 1e-6
    _json(capsys, ["chain", "join", "--endpoint", "http://licensed", "--stake", str(10**15), *s])
    licensed = _json(capsys, ["chain", "license-host", "--model-id", "1", "--fingerprints", str(fps),
                              "--assignment-size", "10", "--fee", "5", *s])
    assert (licensed["assigned"], licensed["nonce"], licensed["fee"]) == (10, 1, 5)
    pirate = insecure_dev_account("pirate")
    _json(capsys, ["chain", "join", "--host-key", pirate.key.hex(), "--endpoint", "http://pirate",
                   "--stake", "5000", *s])

    def clock():  # the host's clock: wall time, never behind the journaled chain (the CLI replays it per call)
        journal = json.loads(state.read_text())["transactions"]
        return max(int(time.time()), journal[-1]["timestamp"])

    # The pirate serves from this process; the CLI replays the journal into a fresh chain on every call.
    registry = OMLRegistryClient(open_chain(None, state), deployed["registry"])
    with HostServer(StandInModel(pairs), pirate, registry.domain, "http://pirate", clock=clock) as server:
        claim = _json(capsys, ["chain", "challenge", "--model-id", "1", "--fingerprints", str(fps),
                               "--host-url", server.url, "--queries", "6", *s])
        # Finding 1: the licensed host is refused before any transaction.
        host = insecure_dev_account("host")
        with HostServer(StandInModel(pairs), host, registry.domain, "http://licensed") as licensed_server:
            assert main(["chain", "challenge", "--model-id", "1", "--fingerprints", str(fps), "--host-url",
                         licensed_server.url, "--queries", "6", "--state", str(state)]) == 2
        assert f"host {host.address} holds a licence for model 1: its answers are not slashable" in (
            capsys.readouterr().err)
    assert (claim["status"], claim["matches"], claim["expected_matches"], claim["threshold"]) == ("pending", 6, 6, 4)
    time.sleep(3)  # the 2 s dispute window passes
    final = _json(capsys, ["chain", "finalize", "--challenge-id", str(claim["challenge_id"]), *s])
    assert (final["status"], final["slashed"]) == ("upheld", 3000)
    # The replayed chain mines every journaled transaction at its recorded time.
    journal = json.loads(state.read_text())["transactions"]
    assert open_chain(None, state).now() == journal[-1]["timestamp"]
    status = _json(capsys, ["chain", "status", *s])
    assert status["registry"] == deployed["registry"]
    assert status["models"][0]["spent_fingerprints"] == 6 and status["challenges"][0]["slashed"] == 3000


def test_cli_fails_if_registering_twice(capsys, files):
    model, fps, _, state = files
    s = ["--state", str(state)]
    assert main(["chain", "deploy", *s]) == 0
    assert main(["chain", "register-model", "--model", str(model), "--fingerprints", str(fps), *s]) == 0
    capsys.readouterr()
    assert main(["chain", "register-model", "--model", str(model), "--fingerprints", str(fps), *s]) == 2
    assert "OMLRegistryModelAlreadyRegistered(owner=0x" in capsys.readouterr().err


def test_cli_fails_without_deployment(capsys, files):
    model, fps, _, state = files
    assert main(["chain", "register-model", "--model", str(model), "--fingerprints", str(fps), "--state", str(state)]) == 2
    assert "no registry deployed on this chain; run `loyal chain deploy` first" in capsys.readouterr().err


def test_chain_demo_json_reports_verdict_and_slash(capsys):
    out = _json(capsys, ["chain", "demo", "--json"])
    assert {"model_id", "verdict", "slashed", "spent_fingerprints", "gas"} <= out.keys()
    assert (out["verdict"], out["slashed"], out["spent_fingerprints"]) == ("owned", 10**18, 8)
    assert (out["matches"], out["threshold"], out["licensed_host_stake"]) == (8, 4, 10**18)
    assert out["gas"]["revealChallenge"] > out["gas"]["acceptLicense"]


def test_chain_demo_records_a_failed_challenge_if_host_serves_an_unrelated_model():
    out = run_chain_demo(model=lambda prompt: "an unrelated answer")
    assert (out["verdict"], out["matches"], out["slashed"], out["spent_fingerprints"]) == ("not-proven", 0, 0, 8)


def test_finding7_fingerprint_file_with_a_repeated_key_is_refused(capsys, files):
    model, fps, pairs, state = files
    fps.write_text(fps.read_text() + json.dumps({"key": pairs[3].key, "response": "other"}) + "\n")
    assert main(["chain", "deploy", "--state", str(state)]) == 0
    capsys.readouterr()
    assert main(["chain", "register-model", "--model", str(model), "--fingerprints", str(fps),
                 "--state", str(state)]) == 2
    assert f"{fps}: fingerprints 3 and 16 repeat the same key" in capsys.readouterr().err
