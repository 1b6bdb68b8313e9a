# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Streaming correlated-noise generators: xi = C^{-1} z one round at a time, with bounded memory.

Each generator draws one fresh N(0, I) vector per round from a `Sampler` and yields round t's noise
xi_t = (C^{-1} z)_t. Memory: identity O(d); banded Toeplitz O(b d) (Alg. 9 of arXiv 2306.08153);
BLT O(m d) buffers (Alg. 2 of arXiv 2408.08868, "buffered linear Toeplitz"); dense O(n d).
`BltNoiseGenerator` is the allocation-free BLT hot path (preallocated buffers, one RNG call per round).
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

from loyal.protocols.dpftrl import _checks
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


#: Elements per chunk of the BLT update: 32,768 float32 (128 KiB) per buffer row, so a chunk's m + 1 rows
#: stay in L2 between the gemv and the axpys and each buffer crosses the memory bus once per round.
_CHUNK = 1 << 15

#: One chunk of a BLT round: (xi chunk, buffers chunk transposed (c, m), the m buffer-row chunks).
_Chunk = tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]


def _blt_chunks(xi: torch.Tensor, buffers: torch.Tensor) -> list[_Chunk]:
    """Views (no copies) of xi (d,) and the buffers (m, d) cut into `_CHUNK`-element chunks."""
    plan = []
    for start in range(0, xi.shape[0], _CHUNK):
        rows = buffers[:, start : start + _CHUNK]
        plan.append((xi[start : start + _CHUNK], rows.T, list(rows.unbind(0))))
    return plan


def _blt_round_(plan: list[_Chunk], theta: torch.Tensor, omega: Sequence[float], first: bool) -> None:
    """One BLT round in place: xi <- z - theta . s (z = xi on entry), then s_i <- omega_i s_i + xi.

    Per chunk: one matrix-vector product (BLAS gemv, reads the m buffer chunks) and one fused axpy per
    buffer (`torch.add(xi, s_i, alpha=omega_i, out=s_i)`), while the chunk is still in cache. No data
    is allocated (the plan holds views).
    """
    for xi, buffers_t, rows in plan:
        if not first:  # the buffers are still zero in round 0
            xi.addmv_(buffers_t, theta, alpha=-1.0)
        for row, w in zip(rows, omega):
            torch.add(xi, row, alpha=w, out=row)


def blt_inverse_stream(
    output_scale: Sequence[float], decay: Sequence[float], n: int, sampler: Sampler
) -> Iterator[torch.Tensor]:
    """xi = C^{-1} z for a BLT strategy C with c_0 = 1, c_t = sum_i theta_i omega_i^(t-1) (t >= 1).

    Since z_t = xi_t + sum_i theta_i s_{i,t} with buffers s_{i,t} = sum_{j<t} omega_i^(t-1-j) xi_j, each
    round computes xi_t = z_t - theta . s_t and then s_{i,t+1} = omega_i s_{i,t} + xi_t
    (Alg. 2 of arXiv 2408.08868). Memory: m buffers of d numbers. Each round transforms the sampler's
    fresh vector in place and yields it, so callers may keep every yielded tensor; for the allocation-
    free hot path see `BltNoiseGenerator`.

    Args:
      output_scale: theta, m values.
      decay: omega, m values.
      n: number of rounds.
      sampler: source of N(0, I) vectors of shape (d,).
    """
    omega = [float(w) for w in decay]
    buffers: torch.Tensor | None = None
    theta: torch.Tensor | None = None
    for t in range(n):
        xi = sampler()
        if buffers is None:
            buffers = torch.zeros((len(omega), xi.numel()), dtype=xi.dtype)
            theta = torch.tensor([float(x) for x in output_scale], dtype=xi.dtype)
        _blt_round_(_blt_chunks(xi.view(-1), buffers), theta, omega, first=t == 0)
        yield xi


class BltNoiseGenerator:
    """BLT noise xi_t = (C^{-1} z)_t round by round into preallocated memory (Alg. 2 of arXiv 2408.08868).

    The hot path of a server or client that adds BLT noise to a d-dimensional model every round: the m
    buffers and the output vector are allocated once; each `next()` makes one RNG call
    (`torch.randn(..., out=...)`, the same call as drawing independent Gaussian noise) and one cache-
    blocked pass over the buffers (`_blt_round_`). Memory: (m + 1) d numbers of `dtype`.

    Notes:
      The returned tensor is the generator's own output buffer: it is overwritten by the next call, so
      consume it (add it to the model, send it) or clone it first. `blt_inverse_stream` yields fresh
      tensors instead, at the cost of one allocation per round.
    """

    def __init__(
        self,
        output_scale: Sequence[float],
        decay: Sequence[float],
        dim: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Allocates the buffers.

        Args:
          output_scale: theta, m >= 1 values (the BLT output scales).
          decay: omega, m values (the BLT decays); same length as `output_scale`.
          dim: d >= 1, the length of each noise vector.
          generator: torch generator for the N(0, 1) draws (default: torch's global generator).
          dtype: a floating dtype (default float32, the usual model dtype).

        Raises:
          ValueError: mismatched or empty parameters, dim < 1, or a non-floating dtype.
        """
        if len(output_scale) != len(decay) or len(decay) == 0:
            raise ValueError(
                f"output_scale and decay must have the same length >= 1, got {len(output_scale)} and {len(decay)}"
            )
        _checks.check_positive_int(dim, "dim")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got dtype={dtype}")
        self._omega = [float(w) for w in decay]
        self._theta = torch.tensor([float(x) for x in output_scale], dtype=dtype)
        self._buffers = torch.zeros((len(self._omega), dim), dtype=dtype)
        self._noise = torch.empty(dim, dtype=dtype)
        self._plan = _blt_chunks(self._noise, self._buffers)
        self._generator = generator
        self._round = 0

    @property
    def round(self) -> int:
        """The number of rounds generated so far (the index of the next round)."""
        return self._round

    def next(self) -> torch.Tensor:
        """Draws z_t ~ N(0, I_d) and returns xi_t (the generator's output buffer; see Notes)."""
        torch.randn(self._noise.shape, generator=self._generator, dtype=self._noise.dtype, out=self._noise)
        _blt_round_(self._plan, self._theta, self._omega, first=self._round == 0)
        self._round += 1
        return self._noise

    def transform_(self, z: torch.Tensor) -> torch.Tensor:
        """Turns a caller-drawn z_t (shape (d,), the generator's dtype) into xi_t in place; returns it."""
        if z.shape != self._noise.shape or z.dtype != self._noise.dtype:
            raise ValueError(
                f"z must have shape {tuple(self._noise.shape)} and dtype {self._noise.dtype}, "
                f"got {tuple(z.shape)} and {z.dtype}"
            )
        plan = self._plan if z is self._noise else _blt_chunks(z, self._buffers)
        _blt_round_(plan, self._theta, self._omega, first=self._round == 0)
        self._round += 1
        return z


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
