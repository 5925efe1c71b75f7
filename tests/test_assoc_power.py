"""Allelic-test power and detectable odds ratio: scipy non-central χ² and published constants."""

import math

import numpy as np
import pytest
from scipy import stats

from cohortgen.assoc.power import (
    allelic_ncp,
    allelic_power,
    case_allele_frequency,
    detectable_beta_sd,
    detectable_odds_ratio,
)


def quantitative_ncp(n: int, maf: float, beta_sd: float) -> float:
    """Non-centrality λ of the per-variant test of a quantitative trait (module docstring)."""
    q2 = 2.0 * maf * (1.0 - maf) * beta_sd**2
    return n * q2 / (1.0 - q2)


def test_allelic_ncp__matches_direct_formula():
    p0, n_cases, n_controls, odds_ratio = 0.2, 1000, 3000, 1.3
    p1 = odds_ratio * p0 / (1 - p0 + odds_ratio * p0)
    assert math.isclose(case_allele_frequency(p0, odds_ratio), p1)
    odds = (p1 / (1 - p1)) / (p0 / (1 - p0))
    assert math.isclose(odds, odds_ratio)
    expected = (p1 - p0) ** 2 / (p1 * (1 - p1) / 2000 + p0 * (1 - p0) / 6000)
    assert math.isclose(allelic_ncp(n_cases, n_controls, p0, odds_ratio), expected)


def test_detectable_odds_ratio__has_80_percent_power_by_scipy():
    for n_cases, n_controls, maf in [(80, 1900, 0.05), (1680, 19320, 0.2), (400, 4600, 0.05)]:
        odds_ratio = detectable_odds_ratio(n_cases, n_controls, maf)
        ncp = allelic_ncp(n_cases, n_controls, maf, odds_ratio)
        power = stats.ncx2.sf(stats.chi2.isf(5e-8, 1), 1, ncp)
        assert power == pytest.approx(0.8, abs=1e-8)
        assert allelic_power(n_cases, n_controls, maf, odds_ratio * 0.99) < 0.8


@pytest.mark.parametrize(("alpha", "ncp"), [(0.05, 7.849), (5e-8, 39.59)])
def test_allelic_power__published_non_centrality_for_80_percent(alpha, ncp):
    """80% power of a 1-df χ² test needs λ ≈ (z_{α/2} + z_{0.8})²: 7.849 at α = 0.05 (Cohen
    1988) and ≈ 39.6 at 5e-8 (the usual GWAS figure); the exact non-central χ² agrees to 0.2%."""
    from scipy import optimize

    exact = optimize.brentq(lambda lam: stats.ncx2.sf(stats.chi2.isf(alpha, 1), 1, lam) - 0.8,
                            1, 100)
    assert exact == pytest.approx(ncp, rel=2e-3)
    # the detectable OR of a design hits that λ
    odds_ratio = detectable_odds_ratio(500, 500, 0.3, alpha=alpha)
    assert allelic_ncp(500, 500, 0.3, odds_ratio) == pytest.approx(exact, rel=1e-6)


def test_detectable_odds_ratio__no_cases_or_unreachable_is_nan():
    assert np.isnan(detectable_odds_ratio(0, 100, 0.2))
    assert np.isnan(detectable_odds_ratio(3, 10, 0.001))
    assert detectable_odds_ratio(80, 1900, 0.05) > detectable_odds_ratio(80, 1900, 0.2) > 1


def test_detectable_beta_sd__80_percent_power_by_statsmodels_f_test():
    """The F test of one regressor (statsmodels FTestPowerF2: effect size Cohen's f², λ =
    f²·(df_num + df_denom + 1)) on the variance the detectable effect explains has 80% power;
    at large n the χ²₁ approximation agrees."""
    from statsmodels.stats.power import FTestPowerF2

    for n, maf in [(2_000, 0.05), (21_000, 0.2), (500, 0.3)]:
        beta = detectable_beta_sd(n, maf)
        q2 = 2 * maf * (1 - maf) * beta**2
        f2 = q2 / (1 - q2)
        power = FTestPowerF2().power(effect_size=f2, df_num=1, df_denom=n - 2, alpha=5e-8)
        assert power == pytest.approx(0.8, abs=1e-6)
        assert quantitative_ncp(n, maf, beta) == pytest.approx(n * f2, rel=1e-12)
    critical = stats.chi2.isf(5e-8, 1)
    ncp = quantitative_ncp(10**6, 0.2, detectable_beta_sd(10**6, 0.2))
    assert stats.ncx2.sf(critical, 1, ncp) == pytest.approx(0.8, abs=1e-3)


def test_detectable_beta_sd__shrinks_with_n_and_maf_and_is_nan_when_unreachable():
    assert detectable_beta_sd(5_000, 0.05) > detectable_beta_sd(5_000, 0.2)
    assert detectable_beta_sd(2_000, 0.2) > detectable_beta_sd(21_000, 0.2)
    assert np.isnan(detectable_beta_sd(0, 0.2))
    assert np.isnan(detectable_beta_sd(2, 0.2))
    assert np.isnan(detectable_beta_sd(4, 0.2))  # 2 residual df: no λ up to 1e4 reaches 80%
