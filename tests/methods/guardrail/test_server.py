# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The batching queue, the HTTP service, and the host hook (refused prompts never reach the model)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account import Account

from loyal.contracts.eip712 import Domain
from loyal.contracts.host import HostServer, query_host
from loyal.methods.guardrail.classifiers import Verdict
from loyal.methods.guardrail.host_guard import GuardedModel
from loyal.methods.guardrail.server import BatchingGuard, GuardrailServer, benchmark, benchmark_direct, check_remote


def rule(prompt: str) -> Verdict:
    """The stand-in classifier: refuses prompts containing "bad"."""
    return Verdict("violence", False, 0.9) if "bad" in prompt else Verdict("allowed", True, 0.8)


class RecordingChecker:
    """check_batch that records its batch sizes and takes a little time per call (as a forward pass does)."""

    def __init__(self, delay_s: float = 0.01):
        self.sizes: list[int] = []
        self._delay_s = delay_s
        self._lock = threading.Lock()

    def __call__(self, prompts):
        with self._lock:
            self.sizes.append(len(prompts))
        time.sleep(self._delay_s)
        return [rule(p) for p in prompts]


@pytest.mark.parametrize("max_batch", [1, 8])
def test_batcher_respects_max_batch_and_matches_the_unbatched_answers(max_batch: int) -> None:
    checker = RecordingChecker()
    prompts = [f"prompt {i} {'bad' if i % 3 == 0 else 'fine'}" for i in range(40)]
    with BatchingGuard(checker, max_batch=max_batch, max_wait_s=0.02) as guard:
        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(guard.check, prompts))
    assert got == [rule(p) for p in prompts]  # oracle: one prompt at a time
    assert sum(checker.sizes) == 40 and max(checker.sizes) <= max_batch
    if max_batch > 1:
        assert max(checker.sizes) > 1  # concurrent prompts did share calls


def test_batcher_passes_errors_to_waiting_requests_and_keeps_serving() -> None:
    calls = []

    def flaky(prompts):
        calls.append(list(prompts))
        if len(calls) == 1:
            raise RuntimeError("model crashed")
        return [rule(p) for p in prompts]

    with BatchingGuard(flaky, max_batch=4, max_wait_s=0.0) as guard:
        with pytest.raises(RuntimeError, match="model crashed"):
            guard.check("first")
        assert guard.check("second") == rule("second")


def test_batcher_fails_if_used_outside_with_or_misconfigured() -> None:
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        BatchingGuard(RecordingChecker()).submit("x")
    with pytest.raises(ValueError, match="max_batch must be >= 1, got 0"):
        BatchingGuard(RecordingChecker(), max_batch=0)


def _post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_http_service_answers_single_and_list_requests_and_rejects_bad_bodies() -> None:
    with BatchingGuard(RecordingChecker(0.0), 8, 0.001) as guard, GuardrailServer(guard) as server:
        assert check_remote(server.url, "a bad idea") == {"category": "violence", "allowed": False, "score": 0.9}
        code, body = _post(server.url + "/v1/check", json.dumps({"prompts": ["ok", "bad"]}).encode())
        assert code == 200 and [v["allowed"] for v in body["verdicts"]] == [True, False]
        code, body = _post(server.url + "/v1/check", b'{"prompt": 3}')
        assert code == 400 and "body must be" in body["error"]
        code, body = _post(server.url + "/v2/check", b"{}")
        assert code == 404
        with urllib.request.urlopen(server.url + "/health", timeout=10) as resp:
            assert json.loads(resp.read()) == {"ok": True, "max_batch": 8}


def test_benchmarks_report_every_batch_size_relative_to_unbatched() -> None:
    http = benchmark(RecordingChecker(0.005), ["a", "b"], (1, 4), requests=16, concurrency=4)
    direct = benchmark_direct(RecordingChecker(0.005), ["a", "b"], (1, 4), requests=16)
    for rows in (http, direct):
        assert set(rows) == {"1", "4"} and rows["1"]["speedup_vs_unbatched"] == 1.0
    # a fixed cost per call: batches of 4 need a quarter of the calls
    assert direct["4"]["speedup_vs_unbatched"] > 2.0
    assert http["1"]["mean_batch"] == 1.0
    with pytest.raises(ValueError, match="must include 1"):
        benchmark_direct(RecordingChecker(), ["a"], (8,))


def test_guarded_model_never_calls_the_model_for_a_refused_prompt() -> None:
    seen: list[str] = []
    model = GuardedModel(lambda p: seen.append(p) or f"echo {p}", rule, refusal="no")
    assert model("a bad request") == "no"
    assert seen == [] and model.refused == 1
    assert model("homework help") == "echo homework help"
    assert seen == ["homework help"] and model.passed == 1


def test_host_server_with_the_guard_signs_the_refusal_and_skips_the_model() -> None:
    seen: list[str] = []
    account = Account.create()
    domain = Domain(chain_id=31337, verifying_contract="0x" + "11" * 20)
    with BatchingGuard(lambda ps: [rule(p) for p in ps], 4, 0.001) as guard:
        model = GuardedModel(lambda p: seen.append(p) or "answer", guard.check, refusal="refused")
        with HostServer(model, account, domain, "http://host") as host:
            refused = query_host(host.url, "something bad")
            allowed = query_host(host.url, "fractions please")
    assert refused.output == "refused" and allowed.output == "answer"
    assert seen == ["fractions please"]
    assert refused.signer(domain) == account.address
