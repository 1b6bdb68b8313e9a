# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`loyal bench server` end to end at a tiny size: both servers get every upload, the real one stores and
releases the round, and the store's durability mode is the one asked for and reported."""

from __future__ import annotations

import json

from loyal.app import main


def test_bench_server_runs_a_round_and_reports_its_durability(tmp_path, capsys):
    assert main(["bench", "server", "--dim", "512", "--submissions", "2", "--synchronous", "NORMAL",
                 "--out", str(tmp_path), "--json"]) == 0
    r = json.loads((tmp_path / "server.json").read_text())
    assert r["synchronous"] == "NORMAL" and r["releases"] == 1
    assert all(len(v) == r["repeats"] for v in r["times_s"].values())
    assert r["sqlite_bytes_per_upload"] > 0 and r["segment_bytes_per_upload"] >= r["upload_bytes"]
    assert "synchronous=NORMAL" in (tmp_path / "server.md").read_text()
