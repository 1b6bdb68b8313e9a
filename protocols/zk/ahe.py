# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Zero-knowledge proof that an AHE ciphertext is a well-formed encryption with short randomness.

Relation (exact modulo every prime of Q, see docs/zk.md): public a, b, c0, c1 ∈ Z_Q[X]/(X^N + 1)
and Δ = floor(Q / 2^p); witness u, e1, e2, k with

    c0 = b·u + e1 + Δ·k,   c1 = a·u + e2   (mod Q),   ‖u‖∞, ‖e1‖∞, ‖e2‖∞, ‖k‖∞ short.

The honest prover holds ternary u and k and CBD errors (|e| <= η); the verifier learns the
`ProvenBounds` (JL slack included). Only x = (u, k, y) is committed: the errors are the *implied*
e2 = c1 - a·u and e1 = c0 - b·u - Δ·k, so the ring equations hold by definition and what is proven
is that all four of u, e1, e2, k are short. The argument is the Ligero linear argument
(`ligero.py`) on x with the 4·144 projection equations p_b = R_b·w_b + y_b (`jl.py`, approximate
range proofs), batched by random vectors; products by a and b enter the constraint vector through
the adjoints a*(X) = a(X^-1) (the transposed negacyclic matrices), one NTT product each.
Fiat–Shamir transcript: context (job, round, sender, kind — chosen by the caller), parameters,
statement, Merkle root, then R; p; ρ and γ; the test polynomials; then the opened columns.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import struct
import threading

import blake3
import numpy as np

from loyal.protocols.rlwe import kernels, ntt_small
from loyal.protocols.rlwe.ahe import AheCiphertext, ThresholdAhe
from loyal.protocols.rlwe.prng import AesCtrPrng
from loyal.protocols.rlwe.ring import RnsRing
from loyal.protocols.zk import jl
from loyal.protocols.zk.errors import ProofError
from loyal.protocols.zk.ligero import LigeroCommitment, LigeroOpening, verify_ligero
from loyal.protocols.zk.params import LigeroParams, choose_ligero_params, soundness_bits
from loyal.protocols.zk.proof_format import read_proof, write_proof
from loyal.protocols.zk.transcript import Transcript

#: Transcript domain of this proof type.
PROTOCOL = b"loyal/zk/ahe-encryption/v3"  # v3: committed linear test (proof format 5); v2: 144 JL rows (format 4)
#: Witness blocks, in layout order (each N coefficients, then `jl.JL_ROWS` JL masks per block).
BLOCKS = ("u", "e1", "e2", "k")
#: Prover restarts (rejection sampling) before giving up; each succeeds with probability ≈ 0.93.
MAX_ATTEMPTS = 64


@dataclasses.dataclass(frozen=True)
class AheStatement:
    """Public statement: ring, Δ = Q >> plaintext_bits, a, b and the ciphertext, all in NTT form.

    Arrays may be int64 or uint32 (the wire form); they are checked to be (P, N) residues in [0, q).
    """

    ring: RnsRing
    plaintext_bits: int
    error_eta: int
    public_poly_hat: np.ndarray = dataclasses.field(repr=False)
    public_key_hat: np.ndarray = dataclasses.field(repr=False)
    c0_hat: np.ndarray = dataclasses.field(repr=False)
    c1_hat: np.ndarray = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        r = self.ring
        if not 2 <= self.plaintext_bits < r.modulus_bits:
            raise ValueError(f"plaintext_bits must be in [2, log2 Q), got {self.plaintext_bits}")
        if not 1 <= self.error_eta <= 32:
            raise ValueError(f"error_eta must be in [1, 32], got {self.error_eta}")
        for name in ("public_poly_hat", "public_key_hat", "c0_hat", "c1_hat"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (r.num_moduli, r.degree) or arr.dtype not in (np.int64, np.uint32):
                raise ValueError(f"{name} must be int64/uint32 of shape {(r.num_moduli, r.degree)}, got {arr.dtype} {arr.shape}")
            arr = arr.astype(np.int64)
            if arr.min() < 0 or np.any(arr >= r.q):
                raise ValueError(f"{name} must hold residues in [0, q_l) for each prime")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def from_ahe(cls, ahe: ThresholdAhe, public_key_hat: np.ndarray, ciphertext: AheCiphertext) -> AheStatement:
        return cls(ahe.ring, ahe.plaintext_bits, ahe.error_eta, ahe.public_poly(), public_key_hat,
                   ciphertext.c0_hat, ciphertext.c1_hat)

    @property
    def delta(self) -> int:
        return self.ring.modulus >> self.plaintext_bits


@dataclasses.dataclass(frozen=True)
class AheWitness:
    """The encryption randomness and plaintext: int64 (N,) each. Secret: never logged."""

    u: np.ndarray = dataclasses.field(repr=False)
    e1: np.ndarray = dataclasses.field(repr=False)
    e2: np.ndarray = dataclasses.field(repr=False)
    k: np.ndarray = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        return "AheWitness(OMITTED)"


@dataclasses.dataclass(frozen=True)
class ProvenBounds:
    """What a verifying proof guarantees about (u, e1, e2, k) (centred mod Q, ∞-norms), and how surely.

    The extracted witness satisfies the relation exactly mod Q with ‖u‖∞ <= u, ... (JL slack
    included), except with probability 2^-soundness_bits per hash query of the prover.
    """

    u: int
    e1: int
    e2: int
    k: int
    soundness_bits: float


@dataclasses.dataclass(frozen=True)
class AheProofParams:
    """Per-ring proof shape: the Ligero parameters and the per-block projection bounds β_b."""

    ligero: LigeroParams
    betas: tuple[int, int, int, int]

    @property
    def mask_bounds(self) -> tuple[int, ...]:
        return tuple(jl.mask_bound(b) for b in self.betas)

    def bounds(self, moduli: tuple[int, ...]) -> ProvenBounds:
        u, e1, e2, k = (jl.proven_bound(b) for b in self.betas)
        bits = soundness_bits(self.ligero, moduli, (-float(jl.JL_ROWS),) * len(BLOCKS))
        return ProvenBounds(u, e1, e2, k, bits)


@functools.lru_cache(maxsize=16)
def proof_parameters(ring_degree: int, moduli: tuple[int, ...], error_eta: int) -> AheProofParams:
    """ℓ = max(128, N/16), L = 16ℓ, σ_l = 5, then σ_p and t from `choose_ligero_params` (>= 128 bits);
    β_b from the honest ℓ2 caps (N for ternary u and k, `jl.honest_error_l2_squared` for e1, e2)."""
    row_len = max(128, ring_degree // 16)
    lig = choose_ligero_params(witness_length(ring_degree), moduli, row_len=row_len, code_len=16 * row_len)
    e_l2 = jl.honest_error_l2_squared(ring_degree, error_eta)
    l2_caps = (ring_degree, e_l2, e_l2, ring_degree)  # ternary u, k: ‖·‖_2^2 <= N
    return AheProofParams(lig, tuple(jl.honest_projection_bound(c) for c in l2_caps))


def max_proof_bytes(ring: RnsRing, error_eta: int) -> int:
    """The largest proof for `ring` (every opened column with its full Merkle path): upload size limits."""
    from loyal.protocols.zk.proof_format import proof_size

    lp = proof_parameters(ring.degree, ring.moduli, error_eta).ligero
    return proof_size(ring, lp, witness_length(ring.degree), lp.num_opened * (lp.code_len.bit_length() - 1))


def _new_transcript(st: AheStatement, pp: AheProofParams, context: bytes) -> Transcript:
    tr = Transcript(PROTOCOL)
    tr.absorb(b"context", bytes(context))
    lp = pp.ligero
    fields = (st.ring.degree, st.plaintext_bits, st.error_eta, lp.row_len, lp.code_len, lp.num_opened,
              lp.linear_reps, lp.proximity_reps, *pp.betas, *st.ring.moduli)
    tr.absorb(b"parameters", struct.pack(f"<{len(fields)}Q", *fields))
    for name in ("public_poly_hat", "public_key_hat", "c0_hat", "c1_hat"):
        tr.absorb_array(name.encode(), getattr(st, name))
    return tr


def _adjoint(ring: RnsRing, poly_hat: np.ndarray) -> np.ndarray:
    """NTT of a*(X) = a(X^-1) mod X^N + 1: a*_0 = a_0, a*_i = -a_{N-i} (transpose of the product by a).

    Cached by content (a and the committee key b are fixed for a whole job)."""
    key = (ring.degree, ring.moduli, blake3.blake3(np.ascontiguousarray(poly_hat).tobytes()).digest())
    with _ADJOINTS_LOCK:
        hit = _ADJOINTS.get(key)
    if hit is None:
        a = ring.intt(poly_hat)
        adj = np.empty_like(a)
        adj[:, 0] = a[:, 0]
        adj[:, 1:] = (-a[:, :0:-1]) % ring.q
        hit = ring.ntt(adj)
        hit.setflags(write=False)
        with _ADJOINTS_LOCK:
            if len(_ADJOINTS) >= 8:
                _ADJOINTS.pop(next(iter(_ADJOINTS)))
            _ADJOINTS[key] = hit
    return hit


_ADJOINTS: dict[tuple, np.ndarray] = {}
_ADJOINTS_LOCK = threading.Lock()


def witness_length(ring_degree: int) -> int:
    """Committed entries: u and k (N each) and the four JL masks y_b (`jl.JL_ROWS` each); e1, e2 are implied."""
    return 2 * ring_degree + len(BLOCKS) * jl.JL_ROWS


def _small_ntt(ring: RnsRing, values: np.ndarray) -> np.ndarray:
    """NTT of integer polynomials (..., N) with |v| < 2^44, for every prime at once: three balanced
    15-bit limbs v = l0 + 2^15·l1 + 2^30·l2 through `ntt_small.transform` (shared input conversion)."""
    flat = values.reshape(-1, ring.degree)
    l0 = ((flat + (1 << 14)) & 0x7FFF) - (1 << 14)
    rest = (flat - l0) >> 15
    l1 = ((rest + (1 << 14)) & 0x7FFF) - (1 << 14)
    l2 = (rest - l1) >> 15
    return ntt_small.transform(ring, [(l0, 1), (l1, 1 << 15), (l2, 1 << 30)], bound=ntt_small.MAX_INPUT)


def _constraints(
    st: AheStatement, pp: AheProofParams, tr: Transcript, projection: jl.Projection, projections: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Batched constraint vectors (σ_l, P, 2N + 4·JL_ROWS) and targets (σ_l, P) from challenges drawn from `tr`.

    The committed witness is (u, k, y); the errors are the implied e2 = c1 - a·u and
    e1 = c0 - b·u - Δ·k, so the ring equations hold by definition and the only constraints are the
    4·JL_ROWS projection equations p_b = R_b·w_b + y_b with w = (u, e1, e2, k). Repetition s checks
    <ρ, R·w + y - p> = 0 for ρ integers uniform in [0, min q) shared by all primes (a non-zero
    residual survives with probability <= 1/min q per prime). With g_b = R_b^T·ρ_b:

        <ρ, R·w> = <g_u - b*·g_e1 - a*·g_e2, u> + <g_k - Δ·g_e1, k> + <g_e1, c0> + <g_e2, c1>,

    a* the adjoint of a (`_adjoint`), so the target is <ρ, p> - <g_e1, c0> - <g_e2, c1>.
    """
    ring, moduli = st.ring, st.ring.moduli
    n, q, q1 = ring.degree, ring.q, ring.q[:, 0]
    sl, nb = pp.ligero.linear_reps, len(BLOCKS)
    rho = tr.challenge_residues(b"rho-jl", (min(moduli),), (sl, nb * jl.JL_ROWS))[:, 0]  # (σ_l, 4·JL_ROWS)
    g_int = projection.transpose_apply(rho.reshape(sl, nb, jl.JL_ROWS))  # (σ_l, 4, N) integers, |g| < 2^38
    g_hat = _small_ntt(ring, g_int[:, 1:3]).reshape(sl, 2, len(moduli), n)  # NTT of g_e1, g_e2
    adj_b, adj_a = _adjoint(ring, st.public_key_hat), _adjoint(ring, st.public_poly_hat)
    implied = ring.intt((g_hat[:, 0] * adj_b % q + g_hat[:, 1] * adj_a % q) % q)  # b*·g_e1 + a*·g_e2
    delta = np.array([st.delta % p for p in moduli], dtype=np.int64)[:, None]
    c = np.empty((sl, len(moduli), witness_length(n)), dtype=np.int64)
    zero, none = np.zeros((sl, n), dtype=np.int64), np.empty((0, 0, 0), dtype=np.int64)
    q_flat = np.ascontiguousarray(q[:, 0])
    # One compiled pass each (|g| < 2^38): g_u - (b*·g_e1 + a*·g_e2), then g_k - Δ·g_e1, modulo every prime.
    kernels.sub_scaled_mod(np.ascontiguousarray(g_int[:, 0]), zero, implied, np.zeros(len(moduli), dtype=np.int64),
                           q_flat, c[..., :n])
    kernels.sub_scaled_mod(np.ascontiguousarray(g_int[:, 3]), np.ascontiguousarray(g_int[:, 1]), none,
                           np.ascontiguousarray(delta[:, 0]), q_flat, c[..., n : 2 * n])
    c[..., 2 * n :] = rho[:, None, :]
    # <g, c0> = N^-1·Σ_j ĝ_{N-1-j}·ĉ0_j: slot N-1-j holds the value at the inverse root (bit-reversed
    # order of ψ^(2j+1)), so the coefficient inner product needs no inverse transform of c0, c1.
    n_inv = np.array([pow(n, -1, p) for p in moduli], dtype=np.int64)
    implied_part = ((g_hat[:, 0, :, ::-1] * st.c0_hat % q).sum(-1) + (g_hat[:, 1, :, ::-1] * st.c1_hat % q).sum(-1))
    implied_part = implied_part % q1 * n_inv % q1
    p_res = projections.reshape(-1) % q  # (P, 4·JL_ROWS)
    targets = ((rho[:, None, :] * p_res % q).sum(-1) - implied_part) % q1
    return c, targets


def _check_witness(st: AheStatement, w: AheWitness) -> np.ndarray:
    """The witness as int64 blocks (4, N); ValueError unless it opens the ciphertext with honest norms."""
    ring = st.ring
    blocks = []
    for name, bound in zip(BLOCKS, (1, st.error_eta, st.error_eta, 1)):
        v = np.asarray(getattr(w, name))
        if v.shape != (ring.degree,) or not np.issubdtype(v.dtype, np.integer):
            raise ValueError(f"witness {name} must be an integer array of shape ({ring.degree},), got {v.dtype} {v.shape}")
        v = v.astype(np.int64)
        top = int(np.abs(v).max())
        if top > bound:
            raise ValueError(f"witness {name} must satisfy ‖{name}‖∞ <= {bound}, got {top}: refusing to prove")
        blocks.append(v)
    cap = jl.honest_error_l2_squared(ring.degree, st.error_eta)
    for name, v in (("e1", blocks[1]), ("e2", blocks[2])):
        if int(v @ v) > cap:
            raise ValueError(f"witness {name} must satisfy ‖{name}‖_2^2 <= {cap}, got {int(v @ v)}: refusing to prove")
    # Small-input transforms (`ntt_small`): NTT(u), NTT(e2) in one call and NTT(e1 + Δ·k) in another.
    u, e2 = ntt_small.transform(ring, [(np.stack([blocks[0], blocks[2]]), 1)], bound=st.error_eta)
    e1_dk = ntt_small.transform(ring, [(blocks[1], 1), (blocks[3], st.delta)], bound=st.error_eta)[0]
    q = ring.q
    c1 = (st.public_poly_hat * u % q + e2) % q
    c0 = (st.public_key_hat * u % q + e1_dk) % q
    for name, got, want in (("c1 = a·u + e2", c1, st.c1_hat), ("c0 = b·u + e1 + Δ·k", c0, st.c0_hat)):
        bad = np.flatnonzero(np.any(got != want, axis=1))
        if bad.size:
            raise ValueError(f"witness does not satisfy {name} modulo prime {ring.moduli[bad[0]]}: refusing to prove")
    return np.stack(blocks)


def prove_encryption(
    statement: AheStatement, witness: AheWitness, *, context: bytes, prng: AesCtrPrng | None = None
) -> bytes:
    """A proof that `statement`'s ciphertext encrypts with short (u, e1, e2, k), bound to `context`.

    Args:
      statement: the public statement.
      witness: the encryption randomness and plaintext (`ThresholdAhe.encrypt_with_witness`).
      context: bytes naming job, round, sender and message kind (the verifier must pass the same).
      prng: secret randomness (default: `AesCtrPrng.from_os`); tests pass a seeded one.

    Raises:
      ValueError: if the witness does not open the ciphertext or exceeds the honest norms.
    """
    blocks = _check_witness(statement, witness)
    return _prove(statement, blocks, context, prng or AesCtrPrng.from_os(b"loyal/zk/ahe-prover"))


def _prove(st: AheStatement, blocks: np.ndarray, context: bytes, prng: AesCtrPrng, *, honest: bool = True) -> bytes:
    """The prover on witness blocks (4, N). `honest=False` (tests only) models a cheating prover:
    it skips rejection sampling and sends whatever its witness gives."""
    ring = st.ring
    pp = proof_parameters(ring.degree, ring.moduli, st.error_eta)
    base = _new_transcript(st, pp, context)
    betas = np.array(pp.betas, dtype=np.int64)[:, None]
    masks = np.array(pp.mask_bounds, dtype=np.int64)[:, None]
    for _ in range(MAX_ATTEMPTS):
        y = np.concatenate([jl.uniform_signed(prng, int(b), (1, jl.JL_ROWS)) for b in masks[:, 0]])
        x = np.concatenate([blocks[0], blocks[3], y.reshape(-1)])  # (u, k, y): e1, e2 are implied
        com = LigeroCommitment(pp.ligero, ring.moduli, x[None, :] % ring.q, prng)
        tr = copy.deepcopy(base)
        tr.absorb(b"root", com.root)
        projection = jl.Projection(tr.challenge_seed(b"jl"), len(BLOCKS), ring.degree)
        v = projection.project(blocks)
        p = v + y
        if not honest or (np.all(np.abs(v) <= betas) and np.all(np.abs(p) <= masks - betas)):
            break
    else:
        raise RuntimeError(f"rejection sampling failed {MAX_ATTEMPTS} times (internal error)")
    tr.absorb(b"jl-response", p.astype("<i4").tobytes())
    constraints, _ = _constraints(st, pp, tr, projection, p)
    linear_root = com.commit_linear(constraints)
    tr.absorb(b"linear-root", linear_root)
    gammas = tr.challenge_residues(b"gamma", ring.moduli, (pp.ligero.proximity_reps, pp.ligero.combined_rows(x.size)))
    prox = com.respond(gammas)
    tr.absorb_array(b"proximity", prox)
    indices = tr.challenge_indices(b"columns", pp.ligero.num_opened, pp.ligero.code_len)
    cols, lin_cols, salts, lin_salts, siblings, lin_siblings = com.open(indices)
    opening = LigeroOpening(linear_root, prox, cols, lin_cols, salts, lin_salts, siblings, lin_siblings)
    return write_proof(ring, pp.ligero, com.root, p, opening)


def verify_encryption(statement: AheStatement, proof: bytes, *, context: bytes) -> ProvenBounds:
    """Verifies `proof` for `statement` under `context`; returns the bounds it guarantees.

    Raises:
      ProofError: if the proof is malformed, truncated, oversized or fails any check.
    """
    st, ring = statement, statement.ring
    pp = proof_parameters(ring.degree, ring.moduli, st.error_eta)
    lp = pp.ligero
    witness_len = witness_length(ring.degree)
    reader = read_proof(proof, ring, lp, witness_len)
    root, p = reader.root, reader.projections
    limits = np.array([m - b for m, b in zip(pp.mask_bounds, pp.betas)], dtype=np.int64)[:, None]
    if np.any(np.abs(p) > limits):
        raise ProofError("projection p exceeds B - β: the committed witness is not short")
    tr = _new_transcript(st, pp, context)
    tr.absorb(b"root", root)
    projection = jl.Projection(tr.challenge_seed(b"jl"), len(BLOCKS), ring.degree)
    tr.absorb(b"jl-response", p.astype("<i4").tobytes())
    constraints, targets = _constraints(st, pp, tr, projection, p)
    tr.absorb(b"linear-root", reader.linear_root)
    gammas = tr.challenge_residues(b"gamma", ring.moduli, (lp.proximity_reps, lp.combined_rows(witness_len)))
    tr.absorb_array(b"proximity", reader.proximity_polys)
    indices = tr.challenge_indices(b"columns", lp.num_opened, lp.code_len)
    verify_ligero(lp, ring.moduli, root, witness_len, constraints, targets, gammas, indices, reader.opening(indices))
    return pp.bounds(ring.moduli)
