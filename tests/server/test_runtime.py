# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`server.runtime`: the server process's allocator and collector settings (run in a fresh interpreter,
so this test process keeps glibc's defaults)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

_PROBE = """
import gc, json, resource
from loyal.server import runtime
tuned = runtime.tune_allocator()
runtime.freeze_long_lived()
bufs = [bytearray(3 << 20) for _ in range(2)]  # warm the heap: the first blocks fault their pages in once
del bufs
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):  # an upload's worth of fresh ~MB buffers, freed again
    b = bytearray(3 << 20)
    b[::4096] = b"\\x01" * len(b[::4096])
    del b
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"tuned": tuned, "faults_per_buffer": faults / 100, "frozen": gc.get_freeze_count()}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc mallopt")
def test_tuned_allocator_reuses_heap_memory_for_large_buffers_and_the_collector_skips_startup_objects():
    out = json.loads(subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout)
    # 3 MiB of fresh mmap pages would be 768 page faults per buffer; reused heap memory needs none.
    assert out["tuned"] is True
    assert out["faults_per_buffer"] < 1, out  # glibc defaults: ~7 per buffer here (the heap top is trimmed)
    assert out["frozen"] > 10_000  # the imports' objects left the collector's generations


_BLAS_PROBE = """
import json, os
os.environ.pop("OPENBLAS_NUM_THREADS", None); os.environ.pop("OMP_NUM_THREADS", None)
import numpy
from threadpoolctl import threadpool_info
from loyal.server import runtime
before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
runtime.single_blas_thread()
after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
print(json.dumps({"before": before, "after": after, "cpus": os.cpu_count()}))
"""


def test_single_blas_thread_leaves_one_blas_thread_per_caller():
    # Verifier threads each run BLAS: its own pool of one thread per core would busy-wait against theirs.
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = json.loads(subprocess.run([sys.executable, "-c", _BLAS_PROBE], capture_output=True, text=True, check=True,
                                    env=env).stdout)
    assert out["after"] and all(n == 1 for n in out["after"]), out
    if out["cpus"] > 1:
        assert max(out["before"]) > 1, out  # the default it replaces: a pool per core
