# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Ligero linear argument on its own: honest runs verify, a wrong target or column is caught."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.ring import ntt_primes
from loyal.protocols.rlwe.sampling import uniform_mod
from loyal.protocols.zk.errors import ProofError
from loyal.protocols.zk.ligero import LigeroCommitment, LigeroOpening, verify_ligero
from loyal.protocols.zk.params import LigeroParams

MODULI = ntt_primes(2)
PARAMS = LigeroParams(row_len=16, code_len=128, num_opened=20, linear_reps=2, proximity_reps=2)
N = 70  # witness length: 5 rows, the last partly padding


def _run(constraint_fix=None, column_fix=None):
    prng = AesCtrPrng(b"\x09" * 32)
    q = np.array(MODULI, dtype=np.int64)[:, None]
    x = uniform_mod(prng, MODULI, (N,))
    c = uniform_mod(prng, MODULI, (PARAMS.linear_reps, N))
    targets = np.stack([(c[s] * x % q).sum(-1) % q[:, 0] for s in range(PARAMS.linear_reps)])
    if constraint_fix:
        targets = constraint_fix(targets)
    gammas = uniform_mod(prng, MODULI, (PARAMS.proximity_reps, PARAMS.num_rows(N) + 2 * PARAMS.linear_reps))
    com = LigeroCommitment(PARAMS, MODULI, x, prng)
    lin, prox = com.respond(c, gammas)
    idx = np.sort(np.random.default_rng(1).choice(PARAMS.code_len, PARAMS.num_opened, replace=False))
    cols, salts, sib = com.open(idx)
    if column_fix:
        cols = column_fix(cols.copy())
    opening = LigeroOpening(lin, prox, cols, salts, sib)
    verify_ligero(PARAMS, MODULI, com.root, N, c, targets, gammas, idx, opening)


def test_honest_linear_argument_verifies() -> None:
    _run()


def test_verify_ligero_fails_if_target_is_wrong_modulo_one_prime() -> None:
    def fix(t):
        t = t.copy()
        t[1, 1] = (t[1, 1] + 1) % MODULI[1]
        return t

    with pytest.raises(ProofError, match=f"linear test 1 fails modulo prime {MODULI[1]}"):
        _run(constraint_fix=fix)


def test_verify_ligero_fails_if_an_opened_column_changes() -> None:
    def fix(cols):
        cols[3, 0, 1] = (cols[3, 0, 1] + 1) % MODULI[1]
        return cols

    with pytest.raises(ProofError, match="column opening"):
        _run(column_fix=fix)


def test_row_combinations_equal_exact_weighted_sums() -> None:
    # The proximity combination: weights broadcast along the row (not copied) through the compiled
    # product-sum, against Python integers, with residues up to q - 1.
    from loyal.protocols.zk.ligero import _combine

    q = np.array([[1073479681], [1072496641]], dtype=np.int64)
    rng = np.random.default_rng(5)  # test data, not secrets
    w = np.stack([rng.integers(0, q[p, 0], size=(3, 44)) for p in range(2)], axis=1)  # (S, P, R)
    rows = np.stack([rng.integers(0, q[p, 0], size=(44, 16)) for p in range(2)], axis=1)  # (R, P, X)
    w[:, :, 0], rows[0, :, 0] = q[:, 0] - 1, q[:, 0] - 1
    want = [[[sum(int(w[s, p, i]) * int(rows[i, p, x]) for i in range(44)) % int(q[p, 0]) for x in range(16)]
             for p in range(2)] for s in range(3)]
    assert _combine(w, rows, q).tolist() == want
