"""Null-model stage: one null model per trait on the kept samples.

Files: ``null_model.tsv`` (private; per kept sample: design matrix X, phenotype y, residual r,
weight w and Firth null linear predictor f per trait, see :func:`null_model_table`) and
``null_model.json`` (per trait: type, status, cases and controls or n; covariates, dropped
covariates with the reason, the levels of categorical covariates). Covariates are checked
first: values outside :data:`COVARIATE_RANGES` are an :class:`InputError` naming the sample;
constant or collinear columns are dropped with a warning.

- Diseases (0/1) get a logistic null model, quantitative ``traits`` a least-squares one
  (:mod:`cohortgen.assoc.null_model`).
- A categorical covariate (batch, site; text or number labels in the sheet) becomes one 0/1
  column per level but the first (sorted), named ``<column>=<level>``; a level with fewer than
  ``min_level_count`` kept samples is an error. The indicators then go through the same
  constant/collinear checks as every covariate.
- ``sex`` is always in the design of chrX variants (males coded 0/2 on non-PAR X, as stored in
  the .bed). If the configured covariates omit it and the data has chrX variants, the autosomal
  models stay without sex and a second set of null models with sex is fitted for chrX
  (:data:`CHRX_PREFIX` columns of the table, ``"sex_added_for_chrX": true`` in the json);
  samples of unknown sex are left out of the chrX models. When no kept sample has a known sex,
  chrX variants are tested with the autosomal models and ``chrX_note`` in the json says so. A
  configured covariate that is NA for every kept sample is an :class:`InputError`.

The chunk test, gathering and loci are in :mod:`cohortgen.assoc.chunk`,
:mod:`cohortgen.assoc.gather` and :mod:`cohortgen.assoc.loci`.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.assoc.null_model import fit_null_models
from cohortgen.errors import InputError
from cohortgen.io.bed import read_bim, read_fam
from cohortgen.io.files import write_json, write_tsv
from cohortgen.io.phenotypes import check_covariates_known, read_phenotypes
from cohortgen.qc.pca import read_pcs
from cohortgen.qc.sample_qc import read_keep

CHRX_PREFIX = "X_"
"""Prefix of the null-model table's columns of the chrX models (with sex), when sex was added."""

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


def trait_status(model, min_cases: int) -> str:
    """``OK``, or why a trait is not tested (a quantitative trait needs ``min_cases`` samples)."""
    if not model.quantitative:
        return disease_status(model.n_cases, model.n_controls, model.converged, min_cases)
    if model.n_samples < min_cases:
        return f"SKIPPED: fewer than {min_cases} samples"
    return "OK" if model.converged else "SKIPPED: no residual variance"


def level_indicators(values: pd.Series, name: str, min_count: int,
                     path: Path) -> tuple[pd.DataFrame, dict]:
    """One-hot columns ``<name>=<level>`` (float64, NaN where the label is missing) of every
    level but the first (sorted labels: the reference), and ``{"reference": .., "counts":
    {..}}``. ``values``: string labels, NA = missing. Raises InputError when a level has fewer
    than ``min_count`` samples."""
    labels = values.astype("string")
    present = labels.notna().to_numpy()
    text = labels.fillna("").to_numpy(str)
    levels, counts = np.unique(text[present], return_counts=True)
    small = [f"{level} ({count})" for level, count in zip(levels, counts, strict=True)
             if count < min_count]
    if small:
        raise InputError(
            f"{path}: categorical covariate {name!r} has level(s) {', '.join(small)} with fewer "
            f"than assoc.min_level_count = {min_count} kept samples; merge them into another "
            "level, set them to NA, or lower assoc.min_level_count")
    columns = {f"{name}={level}": np.where(present, text == level, np.nan)
               for level in levels[1:]}
    info = {"reference": str(levels[0]) if levels.size else None,
            "counts": {str(k): int(c) for k, c in zip(levels, counts, strict=True)}}
    return pd.DataFrame(columns, index=values.index), info


def covariate_table(sheet: pd.DataFrame, covariates: list[str], pcs_tsv: Path | None,
                    categorical: list[str] = (), min_level_count: int = 1,
                    path: Path = Path("phenotypes")) -> tuple[pd.DataFrame, dict]:
    """Design columns by sample: the numeric ``covariates``, the level indicators of each
    ``categorical`` column (:func:`level_indicators`), then the PCs (if given); and the levels
    of each categorical covariate."""
    parts = [sheet[covariates]]
    levels = {}
    for name in categorical:
        indicators, levels[name] = level_indicators(sheet[name], name, min_level_count, path)
        parts.append(indicators)
    table = pd.concat(parts, axis=1)
    if pcs_tsv is not None:
        pcs = read_pcs(pcs_tsv)
        table = table.join(pcs.loc[sheet.index.astype(str)].set_axis(table.index))
    return table, levels


def chromosomes_tested(bim_paths: list[Path] | None, imputed_plan: Path | None
                       ) -> pd.Series | None:
    """Chromosome names of the variants the association tests: with ``imputed_plan`` (the
    imputed dosages' ``plan.tsv``, whose chunks are tested instead of the array chunks) its
    ``contig`` column, else the chromosomes of the chunks' .bim files (each once per file); None
    when neither is given (then chrX may be tested)."""
    if imputed_plan is not None:
        from cohortgen.ingest.plan import read_plan

        return read_plan(Path(imputed_plan))["contig"]
    if bim_paths is None:
        return None
    return pd.Series([name for path in bim_paths
                      for name in read_bim(Path(path))["chrom"].astype(str).unique()], dtype=str)


def chrx_sex_plan(covariates: list[str], sex: pd.Series, chromosomes: pd.Series | None
                  ) -> tuple[bool, str | None]:
    """(whether to fit the chrX null models with sex added, a note for null_model.json or None).
    sex: the kept samples' sheet sex (NaN unknown); chromosomes: the tested variants' (or
    chunks') chromosome names, from :func:`chromosomes_tested` (None: assume chrX may be
    tested)."""
    from cohortgen.assoc.chunk import is_chrx

    if "sex" in covariates:
        return False, None
    if chromosomes is not None and not is_chrx(chromosomes).any():
        return False, None
    if sex.isna().all():
        return False, ("sex is NA for every kept sample: chrX variants are tested without sex, "
                       "with the autosomal null models")
    return True, None


def fit_null_stage(fam_path: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
                   covariates: list[str], min_cases: int, null_tsv: Path,
                   null_json: Path, pcs_tsv: Path | None = None, quantitative: list[str] = (),
                   categorical: list[str] = (), min_level_count: int = 1,
                   bim_paths: list[Path] | None = None,
                   imputed_plan: Path | None = None) -> dict:
    """Fit one null model per trait (``diseases``, then ``quantitative`` traits) on kept samples
    (covariates, categorical covariates, PCs; sex on chrX when the tested contigs include chrX:
    those of ``imputed_plan``, the imputed dosages' chunk plan, when given, else of
    ``bim_paths``, the chunks' .bim files; neither: as if they did); write the private table and
    the summary."""
    path = Path(phenotypes)
    keep = set(read_keep(keep_txt))
    samples = [s for s in read_fam(Path(fam_path))["iid"].astype(str) if s in keep]
    traits = [*diseases, *quantitative]
    numeric = [c for c in covariates if c not in categorical]
    columns = list(dict.fromkeys([*numeric, *quantitative]))
    sheet = read_phenotypes(path, diseases, columns, list(categorical)).loc[samples]
    check_covariate_ranges(sheet, path)
    check_covariates_known(sheet, numeric, path, "kept sample")
    design, levels = covariate_table(sheet, numeric, pcs_tsv, list(categorical),
                                     min_level_count, path)
    kinds = [name in quantitative for name in traits]
    models = fit_null_models(design.to_numpy(float), sheet[traits].to_numpy(float), kinds)
    statuses = [trait_status(m, min_cases) for m in models]
    table = null_model_table(samples, models, sheet[traits], statuses)
    warn_firth_null_failures(traits, models, statuses, "")
    sex_added, chrx_note = chrx_sex_plan(covariates, sheet["sex"],
                                         chromosomes_tested(bim_paths, imputed_plan))
    if chrx_note:
        print(f"warning: {chrx_note}", file=sys.stderr)
    if sex_added:
        print("warning: 'sex' is not a covariate: added for chrX variants only", file=sys.stderr)
        with_sex = pd.concat([sheet[["sex"]], design], axis=1).to_numpy(float)
        models_x = fit_null_models(with_sex, sheet[traits].to_numpy(float), kinds)
        table_x = null_model_table(samples, models_x, sheet[traits], statuses)
        warn_firth_null_failures(traits, models_x, statuses, " (chrX model, with sex)")
        table = table.join(table_x.drop(columns="sample_id").add_prefix(CHRX_PREFIX))
    names = design.columns.tolist()
    dropped = [[names[c], why] for c, why in models.dropped]
    for name, why in dropped:
        print(f"warning: covariate {name!r} dropped ({why})", file=sys.stderr)
    summary = {"covariates": names, "dropped_covariates": dropped,
               "categorical_covariates": levels, "sex_added_for_chrX": sex_added,
               **({"chrX_note": chrx_note} if chrx_note else {}), "diseases": {}}
    for name, model, status in zip(traits, models, statuses, strict=True):
        summary["diseases"][name] = trait_summary(model, status)
        if status != "OK":
            print(f"warning: trait {name!r} not tested: {status}", file=sys.stderr)
    write_tsv(null_tsv, table, private=True, float_format="%.17g")
    write_json(null_json, summary)
    return summary


def tested_traits(summary: dict) -> tuple[list[str], list[str]]:
    """(tested traits, quantitative traits) of a ``null_model.json`` summary: the traits of
    status OK, in its order; the traits of type quantitative."""
    traits = summary["diseases"]
    return ([n for n, s in traits.items() if s["status"] == "OK"],
            [n for n, s in traits.items() if s.get("type") == "quantitative"])


def warn_firth_null_failures(traits: list[str], models, statuses: list[str], label: str) -> None:
    """Warn on stderr for each tested disease whose Firth-penalised null fit did not converge:
    its approximate-Firth rows will be ``FIRTH_CONVERGE_FAIL`` (score-test numbers kept)."""
    for name, model, status in zip(traits, models, statuses, strict=True):
        if status == "OK" and not model.quantitative and np.isnan(model.firth_eta).any():
            print(f"warning: disease {name!r}{label}: the Firth-penalised null model did not "
                  "converge; its approximate-Firth rows will be FIRTH_CONVERGE_FAIL",
                  file=sys.stderr)


def trait_summary(model, status: str) -> dict:
    """A trait's entry in null_model.json: type, status and its case/control counts (disease)
    or its number of samples (quantitative)."""
    if model.quantitative:
        return {"type": "quantitative", "status": status, "n": model.n_samples}
    return {"type": "binary", "status": status, "n_cases": model.n_cases,
            "n_controls": model.n_controls}


def null_model_table(samples: list[str], models, phenotypes: pd.DataFrame,
                     statuses: list[str]) -> pd.DataFrame:
    """The private null-model table: ``sample_id``, design ``x0..`` and per trait ``y_`` (NaN
    where excluded), ``r_``, ``w_`` and ``f_``, the linear predictor of the Firth-penalised null
    fit (the approximate Firth's offset; 0 for a quantitative trait, NaN on a disease's samples
    if that fit did not converge); r, w and f are 0 for a trait whose status is not ``OK``.

    models: :class:`NullModels` of the (n, d) ``phenotypes`` frame (columns = trait names).
    """
    table = pd.DataFrame({"sample_id": samples})
    for k in range(models.X.shape[1]):
        table[f"x{k}"] = models.X[:, k]
    for d, (name, model) in enumerate(zip(phenotypes.columns, models, strict=True)):
        tested = statuses[d] == "OK"
        table[f"y_{name}"] = np.where(model.included, phenotypes[name].to_numpy(float), np.nan)
        table[f"r_{name}"] = models.R[:, d] if tested else 0.0
        table[f"w_{name}"] = models.W[:, d] if tested else 0.0
        table[f"f_{name}"] = model.firth_eta if tested and not model.quantitative else 0.0
    return table
