# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Regenerates tests/golden/rlwe_*.json: RLWE vectors (seed, parameter set, ciphertext hash, plaintext).

Run `python tests/golden/make_rlwe_golden.py` after an intentional change of primes, roots, samplers
or encodings, and say why in the commit. `tests/protocols/rlwe/test_golden.py` recomputes every vector.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np

from loyal.protocols.rlwe.ahe import ThresholdAhe
from loyal.protocols.rlwe.kahe import Kahe
from loyal.protocols.rlwe.params import BY_NAME
from loyal.protocols.rlwe.testing import InsecureFakePrng

HERE = pathlib.Path(__file__).resolve().parent

#: (file stem, parameter set, seed, dim, plaintext bits)
CASES = (
    ("rlwe_insecure_n1024", "insecure-test-n1024", 1, 1500, 30),
    ("rlwe_n4096", "rlwe-n4096", 2, 5000, 30),
)


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<u4").tobytes()).hexdigest()


def compute(name: str, seed: int, dim: int, plaintext_bits: int) -> dict:
    """Deterministic vector for one case (also called by the test)."""
    params = BY_NAME[name]
    public_seed = hashlib.sha256(f"golden/{seed}".encode()).digest()
    prng = InsecureFakePrng(seed)
    values = (np.arange(dim, dtype=np.int64) * 7919 % 2001) - 1000
    kahe = Kahe(params.kahe_ring, plaintext_bits, public_seed, params.error_eta)
    k, key = kahe.create_key(prng)
    ct = kahe.encrypt(key, values, prng)
    ahe = ThresholdAhe(params.ahe_ring, 16, public_seed, smudging_bits=40)
    contrib = ahe.create_keygen_contribution(1, (1,), 1, prng)
    act = ahe.encrypt(contrib.public_part_hat, k, prng)
    return {
        "parameter_set": name,
        "seed": seed,
        "dim": dim,
        "plaintext_bits": plaintext_bits,
        "kahe_moduli": list(params.kahe_ring.moduli),
        "ahe_moduli": list(params.ahe_ring.moduli),
        "public_a_sha256": _sha(kahe.public_polys(ct.num_polys)),
        "kahe_ciphertext_sha256": _sha(ct.b_hat),
        "ahe_ciphertext_sha256": _sha(np.stack([act.c0_hat, act.c1_hat])),
        "plaintext_sha256": hashlib.sha256(values.astype("<i8").tobytes()).hexdigest(),
        "plaintext_head": values[:8].tolist(),
        "decrypted_head": kahe.decrypt(key, ct, dim)[:8].tolist(),
    }


def main() -> None:
    for stem, name, seed, dim, bits in CASES:
        out = compute(name, seed, dim, bits)
        out["source"] = "tests/golden/make_rlwe_golden.py (InsecureFakePrng; regenerate only on intended changes)"
        (HERE / f"{stem}.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
