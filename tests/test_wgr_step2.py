"""Step 2 of the whole-genome regression: the LOCO prediction of the variant's chromosome as a
fixed offset of each null model (log-odds for a disease, trait units for a quantitative trait),
for the score test, both Firth modes and SPA.

References: statsmodels GLM/OLS with ``offset=`` (null fit, score test), and the independent
NumPy/SciPy implementations of REGENIE's approximate Firth and of the Firth-penalised null in
tests/test_assoc_firth_null.py; full Firth by direct maximisation of the penalised likelihood
with SciPy.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, special, stats
from test_assoc_firth_null import (
    penalised_loglik,
    reference_approx_firth,
    reference_firth_null,
    small_bim,
    unbalanced_cohort,
)

from cohortgen.assoc.chunk import FallbackSettings, chunk_results
from cohortgen.assoc.loco import (
    ALL_COLUMN,
    fit_loco_nulls,
    loco_column,
    loco_offsets,
    offset_null_table,
)
from cohortgen.assoc.null_model import fit_design_models, fit_logistic, fit_null_models
from cohortgen.assoc.stage import null_model_table
from cohortgen.errors import InputError
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.firth import firth_batch
from cohortgen.kernels.spa import spa_p_values


def design(covariates: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(covariates)), covariates])


def loco_table(ids: list[str], names: list[str], offsets: np.ndarray,
               chrom: str = "1") -> pd.DataFrame:
    """A LOCO table whose ``chrom`` column holds offsets (n, d); ALL = 2 × that (unused)."""
    parts = [pd.DataFrame({"trait": name, "sample_id": ids, chrom: offsets[:, j],
                           ALL_COLUMN: 2 * offsets[:, j]}) for j, name in enumerate(names)]
    return pd.concat(parts, ignore_index=True)


def chunk_with_loco(dosage, covariates, y, offsets, settings=None, quantitative=()):
    """Chunk rows of every variant (chromosome 1) with offsets (n, d) as LOCO predictions."""
    ids = [f"s{i}" for i in range(len(y))]
    names = [f"d{k}" for k in range(y.shape[1])]
    kinds = [name in quantitative for name in names]
    null = null_model_table(ids, fit_null_models(covariates, y, kinds),
                            pd.DataFrame(y, columns=names), ["OK"] * len(names))
    return chunk_results(pack_dosages(dosage), small_bim(len(dosage)), ids, null, names,
                         settings or FallbackSettings(), list(quantitative),
                         fit_loco_nulls(null, names, list(quantitative),
                                        loco_table(ids, names, offsets)))


def offset_residuals(X, y, offset, G):
    """G (m, n) residualised on X in the weights of the ML null with offset (statsmodels)."""
    mu = sm.GLM(y, X, family=sm.families.Binomial(), offset=offset).fit(tol=1e-13).mu
    w = mu * (1 - mu)
    coef = np.linalg.solve(X.T @ (X * w[:, None]), (X * w[:, None]).T @ G.T)
    return G - (X @ coef).T, mu


def loco_cohort(seed: int, n: int = 1500, m: int = 40):
    """(dosage int8 (m, n), covariates (n, 3), y (n, 1), offset (n, 1)): a strong offset
    (SD 0.8 log-odds, the polygenic part) in the simulated risk, ~20% cases."""
    rng = np.random.default_rng(seed)
    covariates = rng.normal(size=(n, 3))
    offset = rng.normal(0, 0.8, n)
    dosage = rng.binomial(2, rng.uniform(0.05, 0.5, (m, 1)), size=(m, n)).astype(np.int8)
    eta = -1.6 + covariates @ [0.4, -0.2, 0.1] + offset + 0.2 * dosage[0]
    y = (rng.random(n) < special.expit(eta)).astype(float)
    return dosage, covariates, y[:, None], offset[:, None]


def test_fit_logistic__offset_matches_statsmodels_glm():
    rng = np.random.default_rng(1)
    n = 800
    X = design(rng.normal(size=(n, 2)))
    offset = rng.normal(0, 1.0, n)
    y = (rng.random(n) < special.expit(-1 + X[:, 1] + offset)).astype(float)
    fit = fit_logistic(X, y, offset=offset)
    ref = sm.GLM(y, X, family=sm.families.Binomial(), offset=offset).fit(tol=1e-13)
    assert fit.converged
    np.testing.assert_allclose(fit.beta, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.mu, ref.mu, rtol=0, atol=1e-10)
    assert fit.loglik == pytest.approx(ref.llf, abs=1e-8)


def test_fit_design_models__disease_and_trait_offsets_match_statsmodels():
    """Disease: residual y − μ̂ and weight μ̂(1 − μ̂) of the GLM with offset, the Firth null's
    predictor includes the offset; quantitative: OLS of y − offset, residual / σ̂²."""
    rng = np.random.default_rng(2)
    n = 600
    X = design(rng.normal(size=(n, 2)))
    offsets = rng.normal(0, 0.7, (n, 2))
    y = np.column_stack([(rng.random(n) < special.expit(-1 + offsets[:, 0])).astype(float),
                         X[:, 1] + offsets[:, 1] + rng.normal(size=n)])
    y[:50, 0] = np.nan
    models = fit_design_models(X, y, [False, True], offsets)
    rows = ~np.isnan(y[:, 0])
    glm = sm.GLM(y[rows, 0], X[rows], family=sm.families.Binomial(),
                 offset=offsets[rows, 0]).fit(tol=1e-13)
    np.testing.assert_allclose(models.R[rows, 0], y[rows, 0] - glm.mu, rtol=0, atol=1e-10)
    np.testing.assert_allclose(models.W[rows, 0], glm.mu * (1 - glm.mu), rtol=0, atol=1e-10)
    assert (models.R[~rows, 0] == 0).all()
    firth = (X[rows] @ reference_firth_null(X[rows], y[rows, 0], offsets[rows, 0])
             + offsets[rows, 0])
    np.testing.assert_allclose(models[0].firth_eta[rows], firth, rtol=0, atol=1e-8)
    ols = sm.OLS(y[:, 1] - offsets[:, 1], X).fit()
    sigma2 = ols.ssr / ols.df_resid
    np.testing.assert_allclose(models.R[:, 1], ols.resid / sigma2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(models.W[:, 1], 1 / sigma2, rtol=1e-12)


def test_fit_design_models__non_finite_offset_on_included_sample_raises():
    X = design(np.random.default_rng(3).normal(size=(20, 1)))
    y = np.tile([0.0, 1.0], 10)[:, None]
    offsets = np.zeros((20, 1))
    offsets[4] = np.nan
    with pytest.raises(InputError, match="trait 0, sample 4"):
        fit_design_models(X, y, None, offsets)


def test_chunk_results__loco_score_test_matches_statsmodels_score_test():
    """OK rows (score test): p and χ² equal statsmodels' score test of the GLM with offset
    (max |Δ log10 p| ≤ 1e-8); beta = U/V from statsmodels' null μ̂; SE = 1/√V."""
    dosage, covariates, y, offset = loco_cohort(4)
    settings = FallbackSettings(firth_p_threshold=0.0, firth_min_carriers=0)
    out = chunk_with_loco(dosage, covariates, y, offset, settings)
    assert (out["status"] == "OK").all()
    X = design(covariates)
    glm = sm.GLM(y[:, 0], X, family=sm.families.Binomial(), offset=offset[:, 0])
    null = glm.fit(tol=1e-13)
    G, mu = offset_residuals(X, y[:, 0], offset[:, 0], dosage.astype(float))
    U = G @ (y[:, 0] - mu)
    V = (G**2) @ (mu * (1 - mu))
    ref_p = np.array([glm.score_test(null.params, exog_extra=g[:, None])[1].item()
                      for g in dosage.astype(float)])
    p = out["p_value"].to_numpy()
    assert np.abs(np.log10(p) - np.log10(ref_p)).max() <= 1e-8
    np.testing.assert_allclose(p, stats.chi2.sf(U**2 / V, 1), rtol=1e-8)
    np.testing.assert_allclose(out["beta"], U / V, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(out["standard_error"], 1 / np.sqrt(V), rtol=1e-8)
    # Without the offset the p-values differ: the test sees it.
    plain = chunk_with_loco(dosage, covariates, y, np.zeros_like(offset), settings)
    assert np.abs(np.log10(plain["p_value"]) - np.log10(p)).max() > 0.05


def test_chunk_results__loco_quantitative_matches_statsmodels_ols():
    """Quantitative trait with a LOCO offset: the t-test equals OLS of y − offset on [X | g]
    (beta, SE to 1e-8 relative; log10 p to 1e-8)."""
    rng = np.random.default_rng(5)
    n, m = 500, 12
    covariates = rng.normal(size=(n, 2))
    dosage = rng.binomial(2, 0.3, size=(m, n)).astype(np.int8)
    offset = rng.normal(0, 1.0, (n, 1))
    y = (covariates @ [0.5, -0.2] + offset[:, 0] + 0.2 * dosage[0] + rng.normal(size=n))[:, None]
    out = chunk_with_loco(dosage, covariates, y, offset, quantitative=["d0"])
    X = design(covariates)
    for j, g in enumerate(dosage.astype(float)):
        ref = sm.OLS(y[:, 0] - offset[:, 0], np.column_stack([X, g])).fit()
        assert out["beta"][j] == pytest.approx(ref.params[-1], rel=1e-8)
        assert out["standard_error"][j] == pytest.approx(ref.bse[-1], rel=1e-8)
        assert np.log10(out["p_value"][j]) == pytest.approx(np.log10(ref.pvalues[-1]), abs=1e-8)


def test_chunk_results__loco_approximate_firth_matches_regenie_reference():
    """Approximate Firth (REGENIE's) with a LOCO offset: Firth null on covariates + offset, the
    genotype residualised in the weights of the ML null with offset, one-parameter Firth with
    the Firth null's predictor as offset, penalised LRT: |Δ −log10 p| < 1e-3 (measured ~1e-9),
    |Δ beta| < 1e-6."""
    dosage, covariates, y = unbalanced_cohort(41, n=1500, m=150)
    rng = np.random.default_rng(6)
    offset = rng.normal(0, 0.5, (len(y), 1))
    # the expected-carrier rule (off by default) routes enough rows to Firth to compare many
    out = chunk_with_loco(dosage, covariates, y, offset, FallbackSettings(firth_min_carriers=10))
    rows = np.flatnonzero(out["status"] == "FIRTH")
    assert rows.size >= 50
    X = design(covariates)
    firth_eta = X @ reference_firth_null(X, y[:, 0], offset[:, 0]) + offset[:, 0]
    G, _ = offset_residuals(X, y[:, 0], offset[:, 0], dosage[rows].astype(float))
    expected = np.array([reference_approx_firth(g, y[:, 0], firth_eta) for g in G])
    log10_p = np.log10(out.loc[rows, "p_value"].to_numpy())
    assert np.abs(log10_p - expected[:, 2]).max() < 1e-3
    assert np.abs(out.loc[rows, "beta"].to_numpy() - expected[:, 0]).max() < 1e-6


def reference_full_firth(g, X, y, offset):
    """(beta, log10 p) of Firth's logistic regression of y on Z = [X | g] with a fixed offset, by
    direct maximisation of ℓ + ½ log|ZᵀWZ| (SciPy BFGS); penalised LRT against beta_g = 0 with
    the penalty of the full design in both fits (logistf's constrained null, as REGENIE)."""
    Z = np.column_stack([X, g])

    def negative(beta, free):
        full = np.zeros(Z.shape[1])
        full[:free] = beta
        eta = offset + Z @ full
        w = special.expit(eta) * special.expit(-eta)
        return -penalised_loglik(eta, y, Z.T @ (Z * w[:, None]))

    def fit(free):
        result = optimize.minimize(negative, np.zeros(free), args=(free,), method="BFGS",
                                   options={"gtol": 1e-10, "maxiter": 2000})
        return result.x, -result.fun

    beta, full = fit(Z.shape[1])
    _, null = fit(X.shape[1])
    return beta[-1], stats.chi2.logsf(max(2 * (full - null), 0.0), 1) / np.log(10)


def test_firth_batch__offset_matches_direct_penalised_maximisation():
    dosage, covariates, y = unbalanced_cohort(41, n=600, m=12)
    X = design(covariates[:, :3])
    offset = np.random.default_rng(7).normal(0, 0.5, len(y))
    G = dosage.astype(float)
    G = G[G.sum(1) > 0][:6]
    beta, _, p, ok = firth_batch(G, X, y[:, 0], p_value="lrt", offset=offset, tol=1e-11)
    assert ok.all()
    expected = np.array([reference_full_firth(g, X, y[:, 0], offset) for g in G])
    assert np.abs(beta - expected[:, 0]).max() < 1e-4
    assert np.abs(np.log10(p) - expected[:, 1]).max() < 1e-4
    _, _, p_plain, _ = firth_batch(G, X, y[:, 0], p_value="lrt", tol=1e-11)
    assert np.abs(np.log10(p_plain) - expected[:, 1]).max() > 1e-3


def test_chunk_results__loco_full_firth_uses_the_offset():
    """Full Firth rows with a LOCO offset equal the direct penalised fit with that offset
    (|Δ −log10 p| < 1e-3)."""
    dosage, covariates, y = unbalanced_cohort(41, n=600, m=40)
    covariates = covariates[:, :3]
    offset = np.random.default_rng(8).normal(0, 0.5, (len(y), 1))
    out = chunk_with_loco(dosage, covariates, y, offset,
                          FallbackSettings(firth_mode="full", firth_min_carriers=10))
    rows = np.flatnonzero(out["status"] == "FIRTH")[:8]
    assert rows.size >= 4
    X = design(covariates)
    expected = np.array([reference_full_firth(dosage[r].astype(float), X, y[:, 0], offset[:, 0])
                         for r in rows])
    assert np.abs(np.log10(out.loc[rows, "p_value"].to_numpy()) - expected[:, 1]).max() < 1e-3


def test_chunk_results__loco_spa_uses_the_offset_null():
    """SPA rows with a LOCO offset: the saddlepoint p of the statsmodels GLM-with-offset null
    (μ̂, residualised genotype, carriers exact) to 1e-8 in log10 p."""
    dosage, covariates, y, offset = loco_cohort(9, m=60)
    dosage[1:20] = (np.random.default_rng(9).random((19, len(y))) < 0.01) * 1
    dosage[1:20, :40][:, y[:40, 0] == 1] = 1  # rare alleles enriched in cases: large |U|/√V
    out = chunk_with_loco(dosage, covariates, y, offset, FallbackSettings(p_value="spa"))
    rows = np.flatnonzero(out["status"] == "SPA")
    assert rows.size >= 3
    X = design(covariates)
    G, mu = offset_residuals(X, y[:, 0], offset[:, 0], dosage[rows].astype(float))
    p, ok = spa_p_values(G, special.logit(mu), G @ (y[:, 0] - mu), exact=dosage[rows] != 0)
    assert ok.all()
    assert np.abs(np.log10(out.loc[rows, "p_value"].to_numpy()) - np.log10(p)).max() < 1e-8


def test_loco_column__own_chromosome_chrx_and_fallback():
    loco = pd.DataFrame(columns=["trait", "sample_id", "1", "2", "X", ALL_COLUMN])
    assert loco_column(loco, "2") == "2"
    assert loco_column(loco, "XY") == "X"
    assert loco_column(loco, "chrX") == "X"
    assert loco_column(loco, "MT") == ALL_COLUMN


def test_loco_offsets__missing_sample_names_trait_and_sample():
    null = pd.DataFrame({"sample_id": ["a", "b"], "y_t": [1.0, 0.0], "y_u": [1.0, np.nan]})
    loco = pd.DataFrame({"trait": ["t", "u"], "sample_id": ["a", "a"], "1": [0.5, 0.2],
                         ALL_COLUMN: [0.0, 0.0]})
    with pytest.raises(InputError, match="trait 't'.*sample 'b'"):
        loco_offsets(loco, "1", null, ["t"])
    np.testing.assert_array_equal(loco_offsets(loco, "1", null, ["u", "v"]) [:1], [[0.2, 0.0]])


def test_offset_null_table__trait_without_loco_rows_keeps_covariate_only_fit():
    """A disease that fell back (no LOCO rows): offset 0, the refit equals the original table."""
    rng = np.random.default_rng(10)
    n = 300
    covariates = rng.normal(size=(n, 2))
    y = (rng.random((n, 1)) < 0.3).astype(float)
    ids = [f"s{i}" for i in range(n)]
    null = null_model_table(ids, fit_null_models(covariates, y), pd.DataFrame(y, columns=["d"]),
                            ["OK"])
    loco = loco_table(ids, ["other"], np.ones((n, 1)))
    refit = offset_null_table(null, ["d"], [], loco_offsets(loco, "1", null, ["d"]))
    for column in ("r_d", "w_d", "f_d"):
        np.testing.assert_allclose(refit[column], null[column], rtol=0, atol=1e-9)
    assert (refit["o_d"] == 0).all()
