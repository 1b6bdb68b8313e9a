# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The allocation-free BLT noise generator against the materialized C^{-1} z and the sampler stream."""

# pylint: disable=invalid-name

from __future__ import annotations

import numpy as np
import pytest
import torch

from loyal.protocols.dpftrl import build_mechanism, streaming
from loyal.protocols.dpftrl.streaming import BltNoiseGenerator

N, D = 10, 6


@pytest.mark.parametrize("chunk", [streaming._CHUNK, 4])  # pylint: disable=protected-access
@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_generator_equals_inverse_strategy_times_draws(
    dtype: torch.dtype, atol: float, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: a 3-buffer BLT and the same seed for the generator and a replay of its draws; chunk 4
    # cuts d = 6 into a full and a partial cache block.
    monkeypatch.setattr(streaming, "_CHUNK", chunk)
    mechanism = build_mechanism("blt", N, buffers=3)
    generator = mechanism.noise_generator(D, generator=torch.Generator().manual_seed(7), dtype=dtype)
    replay = torch.Generator().manual_seed(7)
    Z = torch.stack([torch.randn(D, generator=replay, dtype=dtype) for _ in range(N)]).double().numpy()
    # Execute
    xi = torch.stack([generator.next().clone() for _ in range(N)]).double().numpy()
    # Assert: xi = C^{-1} Z (Alg. 2 of arXiv 2408.08868), i.e. C xi = Z.
    C = mechanism.strategy_matrix()
    np.testing.assert_allclose(C @ xi, Z, atol=atol)
    assert generator.round == N


@pytest.mark.parametrize("chunk", [streaming._CHUNK, 4])  # pylint: disable=protected-access
def test_generator_matches_sampler_stream_and_reuses_its_memory(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "_CHUNK", chunk)
    mechanism = build_mechanism("blt", N, buffers=2)
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    stream = mechanism.noise_stream(lambda: torch.randn(D, generator=gen_b, dtype=torch.float64))
    generator = mechanism.noise_generator(D, generator=gen_a, dtype=torch.float64)
    pointers = set()
    for expected in stream:
        got = generator.next()
        pointers.add(got.data_ptr())
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    assert len(pointers) == 1  # one preallocated output buffer, no per-round allocation


def test_transform_in_place_and_validation() -> None:
    generator = BltNoiseGenerator([0.5], [0.25], 3, dtype=torch.float64)
    z0, z1 = torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    assert generator.transform_(z0) is z0 and torch.equal(z0, torch.ones(3, dtype=torch.float64))
    generator.transform_(z1)  # xi_1 = z_1 - theta * xi_0 = 1 - 0.5
    torch.testing.assert_close(z1, torch.full((3,), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="z must have shape"):
        generator.transform_(torch.ones(4, dtype=torch.float64))


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        (([0.1, 0.2], [0.5], 4), {}, "output_scale and decay must have the same length"),
        (([], [], 4), {}, "output_scale and decay must have the same length"),
        (([0.1], [0.5], 0), {}, "dim must be an integer >= 1"),
        (([0.1], [0.5], 4), {"dtype": torch.int64}, "dtype must be a floating dtype"),
    ],
)
def test_bad_arguments(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BltNoiseGenerator(*args, **kwargs)
