"""The approximate Firth kernel's fast path (rows selected, samples subset and covariate
residualisation done inside the kernel, Halley steps) against an independent reference: the
one-parameter penalised likelihood ℓ*(β) = Σ yη − log(1 + e^η) + ½ log Σ w g̃², η = offset + βg̃,
maximised where Firth's modified score Σ g̃(y − μ + h(½ − μ)), h = w g̃² / Σ w g̃², is zero (scipy's
brentq; the maximum of ℓ* checked against its neighbours), with g̃ from an explicit weighted
least-squares solve (numpy). Includes a separated row (every carrier a case), a row that cannot
be fitted (g̃ ≡ 0) and rows cut off by the iteration limit."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize, special

from cohortgen.kernels.firth import _approx_fit, _approx_state, firth_approx_batch

N_ALL = 900
"""Samples of the genotype block; the disease keeps every third one out."""


def reference_fit(g, y, offset):
    """(beta, se, p): the root of the modified score in [−15, 15] (brentq, xtol 1e-14) and the
    penalised LRT against β = 0 on the same offset; se = |beta| / √χ² (REGENIE's convention)."""

    def penalised(beta):
        eta = offset + beta * g
        w = special.expit(eta) * special.expit(-eta)
        return np.sum(y * eta - np.logaddexp(0.0, eta)) + 0.5 * np.log(np.sum(w * g * g))

    def modified_score(beta):
        mu = special.expit(offset + beta * g)
        h = mu * (1 - mu) * g**2 / np.sum(mu * (1 - mu) * g**2)
        return np.sum(g * (y - mu + h * (0.5 - mu)))

    beta = optimize.brentq(modified_score, -15.0, 15.0, xtol=1e-14, rtol=1e-15)
    assert penalised(beta) >= max(penalised(beta - 1e-4), penalised(beta + 1e-4))
    chi2 = 2.0 * (penalised(beta) - penalised(0.0))
    return beta, abs(beta) / np.sqrt(chi2), special.erfc(np.sqrt(chi2 / 2.0))


def disease_data(seed):
    """A block G (m, N_ALL) of dosages, the disease's samples (every third one left out), its
    covariates X (k, 3), y, the ML null offset and weights, and the projections of the chunk step
    (GA = G W X (XᵀWX)⁻¹ per row, XB = X): G − GA XBᵀ is the residualised genotype."""
    rng = np.random.default_rng(seed)
    samples = np.flatnonzero(np.arange(N_ALL) % 3 != 0)
    k = samples.size
    X = np.column_stack([np.ones(k), rng.normal(50, 10, k) / 10, rng.integers(0, 2, k)])
    y = (rng.random(k) < special.expit(-2.5 + 0.2 * (X[:, 1] - 5) + 0.3 * X[:, 2])).astype(float)
    mu = sm.Logit(y, X).fit(disp=0, tol=1e-12).predict()
    w = mu * (1 - mu)
    maf = np.array([0.3, 0.1, 0.02, 0.005, 0.2, 0.05, 0.01, 0.4])
    G = rng.binomial(2, maf[:, None], (len(maf), N_ALL)) + rng.uniform(-0.1, 0.1, (len(maf), N_ALL))
    G = np.clip(G, 0.0, 2.0)  # dosage-like, not integer
    G[2] = 0.0
    G[2, samples[y == 1][:4]] = 1.0  # separated: carried by 4 cases and no control
    G[3, samples[y == 1][:3]] = 2.0  # rare, enriched in cases
    G[5] = 1.0  # in the span of the intercept: g̃ ≡ 0
    GA = np.linalg.solve(X.T @ (X * w[:, None]), (X * w[:, None]).T @ G[:, samples].T).T
    return G, samples, X, y, special.logit(mu), GA


def test_firth_approx_batch__fused_residualisation_matches_direct_maximisation():
    G, samples, X, y, offset, GA = disease_data(5)
    rows = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    beta, se, p, converged = firth_approx_batch(G, y, offset, rows=rows, samples=samples,
                                                projections=(GA, X))
    np.testing.assert_array_equal(converged, rows != 5)
    assert np.isnan([beta[5], se[5], p[5]]).all(), "g̃ ≡ 0: no information, NaN"
    G_res = G[:, samples] - GA @ X.T
    for j in np.flatnonzero(rows != 5):
        expected = reference_fit(G_res[j], y, offset)
        np.testing.assert_allclose(beta[j], expected[0], rtol=0, atol=2e-8)  # tol 1e-8
        np.testing.assert_allclose([se[j], p[j]], expected[1:], rtol=1e-7)
    assert beta[2] > 2, "the separated row: large but finite"
    # The same numbers as the kernel on the caller's residualised rows (the old interface).
    plain = firth_approx_batch(G_res[rows], y, offset)
    for fused, direct in zip((beta, se, p, converged), plain, strict=True):
        np.testing.assert_allclose(fused, direct, rtol=1e-9, atol=0)


def test_firth_approx_batch__rows_and_samples_select_the_block():
    """A row subset in any order and all samples (samples=None) equal the selected G."""
    G, samples, X, y, offset, GA = disease_data(6)
    sub = G[:, samples]
    rows = np.array([4, 0, 6])
    fused = firth_approx_batch(sub, y, offset, rows=rows, projections=(GA[rows], X))
    plain = firth_approx_batch(sub[rows] - GA[rows] @ X.T, y, offset)
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match="outside"):
        firth_approx_batch(sub, y, offset, rows=np.array([len(sub)]), projections=(GA[:1], X))
    with pytest.raises(ValueError, match="shapes"):
        firth_approx_batch(G, y, offset, rows=rows, samples=samples, projections=(GA, X))


def test_firth_approx_batch__iteration_limit_reports_not_converged():
    G, samples, X, y, offset, GA = disease_data(7)
    beta, se, p, converged = firth_approx_batch(G, y, offset, samples=samples,
                                                projections=(GA, X), max_iter=1)
    assert not converged[[0, 2]].any(), "a common variant and the separated one need > 1 step"
    assert np.isnan(beta[~converged]).all()
    assert np.isnan(p[~converged]).all()


def test_approx_fit__halley_converges_in_two_or_three_steps():
    """The Halley step from the shared β = 0 state: 2 iterations on most fitted rows here, at
    most 4 (Newton steps took 3-5 to |step| ≤ 1e-8, median 3), 6 for the separated one."""
    G, samples, X, y, offset, GA = disease_data(8)
    G_res = G[:, samples] - GA @ X.T
    iterations = []
    for j in (0, 1, 3, 4, 6, 7):
        start = _approx_state(G_res[j], y, offset, 0.0)
        *_, converged, n_iter = _approx_fit(G_res[j], y, offset, start, 100, 1e-8)
        assert converged
        iterations.append(n_iter)
    assert max(iterations) <= 4, iterations
    assert np.median(iterations) <= 2, iterations
    start = _approx_state(G_res[2], y, offset, 0.0)
    *_, converged, n_iter = _approx_fit(G_res[2], y, offset, start, 100, 1e-8)
    assert converged
    assert n_iter <= 6


def test_approx_fit__last_step_taylor_values_equal_evaluation():
    """Where the fit stops after a small concave step without evaluating the estimate, its ℓ*
    and I (Taylor expansions from the previous iterate) equal a direct evaluation there."""
    G, samples, X, y, offset, GA = disease_data(9)
    G_res = G[:, samples] - GA @ X.T
    extrapolated = 0
    for j in (0, 1, 2, 3, 4, 6, 7):
        start = _approx_state(G_res[j], y, offset, 0.0)
        beta, ll, _, info, converged, _ = _approx_fit(G_res[j], y, offset, start, 100, 1e-8)
        assert converged
        direct = _approx_state(G_res[j], y, offset, beta)
        np.testing.assert_allclose(ll, direct[0], rtol=1e-14)
        np.testing.assert_allclose(info, direct[1], rtol=1e-10)
        assert abs(direct[2] / direct[3]) <= 1e-8, "the Newton step there is below tol"
        extrapolated += info != direct[1]  # an evaluated estimate gives I bit for bit
    assert extrapolated >= 2, "the Taylor stop is exercised"
