# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The k-step self-distillation estimator for ridge regression, in closed form (arXiv 2407.04600).

Notation (the paper's, with X stored row-wise as (n, d) here): ridge with penalty λ maps labels y to
θ(y) = (XᵀX + λI)⁻¹Xᵀy. Step 0 trains on y; step i ≥ 1 trains on ξ_i·y + (1 − ξ_i)·Xθ_{i−1}
(imitation parameter ξ_i; ξ_i = 1 is plain ridge). With the SVD X = U diag(s) Vᵀ, μ_j = s_j²/(s_j² + λ)
and the least-squares coordinates b_j = (Uᵀy)_j / s_j, the k-step estimator is (the paper's closed form,
Eq. (5)-(6), written as a polynomial in the ridge shrinkage)

    θ_k = V diag(ω_j) b,   ω_j = μ_j · p_k(μ_j),   p_k(μ) = Σ_{i=0}^{k} c_i μ^i,
    c_i = ξ_{k−i} · Π_{l=k−i+1}^{k} (1 − ξ_l)   (ξ_0 := 1),   Σ_i c_i = 1.

Any coefficient vector with Σ c_i = 1 comes from some ξ (`xis_from_coefficients`), so choosing the ξ
optimally is a linear-equality-constrained quadratic program in c (Sec. 4 of the paper: the excess risk
is quadratic in the imitation parameters after this change of variables). With k ≥ rank(X) steps the
shrinkage ω_j of every direction can be set freely (Theorem 1's r-step estimator), which is where the
factor-d gain over ridge comes from.

Fixed-design excess risk, noise ε ~ N(0, γ²I_n), a_j = v_jᵀθ*:
    E‖X(θ̂ − θ*)‖²/n = Σ_j (s_j²/n)·[(1 − ω_j)² a_j² + ω_j² γ²/s_j²].
"""
# Paper symbols (X, y, s, mu, b, c, k, d, n) are used on purpose; see the notation above.

from __future__ import annotations

import numpy as np


def ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """(XᵀX + λI)⁻¹Xᵀy, by a linear solve; `lam` ≥ 0 (0 needs XᵀX invertible)."""
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    d = X.shape[1]
    return np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y)


def self_distill_iterative(X: np.ndarray, y: np.ndarray, lam: float, xis: np.ndarray) -> np.ndarray:
    """The k-step estimator by running the k ridge solves one after another (the oracle for the closed form).

    Args:
      X: (n, d) design. y: (n,) labels. lam: ridge penalty ≥ 0.
      xis: (k,) imitation parameters ξ_1..ξ_k (any reals; the paper allows ξ outside [0, 1]).
    """
    theta = ridge(X, y, lam)
    for xi in np.asarray(xis, dtype=float):
        theta = ridge(X, xi * y + (1.0 - xi) * (X @ theta), lam)
    return theta


def coefficients_from_xis(xis: np.ndarray) -> np.ndarray:
    """c_0..c_k of p_k from ξ_1..ξ_k (the closed form above); c sums to 1."""
    xis = np.asarray(xis, dtype=float)
    k = len(xis)
    full = np.concatenate([[1.0], xis])  # ξ_0 = 1
    c = np.empty(k + 1)
    for i in range(k + 1):
        c[i] = full[k - i] * np.prod(1.0 - full[k - i + 1 :])
    return c


def xis_from_coefficients(c: np.ndarray) -> np.ndarray:
    """Inverts `coefficients_from_xis`: ξ_k = c_0, ξ_{k−1} = c_1/(1 − ξ_k), …

    Raises:
      ValueError: c does not sum to 1, or a partial product (1 − ξ_l) vanishes (no ξ realises c).
    """
    c = np.asarray(c, dtype=float)
    if not np.isclose(c.sum(), 1.0, atol=1e-8):
        raise ValueError(f"c must sum to 1, got {c.sum()}")
    k = len(c) - 1
    xis = np.empty(k)
    rest = 1.0  # Π_{l > current} (1 − ξ_l)
    for i in range(k):
        if abs(rest) < 1e-300:
            raise ValueError(f"c is not reachable: product of (1 - xi) vanished at c_{i}")
        xi = c[i] / rest
        xis[k - 1 - i] = xi
        rest *= 1.0 - xi
    return xis


def spectrum(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, s, Vᵀ) of the thin SVD of X, keeping singular values > 1e-12·max."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    keep = s > 1e-12 * s.max()
    return U[:, keep], s[keep], Vt[keep]


def shrinkage(s: np.ndarray, lam: float, c: np.ndarray) -> np.ndarray:
    """ω_j = μ_j p(μ_j) for singular values s, penalty λ and polynomial coefficients c."""
    mu = s**2 / (s**2 + lam)
    return mu * np.polynomial.polynomial.polyval(mu, c)


def self_distill_closed_form(X: np.ndarray, y: np.ndarray, lam: float, xis: np.ndarray) -> np.ndarray:
    """The k-step estimator from one SVD: θ_k = V diag(ω) b (module docstring); `lam` > 0."""
    if lam <= 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    U, s, Vt = spectrum(X)
    b = (U.T @ y) / s
    return Vt.T @ (shrinkage(s, lam, coefficients_from_xis(xis)) * b)


def excess_risk(omega: np.ndarray, s: np.ndarray, a: np.ndarray, noise_std: float, n: int) -> float:
    """Fixed-design excess risk Σ_j (s_j²/n)[(1 − ω_j)² a_j² + ω_j² γ²/s_j²] of θ̂ = V diag(ω) b."""
    return float(np.sum((s**2 / n) * ((1.0 - omega) ** 2 * a**2 + omega**2 * noise_std**2 / s**2)))


def oracle_shrinkage(s: np.ndarray, a: np.ndarray, noise_std: float) -> np.ndarray:
    """Per-direction optimal ω_j = a_j² s_j² / (a_j² s_j² + γ²): the r-step estimator of Theorem 1."""
    return a**2 * s**2 / (a**2 * s**2 + noise_std**2)


def constrained_lstsq(A: np.ndarray, r: np.ndarray) -> np.ndarray:
    """argmin_c ‖Ac − r‖² subject to Σ c = 1, by the KKT system (least-squares solve for conditioning)."""
    m = A.shape[1]
    kkt = np.block([[2 * A.T @ A, np.ones((m, 1))], [np.ones((1, m)), np.zeros((1, 1))]])
    rhs = np.concatenate([2 * A.T @ r, [1.0]])
    return np.linalg.lstsq(kkt, rhs, rcond=None)[0][:m]


def power_basis(s: np.ndarray, lam: float, steps: int) -> np.ndarray:
    """Φ with ω = Φc: Φ_{j,i} = μ_j^{i+1}, i = 0..k."""
    mu = s**2 / (s**2 + lam)
    return mu[:, None] ** np.arange(1, steps + 2)[None, :]


def optimal_coefficients(s: np.ndarray, target: np.ndarray, weights: np.ndarray, lam: float, steps: int) -> np.ndarray:
    """argmin_c Σ_j w_j (ω_j(c) − t_j)² subject to Σ c = 1, ω_j(c) = μ_j p(μ_j): the optimal ξ of k steps.

    The excess risk is of this form (t_j = a_j²/(a_j² + γ²/s_j²), w_j = s_j²(a_j² + γ²/s_j²)/n, up to a
    constant), which is Sec. 4's observation that the risk is quadratic in the imitation parameters.

    Args:
      s: singular values. target: t_j. weights: w_j ≥ 0. lam: ridge penalty > 0. steps: k ≥ 0.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    sw = np.sqrt(weights)
    return constrained_lstsq(power_basis(s, lam, steps) * sw[:, None], target * sw)


def best_risk(s: np.ndarray, a: np.ndarray, noise_std: float, n: int, steps: int, lams: np.ndarray) -> tuple[float, float]:
    """(min over λ in `lams` of the k-step excess risk with optimal ξ, the λ attaining it); k = 0 is ridge."""
    t = oracle_shrinkage(s, a, noise_std)
    w = (s**2) * (a**2 + noise_std**2 / s**2) / n
    best = (np.inf, float("nan"))
    for lam in lams:
        c = optimal_coefficients(s, t, w, lam, steps) if steps else np.ones(1)
        risk = excess_risk(shrinkage(s, lam, c), s, a, noise_std, n)
        best = min(best, (risk, float(lam)))
    return best
