# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""One generic Ray actor that runs any method's arm, so arms and seeds fan out over a cluster.

The actor asks for a whole GPU when CUDA is present and a fraction of a CPU otherwise, so several
arms share a core on a laptop and each gets its own device on a GPU node.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

#: CPUs each actor asks for when no GPU is present (several arms share one core).
CPU_FRACTION = 0.5


class MethodActor:
    """Runs `run_arm` of a registered method; wrapped by `ray.remote` in `actor_class`.

    The method is looked up by name inside the worker, so nothing but the name, the config dict and
    the arm dict cross the process boundary.
    """

    def __init__(self, method: str) -> None:
        from loyal.methods.harness.registry import get_method

        self._spec = get_method(method)

    def device(self) -> str:
        """"cuda" when this actor's worker sees a GPU, else "cpu"."""
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"

    def run_arm(self, config: dict, arm: dict) -> dict:
        from loyal.methods.harness.config import build_config

        return self._spec.run_arm(build_config(self._spec.config_cls, config), arm)


def actor_options() -> dict[str, float]:
    """`ray.remote` resources: `num_gpus=1` when CUDA is present, else `num_cpus=CPU_FRACTION`."""
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        cuda = False
    return {"num_gpus": 1, "num_cpus": 1} if cuda else {"num_gpus": 0, "num_cpus": CPU_FRACTION}


def actor_class():
    """`MethodActor` wrapped with `ray.remote(**actor_options())`."""
    import ray

    return ray.remote(**actor_options())(MethodActor)


def run_arms_on_ray(
    method: str,
    config: Any,
    arms: Sequence[dict],
    *,
    max_actors: int = 4,
    on_arm: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """Runs every arm on a pool of `MethodActor`s of an initialised Ray; returns results in `arms` order.

    Args:
      method: registry name.
      config: the method's config dataclass (sent as a dict).
      arms: the arms to run.
      max_actors: actors in the pool, >= 1 (arms are queued round-robin).
      on_arm: called as each arm finishes, with its index and result.
    """
    import ray

    if max_actors < 1:
        raise ValueError(f"max_actors must be >= 1, got {max_actors}")
    if not ray.is_initialized():
        raise RuntimeError("Ray is not initialised; call ray.init() first")
    cls = actor_class()
    actors = [cls.remote(method) for _ in range(min(max_actors, max(1, len(arms))))]
    config_dict = dataclasses.asdict(config)
    pending = {actors[i % len(actors)].run_arm.remote(config_dict, arm): i for i, arm in enumerate(arms)}
    results: list[dict | None] = [None] * len(arms)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(done[0])
        results[i] = ray.get(done[0])
        if on_arm is not None:
            on_arm(i, results[i])
    for actor in actors:
        ray.kill(actor)
    return results  # type: ignore[return-value]
