# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The guard in front of an OML host's model (`loyal.contracts.host.HostServer`): refused prompts never reach it.

`GuardedModel` wraps the host's `TextModel` (prompt → output) without changing `contracts/host.py`:
`HostServer(GuardedModel(model, guard), account, domain, endpoint)` serves and signs the refusal text for a
refused prompt, and the wrapped model is not called.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from loyal.methods.guardrail.classifiers import Verdict

logger = logging.getLogger(__name__)

Guard = Callable[[str], Verdict]


class GuardedModel:
    """A `TextModel` that asks `guard` first and calls `model` only for allowed prompts.

    Args:
      model: the host's model, prompt → output.
      guard: prompt → `Verdict` (e.g. `BatchingGuard.check`, or `lambda p: classifier.check([p])[0]`).
      refusal: the output given for a refused prompt (the policy's refusal text).
    """

    def __init__(self, model: Callable[[str], str], guard: Guard, refusal: str):
        if not refusal:
            raise ValueError("refusal must be a non-empty string, got ''")
        self._model, self._guard, self.refusal = model, guard, refusal
        self._lock = threading.Lock()
        self.refused = 0
        self.passed = 0

    def __call__(self, prompt: str) -> str:
        verdict = self._guard(prompt)
        if not verdict.allowed:
            with self._lock:
                self.refused += 1
            logger.info("guardrail refused a prompt (category %s, score %.2f)", verdict.category, verdict.score)
            return self.refusal
        with self._lock:
            self.passed += 1
        return self._model(prompt)
