"""In-cohort scores for one disease: cross-validated C+T and LDpred2-auto, evaluated, exported.

Genotypes: QC-passed autosomal variants with MAF ≥ ``min_maf`` (variant_qc.tsv, kept samples),
held as the chunks' packed .bed rows, uint8 (m, ceil(n_fam / 4)): memory is m × n / 4 bytes.
Samples outside qc/keep.txt, or with a missing phenotype, covariate or PC, get fold -1 and are
never read. Covariates of the training GWAS and of the evaluation are ``covariates`` + PCs.

Files written by :func:`build_incohort` (``d`` = disease, under ``out_dir``):
- ``<d>.performance.tsv`` (shareable): :data:`cohortgen.prs.stage.PERFORMANCE_COLUMNS`, one row
  per method (``incohort_ct``, ``incohort_ldpred2``) on the held-out scores of all folds.
- ``<d>.scores.tsv.gz`` (private): sample_id, fold, held-out score per method.
- ``<d>_ldpred2.txt.gz``: PGS Catalog v2.0 scoring file of LDpred2-auto refitted on all usable
  kept samples (weights per ALT allele); header-only when no score is emitted.
A method that emits no score in some fold (no converged LDpred2 chain) is not evaluated: its row
holds the status. A disease with fewer than ``min_cases`` cases or controls gets status rows.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.bed import read_bed
from cohortgen.io.files import read_tsv, write_tsv
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.io.scorefile import write_scoring_file
from cohortgen.prs.cplust import cplust_builder
from cohortgen.prs.evaluate import evaluate_score
from cohortgen.prs.folds import (
    TrainingSet,
    cross_validated_scores,
    stratified_folds,
    training_gwas,
)
from cohortgen.prs.ldpred import ldpred_builder, ldpred_weights
from cohortgen.prs.stage import (
    PERFORMANCE_COLUMNS,
    _masked_count,
    _pcs_of,
    _status_row,
    cohort_variants,
    performance_row,
    write_private_tsv_gz,
)
from cohortgen.qc.keep import read_keep, sample_mask

METHODS = {"ct": "incohort_ct", "ldpred2": "incohort_ldpred2"}
AUTOSOMES = {str(c) for c in range(1, 23)}


@dataclass(frozen=True)
class Genotypes:
    """packed: uint8 (m, ceil(n / 4)) .bed rows; n_samples: n (.fam order); sample_ids: (n,)
    str; kept: bool (n,) in qc/keep.txt; variants: chrom, pos, ref, alt, alt_freq per row."""

    packed: np.ndarray
    n_samples: int
    sample_ids: list[str]
    kept: np.ndarray
    variants: pd.DataFrame


def selected_variants(variant_qc_paths: list[Path], min_maf: float) -> pd.DataFrame:
    """QC-passed autosomal variants with min(alt_freq, 1 − alt_freq) ≥ min_maf."""
    variants = cohort_variants(variant_qc_paths)
    maf = np.minimum(variants["alt_freq"], 1.0 - variants["alt_freq"])
    use = variants["pass"] & variants["chrom"].isin(AUTOSOMES) & (maf >= min_maf)
    return variants.loc[use].reset_index(drop=True)


def load_genotypes(bfiles: list[Path], variant_qc_paths: list[Path], keep_txt: Path,
                   min_maf: float) -> Genotypes:
    """The selected variants' packed rows of every chunk, stacked in chunk order."""
    variants = selected_variants(variant_qc_paths, min_maf)
    blocks, fam = [], None
    for chunk, prefix in enumerate(bfiles):
        packed, _, fam = read_bed(Path(prefix))
        rows = variants.loc[variants["chunk"] == chunk, "row"].to_numpy()
        blocks.append(np.asarray(packed[rows]))
    ids = fam["iid"].astype(str).tolist()
    packed = np.ascontiguousarray(np.concatenate(blocks))
    return Genotypes(packed, len(ids), ids, sample_mask(ids, read_keep(keep_txt)), variants)


def sample_design(geno: Genotypes, phenotypes: Path, disease: str, covariates: list[str],
                  pcs_tsv: Path) -> tuple[np.ndarray, np.ndarray]:
    """(y float64 (n,) with NaN where unusable, design float64 (n, c + PCs), 0 where unusable)."""
    sheet = read_phenotypes(Path(phenotypes), [disease], covariates)
    kept_ids = [s for s, k in zip(geno.sample_ids, geno.kept, strict=True) if k]
    pcs = _pcs_of(pcs_tsv, kept_ids)
    y = np.full(geno.n_samples, np.nan)
    design = np.zeros((geno.n_samples, len(covariates) + pcs.shape[1]))
    rows = np.flatnonzero(geno.kept)
    in_sheet = np.array([s in sheet.index for s in kept_ids], dtype=bool)
    ids = [s for s, ok in zip(kept_ids, in_sheet, strict=True) if ok]
    y[rows[in_sheet]] = sheet.loc[ids, disease].to_numpy(float)
    design[rows[in_sheet]] = np.column_stack(
        [sheet.loc[ids, covariates].to_numpy(float), pcs[in_sheet]])
    usable = np.isfinite(y) & np.all(np.isfinite(design), axis=1)
    y[~usable] = np.nan
    design[~usable] = 0.0
    return y, design


def builders(options: dict) -> dict:
    """Method name → builder; options: r2_grid, p_thresholds, n_chains, burn_in, num_iter,
    threads."""
    ct = cplust_builder(r2_grid=tuple(options["r2_grid"]),
                        p_thresholds=tuple(options["p_thresholds"]))
    ldpred = ldpred_builder(**ldpred_options(options))
    return {"ct": ct, "ldpred2": ldpred}


def ldpred_options(options: dict) -> dict:
    """The LDpred2-auto options of ``options``."""
    return {"n_chains": options["n_chains"], "burn_in": options["burn_in"],
            "num_iter": options["num_iter"], "n_threads": options["threads"]}


def fold_status(results) -> str:
    """"ok", or the first failing fold's status."""
    for fold, result in enumerate(results):
        if result.weights is None:
            return f"FAILED: fold {fold + 1}: {result.status}"
    return "ok"


def performance_rows(disease, cv, y, design, prevalence, min_cell_count) -> list[dict]:
    """One performance row per method on its held-out scores (status row if it failed)."""
    rows = []
    for method, name in METHODS.items():
        status = fold_status(cv.results[method])
        if status != "ok":
            rows.append(_status_row(disease, name, status))
            continue
        score = cv.scores[method]
        use = np.isfinite(score) & np.isfinite(y)
        result = evaluate_score(score[use], y[use], design[use], prevalence)
        rows.append(performance_row(disease, name, result, prevalence, min_cell_count))
    return rows


def final_ldpred_weights(geno: Genotypes, y: np.ndarray, design: np.ndarray, seed: int,
                         options: dict) -> tuple[np.ndarray | None, str]:
    """LDpred2-auto refitted on every usable sample: (weights per ALT allele or None, status)."""
    train_idx = np.flatnonzero(np.isfinite(y))
    gwas = training_gwas(geno.packed, geno.n_samples, train_idx, y[train_idx],
                         design[train_idx])
    train = TrainingSet(geno.packed, geno.n_samples, geno.variants["chrom"].to_numpy(),
                        geno.variants["pos"].to_numpy(np.int64), train_idx, y[train_idx],
                        design[train_idx], gwas, seed)
    result = ldpred_weights(train, **ldpred_options(options))
    return result.weights, result.status


def write_ldpred_scoring_file(path: Path, variants: pd.DataFrame, weights, disease: str,
                              genome_build: str) -> int:
    """PGS Catalog file of the nonzero weights (header only for None); variants written."""
    weights = np.zeros(len(variants)) if weights is None else weights
    used = weights != 0.0
    table = pd.DataFrame({
        "chrom": variants["chrom"].to_numpy()[used], "pos": variants["pos"].to_numpy()[used],
        "effect_allele": variants["alt"].to_numpy()[used],
        "other_allele": variants["ref"].to_numpy()[used], "weight": weights[used],
        "effect_allele_frequency": variants["alt_freq"].to_numpy()[used]})
    header = {"pgs_id": f"INCOHORT_{disease}", "pgs_name": f"incohort_ldpred2_{disease}",
              "trait_reported": disease, "genome_build": genome_build, "weight_type": "beta",
              "method_name": "LDpred2-auto (cohortgen)"}
    write_scoring_file(Path(path), table, header)
    return int(used.sum())


def write_performance(path: Path, rows: list[dict], min_cell_count: int) -> pd.DataFrame:
    """Shareable performance table, counts under ``min_cell_count`` masked."""
    table = pd.DataFrame(rows, columns=list(PERFORMANCE_COLUMNS))
    for column in ("n_cases", "n_controls"):
        table[column] = [_masked_count(c, min_cell_count) if isinstance(c, int) else c
                         for c in table[column]]
    write_tsv(Path(path), table, float_format="%.6g")
    return table


def held_out_table(geno: Genotypes, folds: np.ndarray, scores: dict) -> pd.DataFrame:
    """Private per-sample table: sample_id, fold (1-based), one column per method."""
    use = folds >= 0
    table = pd.DataFrame({"sample_id": np.asarray(geno.sample_ids)[use],
                          "fold": folds[use].astype(np.int64) + 1})
    for method, name in METHODS.items():
        table[name] = scores[method][use] if method in scores else np.nan
    return table


def build_incohort(disease: str, bfiles: list[Path], variant_qc_paths: list[Path],
                   keep_txt: Path, pcs_tsv: Path, phenotypes: Path, covariates: list[str],
                   genome_build: str, prevalence: float | None, min_cases: int,
                   min_cell_count: int, seed: int, options: dict, out_dir: Path) -> pd.DataFrame:
    """Cross-validate, evaluate and export the in-cohort scores of ``disease`` (module
    docstring); options: folds, min_maf, r2_grid, p_thresholds, n_chains, burn_in, num_iter,
    threads. Returns the performance table."""
    out_dir = Path(out_dir)
    numba.set_num_threads(max(1, min(options["threads"], numba.config.NUMBA_NUM_THREADS)))
    geno = load_genotypes(bfiles, variant_qc_paths, keep_txt, options["min_maf"])
    y, design = sample_design(geno, phenotypes, disease, covariates, pcs_tsv)
    n_cases, n_controls = int(np.sum(y == 1)), int(np.sum(y == 0))
    print(f"{disease}: {len(geno.variants)} variants, {n_cases + n_controls} samples",
          file=sys.stderr)
    folds = stratified_folds(y, options["folds"], seed)
    weights = None
    if min(n_cases, n_controls) < max(min_cases, options["folds"]):
        status = f"SKIPPED: fewer than {min_cases} cases or controls"
        rows = [_status_row(disease, name, status) for name in METHODS.values()]
        scores = {}
    else:
        contig = geno.variants["chrom"].to_numpy()
        pos = geno.variants["pos"].to_numpy(np.int64)
        try:
            cv = cross_validated_scores(geno.packed, geno.n_samples, contig, pos, y, design,
                                        folds, builders(options), seed)
        except InputError as exc:  # a training fold too small for its null model
            print(f"{disease}: {exc}", file=sys.stderr)
            status = "FAILED: a training fold's null model did not fit (too few cases or controls)"
            rows = [_status_row(disease, name, status) for name in METHODS.values()]
            scores = {}
        else:
            rows = performance_rows(disease, cv, y, design, prevalence, min_cell_count)
            scores = cv.scores
            weights, status = final_ldpred_weights(geno, y, design, seed, options)
            if weights is None:
                rows[-1]["status"] = f"{rows[-1]['status']}; final refit: {status}, no scoring file"
    n_used = write_ldpred_scoring_file(out_dir / f"{disease}_ldpred2.txt.gz", geno.variants,
                                       weights, disease, genome_build)
    print(f"{disease}: LDpred2-auto scoring file with {n_used} variants", file=sys.stderr)
    write_private_tsv_gz(out_dir / f"{disease}.scores.tsv.gz",
                         held_out_table(geno, folds, scores))
    return write_performance(out_dir / f"{disease}.performance.tsv", rows, min_cell_count)


def gather_performance(tables: list[Path], out: Path) -> pd.DataFrame:
    """Concatenate per-disease performance tables (in the given order) into ``out``."""
    frames = [read_tsv(Path(p), dtype=str) for p in tables]
    table = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=list(PERFORMANCE_COLUMNS)))
    write_tsv(Path(out), table[list(PERFORMANCE_COLUMNS)])
    return table
