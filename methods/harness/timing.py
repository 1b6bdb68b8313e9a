# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Wall-clock timing of named sections (seconds, `time.perf_counter`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Timer:
    """Accumulates wall time per section name.

    Example:
      >>> timer = Timer()
      >>> with timer.section("fit"):
      ...     pass
      >>> sorted(timer.seconds)
      ['fit']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
