"""Saddlepoint approximation (SPA) of the score test's p-value for a binary trait.

Model (SCIENCE.md, Association; Dey et al. 2017, SPAtest; Zhou et al. 2018, SAIGE): under the
null, y_i ~ Bernoulli(μ_i) independently, with μ_i = expit(η_i) the null model's fitted
probabilities, and the score of a variant is U = Σ g̃_i (y_i − μ_i), g̃ the genotype
residualised on the covariates (g̃ = g − X(XᵀWX)⁻¹XᵀWg). Its cumulant generating function and
derivatives, with q_i(t) = expit(η_i + t g̃_i):

    K(t)   = Σ softplus(η_i + t g̃_i) − softplus(η_i) − t μ_i g̃_i
    K'(t)  = Σ g̃_i (q_i(t) − μ_i)
    K''(t) = Σ g̃_i² q_i(t) (1 − q_i(t))          (K''(0) = V, the score test's variance)

For an observed u the saddlepoint t̂ solves K'(t̂) = u (K' is increasing, so the root is unique;
Newton steps kept inside a bracket, bisection when a step leaves it). Lugannani–Rice:

    w = sign(t̂) √(2 (t̂ u − K(t̂))),   v = t̂ √K''(t̂)
    P(U ≥ u) ≈ 1 − Φ(w) + φ(w) (1/v − 1/w)      (u above the mean 0)
    P(U ≤ u) ≈ Φ(w) − φ(w) (1/v − 1/w)          (u below the mean 0)

The two-sided p is P(U ≥ |u|) + P(U ≤ −|u|), each tail from its own saddlepoint (U is not
symmetric when μ is far from ½). Callers apply it only where |u| / √V ≥ :data:`Z_CUTOFF`; near
the mean the formula is 0/0 and the normal approximation is accurate. U is bounded: at the end
of its support the tail is the exact probability of the one extreme outcome, beyond it 0.

Faster SPA (SAIGE): only the samples marked ``exact`` (the carriers) enter K exactly; the rest
of U, a sum of many small terms, is taken as N(0, v_rest) with v_rest = Σ μ(1 − μ) g̃² over
them, adding ½t²v_rest to K. The cost per row is then the carrier count.
"""

import math

import numba
import numpy as np
from scipy import special

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.linalg_small import expit

Z_CUTOFF = 2.0
"""|U| / √V below which the normal approximation is kept (SPAtest's default cutoff)."""

MAX_ITER = 200
"""Root-finding iterations per tail before the row is reported as not converged."""

ROOT_TOL = 1e-10
"""Convergence: |K'(t) − u| ≤ ``ROOT_TOL`` · (1 + |u|), or the bracket narrower than that in t."""

P_FLOOR = float(np.finfo(np.float64).tiny)
"""Smallest p reported (≈ 2.2e-308), as in :mod:`cohortgen.kernels.score`."""


@kernel
def _softplus(x):
    """log(1 + eˣ) without overflow."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@kernel
def cgf(t, g, eta, mu, v_rest):
    """K(t) of U = Σ g_i (y_i − μ_i) + Z, y_i ~ Bernoulli(μ_i), Z ~ N(0, v_rest).

    t: float; g: float64 (k,) residualised genotypes of the samples computed exactly; eta, mu:
    float64 (k,) their null linear predictor and μ = expit(η); v_rest: the variance of the
    other samples' part of U, taken as normal (0: none).
    """
    K = 0.5 * t * t * v_rest
    for i in range(g.shape[0]):
        K += _softplus(eta[i] + t * g[i]) - _softplus(eta[i]) - t * mu[i] * g[i]
    return K


@kernel
def cgf_derivatives(t, g, eta, mu, v_rest):
    """(K'(t), K''(t)), same arguments as :func:`cgf`; one exponential per sample."""
    K1 = t * v_rest
    K2 = v_rest
    for i in range(g.shape[0]):
        q = expit(eta[i] + t * g[i])
        K1 += g[i] * (q - mu[i])
        K2 += g[i] * g[i] * q * (1.0 - q)
    return K1, K2


@kernel
def saddlepoint(u, g, eta, mu, v_rest):
    """(t̂, converged): the root of K'(t) = u by bracketed Newton steps from t = u / K''(0)."""
    _, V = cgf_derivatives(0.0, g, eta, mu, v_rest)
    if not V > 0.0:
        return np.nan, False
    t = u / V
    lo = -np.inf
    hi = np.inf
    tol = ROOT_TOL * (1.0 + abs(u))
    for _ in range(MAX_ITER):
        K1, K2 = cgf_derivatives(t, g, eta, mu, v_rest)
        f = K1 - u
        if abs(f) <= tol:
            return t, True
        if f < 0.0:
            lo = t
        else:
            hi = t
        if hi - lo <= ROOT_TOL * (1.0 + abs(t)):
            return t, True
        step = t - f / K2 if K2 > 0.0 else np.nan
        if math.isfinite(step) and lo < step < hi:
            t = step
        elif math.isfinite(lo) and math.isfinite(hi):
            t = 0.5 * (lo + hi)
        elif math.isfinite(lo):
            t = lo + max(1.0, abs(lo))
        else:
            t = hi - max(1.0, abs(hi))
    return t, False


@kernel
def _normal_sf(x):
    """1 − Φ(x), accurate in the far upper tail."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


@kernel
def support_end(side, g, eta, mu):
    """(largest (side = 1) or smallest (side = −1) value of U, log of its probability): every
    y_i at the outcome, 0 or 1, that moves U towards that end."""
    end = 0.0
    log_prob = 0.0
    for i in range(g.shape[0]):
        if side * g[i] > 0.0:
            end += g[i] * (1.0 - mu[i])
            log_prob -= _softplus(-eta[i])
        else:
            end -= g[i] * mu[i]
            log_prob -= _softplus(eta[i])
    return end, log_prob


@kernel
def tail_probability(u, g, eta, mu, v_rest):
    """(P(U ≥ u) if u > 0 else P(U ≤ u), converged); u ≠ 0. Lugannani–Rice inside the support;
    with no normal part (v_rest = 0), at its end the exact probability of that single outcome
    and beyond it 0 (there is no saddlepoint there)."""
    side = 1.0 if u > 0.0 else -1.0
    if v_rest == 0.0:
        end, log_prob = support_end(side, g, eta, mu)
        gap = side * (end - u)
        if gap <= ROOT_TOL * (1.0 + abs(end)):
            return (math.exp(log_prob) if gap >= -ROOT_TOL * (1.0 + abs(end)) else 0.0), True
    t, ok = saddlepoint(u, g, eta, mu, v_rest)
    if not ok:
        return np.nan, False
    K = cgf(t, g, eta, mu, v_rest)
    _, K2 = cgf_derivatives(t, g, eta, mu, v_rest)
    w2 = 2.0 * (t * u - K)
    if not (w2 > 0.0 and K2 > 0.0 and t != 0.0):
        return np.nan, False
    w = math.copysign(math.sqrt(w2), t)
    v = t * math.sqrt(K2)
    density = math.exp(-0.5 * w2) / math.sqrt(2.0 * math.pi)
    correction = density * (1.0 / v - 1.0 / w)
    if u > 0.0:
        tail = _normal_sf(w) + correction
    else:
        tail = _normal_sf(-w) - correction
    return tail, math.isfinite(tail) and tail >= 0.0  # 0: φ(w) underflows, far in the tail


@kernel
def spa_p_value(u, g, eta, mu, v_rest):
    """(two-sided p = P(U ≥ |u|) + P(U ≤ −|u|), converged); p floored at :data:`P_FLOOR`."""
    a = abs(u)
    if not a > 0.0:
        return 1.0, True
    upper, ok_upper = tail_probability(a, g, eta, mu, v_rest)
    lower, ok_lower = tail_probability(-a, g, eta, mu, v_rest)
    if not (ok_upper and ok_lower):
        return np.nan, False
    return min(max(upper + lower, P_FLOOR), 1.0), True


@kernel
def _row_p_value(u, g, exact, eta, mu):
    """:func:`spa_p_value` of one row, its ``exact`` (bool (k,)) samples in the CGF and the
    others' part of U as one normal term."""
    k = int(np.count_nonzero(exact))
    g_exact = np.empty(k)
    eta_exact = np.empty(k)
    mu_exact = np.empty(k)
    v_rest = 0.0
    c = 0
    for i in range(g.shape[0]):
        if exact[i]:
            g_exact[c] = g[i]
            eta_exact[c] = eta[i]
            mu_exact[c] = mu[i]
            c += 1
        else:
            v_rest += mu[i] * (1.0 - mu[i]) * g[i] * g[i]
    return spa_p_value(u, g_exact, eta_exact, mu_exact, v_rest)


@parallel_kernel
def _spa_batch(G, exact, eta, mu, U, p, converged):
    for j in numba.prange(G.shape[0]):
        p[j], converged[j] = _row_p_value(U[j], G[j], exact[j], eta, mu)


def spa_p_values(G: np.ndarray, eta: np.ndarray, U: np.ndarray,
                 exact: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided SPA p-values of the score U of each row of G, in parallel over rows.

    G: float64 (r, k) genotypes residualised on the covariates, on one disease's k samples.
    eta: float64 (k,) the null model's linear predictor logit(μ̂). U: float64 (r,) observed
    scores Σ g̃ (y − μ̂). exact: bool (r, k), the samples whose terms enter the CGF exactly
    (default all); the rest of U is taken as normal with its variance Σ μ(1 − μ) g̃² (SAIGE's
    faster SPA with exact = carriers: the cost per row is the carrier count, and the
    non-carriers' part is a sum of many small terms). Returns p: float64 (r,) (NaN where not
    converged) and converged: bool (r,). Independent of the thread count (one sequential
    computation per row).
    """
    G = np.ascontiguousarray(G, dtype=np.float64)
    eta = np.ascontiguousarray(eta, dtype=np.float64)
    U = np.ascontiguousarray(U, dtype=np.float64)
    exact = np.ones(G.shape, bool) if exact is None else np.ascontiguousarray(exact, bool)
    if (G.ndim != 2 or not G.shape[0] == U.shape[0] or G.shape[1] != eta.shape[0]
            or exact.shape != G.shape):
        raise ValueError(f"shapes G {G.shape}, eta {eta.shape}, U {U.shape}, exact "
                         f"{exact.shape} do not match: expected (r, k), (k,), (r,), (r, k)")
    p = np.empty(G.shape[0])
    converged = np.empty(G.shape[0], dtype=np.bool_)
    _spa_batch(G, exact, eta, special.expit(eta), U, p, converged)
    return p, converged
