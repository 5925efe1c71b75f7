"""Full-mode Firth against the exact penalised MLE, and why PLINK 2.00a3.5 differs from it.

Reference (:func:`exact_firth`, independent of our kernel): the maximum of Firth's penalised
log-likelihood ℓ*(β) = Σ yη − log(1 + e^η) + ½ log|XᵀWX| (log-determinant by ``slogdet``),
found by scipy's BFGS from β = 0 on ℓ* and its exact gradient U*(β) = Xᵀ(y − μ + h(½ − μ)) (hat
values h from a QR factor of W½X), then as the root of U* (scipy ``hybr``, finite-difference
Jacobian). It is checked here against the closed form of a 2 × 2 table (Firth's log odds ratio
is Haldane's: ½ added to each cell).

PLINK 2.00a3.5 (Debian's; ``FirthRegression`` in its ``2.0/plink2_glm_logistic.cc``) runs the
Firth iteration in single precision (μ, W, XᵀWX, U* and the step in float32; ℓ* summed in double
from the float32 μ), from β = 0, with step Δ = I⁻¹U* capped at 5, at most 5 halvings, 25
iterations, and convergence when max|Δ| ≤ 1e-4, max|U*| < 1e-4 (``xconv``, ``gconv``) and ℓ*
changed by ≤ 1e-4. Near the maximum the gain of a step (~½ΔᵀIΔ) is below the rounding noise of
that ℓ*, all five halvings fail, and its ``hs_bail`` rule then stops where it is if max|Δ| <
1e-3 and max|U*| < 0.05: short of its own ``gconv``. Its estimate is then off by about the
gradient left, |Δβ| ≈ |U*| · SE² (U* the profile score, :func:`profile_score`). A NumPy port of
that loop on the 189 Firth rows of test_assoc_dosages' ``glm_run`` did the same: in float32, 85
fits ended in ``hs_bail``, up to 7e-4 from the exact fit, the others within 3e-6; in float64 all
came within 1e-7. PLINK 2 from 2.0.0-a.6 (2024) fits in double precision by default
(tolerances 1e-5) with logistf 1.24's iteration: 2.0.0-a.7.4, built from source, gave BETA
within 5.1e-6 of the exact fit on those 189 rows, but its SE is √(Xᵀdiag(w(1 + h))X)⁻¹ₚₚ,
smaller than √(I⁻¹)ₚₚ (ours and 2.00a3.5's) by up to 1.2e-2 there: the SE comparison below
holds for 2.00a3.5, the version .ci/run installs.
No ``--glm`` modifier of 2.00a3.5 sets these tolerances, and ``--covar-variance-standardize``
(which the tests use) does not remove the effect. Without it, the float32 rounding of U* for
age in years (median 1e-3 at the exact estimate, against 1.5e-6 standardised) is above
``gconv`` itself, so no fit can meet it: the largest difference grew to 1.7e-4, with 7 of the 189
rows beyond 1e-4 instead of 2.
"""

import numpy as np
import pytest
from scipy import optimize, special

from cohortgen.kernels.firth import firth_batch

PLINK2_GCONV = 1e-4
"""PLINK 2.00a3.5's Firth gradient tolerance (``gconv``): max|U*| at a converged estimate."""

PLINK2_BAIL_STEP = 1e-3
"""PLINK 2.00a3.5's ``hs_bail`` stop: a step below this (and max|U*| < 0.05) ends the fit."""


def _state(beta, X, y, offset):
    """(ℓ*, U*, I) at beta: X float64 (n, p), y (n,) 0/1, offset (n,)."""
    eta = offset + X @ beta
    mu = special.expit(eta)
    w = mu * special.expit(-eta)
    info = X.T @ (w[:, None] * X)
    sign, logdet = np.linalg.slogdet(info)
    loglik = np.sum(y * eta - np.logaddexp(0.0, eta)) + 0.5 * logdet if sign > 0 else -np.inf
    q, _ = np.linalg.qr(np.sqrt(w)[:, None] * X)
    h = np.sum(q * q, axis=1)
    return loglik, X.T @ (y - mu + h * (0.5 - mu)), info


def exact_firth(X, y, offset=None):
    """(beta float64 (p,), se float64 (p,)) of the Firth-penalised MLE of y on X (+ offset): BFGS
    on ℓ* from 0, then the root of U* (``hybr``, xtol 1e-15); se = √diag(I⁻¹) at the estimate.
    Asserts that the remaining Newton distance max|I⁻¹U*| is below 1e-11."""
    offset = np.zeros(len(y)) if offset is None else offset
    fit = optimize.minimize(lambda b: -_state(b, X, y, offset)[0], np.zeros(X.shape[1]),
                            jac=lambda b: -_state(b, X, y, offset)[1], method="BFGS",
                            options={"gtol": 1e-9, "maxiter": 10_000})
    root = optimize.root(lambda b: _state(b, X, y, offset)[1], fit.x, method="hybr",
                         options={"xtol": 1e-15})
    _, score, info = _state(root.x, X, y, offset)
    inverse = np.linalg.inv(info)
    assert np.max(np.abs(inverse @ score)) < 1e-11
    return root.x, np.sqrt(np.diag(inverse))


def profile_score(X, y, j, value, start):
    """U*_j at β_j = ``value`` with the other coefficients at their penalised optimum (U*_k = 0
    for k ≠ j; penalty on the full design): the slope of the profile ℓ* there, the gradient that
    an estimate ``value`` of β_j leaves (parameterisation-free for the last column)."""
    free = np.arange(X.shape[1]) != j
    zero = np.zeros(len(y))

    def full(b_free):
        beta = np.empty(X.shape[1])
        beta[free], beta[j] = b_free, value
        return beta

    root = optimize.root(lambda b: _state(full(b), X, y, zero)[1][free], start[free],
                         method="hybr", options={"xtol": 1e-15})
    score = _state(full(root.x), X, y, zero)[1]
    assert np.max(np.abs(score[free])) < 1e-9
    return score[j]


def test_exact_firth__two_by_two_table_closed_form():
    """Intercept and one binary exposure (a exposed cases, b exposed controls, c and d
    unexposed): Firth's estimate is log((a + ½)(d + ½) / ((b + ½)(c + ½))), each group's fitted
    risk (cases + ½) / (size + 1), so SE² = Σ 1 / (size · μ(1 − μ)) over the two groups; also
    with a zero cell (a separated table, where ML has no finite estimate)."""
    for a, b, c, d in ((7, 13, 40, 140), (0, 9, 25, 66), (3, 0, 11, 30)):
        x = np.repeat([1.0, 1.0, 0.0, 0.0], [a, b, c, d])
        y = np.repeat([1.0, 0.0, 1.0, 0.0], [a, b, c, d])
        beta, se = exact_firth(np.column_stack([np.ones_like(x), x]), y)
        risks = np.array([(a + 0.5) / (a + b + 1), (c + 0.5) / (c + d + 1)])
        sizes = np.array([a + b, c + d])
        assert beta[1] == pytest.approx(np.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5))),
                                        abs=1e-10)
        assert se[1] == pytest.approx(np.sqrt(np.sum(1 / (sizes * risks * (1 - risks)))),
                                      abs=1e-10)


def test_firth_batch__equals_exact_penalised_mle():
    """Our full-mode kernel on dosages with unscaled covariates (age in years, sex 1/2) and an
    offset (a LOCO prediction), rare to common rows and a separated one: beta and SE within 1e-8
    of the exact fit (the kernel's tolerance, max|Δβ| ≤ 1e-8 at the estimate)."""
    rng = np.random.default_rng(7)
    n = 400
    X = np.column_stack([np.ones(n), rng.integers(30, 80, n), rng.integers(1, 3, n)]).astype(float)
    offset = rng.normal(0, 0.3, n)
    y = (rng.random(n) < special.expit(-2.8 + 0.02 * (X[:, 1] - 55) + offset)).astype(float)
    G = np.clip(rng.binomial(2, [[0.01], [0.05], [0.3]], (3, n)) + rng.uniform(-0.2, 0.2, (3, n)),
                0.0, 2.0)
    separated = np.zeros(n)
    separated[np.flatnonzero(y == 1)[:3]] = rng.uniform(0.8, 1.2, 3)
    G = np.vstack([G, separated])
    beta, se, _, converged = firth_batch(G, X, y, offset=offset)
    assert converged.all()
    assert beta[3] > 2, "separated: large but finite"
    for j, g in enumerate(G):
        exact_beta, exact_se = exact_firth(np.column_stack([X, g]), y, offset)
        assert beta[j] == pytest.approx(exact_beta[-1], abs=1e-8)
        assert se[j] == pytest.approx(exact_se[-1], abs=1e-8)
