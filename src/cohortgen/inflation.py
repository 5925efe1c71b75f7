"""Genomic inflation factor λGC, shared by the association gather and the report.

A statistic of summary statistics, below both stages (a stage never imports the report).
"""

import numpy as np
from scipy.special import chdtri, gammaincinv

CHI2_1_MEDIAN = float(2.0 * gammaincinv(0.5, 0.5))  # chi2.ppf(0.5, 1) = 0.4549364...


def lambda_gc(p: np.ndarray) -> float:
    """Genomic inflation factor: median χ²₁ statistic (``chi2.isf(p, 1)``) / 0.4549364.

    p: float64 p-values, any shape. NaN p-values are ignored; an input with no finite p gives
    NaN. ``chi2.isf`` is decreasing, so it runs on the one or two middle p-values only (the
    median of millions of statistics in milliseconds). The χ² quantiles come from
    ``scipy.special``, the functions ``scipy.stats.chi2`` calls (the same numbers), without the
    import of ``scipy.stats`` (about 0.6 CPU s at a job's start).
    """
    p = np.asarray(p, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return float("nan")
    middle = sorted({(p.size - 1) // 2, p.size // 2})
    return float(np.mean(chdtri(1, np.partition(p, middle)[middle])) / CHI2_1_MEDIAN)
