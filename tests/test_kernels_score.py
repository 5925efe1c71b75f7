"""Batched score test vs a per-variant NumPy twin and statsmodels' GLM score test."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from cohortgen.assoc.null_model import fit_null_models
from cohortgen.kernels.score import (
    P_FLOOR,
    chi2_1_log10_sf,
    prepare_score,
    score_statistics,
    score_test_results,
    weighted_sumsq,
)


def naive_score_statistics(
    G: np.ndarray, X: np.ndarray, R: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Clarity twin of :func:`score_statistics` (tests only): g̃ per variant via ``solve``.

    Same shapes; assumes XᵀW_dX is non-singular for every disease.
    """
    m, d = G.shape[0], R.shape[1]
    U = np.zeros((m, d))
    V = np.zeros((m, d))
    for k in range(d):
        w = W[:, k]
        info = X.T @ (X * w[:, None])
        for j in range(m):
            g = G[j]
            g_tilde = g - X @ np.linalg.solve(info, X.T @ (w * g))
            U[j, k] = g @ R[:, k]
            V[j, k] = g_tilde @ (w * g_tilde)
    return U, V

# Same null fit and the same algebra in a different order: agreement to rounding. 1e-8 relative
# also covers statsmodels' own IRLS convergence (run with tol=1e-14).
RTOL = 1e-8


def simulated_cohort(seed: int, n: int = 500, c: int = 3, d: int = 3, m: int = 40):
    """Covariates (n, c), phenotypes (n, d) with disease-specific missingness, G (m, n) 0/1/2."""
    rng = np.random.default_rng(seed)
    C = np.column_stack([rng.normal(50, 10, n), rng.random(n) < 0.5, rng.normal(size=(n, c - 2))])
    prevalence = np.linspace(0.1, 0.4, d)
    Y = (rng.random((n, d)) < prevalence).astype(np.float64)
    for k in range(d):
        Y[rng.random(n) < 0.1 * k, k] = np.nan
    C[3, 0] = np.nan  # a sample without covariates drops out of every disease
    freq = rng.uniform(0.01, 0.5, size=m)
    G = rng.binomial(2, freq[:, None], size=(m, n)).astype(np.float64)
    return C, Y, G


@pytest.fixture(scope="module")
def cohort():
    C, Y, G = simulated_cohort(11)
    models = fit_null_models(C, Y)
    return C, Y, G, models


def test_score_statistics__matches_naive_twin(cohort):
    _, _, G, models = cohort
    U, V = score_statistics(G, prepare_score(models.X, models.R, models.W))
    U_ref, V_ref = naive_score_statistics(G, models.X, models.R, models.W)
    np.testing.assert_allclose(U, U_ref, rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(V, V_ref, rtol=RTOL)


def test_score_statistics__matches_statsmodels_glm_score_test(cohort):
    _, Y, G, models = cohort
    U, V = score_statistics(G, prepare_score(models.X, models.R, models.W))
    chisq = score_test_results(U, V)["chisq"]
    for d, model in enumerate(models):
        rows = model.included
        null = sm.GLM(Y[rows, d], models.X[rows], family=sm.families.Binomial())
        fitted = null.fit(tol=1e-14, maxiter=100)
        for j in range(0, G.shape[0], 8):
            result = fitted.score_test(exog_extra=G[j, rows][:, None])
            np.testing.assert_allclose(chisq[j, d], result.statistic[0], rtol=RTOL)


def test_score_statistics__monomorphic_variant_is_untestable(cohort):
    _, Y, G, models = cohort
    G = G[:3].copy()
    G[0] = 1.0  # constant everywhere: in the span of the intercept
    G[1] = 0.0
    G[2, :] = 0.0
    G[2, np.isnan(Y[:, 2])] = 2.0  # only carried by samples excluded from disease 2
    U, V = score_statistics(G, prepare_score(models.X, models.R, models.W))
    results = score_test_results(U, V)
    assert not results["testable"][0].any()
    assert not results["testable"][1].any()
    assert not results["testable"][2, 2]
    assert results["testable"][2, :2].all()
    for key in ("chisq", "p", "log10_p", "beta", "se"):
        assert np.isnan(results[key][~results["testable"]]).all()


def test_prepare_score__covariate_constant_within_one_disease():
    rng = np.random.default_rng(12)
    n = 400
    sex = (rng.random(n) < 0.5).astype(np.float64)
    C = np.column_stack([rng.normal(size=n), sex])
    Y = (rng.random((n, 2)) < 0.3).astype(np.float64)
    Y[sex == 1.0, 1] = np.nan  # disease 1 recorded in one sex only
    models = fit_null_models(C, Y)
    assert all(model.converged for model in models)
    prep = prepare_score(models.X, models.R, models.W)
    assert prep.rank.tolist() == [3, 2]
    G = rng.binomial(2, 0.3, size=(5, n)).astype(np.float64)
    U, V = score_statistics(G, prep)
    rows = models[1].included
    X1 = models.X[rows][:, :2]
    fitted = sm.GLM(Y[rows, 1], X1, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    for j in range(5):
        expected = fitted.score_test(exog_extra=G[j, rows][:, None]).statistic[0]
        np.testing.assert_allclose(U[j, 1] ** 2 / V[j, 1], expected, rtol=1e-7)


def test_score_test_results__matches_scipy_for_moderate_chisq():
    rng = np.random.default_rng(13)
    U = rng.normal(scale=3.0, size=(20, 4))
    V = rng.uniform(0.5, 5.0, size=(20, 4))
    results = score_test_results(U, V)
    chisq = U**2 / V
    np.testing.assert_allclose(results["chisq"], chisq, rtol=1e-14)
    np.testing.assert_allclose(results["p"], stats.chi2.sf(chisq, 1), rtol=1e-12)
    np.testing.assert_allclose(results["log10_p"], np.log10(stats.chi2.sf(chisq, 1)), rtol=1e-10)
    np.testing.assert_allclose(results["beta"], U / V, rtol=1e-14)
    np.testing.assert_allclose(results["se"], 1 / np.sqrt(V), rtol=1e-14)
    assert results["testable"].all()


def test_score_test_results__huge_chisq_has_finite_log10_p_and_no_zero_p():
    U = np.array([[40.0, 1e3, 1e8]])
    V = np.array([[1.0, 1.0, 1.0]])
    results = score_test_results(U, V)
    assert np.all(results["p"] > 0.0)
    assert np.all(results["p"] >= P_FLOOR)
    assert np.all(np.isfinite(results["log10_p"]))
    # p = erfc(z), z = 40/√2, is below the float floor; compare log10 p with the asymptotic
    # series erfc(z) = e^(−z²)/(z√π) (1 − 1/(2z²) + 3/(4z⁴) − 15/(8z⁶) + …), error < 1e-11.
    z2 = 800.0
    series = 1 - 1 / (2 * z2) + 3 / (4 * z2**2) - 15 / (8 * z2**3)
    expected = (-z2 - 0.5 * np.log(z2 * np.pi) + np.log(series)) / np.log(10)
    np.testing.assert_allclose(results["log10_p"][0, 0], expected, rtol=1e-12)
    assert results["p"][0, 0] == P_FLOOR
    assert results["log10_p"][0, 2] < results["log10_p"][0, 1] < results["log10_p"][0, 0]


def test_chi2_1_log10_sf__zero_chisq_is_log10_one():
    np.testing.assert_allclose(chi2_1_log10_sf(np.array([0.0])), [0.0], atol=1e-15)


def test_score_statistics__row_split_over_threads_matches_naive_twin(cohort):
    """Rows split over 3 threads (uneven ranges): the per-variant twin's U, V, and bit for bit
    the single-thread result (each row's products do not depend on the split)."""
    _, _, G, models = cohort
    prep = prepare_score(models.X, models.R, models.W)
    U, V = score_statistics(G[:7], prep, threads=3)
    U_ref, V_ref = naive_score_statistics(G[:7], models.X, models.R, models.W)
    np.testing.assert_allclose(U, U_ref, rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(V, V_ref, rtol=RTOL)
    U_one, V_one = score_statistics(G[:7], prep, threads=1)
    np.testing.assert_array_equal(U, U_one)
    np.testing.assert_array_equal(V, V_one)


def test_weighted_sumsq__matches_numpy():
    rng = np.random.default_rng(3)
    G = rng.integers(0, 3, size=(5, 301)).astype(np.float64)
    W = rng.random((301, 4))
    out = np.empty((5, 4))
    weighted_sumsq(G, np.ascontiguousarray(W.T), out)
    np.testing.assert_allclose(out, np.square(G) @ W, rtol=1e-13)


def test_weighted_sumsq__bit_identical_for_any_row_split():
    """Rows in blocks of four with a padded last block: each row's sum is the same bits
    whether it is computed alone, in a partial block or in a full one."""
    rng = np.random.default_rng(4)
    G = rng.integers(0, 3, size=(11, 301)).astype(np.float64) + rng.random((11, 301))
    WT = rng.random((3, 301))
    whole = np.empty((11, 3))
    weighted_sumsq(G, WT, whole)
    for size in (1, 2, 3, 5, 7):
        split = np.empty((11, 3))
        for s in range(0, 11, size):
            weighted_sumsq(G[s : s + size], WT, split[s : s + size])
        np.testing.assert_array_equal(split, whole)
