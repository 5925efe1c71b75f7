"""Genomic inflation factor λGC, shared by the association gather and the report.

A statistic of summary statistics, below both stages (a stage never imports the report).
"""

import numpy as np
from scipy.stats import chi2

CHI2_1_MEDIAN = float(chi2.ppf(0.5, 1))  # 0.4549364...


def lambda_gc(p: np.ndarray) -> float:
    """Genomic inflation factor: median χ²₁ statistic (``chi2.isf(p, 1)``) / 0.4549364.

    p: float64 p-values, any shape. NaN p-values are ignored; an input with no finite p gives
    NaN.
    """
    p = np.asarray(p, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return float("nan")
    return float(np.median(chi2.isf(p, 1)) / CHI2_1_MEDIAN)
