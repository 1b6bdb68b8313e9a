# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The Ligero linear argument on its own: honest runs verify, a wrong target or column is caught."""

from __future__ import annotations

import numpy as np
import pytest

from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.ring import ntt_primes
from loyal.protocols.rlwe.sampling import uniform_mod
from loyal.protocols.zk.errors import ProofError
from loyal.protocols.zk.ligero import LigeroCommitment, LigeroOpening, _salted_tree, verify_ligero
from loyal.protocols.zk.params import LigeroParams

MODULI = ntt_primes(2)
PARAMS = LigeroParams(row_len=16, code_len=128, num_opened=20, linear_reps=2, proximity_reps=2)
N = 70  # witness length: 5 rows of ℓ - 1 = 15 entries, the last partly padding


def _run(constraint_fix=None, column_fix=None):
    prng = AesCtrPrng(b"\x09" * 32)
    q = np.array(MODULI, dtype=np.int64)[:, None]
    x = uniform_mod(prng, MODULI, (N,))
    c = uniform_mod(prng, MODULI, (PARAMS.linear_reps, N))
    targets = np.stack([(c[s] * x % q).sum(-1) % q[:, 0] for s in range(PARAMS.linear_reps)])
    if constraint_fix:
        targets = constraint_fix(targets)
    gammas = uniform_mod(prng, MODULI, (PARAMS.proximity_reps, PARAMS.combined_rows(N)))
    com = LigeroCommitment(PARAMS, MODULI, x, prng)
    linear_root = com.commit_linear(c)
    prox = com.respond(gammas)
    idx = np.sort(np.random.default_rng(1).choice(PARAMS.code_len, PARAMS.num_opened, replace=False))
    cols, lin_cols, salts, lin_salts, sib, lin_sib = com.open(idx)
    if column_fix:
        cols, lin_cols = column_fix(cols.copy(), lin_cols.copy())
    opening = LigeroOpening(linear_root, prox, cols, lin_cols, salts, lin_salts, sib, lin_sib)
    verify_ligero(PARAMS, MODULI, com.root, N, c, targets, gammas, idx, opening)


def test_honest_linear_argument_verifies() -> None:
    _run()


def test_verify_ligero_fails_if_target_is_wrong_modulo_one_prime() -> None:
    def fix(t):
        t = t.copy()
        t[1, 1] = (t[1, 1] + 1) % MODULI[1]
        return t

    with pytest.raises(ProofError, match=f"linear test fails modulo prime {MODULI[1]}"):
        _run(constraint_fix=fix)


@pytest.mark.parametrize("tree", ["column", "linear column"])
def test_verify_ligero_fails_if_an_opened_column_changes(tree) -> None:
    def fix(cols, lin_cols):
        changed = cols if tree == "column" else lin_cols
        changed[3, 0, 1] = (changed[3, 0, 1] + 1) % MODULI[1]
        return cols, lin_cols

    with pytest.raises(ProofError, match=f"^{tree} opening"):
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


class _ForgedTargetCommitment(LigeroCommitment):
    """A prover for a false target: it commits A_s with coefficient ℓ - 1 set to the claimed target, so the
    target check passes; the virtual rows V_s = (q_s - A_s)/X^k are then no longer polynomials of degree < k."""

    claimed: np.ndarray

    def commit_linear(self, constraints):
        super().commit_linear(constraints)
        split = self._linear[0].copy()
        split[0, :, :, self.params.row_len - 1] = self.claimed
        values = self.code.evaluate(split[0])
        tree = _salted_tree(values, self._prng)
        self._linear = (split, values, tree)
        return tree.root


def test_a_linear_row_forged_to_a_false_target_fails_the_proximity_test() -> None:
    prng = AesCtrPrng(b"\x0a" * 32)
    q = np.array(MODULI, dtype=np.int64)[:, None]
    x = uniform_mod(prng, MODULI, (N,))
    c = uniform_mod(prng, MODULI, (PARAMS.linear_reps, N))
    targets = np.stack([(c[s] * x % q).sum(-1) % q[:, 0] for s in range(PARAMS.linear_reps)])
    targets[0, 0] = (targets[0, 0] + 1) % MODULI[0]  # a false statement modulo the first prime
    com = _ForgedTargetCommitment(PARAMS, MODULI, x, prng)
    com.claimed = targets  # (σ_l, P): A_s's coefficient ℓ - 1 for every prime
    linear_root = com.commit_linear(c)
    gammas = uniform_mod(prng, MODULI, (PARAMS.proximity_reps, PARAMS.combined_rows(N)))
    prox = com.respond(gammas)
    idx = np.sort(np.random.default_rng(2).choice(PARAMS.code_len, PARAMS.num_opened, replace=False))
    cols, lin_cols, salts, lin_salts, sib, lin_sib = com.open(idx)
    opening = LigeroOpening(linear_root, prox, cols, lin_cols, salts, lin_salts, sib, lin_sib)
    # The target check alone would pass: the forged coefficient is exactly what it expects.
    want = (gammas[:, :, -2 * PARAMS.linear_reps : -PARAMS.linear_reps] * targets.T[None] % q[None]).sum(-1) % q[:, 0]
    assert np.array_equal(prox[:, :, PARAMS.row_len - 1], want)
    with pytest.raises(ProofError, match="proximity test is inconsistent"):
        verify_ligero(PARAMS, MODULI, com.root, N, c, targets, gammas, idx, opening)


def test_every_committed_row_but_a_s_has_a_zero_at_the_coefficient_the_linear_test_reads() -> None:
    # Coefficient ℓ - 1: witness rows (the slot after ℓ - 1 entries), both linear masks and the proximity
    # masks; and M1_s's top coefficient, so that B_s = q_s div X^k has a zero there as well.
    prng = AesCtrPrng(b"\x0b" * 32)
    com = LigeroCommitment(PARAMS, MODULI, uniform_mod(prng, MODULI, (N,)), prng)
    ell, k, sl = PARAMS.row_len, PARAMS.degree_bound, PARAMS.linear_reps
    m = PARAMS.num_rows(N)
    assert not com.coeffs[:, :, ell - 1].any()
    assert not com.coeffs[m + sl : m + 2 * sl, :, k - 1].any()
    com.commit_linear(uniform_mod(prng, MODULI, (sl, N)))
    split = com._linear[0]
    assert not split[1, :, :, ell - 1 :].any()  # B_s has ℓ - 1 coefficients
