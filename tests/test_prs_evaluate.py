"""PRS performance statistics against scipy, statsmodels, slow twins and hand-computed cases."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2

from cohortgen.privacy import primary_suppressed, with_complement
from cohortgen.prs.evaluate import (
    auc_delong,
    decile_table,
    evaluate_score,
    liability_r2,
    logistic_performance,
    nagelkerke,
    observed_r2,
    top_fraction_or,
)


def _data(n=600, seed=1, ties=False):
    rng = np.random.default_rng(seed)
    cov = np.column_stack([rng.normal(55, 10, n), rng.integers(0, 2, n)])
    score = rng.normal(size=n)
    if ties:
        score = np.round(score, 1)
    eta = -1.5 + 0.6 * score + 0.02 * (cov[:, 0] - 55) + 0.3 * cov[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return score, y, cov


def slow_delong(score, y):
    """O(m·n) DeLong: structural components from the pairwise kernel ψ."""
    x, z = score[y == 1], score[y == 0]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), np.sqrt(v10.var(ddof=1) / x.size + v01.var(ddof=1) / z.size)


@pytest.mark.parametrize("ties", [False, True])
def test_auc_delong__mann_whitney_and_slow_twin(ties):
    score, y, _ = _data(ties=ties)
    auc, se = auc_delong(score, y)
    u = stats.mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert auc.value == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    slow_auc, slow_se = slow_delong(score, y)
    assert auc.value == pytest.approx(slow_auc, abs=1e-12)
    assert se == pytest.approx(slow_se, rel=1e-10)
    assert auc.lower == pytest.approx(auc.value - 1.959963985 * se, rel=1e-9)


def test_logistic_performance__statsmodels():
    score, y, cov = _data()
    result = logistic_performance(score, y, cov)
    z = (score - score.mean()) / score.std()
    full = sm.Logit(y, sm.add_constant(np.column_stack([cov, z]))).fit(disp=0, tol=1e-12)
    null = sm.Logit(y, sm.add_constant(cov)).fit(disp=0, tol=1e-12)
    lo, hi = np.exp(full.conf_int()[-1])
    assert result["or_per_sd"].value == pytest.approx(np.exp(full.params[-1]), rel=1e-6)
    assert result["or_per_sd"].lower == pytest.approx(lo, rel=1e-6)
    assert result["or_per_sd"].upper == pytest.approx(hi, rel=1e-6)
    n, ll0 = y.size, full.llnull
    expected = (1 - np.exp(2 * (ll0 - full.llf) / n)) - (1 - np.exp(2 * (ll0 - null.llf) / n))
    assert result["nagelkerke_r2"] == pytest.approx(expected / (1 - np.exp(2 * ll0 / n)),
                                                    rel=1e-6)
    assert result["converged"]


def test_nagelkerke__hand_case():
    # L0 = 0.5^4 (intercept only, 2 of 4), L1 = 1 (perfect): Cox-Snell = 1 - L0^(2/4) = 0.75.
    assert nagelkerke(0.0, 4 * np.log(0.5), 4) == pytest.approx(1.0)


def test_observed_r2__statsmodels_ols():
    score, y, cov = _data()
    r2_full = sm.OLS(y, sm.add_constant(np.column_stack([cov, score]))).fit().rsquared
    r2_null = sm.OLS(y, sm.add_constant(cov)).fit().rsquared
    assert observed_r2(score, y, cov) == pytest.approx(r2_full - r2_null, rel=1e-9)


def test_liability_r2__hand_computed():
    # K = 0.1, P = 0.5, R2_obs = 0.05: t = 1.2815516, z = 0.1754983, m = 1.7549833,
    # C = 0.09/0.0307996 * 0.09/0.25 = 1.0519617, theta = m*0.4444444*(m*0.4444444 - t)
    #   = 0.7799926 * (0.7799926 - 1.2815516) = -0.3912022,
    # R2_liab = 0.05*C / (1 + 0.05*theta*C) = 0.0525981 / 0.9794237 = 0.0537031.
    assert liability_r2(0.05, 0.1, 0.5) == pytest.approx(0.0537031, rel=1e-5)
    # P = K: theta = 0 and R2_liab = R2_obs * K(1-K)/z^2.
    t = stats.norm.ppf(0.8)
    assert liability_r2(0.1, 0.2, 0.2) == pytest.approx(0.1 * 0.16 / stats.norm.pdf(t) ** 2)


def test_top_fraction_or__statsmodels_table2x2():
    score, y, _ = _data(n=2000)
    est, cells = top_fraction_or(score, y)
    assert cells.sum() == 2000
    assert cells[0].sum() == 100
    table = Table2x2(cells)
    lo, hi = table.oddsratio_confint()
    assert est.value == pytest.approx(table.oddsratio, rel=1e-12)
    assert (est.lower, est.upper) == pytest.approx((lo, hi), rel=1e-9)


def test_decile_table__suppresses_small_cells():
    score = np.arange(100.0)
    y = np.zeros(100)
    y[[5, 15, 16, 17, 18, 19, 95, 96, 97, 98, 90]] = 1
    table = decile_table(score, y, min_cell_count=5)
    assert table["n"].tolist() == [10] * 10
    assert table["suppressed"].tolist() == [True, False] + [True] * 7 + [False]
    assert table.loc[1, "n_cases"] == 5
    assert table.loc[9, "case_fraction"] == 0.5
    assert np.isnan(table.loc[0, "n_cases"])
    assert np.isnan(table.loc[0, "case_fraction"])


def test_evaluate_score__all_fields():
    score, y, cov = _data()
    result = evaluate_score(score, y, cov, prevalence=0.3)
    assert result["n_cases"] + result["n_controls"] == y.size
    assert 0.5 < result["auc"].value < 1
    assert result["liability_r2"] > 0
    assert np.isnan(evaluate_score(score, y, cov, prevalence=None)["liability_r2"])


def test_decile_table__single_suppressed_decile_gets_a_complement():
    score = np.arange(200.0)
    y = (np.arange(200) % 2).astype(float)
    y[:20] = 0.0
    y[[3, 7]] = 1.0
    table = decile_table(score, y, min_cell_count=5)
    assert table["suppressed"].sum() == 2
    assert table.loc[0, "suppressed"]
    shown = table.loc[~table["suppressed"], "n_cases"].sum()
    hidden_total = y.sum() - shown
    # Two hidden cells share the remainder, so neither is determined by the total.
    assert hidden_total > 2


def test_with_complement__rules():
    sizes = np.array([3, 50, 8, 20])
    hidden = primary_suppressed(sizes, 5)
    assert hidden.tolist() == [True, False, False, False]
    assert with_complement(hidden, sizes).tolist() == [True, False, True, False]
    two = primary_suppressed(np.array([3, 4, 50]), 5)
    assert with_complement(two, [3, 4, 50]).tolist() == [True, True, False]
    assert with_complement([True], [2]).tolist() == [True]
    assert primary_suppressed([0, 1, 4, 5], 5).tolist() == [False, True, True, False]
