# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Fiat–Shamir transcript: deterministic, domain-separated, framed."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.zk.transcript import Transcript

MODULI = (1071513601, 1070727169)


def _challenge(*messages: tuple[bytes, bytes], protocol: bytes = b"p") -> np.ndarray:
    tr = Transcript(protocol)
    for label, data in messages:
        tr.absorb(label, data)
    return tr.challenge_residues(b"c", MODULI, (4,))


def test_challenges_are_deterministic_and_in_range() -> None:
    a = _challenge((b"x", b"1"))
    assert np.array_equal(a, _challenge((b"x", b"1")))
    assert a.shape == (2, 4) and np.all(a < np.array(MODULI)[:, None])


@pytest.mark.parametrize(
    "other",
    [((b"x", b"2"),), ((b"y", b"1"),), ((b"x", b"1"), (b"x", b"1")), ((b"x1", b""),), ((b"", b"x1"),)],
)
def test_challenges_differ_if_any_message_differs(other: tuple[tuple[bytes, bytes], ...]) -> None:
    assert not np.array_equal(_challenge((b"x", b"1")), _challenge(*other))


def test_challenges_differ_across_protocols_and_successive_draws() -> None:
    assert not np.array_equal(_challenge(protocol=b"a"), _challenge(protocol=b"b"))
    tr = Transcript(b"p")
    assert not np.array_equal(tr.challenge_residues(b"c", MODULI, (4,)), tr.challenge_residues(b"c", MODULI, (4,)))


def test_challenge_indices_are_distinct_sorted_and_bounded() -> None:
    idx = Transcript(b"p").challenge_indices(b"cols", 200, 256)
    assert len(set(idx.tolist())) == 200 and np.all(np.diff(idx) > 0) and idx.max() < 256


def test_absorb_array_fails_if_values_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"absorb_array\(b'a'\) needs values in \[0, 2\^32\)"):
        Transcript(b"p").absorb_array(b"a", np.array([-1]))
