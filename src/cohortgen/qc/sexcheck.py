"""Sex check from non-PAR chrX F (plink1.9 ``--check-sex`` rules) and chrY calls.

F comes from the per-chunk partials (:mod:`cohortgen.qc.variant_stats`). Genetic sex: female
(2) when F < 0.2, male (1) when F > 0.8, else 0 (ambiguous). A sample is a mismatch when the
sheet's sex is known (1/2) and the genetic sex differs from it, ambiguous included (plink1.9's
``PROBLEM`` status); with no non-PAR chrX variant there is no check. chrY: the call rate on chrY
is reported (NA without chrY variants) and does not enter the decision.
"""

import numpy as np
import pandas as pd

FEMALE_MAX_F = 0.2
MALE_MIN_F = 0.8


def chrx_f(partials: dict) -> np.ndarray:
    """float64 (n,): F on non-PAR chrX from summed partials; NaN without chrX calls."""
    o_hom, e_hom, n_called = partials["x_o_hom"], partials["x_e_hom"], partials["x_n_called"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_called > 0, (o_hom - e_hom) / (n_called - e_hom), np.nan)


def genetic_sex(f: np.ndarray) -> np.ndarray:
    """int64 (n,): 2 female (F < 0.2), 1 male (F > 0.8), 0 ambiguous or NaN."""
    return np.where(f < FEMALE_MAX_F, 2, np.where(f > MALE_MIN_F, 1, 0)).astype(np.int64)


def sex_check(partials: dict, sheet_sex: np.ndarray) -> pd.DataFrame:
    """Per-sample x_f, genetic_sex, sex_mismatch (bool) and y_call_rate.

    sheet_sex: int64 (n,), 1 male, 2 female, 0 unknown."""
    f = chrx_f(partials)
    called = genetic_sex(f)
    has_x = bool((partials["x_n_called"] > 0).any())
    mismatch = has_x & np.isin(sheet_sex, [1, 2]) & (called != sheet_sex)
    with np.errstate(invalid="ignore", divide="ignore"):
        y_rate = np.where(partials["y_variants"] > 0,
                          partials["y_called"] / partials["y_variants"], np.nan)
    return pd.DataFrame({"x_f": f, "genetic_sex": np.where(has_x, called, 0),
                         "sex_mismatch": mismatch, "y_call_rate": y_rate})
