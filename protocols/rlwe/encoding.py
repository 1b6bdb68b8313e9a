# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Fixed-point encoding of real vectors into bounded integers, packing, and the wrap-around check.

A client's update g is clipped to L2 norm C, multiplied by the scale s and rounded randomly
(floor(x) + Bernoulli(frac(x)), unbiased) so every encoded coordinate satisfies |m_j| <= C·s + 1.
Sums decode by dividing by s; the centred representative of a KAHE plaintext is its integer value
as long as no sum ever leaves (-2^(p-1), 2^(p-1)) — `check_no_wraparound` refuses parameter sets
where clients·C·s (times the release coefficients) plus the noise tail could.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from loyal.protocols.rlwe.prng import AesCtrPrng

#: Gaussian tail multiplier: P(|N(0,1)| > 10) < 2^-75, so a union bound over 2^24 coefficients
#: and 2^10 releases leaves failure probability below 2^-40.
TAIL_SIGMAS = 10.0
#: Coordinates encoded per step (the step's temporaries, 32 B per coordinate, stay in a core's L2 cache).
_ENCODE_CHUNK = 1 << 15


@dataclasses.dataclass(frozen=True)
class FixedPointEncoder:
    """Clip-scale-round encoder.

    Attributes:
      clip_norm: C > 0, the L2 bound applied to every client vector.
      scale: s > 0; the quantization step is 1/s (in units of the vector's coordinates).
    """

    clip_norm: float
    scale: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise ValueError(f"clip_norm must be finite and > 0, got {self.clip_norm}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be finite and > 0, got {self.scale}")
        if self.value_bound >= 2**52:
            raise ValueError(f"clip_norm·scale must be < 2^52 (exact float rounding), got {self.clip_norm * self.scale}")

    @property
    def value_bound(self) -> int:
        """Largest |m_j| an honest client can produce: floor(C·s) + 1."""
        return int(math.floor(self.clip_norm * self.scale)) + 1

    @property
    def quantization_step(self) -> float:
        return 1.0 / self.scale

    def clip(self, vector: np.ndarray) -> np.ndarray:
        """Scales `vector` down to L2 norm clip_norm if it is longer."""
        v = np.asarray(vector, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError(f"vector must be 1-D, got shape {v.shape}")
        norm = float(np.linalg.norm(v))
        if not math.isfinite(norm) and not np.isfinite(v).all():  # a finite norm proves finite entries
            raise ValueError("vector must be finite, got NaN or inf entries")
        return v * (self.clip_norm / norm) if norm > self.clip_norm else v

    def encode(self, vector: np.ndarray, prng: AesCtrPrng) -> np.ndarray:
        """Clips, scales and rounds randomly; returns int64 with |m_j| <= value_bound.

        The Bernoulli(frac(x)) draw compares 53-bit words u with frac(x)·2^53 (exact, the same
        outcome as the uniform float u·2^-53 < frac(x)), in chunks whose temporaries stay in cache;
        the stream is read in order, so the draws are those of one call for all coordinates.
        """
        x = np.multiply(self.clip(vector), self.scale)
        out = np.empty(x.shape, dtype=np.int64)
        for start in range(0, x.size, _ENCODE_CHUNK):
            xs, o = x[start : start + _ENCODE_CHUNK], out[start : start + _ENCODE_CHUNK]
            low = np.floor(xs)
            xs -= low
            xs *= 2.0**53
            words = prng.uint64(xs.size)
            words >>= np.uint64(11)
            np.copyto(o, low, casting="unsafe")
            o += words < xs
        return out

    def decode(self, values: np.ndarray, multiplier: float = 1.0) -> np.ndarray:
        """Integer sums -> reals: values / (scale · multiplier) (multiplier = 2^scale_bits of a release)."""
        return np.asarray(values, dtype=np.float64) / (self.scale * multiplier)


def pack(values: np.ndarray, degree: int) -> np.ndarray:
    """Pads a length-d integer vector with zeros and reshapes it to (ceil(d/N), N) coefficients."""
    v = np.asarray(values, dtype=np.int64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D vector, got shape {v.shape}")
    polys = -(-v.size // degree)
    out = np.zeros(polys * degree, dtype=np.int64)
    out[: v.size] = v
    return out.reshape(polys, degree)


def unpack(polys: np.ndarray, dim: int) -> np.ndarray:
    """Inverse of `pack`: the first `dim` coefficients."""
    flat = np.asarray(polys).reshape(-1)
    if dim > flat.size:
        raise ValueError(f"dim must be <= {flat.size} packed coefficients, got {dim}")
    return flat[:dim]


def plaintext_bound(
    *, clients: int, value_bound: int, coefficient_l1: int, noise_sigma: float = 0.0, noise_l1: int | None = None
) -> int:
    """Largest |coefficient| of a released plaintext sum_t c_t X_t + sum_t c'_t Z_t.

    Data: every client coordinate is bounded by value_bound, so |sum_t c_t X_t| <= ||c||_1·clients·value_bound.
    Noise: each round's noise coordinate is Gaussian with standard deviation noise_sigma (encoded units),
    bounded by TAIL_SIGMAS·noise_sigma except with negligible probability; noise_l1 = ||c'||_1
    (defaults to coefficient_l1).
    """
    for name, val in (("clients", clients), ("value_bound", value_bound), ("coefficient_l1", coefficient_l1)):
        if val < 1:
            raise ValueError(f"{name} must be >= 1, got {val}")
    nl1 = coefficient_l1 if noise_l1 is None else noise_l1
    return coefficient_l1 * clients * value_bound + math.ceil(nl1 * TAIL_SIGMAS * noise_sigma)


def check_no_wraparound(bound: int, plaintext_bits: int) -> None:
    """Refuses a plaintext space that a sum bounded by `bound` could leave.

    Centred decoding is exact iff every plaintext coefficient lies in (-2^(p-1), 2^(p-1)).

    Raises:
      ValueError: if bound >= 2^(plaintext_bits - 1).
    """
    if bound >= 1 << (plaintext_bits - 1):
        raise ValueError(
            f"plaintext space too small: clients·C·scale·||c||_1 + noise tail = {bound} "
            f"(2^{math.log2(max(bound, 1)):.1f}) must be < 2^{plaintext_bits - 1} (plaintext_bits={plaintext_bits}); "
            "use fewer clients, a smaller scale or a wider parameter set"
        )
