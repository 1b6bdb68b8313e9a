# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Ligero linear argument over Z_Q in RNS form: commit to a vector, prove linear equations on it.

Ames, Hazay, Ishai, Venkitasubramaniam, "Ligero: Lightweight Sublinear Arguments Without a Trusted
Setup", CCS 2017, §4 (testing interleaved linear codes, Test-Linear-Constraints), zero-knowledge
variant with random tails and masking rows, with coefficient-embedded rows (`reed_solomon.py`), and the
linear test's polynomial committed in a second round instead of sent (docs/zk.md, "Linear test").
The witness x ∈ Z_Q^n is cut into m rows of ℓ - 1 entries; row i is encoded as p_i = x_i + X^ℓ·r_i
(degree < k = ℓ + t, coefficient ℓ - 1 zero) and the L codeword columns are committed in a salted
Merkle tree (a leaf holds one column's residues for every prime). Extra rows of that first commitment:

* 2σ_l linear masks (M0_s, M1_s) of degree < k, coefficient ℓ - 1 of both and k - 1 of M1_s zero;
  M_s = M0_s + X^ℓ·M1_s, and the t overlapping coefficients of M0_s and X^ℓ·M1_s keep the opened
  values of M0_s, M1_s and A_s uniform (t < ℓ).
* σ_p proximity masks P_s, uniform of degree < k but coefficient ℓ - 1, which is zero.

Linear test s (constraint c_s ∈ Z_Q^n with target b_s = <c_s, x>; c̃_{s,i}(X) = Σ_a c_s[i, a]·X^(ℓ-1-a)):
q_s = Σ_i c̃_{s,i}·p_i + M_s has degree < 2ℓ + t - 1 and coefficient ℓ - 1 equal to b_s. The prover
commits A_s = q_s mod X^k (second Merkle tree, after the constraints are drawn); B_s = q_s div X^k
(ℓ coefficients, the last zero) is virtual: at a column j the verifier computes
V_s(η_j) = η_j^-k·(Σ_i c̃_{s,i}(η_j)·U[i, j] + M0_s(η_j) + η_j^ℓ·M1_s(η_j) - A_s(η_j)).
Proximity test s (γ_s uniform over the words W = (p_i, M0, M1, A, V)): the prover sends
u_s = Σ_w γ_{s,w}·w + P_s (k coefficients); the verifier checks u_s(η_j) at every opened column and
that coefficient ℓ - 1 of u_s is Σ_s' γ_{s,A_s'}·b_s' (every other word has a zero there). Decoding the
words that pass, q_s = A_s + X^k·B_s holds on >= L - e >= 2k points, hence identically, and so
<c_s, x> = coefficient ℓ - 1 of A_s = b_s (soundness terms in `params.py`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from loyal.protocols.rlwe import kernels
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.rlwe.sampling import uniform_mod
from loyal.protocols.zk.errors import ProofError
from loyal.protocols.zk.merkle import SALT_BYTES, MerkleError, MerkleTree, verify_opening
from loyal.protocols.zk.params import LigeroParams
from loyal.protocols.zk.reed_solomon import RnsReedSolomon, ntt_of_prefix, point_powers, power_table


def make_code(params: LigeroParams, moduli: tuple[int, ...]) -> RnsReedSolomon:
    return RnsReedSolomon(moduli, params.row_len, params.code_len, params.num_opened)


@dataclasses.dataclass(frozen=True)
class LigeroOpening:
    """The prover's messages after the first commitment: the second root, test polynomials, opened columns.

    Attributes:
      linear_root: Merkle root of the σ_l rows A_s (second commitment).
      proximity_polys: (σ_p, P, k) coefficients of the u_s.
      columns: (t, rows, P) opened column values of the first commitment (indices sorted ascending).
      linear_columns: (t, σ_l, P) opened column values of the A_s.
      salts, linear_salts: (t, SALT_BYTES) uint8 salts of the opened leaves of each tree.
      siblings, linear_siblings: pruned Merkle sibling hashes of each tree.
    """

    linear_root: bytes
    proximity_polys: np.ndarray = dataclasses.field(repr=False)
    columns: np.ndarray = dataclasses.field(repr=False)
    linear_columns: np.ndarray = dataclasses.field(repr=False)
    salts: np.ndarray = dataclasses.field(repr=False)
    linear_salts: np.ndarray = dataclasses.field(repr=False)
    siblings: list[bytes] = dataclasses.field(repr=False)
    linear_siblings: list[bytes] = dataclasses.field(repr=False)


def reversed_rows(constraints: np.ndarray, m: int, ell: int) -> np.ndarray:
    """c̃ coefficients (σ, m, P, ℓ) of constraint vectors (σ, P, n <= m·(ℓ - 1)): row i's ℓ - 1 entries
    reversed into coefficients ℓ - 1 .. 1, coefficient 0 zero (it meets the zero coefficient ℓ - 1 of p_i)."""
    sl, num_p, n = constraints.shape
    per = ell - 1
    out = np.empty((sl, m, num_p, ell), dtype=np.int64)
    view = out.transpose(0, 2, 1, 3)[..., ::-1]  # (σ, P, m, ℓ), row i reversed: one strided copy
    full = n // per
    view[:, :, :full, :per] = constraints[:, :, : full * per].reshape(sl, num_p, full, per)
    view[:, :, full:, :per] = 0
    if n > full * per:
        view[:, :, full, : n - full * per] = constraints[:, :, full * per :]
    out[..., 0] = 0
    return out


def _salted_tree(values: np.ndarray, prng: AesCtrPrng) -> MerkleTree:
    """A Merkle tree over the columns of `values` (rows, P, L): leaf j = column j's residues, salted."""
    code_len = values.shape[-1]
    leaves = np.ascontiguousarray(values.transpose(2, 0, 1)).astype("<u4").reshape(code_len, -1).view(np.uint8)
    salts = prng.uint8(code_len * SALT_BYTES).reshape(code_len, SALT_BYTES)
    return MerkleTree(leaves, salts)


class LigeroCommitment:
    """Prover state: the encoded rows of one witness, their evaluations and the Merkle trees.

    Use: construct (first commitment, `root`), `commit_linear` (second, `linear_root`), `respond`, `open`.

    Args:
      params: the argument's shape.
      moduli: primes of Q.
      witness: (P, n) residues of x.
      prng: secret randomness (tails, masks, salts).
    """

    def __init__(self, params: LigeroParams, moduli: tuple[int, ...], witness: np.ndarray, prng: AesCtrPrng) -> None:
        self.params, self._prng = params, prng
        self.code = code = make_code(params, moduli)
        num_p, n = witness.shape
        ell, t, k, per = params.row_len, params.num_opened, params.degree_bound, params.row_entries
        sl, sp = params.linear_reps, params.proximity_reps
        self.num_witness_rows = m = params.num_rows(n)
        padded = np.zeros((num_p, m * per), dtype=np.int64)
        padded[:, :n] = witness
        rows = np.zeros((m, num_p, ell), dtype=np.int64)
        rows[:, :, :per] = padded.reshape(num_p, m, per).transpose(1, 0, 2)
        tails = uniform_mod(prng, moduli, (m, t))
        lin_masks = uniform_mod(prng, moduli, (2 * sl, k))
        lin_masks[:, :, ell - 1] = 0
        lin_masks[sl:, :, k - 1] = 0  # deg q_s < 2ℓ + t - 1: B_s's coefficient ℓ - 1 is zero
        prox_masks = uniform_mod(prng, moduli, (sp, k))
        prox_masks[:, :, ell - 1] = 0
        self.coeffs = np.concatenate([code.encode(rows, tails), lin_masks, prox_masks])
        self.values = code.evaluate(self.coeffs)  # (rows, P, L)
        self.tree = _salted_tree(self.values, prng)
        self._linear: tuple[np.ndarray, np.ndarray, MerkleTree] | None = None

    @property
    def root(self) -> bytes:
        return self.tree.root

    def commit_linear(self, constraints: np.ndarray) -> bytes:
        """Commits A_s = q_s mod X^k for constraint vectors (σ_l, P, n') (n' <= m·(ℓ - 1), zero-padded);
        returns the second root."""
        p, code = self.params, self.code
        m, q, ell = self.num_witness_rows, code.q, p.row_len
        sl, k = p.linear_reps, p.degree_bound
        n_lin = 2 * ell + p.num_opened - 1  # deg q_s < 2ℓ + t - 1
        # Σ_i c̃_i·p_i with p_i = x_i + X^ℓ·r_i, as Σ c̃_i·x_i (degree < 2ℓ - 1) plus X^ℓ·Σ c̃_i·r_i (degree
        # < ℓ + t - 1): two products in Z_Q[X]/(X^Lp + 1) with Lp >= max(2ℓ - 1, k - 1), which do not wrap
        # around, so they are exact. Lp = 1,024 at ℓ = 512 where one product of length 2ℓ + t needs 2,048:
        # the σ_l·m lifts of the c̃_i, the largest share of this method, cost half.
        prod_ring = RnsRing(1 << (max(2 * ell - 1, k - 1) - 1).bit_length(), code.moduli)

        def lift(coeffs: np.ndarray) -> np.ndarray:
            return ntt_of_prefix(prod_ring, coeffs)

        x_hat, r_hat = lift(self.coeffs[:m, :, :ell]), lift(self.coeffs[:m, :, ell:k])  # (m, P, Lp) each
        split = np.zeros((2, sl, len(code.moduli), k), dtype=np.int64)  # A_s, B_s (padded to k)
        c_rev = reversed_rows(constraints, m, ell)
        for s in range(sl):
            c_hat = lift(c_rev[s])
            low = prod_ring.intt(_combine_pointwise(c_hat, x_hat, q))
            high = prod_ring.intt(_combine_pointwise(c_hat, r_hat, q))
            if np.any(low[:, 2 * ell - 1 :]) or np.any(high[:, k - 1 :]):
                raise AssertionError("linear-test polynomial exceeds its degree bound (internal error)")
            poly = np.zeros((len(code.moduli), 2 * k), dtype=np.int64)
            poly[:, : 2 * ell - 1] = low[:, : 2 * ell - 1]
            poly[:, ell : ell + k - 1] += high[:, : k - 1]
            poly[:, :k] += self.coeffs[m + s]
            poly[:, ell : ell + k] += self.coeffs[m + sl + s]
            poly %= q
            if np.any(poly[:, n_lin:]):
                raise AssertionError("linear-test polynomial exceeds its degree bound (internal error)")
            split[0, s], split[1, s] = poly[:, :k], poly[:, k:]
        values = code.evaluate(split[0])
        tree = _salted_tree(values, self._prng)
        self._linear = (split, values, tree)
        return tree.root

    def respond(self, gammas: np.ndarray) -> np.ndarray:
        """The proximity polynomials (σ_p, P, k) for coefficients gammas (σ_p, P, m + 4σ_l) over the
        words (p_i, M0_s, M1_s, A_s, B_s)."""
        if self._linear is None:
            raise RuntimeError("commit_linear must come before respond")
        p, q = self.params, self.code.q
        m, sl = self.num_witness_rows, p.linear_reps
        split = self._linear[0]
        words = np.concatenate([self.coeffs[: m + 2 * sl], split[0], split[1]])
        return (_combine(gammas, words, q) + self.coeffs[m + 2 * sl :]) % q

    def open(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[bytes], list[bytes]]:
        """(columns (t, rows, P), linear columns (t, σ_l, P), salts, linear salts, siblings, linear siblings)
        for sorted distinct indices."""
        if self._linear is None:
            raise RuntimeError("commit_linear must come before open")
        _, lin_values, lin_tree = self._linear
        cols = np.ascontiguousarray(self.values[:, :, indices].transpose(2, 0, 1))
        lin_cols = np.ascontiguousarray(lin_values[:, :, indices].transpose(2, 0, 1))
        return (cols, lin_cols, self.tree.salts[indices], lin_tree.salts[indices], self.tree.open(indices),
                lin_tree.open(indices))


def _combine_pointwise(a: np.ndarray, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Σ_i a[i]·b[i] mod q for (R, P, X) arrays of residues (one compiled pass, `kernels.sum_products_mod`)."""
    out = np.empty(a.shape[1:], dtype=np.int64)
    kernels.sum_products_mod(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64),
                             np.ascontiguousarray(q.reshape(-1), dtype=np.int64), out)
    return out


def _combine(weights: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Σ_i w[s, :, i]·rows[i] mod q for weights (S, P, R) and rows (R, P, X): (S, P, X) (each s one
    `_combine_pointwise` with the weights broadcast along X, not copied)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.int64)
    return np.stack([_combine_pointwise(np.broadcast_to(w.T[:, :, None], rows.shape), rows, q) for w in weights])


def verify_ligero(
    params: LigeroParams,
    moduli: tuple[int, ...],
    root: bytes,
    witness_len: int,
    constraints: np.ndarray,
    targets: np.ndarray,
    gammas: np.ndarray,
    indices: np.ndarray,
    opening: LigeroOpening,
) -> None:
    """Checks both Merkle openings, the linear targets and the proximity test on the opened columns.

    Raises:
      ProofError: naming the failed check.
    """
    code = make_code(params, moduli)
    q, q1 = code.q, code.q[:, 0]
    m, ell, k = params.num_rows(witness_len), params.row_len, params.degree_bound
    sl = params.linear_reps
    for name, r, cols, salts, siblings in (
            ("column", root, opening.columns, opening.salts, opening.siblings),
            ("linear column", opening.linear_root, opening.linear_columns, opening.linear_salts,
             opening.linear_siblings)):
        leaves = np.ascontiguousarray(cols).astype("<u4").reshape(len(indices), -1)
        try:
            verify_opening(r, params.code_len, indices, [leaf.tobytes() for leaf in leaves],
                           [s.tobytes() for s in salts], siblings)
        except MerkleError as e:
            raise ProofError(f"{name} opening: {e}") from e
    u = opening.proximity_polys
    # Coefficient ℓ - 1 of u_s: Σ_s' γ_{s,A_s'}·b_s' (every other word, and P_s, has a zero there).
    want = (gammas[:, :, m + 2 * sl : m + 3 * sl] * (targets % q1).T[None] % q1[None, :, None]).sum(-1) % q1
    bad = np.argwhere(u[:, :, ell - 1] != want)
    if bad.size:
        raise ProofError(f"linear test fails modulo prime {moduli[bad[0][1]]} (coefficient ℓ - 1 of proximity "
                         f"response {bad[0][0]}): <c, x> ≠ target")
    table = power_table(code, indices, k)
    cols_pl = np.ascontiguousarray(opening.columns.transpose(1, 2, 0))  # (rows, P, t)
    a_at = np.ascontiguousarray(opening.linear_columns.transpose(1, 2, 0))  # (σ_l, P, t)
    r_at = code.evaluate_at(reversed_rows(constraints, m, ell), table)  # (σ_l, m, P, t)
    x_ell, x_minus_k = point_powers(code, indices, ell), point_powers(code, indices, 2 * params.code_len - k)
    virtual = np.empty_like(a_at)  # V_s(η_j) = η_j^-k·(q_s(η_j) - A_s(η_j)), η^2L = 1
    for s in range(sl):
        q_at = (cols_pl[m + s] + x_ell * cols_pl[m + sl + s]) % q
        q_at = (q_at + _combine_pointwise(r_at[s], cols_pl[:m], q)) % q
        virtual[s] = (q_at - a_at[s]) % q * x_minus_k % q
    words = np.concatenate([cols_pl[: m + 2 * sl], a_at, virtual])
    expect = (_combine(gammas, words, q) + cols_pl[m + 2 * sl :]) % q
    if not np.array_equal(expect, code.evaluate_at(u, table)):
        raise ProofError("proximity test is inconsistent with the opened columns")
