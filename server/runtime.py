# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Process settings of the long-running server, applied once by `loyal server start` before it serves.

Every upload passes through several fresh ~1 MB buffers (gRPC's message, the protobuf field, the parsed
arrays). glibc serves blocks above its mmap threshold with fresh `mmap` pages, so each such buffer costs
~250 page faults and the kernel's zeroing, and its dynamic threshold flips between that and reusing the
heap depending on the order of frees: measured with `loyal bench server` (d = 10^5), the server's CPU
per upload moved between ~2.4 and ~5 ms from run to run. Pinning the threshold above any upload keeps
large blocks on the heap, where freed memory is reused without faults (`M_TRIM_THRESHOLD` keeps glibc
from returning the top of the heap after each upload). The cost is memory the heap keeps after a burst
(up to the in-flight cap, `limits.MAX_IN_FLIGHT_BYTES`).

The objects created by imports and the restore live for the whole process: `gc.freeze()` moves them out
of the collector's generations, so the full collections that the per-upload allocations trigger no
longer traverse them.

No library exposes `mallopt`; ctypes calls glibc's directly (a no-op on other C libraries).

Proofs of concurrent uploads are verified in worker threads, one upload each. OpenBLAS would give each of
them its own pool of busy-waiting threads, one per core: measured in a Flower ServerApp on 2 cores, two
verifier threads then used 104 ms of CPU per proof instead of 46 ms. `single_blas_thread` keeps BLAS to
the calling thread (the verifier's products are small; threads, not BLAS, give the parallelism).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

logger = logging.getLogger(__name__)

#: glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (above one chunk of an upload and its parsed arrays).
MMAP_THRESHOLD_BYTES = 32 << 20
#: Free memory at the top of the heap kept for reuse before glibc returns it to the system.
TRIM_THRESHOLD_BYTES = 256 << 20


def tune_allocator() -> bool:
    """Pins glibc's mmap and trim thresholds (see module docstring); False where there is no glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    if not ok:
        logger.warning("mallopt refused the allocator thresholds; large uploads fault in fresh pages")
    return ok


def single_blas_thread() -> None:
    """Limits BLAS and OpenMP pools to one thread for the rest of the process (`threadpoolctl`)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def freeze_long_lived() -> None:
    """Collects once, then moves every object alive now out of the collector's generations."""
    gc.collect()
    gc.freeze()
