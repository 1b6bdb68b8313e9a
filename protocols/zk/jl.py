# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Approximate range proofs by a modular Johnson–Lindenstrauss projection, with rejection sampling.

Gentry, Halevi, Lyubashevsky, "Practical Non-interactive Publicly Verifiable Secret Sharing with
Thousands of Parties", eprint 2021/1397, §3 (approximate range proofs); Lyubashevsky, Nguyen,
Plançon, "Lattice-Based Zero-Knowledge Proofs and Applications", eprint 2022/284, Lemma 2.8.

For a block w ∈ Z_Q^N and a public matrix R ∈ {-1, 0, 1}^{r×N} (r = JL_ROWS) (entries 1/4, 1/2, 1/4) drawn
after the commitment, the prover reveals p = R·w + y, y uniform in [-B, B]^r committed
beforehand, and restarts unless ‖R·w‖∞ <= β and ‖p‖∞ <= B - β (then p is uniform on
[-(B - β), B - β]^r, whatever w is: zero knowledge). Soundness, for any w and y fixed before R:
if ‖w‖∞ >= b then for every row Pr_r[|<r, w> + y_i mod Q| < b/2] <= 1/2 (pick j with |w_j| >= b and
condition on the other entries: of c - w_j, c, c + w_j at most c, or at most the pair c ± w_j, can
be short, since two short values cannot differ by w_j), so with b = 2(B - β) + 1 all r rows pass
with probability <= 2^-r: the verifier learns ‖w‖∞ <= 2(B - β).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from loyal.protocols.rlwe.prng import AesCtrPrng

#: Projection rows per block: soundness 2^-JL_ROWS per block, so the four blocks add 2^-142, ten bits
#: below the Ligero argument's error (~2^-131), also per hash query (the rows are drawn after the root).
#: Until proof format 4 this was 256 (2^-254): the extra rows bought nothing and cost the prover and
#: verifier the expansion and products of 4·112 more rows of R, and ~6 % more restarts.
JL_ROWS = 144
#: Prover-side tail probability per row of |<r, w>| > β for an honest block (log2). The accepted R
#: is conditioned on |R·w| <= β, so zero knowledge is statistical with distance <= 576·2^-50 < 2^-40
#: (the project's statistical security level) over the 4·144 rows.
HONEST_TAIL_BITS = 50
#: B = β·2^REJECTION_BITS: all 4·144 rows accept with probability ≈ exp(-576/2^13) ≈ 0.93.
REJECTION_BITS = 13

# Byte -> four entries b_{2i} - b_{2i+1} ∈ {-1, 0, 0, 1}: probabilities 1/4, 1/2, 1/4.
_LUT = np.array(
    [[((v >> (2 * i)) & 1) - ((v >> (2 * i + 1)) & 1) for i in range(4)] for v in range(256)], dtype=np.float32
)
# The same table with each row of four float32 viewed as one complex128, so expanding R is a plain
# element gather (`np.take` of 16-byte items) instead of a row-by-row copy.
_LUT_ITEMS = np.ascontiguousarray(_LUT).view(np.complex128).reshape(-1)


def honest_projection_bound(l2_squared: int) -> int:
    """β: |<r, w>| <= β except with probability 2^-HONEST_TAIL_BITS for ‖w‖_2^2 <= l2_squared.

    <r, w> = Σ r_i·w_i with independent symmetric r_i ∈ [-1, 1] is sub-Gaussian with variance proxy
    ‖w‖_2^2 (Hoeffding): Pr[|<r, w>| > β] <= 2·exp(-β² / (2·‖w‖_2^2)).
    """
    return math.ceil(math.sqrt(2 * l2_squared * (HONEST_TAIL_BITS + 1) * math.log(2)))


def honest_error_l2_squared(length: int, eta: int) -> int:
    """Cap on ‖e‖_2^2 the honest prover accepts for e ~ CBD(eta)^length: length·(eta + 3)/2.

    E[e_i^2] = eta/2; for eta = 21, N = 2^13 the cap (12·N) is the mean plus > 9 standard
    deviations of ‖e‖_2^2, so an honest encryption exceeds it with negligible probability.
    """
    return length * (eta + 3) // 2


def mask_bound(beta: int) -> int:
    """B for a block with projection bound β."""
    return beta << REJECTION_BITS


def proven_bound(beta: int) -> int:
    """The ∞-norm bound 2(B - β) the verifier learns from ‖p‖∞ <= B - β."""
    return 2 * (mask_bound(beta) - beta)


class Projection:
    """R ∈ {-1, 0, 1}^{blocks × 256 × length} expanded block by block from a public 32-byte seed.

    Only one block (256 × length float32, 8 MiB for N = 2^13) exists at a time, in a buffer reused
    across blocks, so the 8.4 M entries of R for N = 2^13 are never all in memory.

    Args:
      seed: public challenge seed (from the transcript).
      blocks: number of blocks.
      length: entries per row (a multiple of 4).
    """

    def __init__(self, seed: bytes, blocks: int, length: int) -> None:
        if length % 4:
            raise ValueError(f"length must be a multiple of 4, got {length}")
        self.seed, self.blocks, self.length = seed, blocks, length

    def _iter_blocks(self):
        prng = AesCtrPrng(self.seed, b"loyal/zk/jl")
        buf = _scratch(self.length)
        for b in range(self.blocks):
            raw = prng.uint8(JL_ROWS * self.length // 4)
            # mode="clip": byte indices are always in range, and mode="raise" buffers `out` (slow).
            np.take(_LUT_ITEMS, raw, out=buf.reshape(-1).view(np.complex128), mode="clip")
            yield b, buf

    def dense(self) -> np.ndarray:  # a copy per block: the iterator reuses one buffer
        """The whole R (blocks, 256, length) as float32 (tests)."""
        return np.stack([blk.copy() for _, blk in self._iter_blocks()])

    def project(self, blocks: np.ndarray) -> np.ndarray:
        """R_b·w_b as int64 (blocks, JL_ROWS) for integer blocks (blocks, length), |w| < 2^40.

        float32 products are exact while ‖w_b‖_1 < 2^24 (every honest block); larger blocks (a
        cheating prover in tests) take the slow int64 path.
        """
        out = np.empty((self.blocks, JL_ROWS), dtype=np.int64)
        small = np.abs(blocks).sum(axis=1).max() < 1 << 24
        for b, mat in self._iter_blocks():
            if small:
                out[b] = (mat @ blocks[b].astype(np.float32)).astype(np.int64)
            else:
                out[b] = mat.astype(np.int64) @ blocks[b]
        return out

    def transpose_apply(self, weights: np.ndarray) -> np.ndarray:
        """R_b^T·ρ_b over the integers for ρ (S, blocks, JL_ROWS) in [0, 2^30): int64 (S, blocks, length).

        ρ is split into 15-bit limbs so every float32 sum (<= 256·2^15 = 2^23) is exact; results
        are below 2^38 in absolute value. Reduce them modulo each prime afterwards.
        """
        s = weights.shape[0]
        lo = (weights & 0x7FFF).astype(np.float32)
        hi = (weights >> 15).astype(np.float32)
        out = np.empty((s, self.blocks, self.length), dtype=np.int64)
        for b, mat in self._iter_blocks():
            lhs = np.concatenate([lo[:, b, :], hi[:, b, :]])  # (2S, rows)
            prod = (lhs @ mat).astype(np.int64)  # (2S, length): C-order product, no transposed operand
            prod[s:] <<= 15
            np.add(prod[:s], prod[s:], out=out[:, b])
        return out


_LOCAL = threading.local()


def _scratch(length: int) -> np.ndarray:
    """A per-thread (JL_ROWS, length) float32 buffer, reused across calls: fresh pages cost more
    than filling them on this class of VM (see docs/ssa.md, Performance)."""
    buf = getattr(_LOCAL, "buf", None)
    if buf is None or buf.shape[1] != length:
        buf = _LOCAL.buf = np.empty((JL_ROWS, length), dtype=np.float32)
    return buf


def uniform_signed(prng: AesCtrPrng, bound: int, shape: tuple[int, ...]) -> np.ndarray:
    """Integers uniform in [-bound, bound] (bound < 2^31), by rejection of 32-bit words."""
    span = 2 * bound + 1
    limit = (1 << 32) // span * span
    count = int(np.prod(shape))
    got: list[np.ndarray] = []
    have = 0
    while have < count:
        w = prng.uint32(count - have + 16).astype(np.int64)
        w = w[w < limit]
        got.append(w)
        have += w.size
    return (np.concatenate(got)[:count] % span - bound).reshape(shape)
