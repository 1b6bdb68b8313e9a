# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Test-only deterministic randomness. INSECURE: never use outside tests and golden vectors."""

from __future__ import annotations

import hashlib

from loyal.protocols.rlwe.prng import AesCtrPrng


class InsecureFakePrng(AesCtrPrng):
    """AES-CTR seeded from a small public integer, so tests are reproducible (as Willow's
    `willow/src/testing_utils/fake_prng.rs`). The name says it: secrets drawn from it are public."""

    def __init__(self, seed: int, label: bytes = b"") -> None:
        super().__init__(hashlib.sha256(b"insecure-fake-prng" + int(seed).to_bytes(16, "little")).digest(), label)

    def __repr__(self) -> str:
        return "InsecureFakePrng(...)"
