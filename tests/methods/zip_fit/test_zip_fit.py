# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""gzip NCD (arXiv 2410.18194, Eq. (1)) properties and ZIP-FIT ranking on a constructed case."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.methods.zip_fit import maths
from loyal.methods.zip_fit.experiment import Split, ZipFitConfig, select

PY = "def f(x):\n    return [i * x for i in range(10) if i % 2]\n\nclass A:\n    def __init__(self):\n        self.v = 1\n"
PROSE = "Shall I compare thee to a summer's day? Thou art more lovely and more temperate.\n"


def _random_bytes(seed: int, n: int = 400) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size=n, dtype=np.uint8).tobytes()


def test_ncd_of_a_text_with_itself_is_near_zero_and_of_unrelated_noise_near_one() -> None:
    x = (PY * 4).encode()
    assert maths.ncd(x, x) < 0.1
    assert maths.ncd(_random_bytes(0), _random_bytes(1)) > 0.9  # measured 0.946: gzip header and Huffman overhead


def test_ncd_is_nearly_symmetric_and_ordered_by_similarity() -> None:
    a, b, c = (PY * 3).encode(), (PY.replace("x", "y") * 3).encode(), (PROSE * 3).encode()
    assert abs(maths.ncd(a, b) - maths.ncd(b, a)) < 0.05
    assert maths.ncd(a, b) < maths.ncd(a, c)


def test_compressed_size_is_deterministic_and_level_is_checked() -> None:
    assert maths.compressed_size(b"abc" * 50) == maths.compressed_size(b"abc" * 50)
    with pytest.raises(ValueError, match=r"level must be in \[6, 9\], got 5"):
        maths.ncd(b"a", b"b", level=5)


def test_alignment_scores_match_the_mean_of_one_minus_ncd() -> None:
    candidates, targets = [PY, PROSE], [PY.upper(), PY[::-1]]
    expected = [np.mean([1 - maths.ncd(c.encode(), t.encode()) for t in targets]) for c in candidates]
    np.testing.assert_allclose(maths.alignment_scores(candidates, targets), expected)


def test_zip_fit_ranks_code_above_prose_for_a_code_target() -> None:
    # Constructed case: 5 code-like and 5 prose candidates; the target is different code.
    code = [PY.replace("x", v) * 2 for v in "abcde"]
    prose = [(PROSE + str(i)) * 2 for i in range(5)]
    targets = ["import os\n\ndef g(y):\n    return {k: y for k in range(3)}\n" * 2]
    chosen = maths.top_k(maths.alignment_scores(prose + code, targets), 5)
    assert sorted(chosen.tolist()) == [5, 6, 7, 8, 9]


def test_top_k_breaks_ties_by_index_and_checks_k() -> None:
    assert maths.top_k(np.array([1.0, 3.0, 3.0, 2.0]), 3).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match=r"k must be in \[1, 4\], got 5"):
        maths.top_k(np.zeros(4), 5)


def test_dsir_and_random_select_k_distinct_documents() -> None:
    code = [PY.replace("x", v) * 3 for v in "abcdefgh"]
    prose = [(PROSE + str(i)) * 3 for i in range(8)]
    split = Split(tuple(prose + code), ("english",) * 8 + ("python",) * 8, tuple(code[:2]), tuple(code[2:4]))
    config = ZipFitConfig(pool_per_category=10, k=4)
    for selector in ("dsir", "random", "zip_fit"):
        chosen = select(selector, split, config, seed=0)
        assert len(set(chosen.tolist())) == 4
    assert all(i >= 8 for i in select("zip_fit", split, config, seed=0))
