# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The guardrail service: a batching queue in front of the classifier, served over HTTP on 127.0.0.1.

Protocol: ``POST /v1/check`` with ``{"prompt": str}`` answers ``{"category", "allowed", "score"}``; with
``{"prompts": [str, …]}`` it answers ``{"verdicts": […]}``. ``GET /health`` answers ``{"ok": true}``.
Concurrent requests are gathered into one classifier call of at most `max_batch` prompts, waiting at most
`max_wait_s` after the first prompt arrives (the dynamic batching of the paper's serving layer, arXiv 2408.01452).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from loyal.contracts.host import JsonHandler
from loyal.methods.guardrail.classifiers import Verdict

logger = logging.getLogger(__name__)

CheckBatch = Callable[[Sequence[str]], list[Verdict]]
_MAX_BODY = 1 << 20
_STOP = object()


class BatchingGuard:
    """Gathers prompts from many threads into batches for one `check_batch` call each (use as a context manager).

    Args:
      check_batch: prompts → verdicts, one per prompt, in order (e.g. `HeadClassifier.check`).
      max_batch: most prompts per call, >= 1 (1 = the unbatched path).
      max_wait_s: longest wait after the first queued prompt before a partial batch runs, >= 0.

    Notes:
      Larger `max_batch` raises throughput under load (one forward pass for many prompts); `max_wait_s`
      bounds the latency a lone request pays for the chance to share a batch.
    """

    def __init__(self, check_batch: CheckBatch, max_batch: int = 32, max_wait_s: float = 0.005):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self._check_batch, self.max_batch, self.max_wait_s = check_batch, max_batch, max_wait_s
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self.batch_sizes: list[int] = []

    def __enter__(self) -> BatchingGuard:
        self._worker = threading.Thread(target=self._run, name="guardrail-batcher", daemon=True)
        self._worker.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._queue.put(_STOP)
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def submit(self, prompt: str) -> Future:
        """Queues `prompt`; the future resolves to its `Verdict`."""
        if self._worker is None:
            raise RuntimeError("BatchingGuard used outside its `with` block")
        future: Future = Future()
        self._queue.put((prompt, future))
        return future

    def check(self, prompt: str, timeout_s: float = 30.0) -> Verdict:
        """Blocking `submit(prompt).result()`."""
        return self.submit(prompt).result(timeout=timeout_s)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = [first], False
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self.batch_sizes.append(len(batch))
            try:
                verdicts = self._check_batch([p for p, _ in batch])
                if len(verdicts) != len(batch):
                    raise AssertionError(f"check_batch returned {len(verdicts)} verdicts for {len(batch)} prompts")
                for (_, fut), v in zip(batch, verdicts):
                    fut.set_result(v)
            except Exception as e:  # the waiting requests get the error, the worker keeps serving
                for _, fut in batch:
                    fut.set_exception(e)
            if stop:
                return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the stdlib default (5) resets connections under a burst of concurrent clients


class GuardrailServer:
    """Serves a `BatchingGuard` on 127.0.0.1 from a background thread (use as a context manager; port 0: any free)."""

    def __init__(self, guard: BatchingGuard, port: int = 0, host: str = "127.0.0.1"):
        self._guard = guard
        self._server = _Server((host, port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Serves in the calling thread until interrupted (the `loyal guardrail serve` path)."""
        self._server.serve_forever()

    def close(self) -> None:
        """Releases the listening socket (after `serve_forever` returns)."""
        self._server.server_close()

    def __enter__(self) -> GuardrailServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="guardrail-http", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        guard = self._guard

        class Handler(JsonHandler):
            log_prefix = "guardrail"

            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                if self.path == "/health":
                    self._reply(200, {"ok": True, "max_batch": guard.max_batch})
                else:
                    self._reply(404, {"error": f"no route {self.path}"})

            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                if self.path != "/v1/check":
                    self._reply(404, {"error": f"no route {self.path}"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._reply(413, {"error": f"body must be at most {_MAX_BODY} bytes, got {length}"})
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                    prompts = _prompts_of(body)
                except ValueError as e:
                    self._reply(400, {"error": str(e)})
                    return
                futures = [guard.submit(p) for p in prompts]
                verdicts = [dataclasses.asdict(f.result(timeout=60)) for f in futures]
                self._reply(200, verdicts[0] if isinstance(body.get("prompt"), str) else {"verdicts": verdicts})

        return Handler


def _prompts_of(body: Any) -> list[str]:
    if isinstance(body, dict) and isinstance(body.get("prompt"), str):
        return [body["prompt"]]
    if isinstance(body, dict) and isinstance(body.get("prompts"), list) and all(isinstance(p, str) for p in body["prompts"]):
        return list(body["prompts"])
    raise ValueError('body must be {"prompt": str} or {"prompts": [str, ...]}')


def check_remote(url: str, prompt: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """POSTs one prompt to a running server's `/v1/check`."""
    req = urllib.request.Request(url + "/v1/check", data=json.dumps({"prompt": prompt}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return json.loads(resp.read())


def benchmark(check_batch: CheckBatch, prompts: Sequence[str], batch_sizes: Sequence[int] = (1, 8, 32),
              requests: int = 256, concurrency: int = 32, max_wait_s: float = 0.005) -> dict[str, dict[str, float]]:
    """Latency and throughput of the HTTP service per `max_batch`, under `concurrency` parallel clients.

    Returns:
      {str(max_batch): {throughput_rps, p50_ms, p95_ms, mean_batch, speedup_vs_unbatched}}; "unbatched" is
      max_batch = 1 (batch_sizes must contain 1).
    """
    if 1 not in batch_sizes:
        raise ValueError(f"batch_sizes must include 1 (the unbatched path), got {tuple(batch_sizes)}")
    out: dict[str, dict[str, float]] = {}
    for b in batch_sizes:
        with BatchingGuard(check_batch, b, max_wait_s) as guard, GuardrailServer(guard) as server:
            check_remote(server.url, prompts[0])  # warm-up
            guard.batch_sizes.clear()

            def one(i: int) -> float:
                t0 = time.perf_counter()
                check_remote(server.url, prompts[i % len(prompts)])
                return time.perf_counter() - t0

            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                latencies = np.array(list(pool.map(one, range(requests))))
            wall = time.perf_counter() - start
        out[str(b)] = {"throughput_rps": requests / wall, "p50_ms": 1e3 * float(np.median(latencies)),
                       "p95_ms": 1e3 * float(np.quantile(latencies, 0.95)),
                       "mean_batch": float(np.mean(guard.batch_sizes))}
    for row in out.values():
        row["speedup_vs_unbatched"] = row["throughput_rps"] / out["1"]["throughput_rps"]
    return out


def benchmark_direct(check_batch: CheckBatch, prompts: Sequence[str], batch_sizes: Sequence[int] = (1, 8, 32),
                     requests: int = 256) -> dict[str, dict[str, float]]:
    """Throughput of the classifier itself, called in chunks of each batch size (no HTTP, no queue).

    Returns:
      {str(batch): {throughput_pps, ms_per_call, speedup_vs_unbatched}} (batch_sizes must contain 1).
    """
    if 1 not in batch_sizes:
        raise ValueError(f"batch_sizes must include 1 (the unbatched path), got {tuple(batch_sizes)}")
    items = [prompts[i % len(prompts)] for i in range(requests)]
    check_batch(items[:1])  # warm-up
    out: dict[str, dict[str, float]] = {}
    for b in batch_sizes:
        start = time.perf_counter()
        calls = 0
        for i in range(0, len(items), b):
            check_batch(items[i:i + b])
            calls += 1
        wall = time.perf_counter() - start
        out[str(b)] = {"throughput_pps": requests / wall, "ms_per_call": 1e3 * wall / calls}
    for row in out.values():
        row["speedup_vs_unbatched"] = row["throughput_pps"] / out["1"]["throughput_pps"]
    return out
