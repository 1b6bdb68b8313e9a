# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal demo` as the main job: Ray + SSA + DP-FTRL training, OML fingerprints, on-chain proof (tiny sizes)."""

from __future__ import annotations

import dataclasses
import json
import math

from loyal.methods.kit.models import load_model
from loyal.sim.demo import DemoConfig, new_run_dir, run_demo


def test_demo_writes_metrics_plot_model_and_runs_every_stage(ray_cluster, tmp_path) -> None:
    # Prepare: a tiny demo (the real one: 100 clients x 20 rounds, `loyal demo`). With 6 clients a round the
    # DP noise dominates the update; at the default server step (2.0) two rounds of it left the model so peaked
    # that every fingerprint key it sampled was one repeated token (a full run failed on it, session 11), so
    # the tiny run takes small server steps and its model stays near its initialisation.
    config = dataclasses.replace(
        DemoConfig(), rounds=2, clients_per_round=6, local_steps=2, eval_clients=10, eval_samples_per_client=5,
        num_fingerprints=4, server_learning_rate=0.1,
    )
    stages = []
    # Execute
    metrics = run_demo(config, new_run_dir(tmp_path / "runs"), on_stage=stages.append)
    # Assert
    assert stages == ["train", "fingerprint", "chain"]
    run_dir = tmp_path / "runs" / next(p.name for p in (tmp_path / "runs").iterdir())
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["rounds"] == 2 and saved["clients_per_round"] == 6 and saved["aggregation"] == "dpftrl-ssa"
    assert 0.0 <= saved["test_accuracy"] <= 1.0 and 0.0 < saved["unigram_accuracy"] < 1.0
    assert math.isfinite(saved["epsilon"]) and saved["epsilon"] > 0 and saved["delta"] == config.delta
    assert [h["accepted"] for h in saved["history"]] == [6, 6]
    assert (run_dir / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = load_model(run_dir / "model")
    assert sum(p.numel() for p in model.parameters()) == metrics["parameters"]
    assert saved["oml"]["num_fingerprints"] == 4 and (run_dir / "oml" / "fingerprints.jsonl").is_file()
    assert saved["chain"]["verdict"] in ("owned", "not-proven", "skipped")
