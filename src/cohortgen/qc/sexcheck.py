"""Sex check from non-PAR chrX F (plink1.9 ``--check-sex`` cut-offs), with chrY as a veto.

F and the chrY call rate come from the per-chunk partials (:mod:`cohortgen.qc.variant_stats`),
computed at ingest from the calls as they came in, before the sheet's sex set any call missing
(plink1.9 ``--check-sex`` on the unaltered input gives the same F). Genetic sex, as
plink1.9: female (2) when F < 0.2, male (1) when F > 0.8, else 0 (ambiguous; also without chrX
calls). For a sample whose sheet sex is known (1/2), when the cohort has non-PAR chrX calls:

* ``sex_mismatch``: a confident opposite call (F > 0.8 for a sheet female, F < 0.2 for a sheet
  male), unless chrY contradicts it (below);
* ``sex_ambiguous``: F within [0.2, 0.8] or not computable (plink1.9 reports both kinds as
  ``PROBLEM``; pooled allele frequencies over several ancestries inflate the F of women, so an
  intermediate F alone is weak evidence), or a mismatch vetoed by chrY.

chrY: only a sheet male's chrY call rate is used (``y_call_rate`` is reported for everyone). A
sheet male with chrX F < 0.2 whose chrY call rate is at least :data:`Y_MALE_MIN_CALL_RATE` has
male chrY calls against a female chrX (e.g. XXY): the evidence conflicts, so he is ambiguous
rather than a mismatch. chrY can thus prevent a removal, never cause one.
Without chrY variants the call rate is NaN and the decision rests on chrX alone.
"""

import numpy as np
import pandas as pd

FEMALE_MAX_F = 0.2
MALE_MIN_F = 0.8
Y_MALE_MIN_CALL_RATE = 0.5
"""chrY call rate at or above which a sheet male's chrY calls look male."""


def chrx_f(partials: dict) -> np.ndarray:
    """float64 (n,): F on non-PAR chrX from summed partials; NaN without chrX calls."""
    o_hom, e_hom, n_called = partials["x_o_hom"], partials["x_e_hom"], partials["x_n_called"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_called > 0, (o_hom - e_hom) / (n_called - e_hom), np.nan)


def genetic_sex(f: np.ndarray) -> np.ndarray:
    """int64 (n,): 2 female (F < 0.2), 1 male (F > 0.8), 0 ambiguous or NaN."""
    return np.where(f < FEMALE_MAX_F, 2, np.where(f > MALE_MIN_F, 1, 0)).astype(np.int64)


def chry_call_rate(partials: dict) -> np.ndarray:
    """float64 (n,): call rate over chrY variants; NaN without chrY variants."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(partials["y_variants"] > 0,
                        partials["y_called"] / partials["y_variants"], np.nan)


def sex_check(partials: dict, sheet_sex: np.ndarray) -> pd.DataFrame:
    """Per-sample x_f, genetic_sex, y_call_rate, sex_mismatch and sex_ambiguous (bool), by the
    rules of the module docstring.

    sheet_sex: int64 (n,), 1 male, 2 female, 0 unknown."""
    f = chrx_f(partials)
    called = genetic_sex(f)
    y_rate = chry_call_rate(partials)
    has_x = bool((partials["x_n_called"] > 0).any())
    checked = has_x & np.isin(sheet_sex, [1, 2])
    opposite = checked & (called == 3 - sheet_sex)
    y_vetoes = (sheet_sex == 1) & (y_rate >= Y_MALE_MIN_CALL_RATE)
    return pd.DataFrame({"x_f": f, "genetic_sex": np.where(has_x, called, 0),
                         "y_call_rate": y_rate, "sex_mismatch": opposite & ~y_vetoes,
                         "sex_ambiguous": checked & ((called == 0) | (opposite & y_vetoes))})
