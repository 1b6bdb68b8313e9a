# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Streaming correlated-noise generators: xi = C^{-1} z one round at a time, with bounded memory.

Each generator draws one fresh N(0, I) vector per round from a `Sampler` and yields round t's noise
xi_t = (C^{-1} z)_t. Memory: identity O(d); banded Toeplitz O(b d) (Alg. 9 of arXiv 2306.08153);
BLT O(m d) buffers (Alg. 2 of arXiv 2408.08868, "buffered linear Toeplitz"); dense O(n d).
Learnt from jax_privacy/matrix_factorization/streaming_matrix.py and toeplitz.py
(`inverse_as_streaming_matrix`); our own torch code.
"""

# Paper symbols (C, z, xi, n, m, b) follow README.md's notation table.
# pylint: disable=invalid-name

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from loyal.protocols.dpftrl.base import Sampler


def identity_stream(n: int, sampler: Sampler) -> Iterator[torch.Tensor]:
    """C = I: independent noise each round (DP-SGD / DP-FedAvg)."""
    for _ in range(n):
        yield sampler()


def toeplitz_inverse_stream(coefficients: Sequence[float], n: int, sampler: Sampler) -> Iterator[torch.Tensor]:
    """xi = C^{-1} z for a lower-triangular banded Toeplitz C with C[:, 0] = (c_0, ..., c_{b-1}, 0, ...).

    Solves c_0 xi_t = z_t - sum_{j=1}^{b-1} c_j xi_{t-j} forward in time, keeping the last b - 1 outputs
    (Alg. 9 of arXiv 2306.08153). Memory O(b d).
    """
    coef = [float(c) for c in coefficients]
    history: collections.deque[torch.Tensor] = collections.deque(maxlen=max(len(coef) - 1, 0))
    for _ in range(n):
        xi = sampler()
        for j, past in enumerate(history, start=1):
            xi.sub_(past, alpha=coef[j])
        if coef[0] != 1.0:
            xi.div_(coef[0])
        if history.maxlen:
            history.appendleft(xi)
        yield xi


def blt_inverse_stream(
    output_scale: Sequence[float], decay: Sequence[float], n: int, sampler: Sampler
) -> Iterator[torch.Tensor]:
    """xi = C^{-1} z for a BLT strategy C with c_0 = 1, c_t = sum_i theta_i omega_i^(t-1) (t >= 1).

    Since z_t = xi_t + sum_i theta_i s_{i,t} with buffers s_{i,t} = sum_{j<t} omega_i^(t-1-j) xi_j, each
    round computes xi_t = z_t - theta . s_t and then s_{i,t+1} = omega_i s_{i,t} + xi_t
    (Alg. 2 of arXiv 2408.08868). Memory: m buffers of d numbers.

    Args:
      output_scale: theta, m values.
      decay: omega, m values.
      n: number of rounds.
      sampler: source of N(0, I) vectors.
    """
    m = len(decay)
    buffers: torch.Tensor | None = None
    theta: torch.Tensor | None = None
    omega: torch.Tensor | None = None
    for t in range(n):
        xi = sampler()
        if buffers is None:
            buffers = torch.zeros((m,) + tuple(xi.shape), dtype=xi.dtype)
            theta = torch.tensor(list(output_scale), dtype=xi.dtype)
            omega = torch.tensor(list(decay), dtype=xi.dtype).reshape((m,) + (1,) * xi.dim())
        if t > 0:
            xi.sub_(torch.tensordot(theta, buffers, dims=1))
        # s <- omega * s + xi, in one pass over the buffers.
        torch.addcmul(xi.unsqueeze(0).expand_as(buffers), buffers, omega, out=buffers)
        yield xi


def lower_triangular_inverse_stream(C: np.ndarray, sampler: Sampler) -> Iterator[torch.Tensor]:
    """xi = C^{-1} z for a general lower-triangular C by forward substitution (memory O(n d))."""
    n = C.shape[0]
    past: list[torch.Tensor] = []
    for t in range(n):
        xi = sampler()
        for j in np.flatnonzero(C[t, :t]):
            xi.sub_(past[j], alpha=float(C[t, j]))
        xi.div_(float(C[t, t]))
        past.append(xi)
        yield xi
