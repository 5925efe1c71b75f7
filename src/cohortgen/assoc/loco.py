"""Step-2 null models with the whole-genome regression's LOCO prediction as offset.

The null-model table (:mod:`cohortgen.assoc.stage`) holds the covariates-only fits. With step 1
on, each trait's null model is refitted once per LOCO column (chromosome) and null-table view
(the table itself; its chrX models with sex, when it has them), with the leave-one-chromosome-out
(LOCO) prediction of that chromosome as a fixed offset
(:func:`cohortgen.assoc.null_model.fit_design_models`: log-odds for a disease, trait units for a
quantitative trait), by :func:`fit_loco_nulls` in one job per cohort (``cohortgen loco-null``,
``assoc/loco_null.npz``); each association chunk reads the models of its own chromosomes only
(:func:`read_loco_nulls`, :meth:`LocoNulls.null_table`) and tests that chromosome's variants
against them. See the README's "Whole-genome regression" section for the measured cost.

``loco.tsv.gz`` (written by ``cohortgen wgr-step1``): columns ``trait``, ``sample_id`` and one
column per chromosome that had step-1 variants, each the prediction leaving it out, plus
:data:`ALL_COLUMN`, the prediction from every chromosome (the offset of a chromosome that had
none, e.g. chrY or MT). A trait without rows (level 1 could not fit it) keeps its
covariates-only null model: step 1 off for that trait.
"""

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.assoc.null_model import fit_design_models
from cohortgen.assoc.stage import CHRX_PREFIX, tested_traits
from cohortgen.errors import InputError
from cohortgen.genome import contig_class, contig_name
from cohortgen.io.files import read_json, read_tsv, stale_input, write_npz

ALL_COLUMN = "ALL"
"""Column of ``loco.tsv.gz`` with the whole-genome prediction (no chromosome left out)."""

OFFSET_PREFIX = "o_"
"""Null-table column prefix of a trait's fixed offset (the LOCO prediction) in a refitted
table; absent (offset 0) in the covariates-only table."""

REFIT_PREFIXES = ("r_", "w_", "f_", OFFSET_PREFIX)
"""Null-table column prefixes of a trait that a LOCO refit sets, in the order of the first axis
of a stored model (:class:`LocoNulls`)."""


def read_loco(path) -> pd.DataFrame:
    """The LOCO table (see the module docstring); IDs as strings."""
    table = pd.read_csv(path, sep="\t", dtype={"trait": str, "sample_id": str})
    if not {"trait", "sample_id", ALL_COLUMN} <= set(table.columns):
        raise InputError(f"{path}: not a LOCO prediction table (needs columns trait, sample_id, "
                         f"{ALL_COLUMN}): rerun the whole-genome regression step (wgr-step1)")
    return table


def loco_column(columns: Sequence[str], chrom: str) -> str:
    """The LOCO column for variants on ``chrom``, of the LOCO table's ``columns`` (its column
    names; ``trait`` and ``sample_id`` are skipped): its own column, whatever the naming ("chr1"
    and "1" are one chromosome: imputed files often name contigs otherwise than the array);
    for chrX and its PARs the column of chrX; :data:`ALL_COLUMN` for a chromosome step 1 did
    not use."""
    names = [name for name in columns if name not in ("trait", "sample_id", ALL_COLUMN)]
    if chrom in names:
        return chrom
    canonical = contig_name(chrom)
    for name in names:
        if canonical is not None and contig_name(name) == canonical:
            return name
    if contig_class(chrom) in ("x", "par"):
        for name in names:
            if contig_class(name) == "x":
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


def null_views(null: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The null-table views that variants are tested against, by key: ``""`` the table itself,
    and :data:`~cohortgen.assoc.stage.CHRX_PREFIX` its chrX models with sex (those columns,
    prefix removed) when the table has them."""
    x_columns = [c for c in null.columns if c.startswith(CHRX_PREFIX)]
    views = {"": null}
    if x_columns:
        views[CHRX_PREFIX] = null[["sample_id", *x_columns]].rename(
            columns=lambda c: c.removeprefix(CHRX_PREFIX))
    return views


@dataclass(frozen=True)
class LocoNulls:
    """The null models of the tested traits refitted with each LOCO offset (:func:`fit_loco_nulls`).

    sample_id: str (n,) the null table's samples, in its order; traits: str (d,) the refitted
    traits; columns: the LOCO table's prediction columns (chromosomes and :data:`ALL_COLUMN`);
    models: view key (:func:`null_views`) + LOCO column → float64 (4, n, d), the new ``r_``,
    ``w_``, ``f_`` and ``o_`` column of each trait (:data:`REFIT_PREFIXES` order), as a dict or
    as the lazily read ``loco_null.npz`` (:func:`read_loco_nulls`: a chunk reads its
    chromosomes' models only)."""

    sample_id: np.ndarray
    traits: np.ndarray
    columns: list[str]
    models: Mapping[str, np.ndarray]

    def null_table(self, table: pd.DataFrame, view: str, chrom: str) -> pd.DataFrame:
        """``table``, the null table's view ``view``, with each refitted trait's ``r_``,
        ``w_``, ``f_`` and ``o_`` columns of its model with the LOCO offset of ``chrom``: the
        table :func:`offset_null_table` returns."""
        if not np.array_equal(self.sample_id, table["sample_id"].to_numpy(str)):
            raise InputError("the LOCO null models (loco_null.npz) are not of this null-model "
                             "table's samples: rerun the loco-null step after the null-model step")
        stored = self.models[view + loco_column(self.columns, chrom)]
        out = table.copy()
        for j, name in enumerate(self.traits):
            for k, prefix in enumerate(REFIT_PREFIXES):
                out[f"{prefix}{name}"] = stored[k, :, j]
        return out


def fit_loco_nulls(null: pd.DataFrame, names: list[str], quantitative: list[str],
                   loco: pd.DataFrame) -> LocoNulls:
    """The null models of ``names`` (the tested traits; ``quantitative`` those of them that are
    quantitative) with the offset of every LOCO column: for the table itself every column, for
    its chrX view (:func:`null_views`) the columns of chrX and :data:`ALL_COLUMN`, the only ones
    chrX variants can take (:func:`loco_column`). null: the private null-model table; loco: the
    LOCO table (:func:`read_loco`)."""
    columns = [c for c in loco.columns if c not in ("trait", "sample_id")]
    models = {}
    for view, table in null_views(null).items():
        for column in columns:
            if view and column != ALL_COLUMN and contig_class(column) != "x":
                continue
            refit = offset_null_table(table, names, quantitative,
                                      loco_offsets(loco, column, table, names))
            models[view + column] = np.stack(
                [refit[[f"{prefix}{name}" for name in names]].to_numpy(float)
                 for prefix in REFIT_PREFIXES])
    return LocoNulls(null["sample_id"].to_numpy(str), np.array(names, dtype=str), columns, models)


def write_loco_nulls(path: Path, nulls: LocoNulls) -> None:
    """``loco_null.npz`` (private: per-sample fits): ``sample_id``, ``traits``, ``columns`` and
    one member per model key (:class:`LocoNulls`)."""
    write_npz(Path(path), {"sample_id": nulls.sample_id, "traits": nulls.traits,
                           "columns": np.array(nulls.columns, dtype=str), **nulls.models},
              private=True)


def read_loco_nulls(path: Path) -> LocoNulls:
    """:class:`LocoNulls` of ``loco_null.npz``, its models read when used (the file stays open
    for the process)."""
    data = np.load(Path(path), allow_pickle=False)
    if not {"sample_id", "traits", "columns"} <= set(data.files):
        raise stale_input(path, "LOCO null models (members sample_id, traits, columns)")
    return LocoNulls(data["sample_id"], data["traits"], data["columns"].tolist(), data)


def loco_null_stage(null_tsv: Path, null_json: Path, loco_tsv: Path, out: Path) -> None:
    """The ``loco-null`` command: the tested traits' null models with every LOCO offset
    (:func:`fit_loco_nulls`), written to ``out`` (:func:`write_loco_nulls`)."""
    null = read_tsv(null_tsv, dtype={"sample_id": str})
    names, quantitative = tested_traits(read_json(null_json))
    write_loco_nulls(out, fit_loco_nulls(null, names, quantitative, read_loco(loco_tsv)))
