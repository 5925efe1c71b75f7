"""λGC from ``scipy.special`` (no ``scipy.stats`` import at a job's start) gives the numbers
``scipy.stats.chi2`` gives, bit for bit."""

import numpy as np
import pytest
from scipy.stats import chi2

from cohortgen.inflation import CHI2_1_MEDIAN, lambda_gc


def test_chi2_1_median__is_scipy_stats_ppf_exactly():
    assert CHI2_1_MEDIAN == chi2.ppf(0.5, 1)


@pytest.mark.parametrize("n", [1, 2, 5000, 5001])
def test_lambda_gc__equals_scipy_stats_formula_exactly(n):
    """Uniform p and p spread over 300 decades (GWAS tails), with NaN left out."""
    rng = np.random.default_rng(n)
    for p in (rng.uniform(size=n), 10.0 ** -rng.uniform(0, 300, size=n)):
        middle = np.sort(p)[sorted({(n - 1) // 2, n // 2})]
        expected = float(np.mean(chi2.isf(middle, 1)) / chi2.ppf(0.5, 1))
        assert lambda_gc(np.append(p, np.nan)) == expected
