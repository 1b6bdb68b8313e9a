# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Cryptographically secure pseudo-random byte streams: AES-256-CTR from the `cryptography` package.

Secrets (keys, errors, smudging and DP noise) are drawn from a stream seeded by `os.urandom`; public
polynomials are expanded from an explicit public seed, so every party derives the same values (as
Willow's `SingleThreadHkdfPrng` seeds expand public parameters, `willow/src/shell/kahe.rs`).
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol, runtime_checkable

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: Seed length in bytes (256 bits).
SEED_BYTES = 32
#: AES block size; `update_into` needs this many spare output bytes minus one.
_BLOCK = 16
#: Zero plaintext encrypted in chunks of this size (shared, read-only).
_ZERO_CHUNK = 1 << 20
_ZEROS = memoryview(bytes(_ZERO_CHUNK))


@runtime_checkable
class Prng(Protocol):
    """A stream of (pseudo-)random bytes."""

    def random_bytes(self, count: int) -> bytes:
        """The next `count` bytes of the stream."""
        ...


class AesCtrPrng:
    """AES-256 in counter mode over a 32-byte seed, with a domain-separation label.

    The key is SHA-256(label || seed); the stream is AES-CTR of zero bytes from a zero counter. Two
    instances with the same seed and label produce the same stream (used for public polynomials).

    Args:
      seed: exactly 32 bytes. Secret when the output is secret; public for common polynomials.
      label: domain separation (e.g. b"kahe/a"), so one seed can expand independent streams.
    """

    def __init__(self, seed: bytes, label: bytes = b"") -> None:
        if not isinstance(seed, bytes | bytearray) or len(seed) != SEED_BYTES:
            got = len(seed) if isinstance(seed, bytes | bytearray) else type(seed).__name__
            raise ValueError(f"seed must be {SEED_BYTES} bytes, got {got}")
        key = hashlib.sha256(bytes(label) + b"\x00" + bytes(seed)).digest()
        self._encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()

    def __repr__(self) -> str:
        return "AesCtrPrng(seed=(OMITTED))"

    @classmethod
    def from_os(cls, label: bytes = b"") -> AesCtrPrng:
        """A stream seeded with 32 bytes from `os.urandom` (for secrets)."""
        return cls(os.urandom(SEED_BYTES), label)

    def random_bytes(self, count: int) -> bytes:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        return self._keystream(count).tobytes()

    def _keystream(self, count: int) -> np.ndarray:
        """The next `count` bytes as a fresh uint8 array: AES-CTR of a shared zero block, written in
        place (`update_into`), so no zero input of `count` bytes is allocated for every call."""
        out = np.empty(count + _BLOCK - 1, dtype=np.uint8)
        for start in range(0, count, _ZERO_CHUNK):
            n = min(_ZERO_CHUNK, count - start)
            self._encryptor.update_into(_ZEROS[:n], out[start : start + n + _BLOCK - 1])
        return out[:count]

    def uint8(self, count: int) -> np.ndarray:
        """`count` uniform bytes as a uint8 array."""
        return self._keystream(count)

    def uint64(self, count: int) -> np.ndarray:
        """`count` uniform 64-bit words."""
        return self._keystream(8 * count).view(np.uint64)

    def uint32(self, count: int) -> np.ndarray:
        """`count` uniform 32-bit words."""
        return self._keystream(4 * count).view(np.uint32)

    def unit_floats(self, count: int) -> np.ndarray:
        """`count` uniform floats in [0, 1) with 53 random bits each."""
        return (self.uint64(count) >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def public_prng(seed: bytes, label: bytes) -> AesCtrPrng:
    """A deterministic stream for public values (common polynomials) expanded from `seed`."""
    return AesCtrPrng(seed, label)


def new_seed() -> bytes:
    """A fresh 32-byte seed from the operating system's CSPRNG."""
    return os.urandom(SEED_BYTES)
