"""Firth-penalised logistic regression for the few variants that need it (small case counts).

Model (SCIENCE.md, Association; Firth 1993, Heinze & Schemper 2002): maximise the penalised
log-likelihood ℓ*(β) = ℓ(β) + ½ log|I(β)|, I(β) = XᵀWX, W = diag(μ(1 − μ)), μ = expit(Xβ + offset).
Its gradient is the modified score U*(β) = Xᵀ(y − μ + h(½ − μ)), h = diag(W½X I⁻¹ XᵀW½). Each
iteration takes the step Δ = I⁻¹U* (as logistf and PLINK 2), scales it so that max|Δ| ≤
:data:`MAX_STEP`, and halves it while ℓ* decreases (at most :data:`MAX_HALVINGS` times; see
:data:`LOGLIK_SLACK`). The fit has converged when the full step at the current estimate has
max|Δ| ≤ ``tol``; U* is the exact gradient of ℓ*, but I is not its exact Hessian, so convergence
is linear (fast: ~7 iterations to 1e-8 from a warm start).

Variant test (as PLINK 2 ``--glm firth``): genotype dosage as the last column of the design,
beta and SE = √(I⁻¹)ₚₚ with I the information XᵀWX at the penalised estimate; the default p-value is
Wald's, 2Φ(−|beta/SE|), which is what PLINK 2 prints for Firth. The penalised likelihood-ratio
p-value (``p_value="lrt"``) refits with the genotype effect fixed at 0, keeping the full-model
penalty (as logistf), and uses 2(ℓ*_full − ℓ*_0) ~ χ²₁.

Separation (e.g. every carrier a case) still gives finite estimates: that is the point of the
penalty. Kernels never raise: a fit that fails (non-finite input, singular information) returns
NaN estimates and ``converged = False``; p-values are floored at :data:`P_FLOOR`, never 0.
Samples excluded from a disease (NaN y) must be dropped by the caller before any call here.

Approximate Firth (:func:`firth_approx_batch`; REGENIE's ``--firth --approx``, Mbatchou et al.
2021): the covariate effects stay fixed at those of the Firth-penalised null model (covariates
only, :func:`firth_logistic` with the caller's offset, e.g. the LOCO prediction), whose linear
predictor η₀ is the offset, and only the genotype effect β is fitted, on the genotype
residualised on the covariates by the caller or, given the score step's projections, here row
by row (g̃ = g − X(XᵀWX)⁻¹XᵀWg, W of the unpenalised null
model, as REGENIE), so that the information at β = 0 is close to the score test's V. (With the
raw dosage the information Σwg² also carries the mean, and the test is conservative by up to
~2× in χ² for common variants.) With one parameter the iteration is scalar: U*(β) =
Σ g(y − μ + h(½ − μ)), h_i = w_i g_i² / Σwg², ℓ*(β) = ℓ(β) + ½ log Σwg², μ = expit(η₀ + βg);
Halley steps on the exact first and second derivatives of U* (two more sums in the same pass;
2-3 iterations, where Newton steps took 3-4 and Fisher scoring 9-17 for rare variants), scaled
and halved as in the full fit. The state at β = 0 (the offset-only model) is shared by every
variant of a call, so a fit costs one pass over the samples without exp for it, then one pass
with one exp and one division per sample per iteration (:func:`_approx_state`). p from the
penalised LRT 2(ℓ*(β̂) − ℓ*(0)) ~ χ²₁, ℓ*(0) the
offset-only model with its own one-parameter penalty ½ log Σw₀g² (REGENIE's ``dev0``); SE =
|β̂| / √χ²_LRT (REGENIE's ``--firth-se`` convention, so that beta/SE reproduces p), or
1/√(Σwg²) at β̂ where χ²_LRT < :data:`SE_MIN_CHI2` (β̂ ≈ 0, where the ratio is rounding noise).
"""

import math

import numba
import numpy as np

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.linalg_small import (
    cholesky_into,
    cholesky_solve,
    exp_nonpositive,
    lower_inverse_into,
)

MAX_STEP = 5.0
"""Largest change of any coefficient in one iteration (PLINK 2 and logistf use 5)."""

MAX_HALVINGS = 25
"""Step halvings per iteration before the (tiny) step is taken anyway."""

LOGLIK_SLACK = 1e-10
"""A step is halved only if ℓ* falls by more than ``LOGLIK_SLACK`` · (1 + |ℓ*|): near the maximum
ℓ* is flat to rounding, and a strict comparison would halve every step to nothing."""

PIVOT_RTOL = 1e-10
"""I counts as singular when a Cholesky pivot is ≤ ``PIVOT_RTOL`` × its diagonal entry (a column
in the span of the others up to rounding, e.g. a constant genotype beside the intercept)."""

DEFAULT_MAX_ITER = 100
"""Iterations before a fit is reported as not converged."""

DEFAULT_TOL = 1e-8
"""Convergence: max|Δβ| of the full step at the estimate."""

P_FLOOR = float(np.finfo(np.float64).tiny)
"""Smallest p reported (≈ 2.2e-308), as in :mod:`cohortgen.kernels.score`."""

SE_MIN_CHI2 = 1e-8
"""Approximate Firth: below this LRT statistic SE is the Wald one, not |β| / √χ² (see above)."""

FINAL_MARGIN = 1e-4
"""Approximate Firth: a concave step δ with |δ|³ ≤ ``FINAL_MARGIN`` · tol is the last one
(:func:`_approx_fit`): the step after it would be below tol for any Halley constant K < 1e4."""

SOFTPLUS_BLOCK = 512
"""Approximate Firth: samples per product in ℓ's Σ log(1 + e_i) (:func:`_approx_state`); each
factor is in (1, 2], so a block's product stays below 2⁵¹² (no overflow), and one log per block
replaces one log1p per sample (the sum's rounding error is unchanged: ~1e-16 per sample)."""

_P_VALUES = {"wald": 0, "lrt": 1}


@kernel
def _state(X, y, offset, beta, mu, w, info, chol):
    """Fill μ, w = μ(1 − μ), I = XᵀWX and its Cholesky factor (lower) at ``beta``.

    Returns the penalised log-likelihood ℓ + ½ log|I|, or −inf when I is singular (see
    :data:`PIVOT_RTOL`) or anything is non-finite.
    """
    n, p = X.shape
    loglik = 0.0
    for i in range(n):
        eta = offset[i]
        for a in range(p):
            eta += X[i, a] * beta[a]
        e = math.exp(-abs(eta))
        if eta >= 0.0:
            mu[i] = 1.0 / (1.0 + e)
        else:
            mu[i] = e / (1.0 + e)
        w[i] = e / ((1.0 + e) * (1.0 + e))
        loglik += y[i] * eta - (max(eta, 0.0) + math.log1p(e))
    info[:, :] = 0.0
    for i in range(n):
        wi = w[i]
        for a in range(p):
            xa = X[i, a] * wi
            for b in range(a + 1):
                info[a, b] += xa * X[i, b]
    half_logdet = cholesky_into(info, chol, PIVOT_RTOL)
    total = loglik + half_logdet
    if not math.isfinite(total):
        return -np.inf
    return total


@kernel
def _modified_score(X, y, mu, w, chol, linv, v, score):
    """U* = Xᵀ(y − μ + h(½ − μ)) with h_i = w_i ‖L⁻¹x_i‖² (fills ``linv`` = L⁻¹, lower)."""
    n, p = X.shape
    lower_inverse_into(chol, linv)
    score[:] = 0.0
    for i in range(n):
        ssq = 0.0
        for a in range(p):
            s = 0.0
            for k in range(a + 1):
                s += linv[a, k] * X[i, k]
            v[a] = s
            ssq += s * s
        r = y[i] - mu[i] + w[i] * ssq * (0.5 - mu[i])
        for a in range(p):
            score[a] += X[i, a] * r


@kernel
def _firth_fit(X, y, offset, beta, n_free, max_iter, tol):
    """Maximise ℓ* over beta[:n_free] from the start ``beta`` (updated in place); the other
    coefficients stay fixed, and the penalty uses the full design (logistf's constrained fit).

    Returns (converged, n_iter, loglik_penalised, se_last): se_last = √(I⁻¹)ₚₚ at the estimate.
    """
    n, p = X.shape
    mu = np.empty(n)
    w = np.empty(n)
    info = np.empty((p, p))
    chol = np.empty((p, p))
    linv = np.empty((p, p))
    v = np.empty(p)
    score = np.empty(p)
    delta = np.empty(p)
    trial = np.empty(p)
    ll = _state(X, y, offset, beta, mu, w, info, chol)
    if not ll > -np.inf:
        return False, 0, np.nan, np.nan
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        _modified_score(X, y, mu, w, chol, linv, v, score)
        cholesky_solve(chol, score, delta, n_free)
        largest = 0.0
        for a in range(n_free):
            largest = max(largest, abs(delta[a]))
        if not math.isfinite(largest):
            break
        if largest <= tol:
            converged = True
            break
        n_iter += 1
        if largest > MAX_STEP:
            for a in range(n_free):
                delta[a] *= MAX_STEP / largest
        for _ in range(MAX_HALVINGS + 1):
            for a in range(p):
                trial[a] = beta[a] + delta[a]
            ll_trial = _state(X, y, offset, trial, mu, w, info, chol)
            if ll_trial >= ll - LOGLIK_SLACK * (1.0 + abs(ll)):
                break
            for a in range(n_free):
                delta[a] *= 0.5
        if not ll_trial > -np.inf:
            break
        beta[:] = trial
        ll = ll_trial
    if not converged:
        # Leave the state at the current beta (a failed trial may have overwritten it).
        ll = _state(X, y, offset, beta, mu, w, info, chol)
    se_last = 1.0 / chol[p - 1, p - 1] if ll > -np.inf else np.nan
    return converged, n_iter, ll, se_last


@kernel
def firth_logistic(X, y, offset, max_iter, tol):
    """Firth-penalised logistic regression of y on X, started from β = 0.

    X: float64 (n, p), intercept included, finite. y: float64 (n,) 0/1. offset: float64 (n,)
    added to the linear predictor (zeros for none). max_iter: int, tol: float (max|Δβ|).
    Returns (beta float64 (p,), converged bool, n_iter int, loglik_penalised float): beta and
    the log-likelihood are NaN when the information matrix is singular at the start.
    """
    beta = np.zeros(X.shape[1])
    converged, n_iter, ll, _ = _firth_fit(X, y, offset, beta, X.shape[1], max_iter, tol)
    if not ll > -np.inf:
        beta[:] = np.nan
    return beta, converged, n_iter, ll


@kernel
def _variant_test(g, X, y, offset, start, max_iter, tol, lrt):
    """One variant: design [X | g], fixed offset (n,), start values ``start`` (p + 1,).
    Returns (beta, se, p, ok)."""
    n, p = X.shape
    design = np.empty((n, p + 1))
    design[:, :p] = X
    design[:, p] = g
    beta = start.copy()
    converged, _, ll, se = _firth_fit(design, y, offset, beta, p + 1, max_iter, tol)
    b = beta[p]
    if not (converged and math.isfinite(b) and math.isfinite(se) and se > 0.0):
        return np.nan, np.nan, np.nan, False
    if lrt:
        beta0 = start.copy()
        beta0[p] = 0.0
        converged0, _, ll0, _ = _firth_fit(design, y, offset, beta0, p, max_iter, tol)
        if not (converged0 and math.isfinite(ll0)):
            return b, se, np.nan, False
        stat = max(2.0 * (ll - ll0), 0.0)
        p_value = math.erfc(math.sqrt(0.5 * stat))
    else:
        p_value = math.erfc(abs(b / se) / math.sqrt(2.0))
    return b, se, max(p_value, P_FLOOR), True


@parallel_kernel
def _batch(G, X, y, offset, start, max_iter, tol, lrt, beta, se, p_value, converged):
    for j in numba.prange(G.shape[0]):
        beta[j], se[j], p_value[j], converged[j] = _variant_test(
            G[j], X, y, offset, start, max_iter, tol, lrt
        )


def _checked(G, X, y):
    G = np.ascontiguousarray(G, dtype=np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if G.ndim != 2 or X.ndim != 2 or y.ndim != 1 or not G.shape[1] == X.shape[0] == y.shape[0]:
        raise ValueError(
            f"shapes G {G.shape}, X {X.shape}, y {y.shape} do not match: expected (m, n), (n, p)"
            ", (n,)"
        )
    return G, X, y


def firth_batch(
    G: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    p_value: str = "wald",
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    warm_start: bool = True,
    offset: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Firth tests of the variants selected by the caller, in parallel over variants.

    G: float64 (m, n) ALT dosages, finite. X: float64 (n, p) covariates with intercept, y:
    float64 (n,) 0/1, NaN-free (the caller drops excluded samples). offset: float64 (n,) fixed
    part of the linear predictor, η = offset + [X | g]β (the LOCO prediction of a whole-genome
    regression, log-odds; default 0). p_value: ``"wald"`` (as
    PLINK 2) or ``"lrt"``. warm_start: start every variant from the covariate-only Firth fit
    (genotype effect 0) instead of β = 0; the estimate is the same, reached in fewer iterations.
    Returns beta, se, p: float64 (m,), NaN where the fit failed; converged: bool (m,).
    Results do not depend on the thread count (one sequential fit per variant).
    """
    if p_value not in _P_VALUES:
        raise ValueError(f"p_value must be one of {sorted(_P_VALUES)}, got {p_value!r}")
    G, X, y = _checked(G, X, y)
    m, p = G.shape[0], X.shape[1]
    offset = np.zeros(len(y)) if offset is None else np.ascontiguousarray(offset, np.float64)
    if offset.shape != y.shape:
        raise ValueError(f"offset shape {offset.shape} does not match y {y.shape}")
    start = np.zeros(p + 1)
    if warm_start:
        beta0, ok0, _, _ = firth_logistic(X, y, offset, max_iter, tol)
        if ok0:
            start[:p] = beta0
    beta = np.empty(m)
    se = np.empty(m)
    p_out = np.empty(m)
    converged = np.empty(m, dtype=np.bool_)
    _batch(G, X, y, offset, start, max_iter, tol, _P_VALUES[p_value] == 1, beta, se, p_out,
           converged)
    return beta, se, p_out, converged


@kernel(inline="always", error_model="numpy", fastmath={"contract"})
def _logistic(eta):
    """(e, μ, w) at the linear predictor η: e = exp(−|η|) in (0, 1], μ = expit(η), w = μ(1 − μ);
    one exp and one division, no overflow."""
    e = exp_nonpositive(-abs(eta))
    inv = 1.0 / (1.0 + e)
    return e, (inv if eta >= 0.0 else e * inv), e * inv * inv


@kernel(inline="always")
def _penalised(loglik, info, plain, penalty, penalty_slope, penalty_slope2):
    """(ℓ*, I, U*, c, dc/dβ, S, S′), c = −dU*/dβ, from the sums of one pass over samples
    (:func:`_approx_state`); ℓ* = −inf if I ≤ 0 or anything is non-finite."""
    total = loglik + 0.5 * math.log(info) if info > 0.0 else -np.inf
    if not math.isfinite(total):
        return -np.inf, info, np.nan, np.nan, np.nan, np.nan, np.nan
    ratio = penalty / info
    curvature = info - penalty_slope / info + 2.0 * ratio**2
    curvature_slope = (2.0 * penalty - penalty_slope2 / info
                       + 6.0 * ratio * penalty_slope / info - 8.0 * ratio**3)
    return total, info, plain + ratio, curvature, curvature_slope, penalty, penalty_slope


@kernel(error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _approx_state(g, y, offset, beta):
    """(ℓ*, I, U*, c, dc/dβ, S, S′) of the model η = offset + beta·g; ℓ* = −inf if I ≤ 0.

    U* = Σg(y − μ) + S/I with S = Σwg³(½ − μ), i.e. h_i = w_i g_i² / I folded into one pass;
    U* is the exact derivative of ℓ*, and its derivative is −c, c = I − S′/I + 2S²/I² (dI/dβ =
    2S, S′ = Σwg⁴(2(½ − μ)² − w) = Σwg⁴(½ − 3w) since (½ − μ)² = ¼ − w); dc/dβ = 2S − S″/I +
    6SS′/I² − 8S³/I³ with S″ = 2Σwg⁵(½ − μ)(½ − 6w) (Halley's step). One fused, vectorised
    pass over samples (reassociated sums: the order is fixed by the compiled code, not by the
    thread count), one exp and one division per sample: ℓ's Σ log(1 + e_i) is the log of the
    product of each :data:`SOFTPLUS_BLOCK` samples' factors 1 + e_i.
    """
    n = g.shape[0]
    loglik = 0.0
    info = 0.0
    plain = 0.0
    penalty = 0.0
    penalty_slope = 0.0
    penalty_slope2 = 0.0
    for start in range(0, n, SOFTPLUS_BLOCK):
        # Slices, so that the inner index starts at 0 (a non-negative index vectorises).
        g_b = g[start:start + SOFTPLUS_BLOCK]
        y_b = y[start:start + SOFTPLUS_BLOCK]
        offset_b = offset[start:start + SOFTPLUS_BLOCK]
        product = 1.0
        for i in range(g_b.shape[0]):
            gi = g_b[i]
            eta = offset_b[i] + beta * gi
            e, mu, w = _logistic(eta)
            product *= 1.0 + e
            loglik += y_b[i] * eta - max(eta, 0.0)
            wg2 = w * gi * gi
            info += wg2
            plain += gi * (y_b[i] - mu)
            wg3 = wg2 * gi * (0.5 - mu)
            penalty += wg3
            penalty_slope += wg2 * gi * gi * (0.5 - 3.0 * w)
            penalty_slope2 += wg3 * gi * gi * (1.0 - 12.0 * w)
        loglik -= math.log(product)
    return _penalised(loglik, info, plain, penalty, penalty_slope, penalty_slope2)


@kernel(error_model="numpy", fastmath={"contract"})
def _null_terms(y, offset):
    """The β = 0 (offset-only) model, shared by every variant: μ₀, w₀ float64 (n,) and ℓ(0),
    by the arithmetic of :func:`_approx_state`. No reassociation here: with it, this loop
    (which writes μ₀ and w₀ while it sums) ran vectorised or not depending on a run-time check
    of the arrays' addresses, so ℓ(0), and every Firth row, could change in the last bits from
    one call to the next (once per call: the cost is nil)."""
    n = y.shape[0]
    mu0 = np.empty(n)
    w0 = np.empty(n)
    loglik = 0.0
    for start in range(0, n, SOFTPLUS_BLOCK):
        product = 1.0
        for i in range(start, min(start + SOFTPLUS_BLOCK, n)):  # once per call: not vectorised
            e, mu0[i], w0[i] = _logistic(offset[i])
            product *= 1.0 + e
            loglik += y[i] * offset[i] - max(offset[i], 0.0)
        loglik -= math.log(product)
    return mu0, w0, loglik


@kernel(error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _residualised_null_state(G_row, samples, GA_row, XB_t, y, mu0, w0, loglik0, g):
    """Fill g float64 (k,) with the residualised genotype g̃_i = G_row[samples[i]] − (XB GA_row)_i
    (G_row float64 (n_G,), samples int64 (k,), empty for all n_G = k; GA_row float64 (p,); XB_t
    float64 (p, k), XB transposed; p = 0: no residualisation) and return :func:`_approx_state`
    at β = 0 from the shared null terms of :func:`_null_terms` (no exp)."""
    p, k = XB_t.shape
    info = 0.0
    plain = 0.0
    penalty = 0.0
    penalty_slope = 0.0
    penalty_slope2 = 0.0
    for start in range(0, k, SOFTPLUS_BLOCK):  # blocks stay in L1 between the passes
        stop = start + SOFTPLUS_BLOCK
        g_b = g[start:stop]
        g_b[:] = 0.0
        for a in range(p):
            XB_b = XB_t[a, start:stop]
            for i in range(g_b.shape[0]):
                g_b[i] += XB_b[i] * GA_row[a]
        if samples.shape[0] == 0:
            G_b = G_row[start:stop]
            for i in range(g_b.shape[0]):
                g_b[i] = G_b[i] - g_b[i]
        else:
            samples_b = samples[start:stop]
            for i in range(g_b.shape[0]):
                g_b[i] = G_row[samples_b[i]] - g_b[i]
        y_b = y[start:stop]
        mu_b = mu0[start:stop]
        w_b = w0[start:stop]
        for i in range(g_b.shape[0]):
            gi = g_b[i]
            wg2 = w_b[i] * gi * gi
            info += wg2
            plain += gi * (y_b[i] - mu_b[i])
            wg3 = wg2 * gi * (0.5 - mu_b[i])
            penalty += wg3
            penalty_slope += wg2 * gi * gi * (0.5 - 3.0 * w_b[i])
            penalty_slope2 += wg3 * gi * gi * (1.0 - 12.0 * w_b[i])
    return _penalised(loglik0, info, plain, penalty, penalty_slope, penalty_slope2)


@kernel
def _approx_step(score, info, curvature, curvature_slope):
    """(Newton's step n = U* / c, the step taken) where ℓ* is concave at β (c = −dU*/dβ > 0):
    Halley's step n / (1 + n c′ / 2c) (cubic convergence: one evaluation fewer than Newton's
    on most rows), or n where that factor is below ½ (far from the maximum). Elsewhere the
    Fisher-scoring step U* / I of the full fit, both."""
    if not (curvature > 0.0 and math.isfinite(curvature)):
        return score / info, score / info
    newton = score / curvature
    factor = 1.0 + 0.5 * newton * curvature_slope / curvature
    if factor >= 0.5 and math.isfinite(factor):
        return newton, newton / factor
    return newton, newton


@kernel
def _approx_fit(g, y, offset, start, max_iter, tol):
    """Maximise ℓ*(β) from β = 0, where ``start`` is :func:`_approx_state` at β = 0: Halley
    steps (:func:`_approx_step`), scaled and halved by the step rule of :func:`_firth_fit`;
    converged when the Newton step at the estimate is ≤ ``tol``, or after a step δ where ℓ* is
    concave with |δ|³ ≤ :data:`FINAL_MARGIN` · tol: Halley's error after it is ~K|δ|³ (K ~ 0.05
    measured), far below ``tol``, so the estimate is not evaluated again: ℓ* and I there are
    their Taylor expansions from β (to δ³ and δ², remainders ~1e-16 relative).

    Returns (beta, ll*(beta), ll*(0), information at beta, converged, iterations).
    """
    beta = 0.0
    ll, info, score, curvature, curvature_slope, penalty, penalty_slope = start
    ll0 = ll
    if not ll > -np.inf:
        return np.nan, ll, ll0, info, False, 0
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        newton, delta = _approx_step(score, info, curvature, curvature_slope)
        if not math.isfinite(newton):
            break
        if abs(newton) <= tol:
            converged = True
            break
        n_iter += 1
        if curvature > 0.0 and abs(delta) ** 3 <= FINAL_MARGIN * tol:
            ll += delta * (score - delta * (0.5 * curvature + delta * curvature_slope / 6.0))
            info += delta * (2.0 * penalty + delta * penalty_slope)
            beta += delta
            converged = True
            break
        if abs(delta) > MAX_STEP:
            delta = math.copysign(MAX_STEP, delta)
        for _ in range(MAX_HALVINGS + 1):
            state = _approx_state(g, y, offset, beta + delta)
            ll_t = state[0]
            if ll_t >= ll - LOGLIK_SLACK * (1.0 + abs(ll)):
                break
            delta *= 0.5
        if not ll_t > -np.inf:
            break
        beta += delta
        ll, info, score, curvature, curvature_slope, penalty, penalty_slope = state
    return beta, ll, ll0, info, converged, n_iter


@kernel
def _approx_variant_test(g, y, offset, start, max_iter, tol):
    """One variant, approximate Firth, ``start`` as :func:`_approx_fit`. Returns (beta, se, p,
    ok); NaN and False on failure."""
    beta, ll, ll0, info, converged, _ = _approx_fit(g, y, offset, start, max_iter, tol)
    if not (converged and math.isfinite(beta) and math.isfinite(ll - ll0) and info > 0.0):
        return np.nan, np.nan, np.nan, False
    stat = max(2.0 * (ll - ll0), 0.0)
    se = abs(beta) / math.sqrt(stat) if stat >= SE_MIN_CHI2 else 1.0 / math.sqrt(info)
    p_value = math.erfc(math.sqrt(0.5 * stat))
    return beta, se, max(p_value, P_FLOOR), True


@parallel_kernel
def _approx_batch(G, rows, samples, GA, XB_t, y, offset, max_iter, tol, beta, se, p_value,
                  converged):
    mu0, w0, loglik0 = _null_terms(y, offset)
    for j in numba.prange(rows.shape[0]):
        g = np.empty(y.shape[0])
        start = _residualised_null_state(G[rows[j]], samples, GA[j], XB_t, y, mu0, w0, loglik0,
                                         g)
        beta[j], se[j], p_value[j], converged[j] = _approx_variant_test(
            g, y, offset, start, max_iter, tol
        )


def _within(index: np.ndarray, size: int) -> bool:
    """Every entry of an int index array in [0, size)."""
    return index.size == 0 or (index.min() >= 0 and index.max() < size)


def firth_approx_batch(
    G: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    samples: np.ndarray | None = None,
    projections: tuple[np.ndarray, np.ndarray] | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Approximate Firth tests (genotype effect only, covariates as offset), in parallel.

    G: float64 (m, n_G) genotypes, finite: rows ``rows`` (int, default all) are tested, on
    columns ``samples`` (int (n,), default all: n_G = n). Without ``projections`` G is already
    residualised on the covariates; with projections = (GA, XB), GA float64 (len(rows), p) and
    XB float64 (n, p) (:func:`cohortgen.kernels.score.residualise_row`'s), each tested row is
    residualised here as g − XB GA_j, without an (r, n) temporary. y: float64 (n,) 0/1,
    NaN-free. offset: float64 (n,) linear predictor of the Firth-penalised null model (a NaN
    offset makes every fit fail).
    Returns beta, se (|beta| / √χ²_LRT), p (penalised LRT): float64 (len(rows),), NaN where the
    fit failed (e.g. g̃ ≡ 0); converged: bool. Independent of the thread count (one sequential
    fit per variant).
    """
    G = np.ascontiguousarray(G, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    offset = np.ascontiguousarray(offset, dtype=np.float64)
    rows = np.arange(len(G)) if rows is None else np.asarray(rows, dtype=np.int64)
    samples = np.zeros(0, np.int64) if samples is None else np.asarray(samples, np.int64)
    GA, XB = projections if projections is not None else (np.zeros((len(rows), 0)),
                                                          np.zeros((len(y), 0)))
    GA = np.ascontiguousarray(GA, dtype=np.float64)
    XB = np.ascontiguousarray(XB, dtype=np.float64)
    n = y.shape[0] if y.ndim == 1 else -1
    if (G.ndim != 2 or (samples.size or G.shape[1]) != n or offset.shape != (n,)
            or XB.shape[0] != n or GA.shape != (rows.size, XB.shape[1])):
        raise ValueError(
            f"shapes G {G.shape}, y {y.shape}, offset {offset.shape}, GA {GA.shape}, XB"
            f" {XB.shape}, {samples.size or 'all'} samples do not match: expected (m, n), (n,),"
            " (n,), (rows, p), (n, p)"
        )
    if not (_within(rows, len(G)) and _within(samples, G.shape[1])):
        raise ValueError(f"rows or samples outside G {G.shape}")
    m = rows.size
    beta, se, p_out = np.empty(m), np.empty(m), np.empty(m)
    converged = np.empty(m, dtype=np.bool_)
    _approx_batch(G, rows, samples, GA, np.ascontiguousarray(XB.T), y, offset, max_iter, tol,
                  beta, se, p_out, converged)
    return beta, se, p_out, converged
