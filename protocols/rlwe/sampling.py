# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Samplers over a CSPRNG: uniform residues, ternary and CBD secrets/errors, smudging, discrete Gaussian.

Every sampler takes an `AesCtrPrng`; none uses `random` or `np.random`.
"""

from __future__ import annotations

import math

import numpy as np

from loyal.protocols.rlwe.prng import AesCtrPrng

#: Largest centred-binomial parameter (2·eta bits must fit in one 64-bit word).
MAX_CBD_ETA = 32
#: Byte -> ternary value (b mod 3) - 1; byte 255 is rejected first so the three values are equally likely.
_TERNARY_TABLE = (np.arange(256, dtype=np.int64) % 3 - 1)
_TERNARY_TABLE.setflags(write=False)


def uniform_mod(prng: AesCtrPrng, moduli: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Uniform residues: int64 array of shape shape[:-1] + (L, shape[-1]) with entry l uniform mod q_l.

    Rejection sampling of 30-bit words (moduli < 2^30), so the output is exactly uniform and, for a
    public seed, identical for every party (the rejected words are skipped deterministically).
    """
    count = int(np.prod(shape, dtype=np.int64))
    out = np.empty(shape[:-1] + (len(moduli), shape[-1]), dtype=np.int64)
    for l, q in enumerate(moduli):
        if not 1 < q <= 1 << 30:
            raise ValueError(f"moduli must be in (1, 2^30], got q={q}")
        accept = q / float(1 << 30)
        got: list[np.ndarray] = []
        have = 0
        while have < count:
            need = count - have
            words = prng.uint32(int(need / accept) + 64) & np.uint32((1 << 30) - 1)
            ok = words[words < q]
            got.append(ok)
            have += ok.size
        out[..., l, :] = np.concatenate(got)[:count].astype(np.int64).reshape(shape)
    return out


def ternary(prng: AesCtrPrng, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform values in {-1, 0, 1} (int64), by rejection of the byte value 255."""
    count = int(np.prod(shape, dtype=np.int64))
    got: list[np.ndarray] = []
    have = 0
    while have < count:
        b = prng.uint8(count - have + 16)
        b = b[b < 255]
        got.append(b)
        have += b.size
    return _TERNARY_TABLE[np.concatenate(got)[:count]].reshape(shape)


def centered_binomial(
    prng: AesCtrPrng, eta: int, shape: tuple[int, ...], dtype: type[np.signedinteger] = np.int64
) -> np.ndarray:
    """Centred binomial CBD(eta): sum of eta fair bits minus eta fair bits; variance eta/2, |x| <= eta.

    One 64-bit word per value: its low eta bits minus its next eta bits, computed in place as
    popcount(w mod 2^(2 eta)) - 2·popcount(w >> eta) (no temporary the size of the words). `dtype` is
    the output type (default int64); int8 holds every value (|x| <= 32) in an eighth of the memory.
    """
    if not 1 <= eta <= MAX_CBD_ETA:
        raise ValueError(f"eta must be in [1, {MAX_CBD_ETA}], got {eta}")
    count = int(np.prod(shape, dtype=np.int64))
    words = prng.uint64(count)
    if eta < MAX_CBD_ETA:
        words &= np.uint64((1 << (2 * eta)) - 1)
    both = np.bitwise_count(words).view(np.int8)  # counts <= 64 fit int8
    words >>= np.uint64(eta)
    high = np.bitwise_count(words).view(np.int8)
    both -= high
    both -= high
    return both.reshape(shape) if dtype == np.int8 else both.astype(dtype).reshape(shape)


def uniform_signed_rns(prng: AesCtrPrng, bits: int, moduli: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Integers uniform in [-2^bits, 2^bits), returned as residues shape[:-1] + (L, shape[-1]).

    Used for smudging noise larger than int64: the integer is assembled from 30-bit limbs directly in
    residue form, U = sum_j u_j·2^(30 j) (mod q_l), then shifted by -2^bits.
    """
    if not 1 <= bits <= 1000:
        raise ValueError(f"bits must be in [1, 1000], got {bits}")
    total = bits + 1
    limbs = -(-total // 30)
    count = int(np.prod(shape, dtype=np.int64))
    q = np.array(moduli, dtype=np.int64)
    acc = np.zeros((len(moduli), count), dtype=np.int64)
    for j in range(limbs):
        width = min(30, total - 30 * j)
        u = (prng.uint32(count) & np.uint32((1 << width) - 1)).astype(np.int64)
        weight = np.array([pow(2, 30 * j, int(qq)) for qq in q], dtype=np.int64)[:, None]
        acc = (acc + u[None, :] * weight) % q[:, None]
    offset = np.array([pow(2, bits, int(qq)) for qq in q], dtype=np.int64)[:, None]
    acc = (acc - offset) % q[:, None]
    return np.moveaxis(acc.reshape((len(moduli),) + shape), 0, -2)


def discrete_gaussian(prng: AesCtrPrng, sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    """Discrete Gaussian N_Z(0, sigma^2) by rejection from a discrete Laplace.

    Follows Algorithm 3 of Canonne, Kamath & Steinke, "The Discrete Gaussian for Differential
    Privacy" (NeurIPS 2020, arXiv 2004.00010): draw Y from the discrete Laplace with scale
    t = floor(sigma) + 1, accept with probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)).
    The discrete Laplace magnitude is floor(t·E) with E ~ Exp(1) (a geometric variable with ratio
    exp(-1/t)), the sign is a fair bit with (-, 0) rejected. Exponentials and Bernoulli trials use
    53-bit CSPRNG floats instead of the paper's exact rational arithmetic: the sampled law differs
    from the exact one by float64 rounding only (relative error ~2^-50 per probability).

    Args:
      sigma: standard deviation parameter, > 0 (sigma = 0 returns zeros).
      shape: output shape.
    """
    if not sigma >= 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    count = int(np.prod(shape, dtype=np.int64))
    if sigma == 0 or count == 0:
        return np.zeros(shape, dtype=np.int64)
    t = math.floor(sigma) + 1
    got: list[np.ndarray] = []
    have = 0
    while have < count:
        n = int((count - have) * 1.6) + 64
        e = -np.log1p(-prng.unit_floats(n))
        mag = np.floor(t * e).astype(np.int64)
        sign = (prng.uint32(n) & np.uint32(1)).astype(bool)
        keep = ~(sign & (mag == 0))  # reject negative zero so P(0) is not doubled
        y = np.where(sign, -mag, mag)
        accept_p = np.exp(-((np.abs(y) - sigma * sigma / t) ** 2) / (2 * sigma * sigma))
        keep &= prng.unit_floats(n) < accept_p
        got.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(got)[:count].reshape(shape)
