"""Step-2 null models with the whole-genome regression's LOCO prediction as offset.

The null-model table (:mod:`cohortgen.assoc.stage`) holds the covariates-only fits. With step 1
on, the association chunk refits each trait's null model once per chromosome of the chunk, with
the leave-one-chromosome-out (LOCO) prediction of that chromosome as a fixed offset
(:func:`cohortgen.assoc.null_model.fit_design_models`: log-odds for a disease, trait units for a
quantitative trait), and tests that chromosome's variants against it. The refit is cheap (one
IRLS and one Firth null fit per trait on n × p, p the design columns), so the private null
table stays one set of columns per trait instead of one per chromosome; see the README's
"Whole-genome regression" section for the measured cost.

``loco.tsv.gz`` (written by ``cohortgen wgr-step1``): columns ``trait``, ``sample_id`` and one
column per chromosome that had step-1 variants, each the prediction leaving it out, plus
:data:`ALL_COLUMN`, the prediction from every chromosome (the offset of a chromosome that had
none, e.g. chrY or MT). A trait without rows (level 1 could not fit it) keeps its
covariates-only null model: step 1 off for that trait.
"""

import sys

import numpy as np
import pandas as pd

from cohortgen.assoc.null_model import fit_design_models
from cohortgen.errors import InputError
from cohortgen.genome import contig_class

ALL_COLUMN = "ALL"
"""Column of ``loco.tsv.gz`` with the whole-genome prediction (no chromosome left out)."""

OFFSET_PREFIX = "o_"
"""Null-table column prefix of a trait's fixed offset (the LOCO prediction) in a refitted
table; absent (offset 0) in the covariates-only table."""


def read_loco(path) -> pd.DataFrame:
    """The LOCO table (see the module docstring); IDs as strings."""
    table = pd.read_csv(path, sep="\t", dtype={"trait": str, "sample_id": str})
    if not {"trait", "sample_id", ALL_COLUMN} <= set(table.columns):
        raise InputError(f"{path}: not a LOCO prediction table (needs columns trait, sample_id, "
                         f"{ALL_COLUMN}): rerun the whole-genome regression step (wgr-step1)")
    return table


def loco_column(loco: pd.DataFrame, chrom: str) -> str:
    """The LOCO column for variants on ``chrom``: its own column; for chrX and its PARs (any
    naming) the column of chrX; :data:`ALL_COLUMN` for a chromosome step 1 did not use."""
    if chrom in loco.columns and chrom not in ("trait", "sample_id"):
        return chrom
    if contig_class(chrom) in ("x", "par"):
        for name in loco.columns[2:]:
            if name != ALL_COLUMN and contig_class(name) == "x":
                return name
    return ALL_COLUMN


def loco_offsets(loco: pd.DataFrame, column: str, null: pd.DataFrame,
                 names: list[str]) -> np.ndarray:
    """float64 (n, d): the LOCO prediction ``column`` of each trait in ``names`` for each
    null-table sample (0 for a trait without LOCO rows; NaN for a sample the trait excludes).
    InputError naming the trait and sample when an included sample has no prediction."""
    samples = null["sample_id"].astype(str)
    out = np.zeros((len(null), len(names)))
    for j, name in enumerate(names):
        rows = loco[loco["trait"] == name]
        if rows.empty:
            continue
        values = samples.map(pd.Series(rows[column].to_numpy(float),
                                       index=rows["sample_id"])).to_numpy(float)
        missing = np.isnan(values) & ~np.isnan(null[f"y_{name}"].to_numpy(float))
        if missing.any():
            raise InputError(
                f"LOCO predictions: trait {name!r} has no prediction for sample "
                f"{samples.iloc[np.flatnonzero(missing)[0]]!r}, which its null model includes: "
                "rerun the whole-genome regression step on the same keep list and phenotypes")
        out[:, j] = values
    return out


def offset_null_table(null: pd.DataFrame, names: list[str], quantitative: list[str],
                      offsets: np.ndarray) -> pd.DataFrame:
    """The null-model table with each trait's ``r_``, ``w_``, ``f_`` refitted with its offset
    (float64 (n, d), columns in ``names`` order) and the offset itself as ``o_<trait>``.

    null: the private null-model table (``sample_id``, ``x*``, ``y_/r_/w_/f_<trait>``), or its
    chrX view. names: the tested traits. A trait whose refit fails (e.g. separation with the
    offset) gets r = w = 0, so its variants come out untestable, and a warning on stderr.
    """
    X = null.filter(regex=r"^x\d+$").to_numpy(float)
    Y = null[[f"y_{name}" for name in names]].to_numpy(float)
    kinds = [name in quantitative for name in names]
    models = fit_design_models(X, Y, kinds, np.where(np.isnan(Y), 0.0, offsets))
    table = null.copy()
    for j, (name, model) in enumerate(zip(names, models, strict=True)):
        table[f"r_{name}"] = models.R[:, j]
        table[f"w_{name}"] = models.W[:, j]
        table[f"f_{name}"] = 0.0 if model.quantitative else model.firth_eta
        table[f"{OFFSET_PREFIX}{name}"] = np.where(np.isnan(Y[:, j]), 0.0, offsets[:, j])
        if not model.converged:
            print(f"warning: trait {name!r}: the null model with the LOCO offset did not "
                  "converge; its variants on this chromosome are untestable", file=sys.stderr)
    return table
