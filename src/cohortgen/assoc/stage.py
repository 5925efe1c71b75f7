"""Null-model stage: one logistic null model per disease on the kept samples.

Files: ``null_model.tsv`` (private; per kept sample: design matrix X, phenotype y, residual r and
weight w per disease) and ``null_model.json`` (per disease: status, cases, controls; dropped
covariates with the reason). Covariates are checked first: values outside
:data:`COVARIATE_RANGES` are an :class:`InputError` naming the sample; constant or collinear
columns are dropped with a warning. ``sex`` is always in the design, because chrX non-PAR
genotypes (males coded 0/2) need it: if the configured covariates omit it, it is added (for
every chromosome, so one null model serves all chunks) with a warning and
``"sex_added": true`` in the json. The chunk test, gathering and loci are in
:mod:`cohortgen.assoc.chunk`, :mod:`cohortgen.assoc.gather` and :mod:`cohortgen.assoc.loci`.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.assoc.null_model import fit_null_models
from cohortgen.errors import InputError
from cohortgen.io.bed import read_fam
from cohortgen.io.files import read_tsv, write_json, write_tsv
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.qc.sample_qc import read_keep

COVARIATE_RANGES = {"age": (0.0, 130.0), "sex": (1.0, 2.0)}
"""Allowed closed ranges of known covariates (sex: 1 male, 2 female)."""


def check_covariate_ranges(sheet: pd.DataFrame, path: Path) -> None:
    """Raise InputError naming the sample and value of the first out-of-range covariate."""
    for name, (low, high) in COVARIATE_RANGES.items():
        if name not in sheet.columns:
            continue
        values = sheet[name].to_numpy(float)
        bad = np.flatnonzero(~np.isnan(values) & ((values < low) | (values > high)))
        if bad.size:
            sample = sheet.index[bad[0]]
            raise InputError(
                f"{path}: sample {sample!r} has {name} = {values[bad[0]]:g}, outside "
                f"[{low:g}, {high:g}]; correct it (or set it to NA) and rerun"
            )


def disease_status(n_cases: int, n_controls: int, converged: bool, min_cases: int) -> str:
    """``OK``, or why a disease is not tested."""
    if min(n_cases, n_controls) < min_cases:
        return f"SKIPPED: fewer than {min_cases} cases or controls"
    return "OK" if converged else "SKIPPED: null model did not converge"


def covariate_table(sheet: pd.DataFrame, covariates: list[str],
                    pcs_tsv: Path | None) -> pd.DataFrame:
    """Sheet covariates of the sheet's samples, then the PCs (if given), by sample ID."""
    table = sheet[covariates]
    if pcs_tsv is None:
        return table
    pcs = read_tsv(pcs_tsv, dtype={"sample_id": str}).set_index("sample_id")
    return table.join(pcs.loc[sheet.index.astype(str)].set_axis(table.index))


def fit_null_stage(fam_path: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
                   covariates: list[str], min_cases: int, null_tsv: Path,
                   null_json: Path, pcs_tsv: Path | None = None) -> dict:
    """Fit one null model per disease on kept samples (covariates + PCs); write the private
    table and the summary."""
    keep = set(read_keep(keep_txt))
    samples = [s for s in read_fam(Path(fam_path))["iid"].astype(str) if s in keep]
    sex_added = "sex" not in covariates
    if sex_added:
        covariates = ["sex", *covariates]
        print("warning: 'sex' added as a covariate (needed for chrX non-PAR variants)",
              file=sys.stderr)
    sheet = read_phenotypes(Path(phenotypes), diseases, covariates).loc[samples]
    check_covariate_ranges(sheet, Path(phenotypes))
    design = covariate_table(sheet, covariates, pcs_tsv)
    covariates = design.columns.tolist()
    models = fit_null_models(design.to_numpy(float), sheet[diseases].to_numpy(float))
    dropped = [[covariates[c], why] for c, why in models.dropped]
    for name, why in dropped:
        print(f"warning: covariate {name!r} dropped ({why})", file=sys.stderr)
    statuses = [disease_status(m.n_cases, m.n_controls, m.converged, min_cases) for m in models]
    table = null_model_table(samples, models, sheet[diseases], statuses)
    summary = {"covariates": covariates, "dropped_covariates": dropped,
               "sex_added": sex_added, "diseases": {}}
    for name, model, status in zip(diseases, models, statuses, strict=True):
        summary["diseases"][name] = {"status": status, "n_cases": model.n_cases,
                                     "n_controls": model.n_controls}
        if status != "OK":
            print(f"warning: disease {name!r} not tested: {status}", file=sys.stderr)
    write_tsv(null_tsv, table, private=True, float_format="%.17g")
    write_json(null_json, summary)
    return summary


def null_model_table(samples: list[str], models, phenotypes: pd.DataFrame,
                     statuses: list[str]) -> pd.DataFrame:
    """The private null-model table: ``sample_id``, design ``x0..`` and per disease ``y_`` (NaN
    where excluded), ``r_`` and ``w_`` (0 for a disease whose status is not ``OK``).

    models: :class:`NullModels` of the (n, d) ``phenotypes`` frame (columns = disease names).
    """
    table = pd.DataFrame({"sample_id": samples})
    for k in range(models.X.shape[1]):
        table[f"x{k}"] = models.X[:, k]
    for d, (name, model) in enumerate(zip(phenotypes.columns, models, strict=True)):
        tested = statuses[d] == "OK"
        table[f"y_{name}"] = np.where(model.included, phenotypes[name].to_numpy(float), np.nan)
        table[f"r_{name}"] = models.R[:, d] if tested else 0.0
        table[f"w_{name}"] = models.W[:, d] if tested else 0.0
    return table
