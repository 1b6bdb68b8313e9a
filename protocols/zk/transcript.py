# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Fiat–Shamir transcript: a domain-separated BLAKE3 hash chain with AES-CTR challenge streams.

Every absorbed message is framed as (label length, label, data length, data), so no two different
sequences of messages hash alike. A challenge is drawn by hashing the current state with the
challenge label into a 32-byte seed, expanding it with `AesCtrPrng` (rejection sampling keeps
residues exactly uniform, `sampling.uniform_mod`), and absorbing the seed back, so later challenges
depend on earlier ones (Fiat & Shamir, CRYPTO 1986; the sponge-like chaining of Merlin/STROBE).
"""

from __future__ import annotations

import struct

import blake3
import numpy as np

from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.sampling import uniform_mod

#: Domain tag that starts every transcript (changing the protocol changes this tag).
PROTOCOL_TAG = b"loyal/zk/transcript/v1"


class Transcript:
    """A running hash of labelled public messages, from which challenges are derived.

    Args:
      protocol: name of the proof system (domain separation between argument types).
    """

    def __init__(self, protocol: bytes) -> None:
        self._state = blake3.blake3(PROTOCOL_TAG).digest()
        self.absorb(b"protocol", protocol)

    def absorb(self, label: bytes, data: bytes | memoryview) -> None:
        """Absorbs one labelled message."""
        h = blake3.blake3(self._state)
        h.update(struct.pack("<I", len(label)) + label)
        h.update(struct.pack("<Q", len(data)))
        h.update(data)
        self._state = h.digest()

    def absorb_array(self, label: bytes, values: np.ndarray) -> None:
        """Absorbs an integer array as little-endian uint32 words with its shape (residues < 2^32)."""
        arr = np.ascontiguousarray(values)
        if arr.size and (arr.min() < 0 or arr.max() >= 1 << 32):
            raise ValueError(f"absorb_array({label!r}) needs values in [0, 2^32), got [{arr.min()}, {arr.max()}]")
        shape = struct.pack(f"<{arr.ndim}Q", *arr.shape)
        self.absorb(label, shape + arr.astype("<u4").tobytes())

    def challenge_seed(self, label: bytes) -> bytes:
        """A fresh 32-byte public seed bound to everything absorbed so far and to `label`."""
        seed = blake3.blake3(self._state + b"challenge" + struct.pack("<I", len(label)) + label).digest()
        self.absorb(b"challenge:" + label, seed)
        return seed

    def challenge_prng(self, label: bytes) -> AesCtrPrng:
        """A fresh challenge stream bound to everything absorbed so far and to `label`."""
        return AesCtrPrng(self.challenge_seed(label), b"loyal/zk/challenge")

    def challenge_residues(self, label: bytes, moduli: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
        """Uniform residues of shape shape[:-1] + (len(moduli), shape[-1]) (one Z_Q element per slot)."""
        return uniform_mod(self.challenge_prng(label), moduli, shape)

    def challenge_indices(self, label: bytes, count: int, bound: int) -> np.ndarray:
        """`count` distinct indices in [0, bound), bound a power of two, sorted ascending."""
        if bound & (bound - 1) or not 0 < count <= bound:
            raise ValueError(f"challenge_indices needs a power-of-two bound >= count, got {count}, {bound}")
        prng = self.challenge_prng(label)
        seen: dict[int, None] = {}
        while len(seen) < count:
            for w in (prng.uint32(2 * count) & np.uint32(bound - 1)).tolist():
                if len(seen) == count:
                    break
                seen.setdefault(int(w))
        return np.array(sorted(seen), dtype=np.int64)
