# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The encoder keeps every encoded update within the clip norm the DP accounting uses."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.encoding import FixedPointEncoder


@pytest.mark.parametrize("dim, scale", [(9_610, 1024.0), (100_000, 1024.0), (300, 2.0**10), (64, 16.0)])
def test_no_encoded_update_exceeds_the_clip_norm_the_accounting_uses(dim, scale):
    """Conditional randomized rounding (issue 15): plain randomized rounding of a clipped update reaches
    1.096 C at d = 9,610 and 1.31 C at d = 10^5 (scale 1,024); the encoder now never exceeds C·s."""
    from loyal.protocols.rlwe.prng import AesCtrPrng

    enc = FixedPointEncoder(1.0, scale)
    prng = AesCtrPrng(bytes(32), b"test/rounding")
    worst = 0.0
    for i in range(5):
        v = AesCtrPrng(bytes([i]) * 32, b"v").unit_floats(dim) - 0.5  # far longer than C: clipped
        m = enc.encode(v, prng)
        worst = max(worst, float(np.linalg.norm(m.astype(np.float64))) / scale)
        assert int(np.dot(m, m)) <= (enc.clip_norm * scale) ** 2
    assert enc.rounding_radius(dim) / scale * 0.95 < worst <= 1.0  # bound holds; the pre-clip radius is what it costs
    if scale >= 1024:
        assert enc.rounding_radius(dim) / scale > 0.98  # <= 2 % of the norm at d <= 10^5, s = 1024


def test_scale_too_small_for_the_dimension_is_refused():
    with pytest.raises(ValueError, match="too small for d=100000"):
        FixedPointEncoder(1.0, 16.0).rounding_radius(100_000)
