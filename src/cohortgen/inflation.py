"""Genomic inflation factor λGC, shared by the association gather and the report.

A statistic of summary statistics, below both stages (a stage never imports the report).
"""

import numpy as np
from scipy.stats import chi2

CHI2_1_MEDIAN = float(chi2.ppf(0.5, 1))  # 0.4549364...


def lambda_gc(p: np.ndarray) -> float:
    """Genomic inflation factor: median χ²₁ statistic (``chi2.isf(p, 1)``) / 0.4549364.

    p: float64 p-values, any shape. NaN p-values are ignored; an input with no finite p gives
    NaN. ``chi2.isf`` is decreasing, so it runs on the one or two middle p-values only (the
    median of millions of statistics in milliseconds).
    """
    p = np.asarray(p, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return float("nan")
    middle = sorted({(p.size - 1) // 2, p.size // 2})
    return float(np.mean(chi2.isf(np.partition(p, middle)[middle], 1)) / CHI2_1_MEDIAN)
