# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A torch.optim-style DP-FTRL optimizer with momentum (Kairouz et al., arXiv 2103.00039, Alg. 1 "DP-FTRLM").

Each step consumes the noisy increment of the prefix sum of (clipped, summed) gradients:
either the released noisy prefix sum s_t (the SSA path: increment s_t - s_{t-1}) or the local
x_t + noise_stddev * (C^{-1} z)_t drawn from a mechanism's noise stream. Then
m_t = momentum * m_{t-1} + increment and theta_t = theta_{t-1} - lr * m_t. With momentum 0 the
parameters are theta_0 - lr * (noisy prefix sum); with noise 0 this is SGD with heavy-ball momentum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import torch

from loyal.protocols.dpftrl import _checks
from loyal.protocols.dpftrl.base import MatrixMechanism


class DPFTRL(torch.optim.Optimizer):
    """DP-FTRL with momentum.

    Args:
      params: parameters (or parameter groups) to optimize.
      lr: learning rate > 0.
      momentum: in [0, 1) (default 0).
      mechanism: optional matrix mechanism whose `noise_stream` supplies (C^{-1} z)_t per parameter;
        without one, `step` must be given `prefix_sums`.
      noise_stddev: std of z in gradient units, >= 0: noise_multiplier * sens(C) * clip_norm (default 0).
      generator: torch.Generator for the noise (not a cryptographic source; the SSA path uses
        committee noise instead).

    Notes:
      p.grad must already be the clipped sum (or mean) of client updates for this round; the noise
      scale must match that choice.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.0,
        *,
        mechanism: MatrixMechanism | None = None,
        noise_stddev: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        _checks.check_positive(lr, "lr")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got momentum={momentum}")
        _checks.check_noise_multiplier(noise_stddev, "noise_stddev")
        super().__init__(params, {"lr": lr, "momentum": momentum})
        self._mechanism = mechanism
        self._noise_stddev = noise_stddev
        self._generator = generator
        self._streams: dict[int, Iterator[torch.Tensor]] = {}

    def _stream_for(self, p: torch.Tensor) -> Iterator[torch.Tensor]:
        key = id(p)
        if key not in self._streams:
            assert self._mechanism is not None
            numel, dtype, gen = p.numel(), p.dtype, self._generator

            def sampler() -> torch.Tensor:
                return torch.randn(numel, generator=gen, dtype=dtype)

            self._streams[key] = self._mechanism.noise_stream(sampler)
        return self._streams[key]

    @torch.no_grad()
    def step(
        self,
        closure: Callable[[], torch.Tensor] | None = None,
        *,
        prefix_sums: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor | None:
        """One round. `prefix_sums`: released noisy prefix sums, one per parameter, in group order."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"]]
        if prefix_sums is not None and len(prefix_sums) != len(params):
            raise ValueError(f"prefix_sums must have one tensor per parameter ({len(params)}), got {len(prefix_sums)}")
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if prefix_sums is not None:
                    released = prefix_sums[i].reshape(p.shape).to(p.dtype)
                    increment = released - state.get("last_prefix", torch.zeros_like(p))
                    state["last_prefix"] = released.clone()
                else:
                    if p.grad is None:
                        raise ValueError("DPFTRL.step needs p.grad for every parameter or prefix_sums")
                    increment = p.grad.clone()
                    if self._mechanism is not None:
                        try:
                            xi = next(self._stream_for(p))
                        except StopIteration:
                            raise ValueError(
                                f"the mechanism covers {self._mechanism.steps} rounds; no noise is left"
                            ) from None
                        increment.add_(xi.reshape(p.shape), alpha=self._noise_stddev)
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = increment
                else:
                    buf.mul_(group["momentum"]).add_(increment)
                state["momentum_buffer"] = buf
                p.add_(buf, alpha=-group["lr"])
                i += 1
        return loss
