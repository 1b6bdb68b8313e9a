# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Ligero linear argument over Z_Q in RNS form: commit to a vector, prove linear equations on it.

Ames, Hazay, Ishai, Venkitasubramaniam, "Ligero: Lightweight Sublinear Arguments Without a Trusted
Setup", CCS 2017, §4 (testing interleaved linear codes, Test-Linear-Constraints), zero-knowledge
variant with random tails and masking rows, with coefficient-embedded rows (`reed_solomon.py`).
The witness x ∈ Z_Q^n is cut into m rows of ℓ entries; row i is encoded as p_i = x_i + X^ℓ·r_i
(degree < k = ℓ + t) and the L codeword columns are committed in a salted Merkle tree (a leaf holds
one column's residues for every prime). Extra committed rows:

* 2σ_l linear masks (M0_s, M1_s) of degree < k with coefficient ℓ - 1 of M0_s zero; M_s =
  M0_s + X^ℓ·M1_s has coefficient ℓ - 1 zero, and the t overlapping coefficients of M0_s and
  X^ℓ·M1_s keep the opened values of M0_s, M1_s uniform given M_s.
* σ_p proximity masks P_s, uniform of degree < k.

Linear test s (constraint c_s ∈ Z_Q^n with target b_s = <c_s, x>; c̃_{s,i}(X) = Σ_a c_s[i, a]·X^(ℓ-1-a)):
the prover sends q_s = Σ_i c̃_{s,i}·p_i + M_s (2ℓ + t coefficients); the verifier checks
coefficient ℓ - 1 of q_s equals b_s and q_s(η_j) = Σ_i c̃_{s,i}(η_j)·U[i, j] + M0_s(η_j) +
η_j^ℓ·M1_s(η_j) at every opened column j. Proximity test s (γ_s uniform over the other rows): the
prover sends u_s = Σ_i γ_{s,i}·p_i + P_s (k coefficients); the verifier checks u_s(η_j) likewise.
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
    """The prover's messages after the commitment: test polynomials and opened columns.

    Attributes:
      linear_polys: (σ_l, P, 2ℓ + t) coefficients of the q_s.
      proximity_polys: (σ_p, P, k) coefficients of the u_s.
      columns: (t, rows, P) opened column values (indices sorted ascending).
      salts: (t, SALT_BYTES) uint8 salts of the opened leaves.
      siblings: pruned Merkle sibling hashes.
    """

    linear_polys: np.ndarray = dataclasses.field(repr=False)
    proximity_polys: np.ndarray = dataclasses.field(repr=False)
    columns: np.ndarray = dataclasses.field(repr=False)
    salts: np.ndarray = dataclasses.field(repr=False)
    siblings: list[bytes] = dataclasses.field(repr=False)


def reversed_rows(constraints: np.ndarray, m: int, ell: int) -> np.ndarray:
    """c̃ coefficients (σ, m, P, ℓ) of constraint vectors (σ, P, n <= m·ℓ): row i reversed."""
    sl, num_p, n = constraints.shape
    out = np.empty((sl, m, num_p, ell), dtype=np.int64)
    view = out.transpose(0, 2, 1, 3)[..., ::-1]  # (σ, P, m, ℓ), row i reversed: one strided copy
    full = n // ell
    view[:, :, :full] = constraints[:, :, : full * ell].reshape(sl, num_p, full, ell)
    view[:, :, full:] = 0
    if n > full * ell:
        view[:, :, full, : n - full * ell] = constraints[:, :, full * ell :]
    return out


class LigeroCommitment:
    """Prover state: the encoded rows of one witness, their evaluations and the Merkle tree.

    Args:
      params: the argument's shape.
      moduli: primes of Q.
      witness: (P, n) residues of x.
      prng: secret randomness (tails, masks, salts).
    """

    def __init__(self, params: LigeroParams, moduli: tuple[int, ...], witness: np.ndarray, prng: AesCtrPrng) -> None:
        self.params = params
        self.code = code = make_code(params, moduli)
        num_p, n = witness.shape
        ell, t, k = params.row_len, params.num_opened, params.degree_bound
        sl, sp = params.linear_reps, params.proximity_reps
        self.num_witness_rows = m = params.num_rows(n)
        padded = np.zeros((num_p, m * ell), dtype=np.int64)
        padded[:, :n] = witness
        rows = np.ascontiguousarray(padded.reshape(num_p, m, ell).transpose(1, 0, 2))
        tails = uniform_mod(prng, moduli, (m, t))
        lin_masks = uniform_mod(prng, moduli, (2 * sl, k))
        lin_masks[:sl, :, ell - 1] = 0
        prox_masks = uniform_mod(prng, moduli, (sp, k))
        self.coeffs = np.concatenate([code.encode(rows, tails), lin_masks, prox_masks])
        self.values = code.evaluate(self.coeffs)  # (rows, P, L)
        leaves = np.ascontiguousarray(self.values.transpose(2, 0, 1)).astype("<u4")
        self.leaf_bytes = leaves.reshape(params.code_len, -1).view(np.uint8)
        salts = prng.uint8(params.code_len * SALT_BYTES).reshape(params.code_len, SALT_BYTES)
        self.tree = MerkleTree(self.leaf_bytes, salts)

    @property
    def root(self) -> bytes:
        return self.tree.root

    def respond(self, constraints: np.ndarray, gammas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The test polynomials (linear (σ_l, P, 2ℓ + t), proximity (σ_p, P, k)).

        Args:
          constraints: (σ_l, P, n') constraint vectors c_s, n' <= m·ℓ (zero-padded).
          gammas: (σ_p, P, m + 2σ_l) proximity coefficients.
        """
        p, code = self.params, self.code
        m, q, ell = self.num_witness_rows, code.q, p.row_len
        sl, k, n_lin = p.linear_reps, p.degree_bound, p.linear_poly_len
        # Σ_i c̃_i·p_i with p_i = x_i + X^ℓ·r_i, as Σ c̃_i·x_i (degree < 2ℓ - 1) plus X^ℓ·Σ c̃_i·r_i (degree
        # < ℓ + t - 1): two products in Z_Q[X]/(X^Lp + 1) with Lp >= max(2ℓ - 1, k - 1), which do not wrap
        # around, so they are exact. Lp = 1,024 at ℓ = 512 where one product of length 2ℓ + t needs 2,048:
        # the σ_l·m lifts of the c̃_i, the largest share of this method, cost half.
        prod_ring = RnsRing(1 << (max(2 * ell - 1, k - 1) - 1).bit_length(), code.moduli)

        def lift(coeffs: np.ndarray) -> np.ndarray:
            return ntt_of_prefix(prod_ring, coeffs)

        x_hat, r_hat = lift(self.coeffs[:m, :, :ell]), lift(self.coeffs[:m, :, ell:k])  # (m, P, Lp) each
        lin = np.empty((sl, len(code.moduli), n_lin), dtype=np.int64)
        c_rev = reversed_rows(constraints, m, ell)
        for s in range(sl):
            c_hat = lift(c_rev[s])
            low = prod_ring.intt(_combine_pointwise(c_hat, x_hat, q))
            high = prod_ring.intt(_combine_pointwise(c_hat, r_hat, q))
            if np.any(low[:, 2 * ell - 1 :]) or np.any(high[:, k - 1 :]):
                raise AssertionError("linear-test polynomial exceeds its degree bound (internal error)")
            poly = np.zeros((len(code.moduli), n_lin), dtype=np.int64)
            poly[:, : 2 * ell - 1] = low[:, : 2 * ell - 1]
            poly[:, ell : ell + k - 1] += high[:, : k - 1]
            poly[:, :k] += self.coeffs[m + s]
            poly[:, ell:] += self.coeffs[m + sl + s]
            lin[s] = poly % q
        prox = (_combine(gammas, self.coeffs[: m + 2 * sl], q) + self.coeffs[m + 2 * sl :]) % q
        return lin, prox

    def open(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
        """(columns (t, rows, P), salts (t, SALT_BYTES), siblings) for sorted distinct indices."""
        cols = np.ascontiguousarray(self.values[:, :, indices].transpose(2, 0, 1))
        return cols, self.tree.salts[indices], self.tree.open(indices)


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
    """Checks the Merkle opening, the linear targets and the column consistency of both tests.

    Raises:
      ProofError: naming the failed check.
    """
    code = make_code(params, moduli)
    q, q1 = code.q, code.q[:, 0]
    m, ell = params.num_rows(witness_len), params.row_len
    sl = params.linear_reps
    cols = opening.columns  # (t, rows, P)
    leaves = np.ascontiguousarray(cols).astype("<u4").reshape(len(indices), -1)
    try:
        verify_opening(
            root,
            params.code_len,
            indices,
            [leaf.tobytes() for leaf in leaves],
            [s.tobytes() for s in opening.salts],
            opening.siblings,
        )
    except MerkleError as e:
        raise ProofError(f"column opening: {e}") from e
    bad = np.argwhere(opening.linear_polys[:, :, ell - 1] != targets % q1)
    if bad.size:
        raise ProofError(f"linear test {bad[0][0]} fails modulo prime {moduli[bad[0][1]]}: <c, x> ≠ target")
    table = power_table(code, indices, params.linear_poly_len)
    cols_pl = np.ascontiguousarray(cols.transpose(1, 2, 0))  # (rows, P, t)
    lin_at = code.evaluate_at(opening.linear_polys, table)
    r_at = code.evaluate_at(reversed_rows(constraints, m, ell), table)  # (σ_l, m, P, t)
    x_ell = point_powers(code, indices, ell)  # η_j^ℓ
    for s in range(sl):
        acc = (cols_pl[m + s] + x_ell * cols_pl[m + sl + s]) % q
        acc = (acc + _combine_pointwise(r_at[s], cols_pl[:m], q)) % q
        if not np.array_equal(acc, lin_at[s]):
            raise ProofError(f"linear test {s} is inconsistent with the opened columns")
    prox_at = code.evaluate_at(opening.proximity_polys, table)
    expect = (_combine(gammas, cols_pl[: m + 2 * sl], q) + cols_pl[m + 2 * sl :]) % q
    if not np.array_equal(expect, prox_at):
        raise ProofError("proximity test is inconsistent with the opened columns")
