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
#: Conditional rounding: each draw exceeds the norm bound with probability <= 2^-_ROUNDING_BITS.
_ROUNDING_BITS = 10
_ROUNDING_ATTEMPTS = 16


def _squared_norm(m: np.ndarray) -> int:
    """Exact ‖m‖² of an integer vector (int64 sums while they cannot overflow, Python ints beyond)."""
    top = int(np.abs(m).max()) if m.size else 0
    if top * top * m.size < 2**62:
        return int(np.dot(m, m))
    return sum(int(v) * int(v) for v in m.tolist())


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

    def rounding_radius(self, dim: int) -> float:
        """r (scaled units) to clip to before rounding, so that a rounded vector stays within C·s with
        probability >= 1 - 2^-10 per draw: r² + d/4 + a·(r + √d/2) <= (C·s)², a = √(2 ln 2^10)
        (Kairouz, Liu, Steinke, "The distributed discrete Gaussian mechanism", ICML 2021, Lemma 4.1).

        Raises:
          ValueError: scale too small for `dim` (the rounding alone would exceed the clip norm).
        """
        b2, a = (self.clip_norm * self.scale) ** 2, math.sqrt(2 * math.log(2.0**_ROUNDING_BITS))
        c = dim / 4 + a * math.sqrt(dim) / 2 - b2
        r = (-a + math.sqrt(a * a - 4 * c)) / 2 if a * a - 4 * c > 0 else 0.0
        if r <= 0:
            raise ValueError(
                f"scale={self.scale} is too small for d={dim} at clip_norm={self.clip_norm}: rounding alone "
                f"adds norm ~√d/2 = {math.sqrt(dim) / 2:.0f} > C·s = {self.clip_norm * self.scale:.0f}; raise the scale")
        return r

    def encode(self, vector: np.ndarray, prng: AesCtrPrng) -> np.ndarray:
        """Clips, scales and rounds randomly, conditioned on the rounded norm: returns int64 with
        ‖m‖₂ <= C·s (the sensitivity the DP accounting assumes) and |m_j| <= value_bound.

        Conditional randomized rounding (Kairouz–Liu–Steinke 2021): clip to `rounding_radius`, round,
        and draw the rounding again until the norm bound holds (each draw fails with prob <= 2^-10).
        The Bernoulli(frac(x)) draw compares 53-bit words u with frac(x)·2^53 (exact, the same
        outcome as the uniform float u·2^-53 < frac(x)), in chunks whose temporaries stay in cache.
        """
        v = self.clip(vector)
        radius = self.rounding_radius(v.size) / self.scale
        norm = float(np.linalg.norm(v))
        x = np.multiply(v * (radius / norm) if norm > radius else v, self.scale)
        bound2 = (self.clip_norm * self.scale) ** 2
        for _ in range(_ROUNDING_ATTEMPTS):
            out = self._round(x, prng)
            if _squared_norm(out) <= bound2:
                return out
        raise RuntimeError(f"conditional rounding failed {_ROUNDING_ATTEMPTS} times (probability < 2^-{_ROUNDING_BITS * _ROUNDING_ATTEMPTS})")

    def _round(self, x: np.ndarray, prng: AesCtrPrng) -> np.ndarray:
        x = x.copy()
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
