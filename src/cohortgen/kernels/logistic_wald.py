"""Maximum-likelihood logistic regression of y on [covariates | g] per variant, Wald test of g.

The standard test of PLINK 2 ``--glm`` (SCIENCE.md, Association): for each variant, the ML fit
of logit P(y = 1) = offset + Xβ + gγ, covariates refitted with the variant; beta = γ̂, SE =
√(I⁻¹)_γγ with I = [X | g]ᵀW[X | g] the information at the ML estimate, p = 2Φ(−|γ̂|/SE).

Parametrisation (the same fit, faster to reach): the caller's null model gives η₀ = offset +
Xβ̂₀ (its linear predictor, weights W₀) and Z = X B with B Bᵀ = (XᵀW₀X)⁺
(:func:`cohortgen.kernels.score.covariate_basis`), so that ZᵀW₀Z = I on the covariate span; the
genotype enters as g̃ = g − X(XᵀW₀X)⁺XᵀW₀g = g − Z (gᵀW₀Z)ᵀ (the score step's projections), so
that Zᵀ W₀ g̃ = 0. The model η = η₀ + Zθ + g̃γ spans the same linear predictors as η = offset +
Xβ + gγ (θ and β are a triangular reparametrisation), so γ̂ and (I⁻¹)_γγ are those of the
original model. Only Z'WZ costs O(n p²) to form; the iteration takes steps from the system
[[I, c], [cᵀ, d]] Δ = U (c = ZᵀWg̃, d = g̃ᵀWg̃ exact at the current estimate: O(n p) per pass)
instead, a quasi-Newton step that equals Newton's under the null (W = W₀) and converges
linearly at the rate of ‖ZᵀWZ − I‖ (2-4 passes for most variants). Steps are scaled so that
max|Δ| ≤ :data:`~cohortgen.kernels.firth.MAX_STEP` and halved while the log-likelihood falls
(as the Firth fit); the first step is to γ = the caller's start (the score test's one-step U/V,
which is the exact first step from the null when W = W₀). The fit has converged when the step
at the estimate has max|Δ| ≤ ``tol`` (θ in the Z basis, γ per ALT allele). The SE then needs
(ZᵀWZ)⁻¹c: preconditioned iterative refinement z ← z + (c − ZᵀW Z z) from z = c, until the
change of cᵀz is below :data:`SCHUR_RTOL` · d (O(n p) per pass, 1-3 passes).

Kernels never raise: a fit that does not converge in ``max_iter`` steps (separation: γ̂ = ±∞),
or meets a non-finite value or a non-positive information, returns NaN and ``converged =
False`` (the caller falls back to Firth, as PLINK 2 ``firth-fallback``). p is floored at
:data:`~cohortgen.kernels.firth.P_FLOOR`. Each variant is one sequential fit, in a fixed order
of summation (vectorised, reassociated sums fixed by the compiled code; no loop that sums also
stores), so results do not depend on the thread count.
"""

import math

import numba
import numpy as np

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.firth import (
    LOGLIK_SLACK,
    MAX_HALVINGS,
    MAX_STEP,
    P_FLOOR,
    SOFTPLUS_BLOCK,
    _logistic,
    _null_terms,
)
from cohortgen.kernels.score import residualise_row

DEFAULT_MAX_ITER = 100
"""Steps before a fit is reported as not converged (separation)."""

DEFAULT_TOL = 1e-9
"""Convergence: max|Δ| of the step at the estimate (θ in the Z basis, γ per ALT allele)."""

SCHUR_RTOL = 1e-14
"""The refinement of (ZᵀWZ)⁻¹c stops when cᵀz changes by less than ``SCHUR_RTOL`` · d."""

SCHUR_MAX_ITER = 200
"""Refinement passes before the SE is reported as failed."""


@kernel(error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _evaluate(g, ZT, eta0, y, theta, gamma, w, score, cross, buffers):
    """The state at (θ, γ): returns (ℓ, u_γ = g̃ᵀ(y − μ), d = g̃ᵀWg̃) and fills score (p,) =
    Zᵀ(y − μ), cross (p,) = c = ZᵀWg̃ and w (k,) = μ(1 − μ). g: float64 (k,) g̃; ZT: float64
    (p, k); eta0, y: float64 (k,); buffers: float64 (2, SOFTPLUS_BLOCK) scratch.

    Blocks of :data:`~cohortgen.kernels.firth.SOFTPLUS_BLOCK` samples, each in loops that
    LLVM vectorises: η; then μ and w (one exp, one division; stores w and r = y − μ only);
    then the sums, which store nothing. ℓ's Σ log(1 + e^−|η|) is the log of each block's
    product of max(μ, 1 − μ) = 1 / (1 + e^−|η|), with μ = y − r (each factor in [½, 1]: no
    underflow over a block)."""
    p, k = ZT.shape
    loglik = 0.0
    u_gamma = 0.0
    d = 0.0
    score[:] = 0.0
    cross[:] = 0.0
    eta_b = buffers[0]
    r_b = buffers[1]
    for start in range(0, k, SOFTPLUS_BLOCK):
        stop = min(start + SOFTPLUS_BLOCK, k)
        size = stop - start
        g_b = g[start:stop]
        y_b = y[start:stop]
        eta0_b = eta0[start:stop]
        w_b = w[start:stop]
        for i in range(size):
            eta_b[i] = eta0_b[i] + g_b[i] * gamma
        for a in range(p):
            z_b = ZT[a, start:stop]
            t = theta[a]
            for i in range(size):
                eta_b[i] += z_b[i] * t
        for i in range(size):
            _, mu, wi = _logistic(eta_b[i])
            w_b[i] = wi
            r_b[i] = y_b[i] - mu
        product = 1.0
        for i in range(size):
            mu = y_b[i] - r_b[i]
            product *= max(mu, 1.0 - mu)
            loglik += y_b[i] * eta_b[i] - max(eta_b[i], 0.0)
            u_gamma += g_b[i] * r_b[i]
            d += w_b[i] * g_b[i] * g_b[i]
        loglik += math.log(product)
        for a in range(p):
            z_b = ZT[a, start:stop]
            s = 0.0
            t = 0.0
            for i in range(size):
                s += z_b[i] * r_b[i]
                t += z_b[i] * w_b[i] * g_b[i]
            score[a] += s
            cross[a] += t
    return loglik, u_gamma, d


@kernel(error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _weighted_gram_times(ZT, w, z, out, buffer):
    """out (p,) = ZᵀW Z z for ZT float64 (p, k), w float64 (k,), z float64 (p,); buffer float64
    (SOFTPLUS_BLOCK,) scratch."""
    p, k = ZT.shape
    out[:] = 0.0
    for start in range(0, k, SOFTPLUS_BLOCK):
        stop = min(start + SOFTPLUS_BLOCK, k)
        size = stop - start
        w_b = w[start:stop]
        for i in range(size):
            buffer[i] = 0.0
        for a in range(p):
            z_b = ZT[a, start:stop]
            t = z[a]
            for i in range(size):
                buffer[i] += z_b[i] * t
        for i in range(size):
            buffer[i] *= w_b[i]
        for a in range(p):
            z_b = ZT[a, start:stop]
            s = 0.0
            for i in range(size):
                s += z_b[i] * buffer[i]
            out[a] += s


@kernel
def _schur(ZT, w, cross, d, buffer):
    """S = d − cᵀ(ZᵀWZ)⁻¹c (the information of γ with θ profiled out) by iterative refinement
    (see the module docstring); NaN if the refinement does not settle."""
    p = cross.shape[0]
    z = cross.copy()
    product = np.empty(p)
    quad = 0.0
    for a in range(p):
        quad += cross[a] * z[a]
    for _ in range(SCHUR_MAX_ITER):
        _weighted_gram_times(ZT, w, z, product, buffer)
        change = 0.0
        for a in range(p):
            residual = cross[a] - product[a]
            z[a] += residual
            change += cross[a] * residual
        quad += change
        if not math.isfinite(quad):
            return np.nan
        if abs(change) <= SCHUR_RTOL * d:
            return d - quad
    return np.nan


@kernel
def _step(score, u_gamma, cross, d, delta):
    """Fill delta (p,) with the θ step and return the γ step of [[I, c], [cᵀ, d]] Δ = (u, u_γ);
    NaN when d − cᵀc ≤ 0."""
    p = score.shape[0]
    cu = 0.0
    cc = 0.0
    for a in range(p):
        cu += cross[a] * score[a]
        cc += cross[a] * cross[a]
    schur = d - cc
    if not schur > 0.0:
        return np.nan
    step_gamma = (u_gamma - cu) / schur
    for a in range(p):
        delta[a] = score[a] - cross[a] * step_gamma
    return step_gamma


@kernel
def _wald_fit(g, ZT, eta0, y, loglik0, gamma_start, max_iter, tol):
    """One variant (g: float64 (k,) g̃): returns (γ̂, SE, converged)."""
    p, k = ZT.shape
    theta = np.zeros(p)
    trial = np.empty(p)
    delta = np.zeros(p)
    score = np.empty(p)
    cross = np.empty(p)
    w = np.empty(k)
    buffers = np.empty((2, SOFTPLUS_BLOCK))
    gamma = 0.0
    loglik = loglik0
    step_gamma = gamma_start if math.isfinite(gamma_start) else 0.0
    u_gamma = d = np.nan
    converged = False
    for n_iter in range(max_iter + 1):
        if n_iter > 0:
            step_gamma = _step(score, u_gamma, cross, d, delta)
            largest = abs(step_gamma)
            for a in range(p):
                largest = max(largest, abs(delta[a]))
            if not math.isfinite(largest):
                break
            if largest <= tol:
                converged = True
                break
            if largest > MAX_STEP:
                step_gamma *= MAX_STEP / largest
                for a in range(p):
                    delta[a] *= MAX_STEP / largest
        for _ in range(MAX_HALVINGS + 1):
            for a in range(p):
                trial[a] = theta[a] + delta[a]
            loglik_t, u_gamma, d = _evaluate(g, ZT, eta0, y, trial, gamma + step_gamma, w,
                                             score, cross, buffers)
            if loglik_t >= loglik - LOGLIK_SLACK * (1.0 + abs(loglik)):
                break
            step_gamma *= 0.5
            for a in range(p):
                delta[a] *= 0.5
        if not math.isfinite(loglik_t):
            break
        theta[:] = trial
        gamma += step_gamma
        loglik = loglik_t
    if not converged:
        return np.nan, np.nan, False
    schur = _schur(ZT, w, cross, d, buffers[0])
    if not (schur > 0.0 and math.isfinite(gamma)):
        return np.nan, np.nan, False
    return gamma, 1.0 / math.sqrt(schur), True


@parallel_kernel
def _wald_batch(G, rows, samples, GA, XB_t, eta0, y, gamma_start, max_iter, tol, beta, se,
                p_value, converged):
    loglik0 = _null_terms(y, eta0)[2]
    for j in numba.prange(rows.shape[0]):
        g = np.empty(y.shape[0])
        residualise_row(G[rows[j]], samples, GA[j], XB_t, g)
        b, s, ok = _wald_fit(g, XB_t, eta0, y, loglik0, gamma_start[j], max_iter, tol)
        beta[j], se[j], converged[j] = b, s, ok
        p_value[j] = max(math.erfc(abs(b / s) / math.sqrt(2.0)), P_FLOOR) if ok else np.nan


def logistic_wald_batch(
    G: np.ndarray,
    y: np.ndarray,
    eta0: np.ndarray,
    projections: tuple[np.ndarray, np.ndarray],
    gamma_start: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    samples: np.ndarray | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ML logistic Wald tests of the genotype, covariates refitted per variant, in parallel.

    G: float64 (m, n_G) ALT dosages, finite (missing mean-imputed by the caller): rows ``rows``
    (int, default all) are tested on columns ``samples`` (int (k,), default all: n_G = k).
    y: float64 (k,) 0/1. eta0: float64 (k,) the null model's linear predictor (fixed offset, e.g.
    the LOCO prediction, plus Xβ̂₀ at the ML null fit of y on the covariates X). projections =
    (GA, XB): GA float64 (len(rows), p) the tested rows' gᵀW₀XB, XB float64 (k, p) = X B
    (:func:`cohortgen.kernels.score.covariate_basis`, the samples' rows). gamma_start: float64
    (len(rows),) first trial γ per row (the score test's U/V; NaN: 0).
    Returns beta (log-odds per ALT allele), se, p (Wald): float64 (len(rows),), NaN where the fit
    failed; converged: bool. Independent of the thread count.
    """
    G = np.ascontiguousarray(G, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    eta0 = np.ascontiguousarray(eta0, dtype=np.float64)
    rows = np.arange(len(G)) if rows is None else np.asarray(rows, dtype=np.int64)
    samples = np.zeros(0, np.int64) if samples is None else np.asarray(samples, np.int64)
    GA = np.ascontiguousarray(projections[0], dtype=np.float64)
    XB = np.ascontiguousarray(projections[1], dtype=np.float64)
    gamma_start = np.ascontiguousarray(gamma_start, dtype=np.float64)
    k = y.shape[0] if y.ndim == 1 else -1
    if (G.ndim != 2 or (samples.size or G.shape[1]) != k or eta0.shape != (k,)
            or XB.ndim != 2 or XB.shape[0] != k or GA.shape != (rows.size, XB.shape[1])
            or gamma_start.shape != (rows.size,)):
        raise ValueError(
            f"shapes G {G.shape}, y {y.shape}, eta0 {eta0.shape}, GA {GA.shape}, XB {XB.shape},"
            f" gamma_start {gamma_start.shape}, {samples.size or 'all'} samples do not match:"
            " expected (m, n), (k,), (k,), (rows, p), (k, p), (rows,)"
        )
    if rows.size and (rows.min() < 0 or rows.max() >= len(G)):
        raise ValueError(f"rows outside G {G.shape}")
    if samples.size and (samples.min() < 0 or samples.max() >= G.shape[1]):
        raise ValueError(f"samples outside G {G.shape}")
    m = rows.size
    beta, se, p_out = np.empty(m), np.empty(m), np.empty(m)
    converged = np.empty(m, dtype=np.bool_)
    _wald_batch(G, rows, samples, GA, np.ascontiguousarray(XB.T), eta0, y, gamma_start,
                max_iter, tol, beta, se, p_out, converged)
    return beta, se, p_out, converged
