"""Null models: IRLS logistic fit vs statsmodels, design-matrix drops, per-disease residuals."""

import numpy as np
import pytest
import statsmodels.api as sm

from cohortgen.assoc.null_model import design_matrix, fit_logistic, fit_null_models
from cohortgen.errors import InputError

# Both fits are run to full Newton convergence on a well-conditioned design, so they agree to
# rounding; 1e-8 relative leaves room for the different convergence paths.
RTOL = 1e-8


def random_logistic_data(seed: int, n: int = 400, c: int = 3):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, c))])
    beta = np.concatenate([[-1.0], rng.normal(scale=0.5, size=c)])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ beta))).astype(np.float64)
    return X, y


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_logistic__matches_statsmodels_logit(seed):
    X, y = random_logistic_data(seed)
    reference = sm.Logit(y, X).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    fit = fit_logistic(X, y)
    assert fit.converged
    np.testing.assert_allclose(fit.beta, reference.params, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(fit.loglik, reference.llf, rtol=RTOL)
    np.testing.assert_allclose(fit.mu, reference.predict(X), rtol=RTOL)


def test_fit_logistic__matches_statsmodels_glm_binomial_unscaled_covariate():
    X, y = random_logistic_data(4)
    X[:, 2] = 50.0 + 10.0 * X[:, 2]  # age-like scale
    reference = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    fit = fit_logistic(X, y)
    assert fit.converged
    np.testing.assert_allclose(fit.beta, reference.params, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(fit.loglik, reference.llf, rtol=RTOL)


def test_fit_logistic__complete_separation_is_not_converged():
    x = np.linspace(-2.0, 2.0, 60)
    X = np.column_stack([np.ones(60), x])
    y = (x > 0).astype(np.float64)
    fit = fit_logistic(X, y)  # warnings are errors in this test run
    assert not fit.converged
    assert np.all(np.isfinite(fit.beta))


def test_fit_logistic__quasi_separation_is_not_converged():
    rng = np.random.default_rng(5)
    x = rng.normal(size=200)
    binary = (rng.random(200) < 0.1).astype(np.float64)
    y = (rng.random(200) < 0.3).astype(np.float64)
    y[binary == 1.0] = 1.0  # every carrier of the binary covariate is a case
    fit = fit_logistic(np.column_stack([np.ones(200), x, binary]), y)
    assert not fit.converged


def test_design_matrix__standardises_and_prepends_intercept():
    rng = np.random.default_rng(6)
    C = rng.normal(loc=40.0, scale=12.0, size=(100, 2))
    X, kept, dropped = design_matrix(C)
    assert X.shape == (100, 3)
    np.testing.assert_array_equal(X[:, 0], 1.0)
    np.testing.assert_allclose(X[:, 1:].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X[:, 1:].std(axis=0), 1.0, rtol=1e-12)
    assert kept == [0, 1]
    assert dropped == []


def test_design_matrix__drops_constant_and_collinear_columns():
    rng = np.random.default_rng(7)
    age = rng.normal(50.0, 10.0, size=80)
    sex = (rng.random(80) < 0.5).astype(np.float64)
    C = np.column_stack(
        [age, np.full(80, 3.0), sex, 2.0 * age - 7.0, age + sex, rng.normal(size=80)]
    )
    X, kept, dropped = design_matrix(C)
    assert kept == [0, 2, 5]
    assert dropped == [(1, "constant"), (3, "collinear"), (4, "collinear")]
    assert X.shape == (80, 4)


def test_design_matrix__missing_value_raises_input_error():
    C = np.array([[1.0, 2.0], [np.nan, 3.0], [2.0, 1.0]])
    with pytest.raises(InputError, match="sample 1"):
        design_matrix(C)


def test_fit_null_models__residuals_weights_and_masks():
    rng = np.random.default_rng(8)
    n = 300
    C = rng.normal(size=(n, 3))
    C[5, 1] = np.nan  # excluded from every disease
    Y = (rng.random((n, 3)) < [0.2, 0.4, 0.1]).astype(np.float64)
    Y[rng.random(n) < 0.2, 1] = np.nan
    Y[:10, 2] = np.nan
    models = fit_null_models(C, Y)
    assert len(models) == 3
    assert models.X.shape == (n, 4)
    assert models.R.shape == models.W.shape == (n, 3)
    for d, model in enumerate(models):
        included = ~np.isnan(Y[:, d])
        included[5] = False
        np.testing.assert_array_equal(model.included, included)
        assert model.n_cases == int(np.sum(Y[included, d] == 1))
        assert model.n_controls == int(np.sum(Y[included, d] == 0))
        assert model.converged
        reference = sm.Logit(Y[included, d], models.X[included]).fit(
            method="newton", tol=1e-14, maxiter=100, disp=0
        )
        np.testing.assert_allclose(model.beta, reference.params, rtol=RTOL, atol=1e-12)
        mu = reference.predict(models.X[included])
        np.testing.assert_allclose(model.residual[included], Y[included, d] - mu, atol=1e-10)
        np.testing.assert_allclose(model.weight[included], mu * (1 - mu), atol=1e-10)
        assert np.all(model.residual[~included] == 0.0)
        assert np.all(model.weight[~included] == 0.0)
        np.testing.assert_array_equal(models.R[:, d], model.residual)
        np.testing.assert_array_equal(models.W[:, d], model.weight)
    # Newton's score equations hold: Xᵀr = 0 for every disease.
    np.testing.assert_allclose(models.X.T @ models.R, 0.0, atol=1e-8)


def test_fit_null_models__no_cases_gives_untestable_disease():
    rng = np.random.default_rng(9)
    C = rng.normal(size=(50, 2))
    Y = np.column_stack([(rng.random(50) < 0.5).astype(np.float64), np.zeros(50)])
    models = fit_null_models(C, Y)
    assert models[0].converged
    assert not models[1].converged
    assert models[1].n_cases == 0
    assert models[1].n_controls == 50
    assert np.all(models.W[:, 1] == 0.0)


def test_fit_null_models__bad_phenotype_code_raises_input_error():
    C = np.zeros((3, 1)) + np.arange(3)[:, None]
    Y = np.array([[0.0], [2.0], [1.0]])
    with pytest.raises(InputError, match=r"disease 0, sample 1"):
        fit_null_models(C, Y)
