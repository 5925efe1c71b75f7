"""Genomic inflation factor λGC against scipy's χ²₁ quantiles."""

import numpy as np
import pytest
from scipy.stats import chi2

from cohortgen.inflation import lambda_gc


def test_lambda_gc__matches_scipy_direct():
    p = np.random.default_rng(1).uniform(size=5001)
    expected = np.median(chi2.isf(p, 1)) / chi2.ppf(0.5, 1)
    assert lambda_gc(p) == pytest.approx(expected, rel=1e-12)
    assert lambda_gc(p) == pytest.approx(1.0, abs=0.06)  # sampling SD of λ at n=5000 is ~0.03


def test_lambda_gc__known_inflation_and_nan():
    # Odd count with the χ²₁ median in the middle, scaled by 1.2: λGC = 1.2 exactly.
    stats = chi2.ppf(np.linspace(0.0005, 0.9995, 1001), 1) * 1.2
    p = np.append(chi2.sf(stats, 1), [np.nan, np.nan])
    assert lambda_gc(p) == pytest.approx(1.2, rel=1e-9)
    assert np.isnan(lambda_gc(np.array([np.nan])))


@pytest.mark.parametrize("n", [1, 2, 5000, 5001])
def test_lambda_gc__middle_order_statistics_as_full_median(n):
    p = np.random.default_rng(n).uniform(size=n)
    expected = np.median(chi2.isf(p, 1)) / chi2.ppf(0.5, 1)
    assert lambda_gc(p) == pytest.approx(expected, rel=1e-14)
