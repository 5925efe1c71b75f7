"""PRS stage: match published scores to the cohort, score kept samples, evaluate per disease.

Files written by :func:`score_published` (per score name ``s``):
- ``scores/<s>.tsv.gz`` (private): sample_id, SUM, AVG, Z_norm1, Z_norm2 for QC-kept samples.
  SUM = Σ w · effect-allele dosage (missing calls mean-imputed over kept samples; on non-PAR
  chrX, where males are coded 0/2, to twice the ALT frequency counting males once), AVG =
  SUM / (2 × variants scored), both as ``plink2 --score cols=+scoresums``; Z_norm1/Z_norm2 see
  :mod:`cohortgen.prs.standardize`. A failed score gets a header-only file.
- ``match/<s>.json`` (shareable): status (OK or FAILED with the error), file build, counts per
  match status (:mod:`cohortgen.prs.match`), overlap.

One score's failure (bad file, wrong build, low overlap) is recorded and never stops the others.
All successful scores are computed in one pass over each chunk's genotypes.
"""

import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.assoc.stage import level_indicators
from cohortgen.errors import InputError
from cohortgen.io.bed import read_bed
from cohortgen.io.files import read_json, read_tsv, write_bytes_atomic, write_json, write_tsv
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.io.scorefile import canonical_chrom, read_scoring_file
from cohortgen.kernels.prs import score_coefficients, score_sums
from cohortgen.kernels.stats import genotype_counts
from cohortgen.prs.evaluate import decile_table, evaluate_score
from cohortgen.prs.match import MatchResult, check_overlap, match_variants
from cohortgen.prs.standardize import z_norm1, z_norm2
from cohortgen.qc.keep import read_keep, sample_mask
from cohortgen.qc.regions import contig_classes
from cohortgen.qc.variant_qc import PLINK2_HAPLOID_HET, ploidy_masks
from cohortgen.qc.variant_stats import allele_counts

SCORE_COLUMNS = ("sample_id", "SUM", "AVG", "Z_norm1", "Z_norm2")


def cohort_variants(variant_qc_paths: list[Path]) -> pd.DataFrame:
    """All ingested variants in chunk order: chrom (canonical), pos, ref, alt, alt_freq, pass,
    chunk (index into ``variant_qc_paths``) and row (index within the chunk)."""
    tables = []
    for chunk, path in enumerate(variant_qc_paths):
        table = read_tsv(path, dtype={"chrom": str, "id": str, "ref": str, "alt": str})
        tables.append(table[["chrom", "pos", "ref", "alt", "alt_freq", "pass"]].assign(
            chunk=chunk, row=np.arange(len(table))))
    variants = pd.concat(tables, ignore_index=True)
    variants["chrom"] = canonical_chrom(variants["chrom"])
    variants["pass"] = variants["pass"].astype(bool)
    return variants


def match_score(path: Path, variants: pd.DataFrame, genome_build: str, min_overlap: float,
                keep_ambiguous: bool) -> tuple[MatchResult, dict]:
    """Read one scoring file and match it; (result, log record). Raises InputError; on too
    little overlap the error carries the log record (counts) as ``record``."""
    scoring = read_scoring_file(Path(path), genome_build)
    result = match_variants(scoring.table, variants, keep_ambiguous)
    record = {"file": str(path), "build": scoring.build or f"{genome_build} (assumed)",
              "harmonised": scoring.harmonised, "pgs_id": scoring.header.get("pgs_id", ""),
              **result.counts}
    try:
        check_overlap(result.counts, min_overlap, path)
    except InputError as exc:
        exc.record = record
        raise
    return result, record


def _coefficients(results: list[MatchResult], n_variants: int):
    """Union of used cohort variants (sorted), slope/offset (m, k), variants per score (k,)."""
    union = np.unique(np.concatenate([r.used["variant"].to_numpy(np.int64) for r in results]
                                     + [np.zeros(0, np.int64)]))
    position = np.full(n_variants, -1, dtype=np.int64)
    position[union] = np.arange(union.size)
    weights = np.zeros((union.size, len(results)))
    effect_is_alt = np.ones((union.size, len(results)), dtype=bool)
    for k, result in enumerate(results):
        rows = position[result.used["variant"].to_numpy(np.int64)]
        weights[rows, k] = result.used["weight"].to_numpy(float)
        effect_is_alt[rows, k] = result.used["effect_is_alt"].to_numpy(bool)
    slope, offset = score_coefficients(weights, effect_is_alt)
    counts = np.array([len(r.used) for r in results], dtype=np.int64)
    return union, slope, offset, counts


def imputation_means(packed: np.ndarray, sex: np.ndarray, is_x: np.ndarray) -> np.ndarray:
    """ALT dosage given to missing calls, float64 (m,), as ``plink2 --score``: the mean dosage
    over samples with ``sex`` ≠ −1 on most rows; on non-PAR chrX rows (``is_x``, bool (m,)),
    where a male's call is coded 0/2, twice the ALT frequency of ``plink2 --freq``: males count
    one allele (a het call half an ALT), females and unknown-sex samples two
    (:func:`cohortgen.qc.variant_qc.ploidy_masks`, as variant QC counts them).

    packed: uint8 (m, ceil(n / 4)) .bed rows; sex: int64 (n,), 1 male, 2 female, 0 unknown,
    −1 for samples left out. A row with no called sample gets 0.
    """
    counts = genotype_counts(packed, sex.size, sex >= 0)
    called = counts[:, :3].sum(axis=1)
    means = np.divide(2 * counts[:, 0] + counts[:, 1], called, out=np.zeros(len(packed)),
                      where=called > 0)
    if np.any(is_x):
        x_rows = packed[is_x]
        diploid, haploid = ploidy_masks("x", sex >= 0, sex)
        alt, total = allele_counts(genotype_counts(x_rows, sex.size, diploid),
                                   genotype_counts(x_rows, sex.size, haploid), PLINK2_HAPLOID_HET)
        means[is_x] = np.divide(2.0 * alt, total, out=means[is_x], where=total > 0)
    return means


def score_chunks(bfiles: list[Path], variants: pd.DataFrame, union: np.ndarray,
                 slope: np.ndarray, offset: np.ndarray, keep: list[str], genome_build: str):
    """(kept sample IDs in .fam order, score sums float64 (n_kept, k)) over all chunks."""
    total, kept_ids, sex = None, None, None
    is_x = contig_classes(variants["chrom"].to_numpy(), variants["pos"].to_numpy(),
                          genome_build) == "x"
    for chunk, prefix in enumerate(bfiles):
        members = np.flatnonzero(variants["chunk"].to_numpy()[union] == chunk)
        packed, _, fam = read_bed(Path(prefix))
        if sex is None:
            ids = fam["iid"].astype(str).tolist()
            mask = sample_mask(ids, keep)
            kept_ids = [s for s, m in zip(ids, mask, strict=True) if m]
            sex = np.where(mask, pd.to_numeric(fam["sex"], errors="coerce").fillna(0), -1)
            sex = sex.astype(np.int64)
            total = np.zeros((len(fam), slope.shape[1]))
        rows = variants["row"].to_numpy()[union[members]]
        means = imputation_means(packed[rows], sex, is_x[union[members]])
        total += score_sums(packed[rows], len(fam), slope[members], offset[members], means)
    return kept_ids, total[sex >= 0]


def _pcs_of(pcs_tsv: Path, sample_ids: list[str]) -> np.ndarray:
    pcs = read_tsv(pcs_tsv, dtype={"sample_id": str}).set_index("sample_id")
    return pcs.loc[sample_ids].to_numpy(np.float64)


def read_design(phenotypes: Path, diseases: list[str], covariates: list[str],
                categorical: list[str], pcs_tsv: Path,
                sample_ids: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`design_rows` of the phenotype sheet ``phenotypes`` (read here)."""
    sheet = read_phenotypes(Path(phenotypes), diseases, covariates, categorical)
    return design_rows(sheet, Path(phenotypes), covariates, categorical, pcs_tsv, sample_ids)


def design_rows(sheet: pd.DataFrame, path: Path, covariates: list[str], categorical: list[str],
                pcs_tsv: Path, sample_ids: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of ``sheet`` (read from ``path``) for ``sample_ids`` (those in it, in that
    order) and their design, float64 (rows, c): the numeric ``covariates``, one 0/1 indicator
    per non-reference level of each ``categorical`` covariate (the first sorted label is the
    reference, as in the association null models), then the PCs; NaN where a value is
    missing."""
    ids = [s for s in sample_ids if s in sheet.index]
    rows = sheet.loc[ids]
    parts = [rows[covariates].to_numpy(float)]
    parts += [level_indicators(rows[name], name, 1, path)[0].to_numpy(float)
              for name in categorical]
    return rows, np.column_stack([*parts, _pcs_of(pcs_tsv, ids)])


def _score_table(sample_ids, sums, n_variants, pcs) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": sample_ids, "SUM": sums, "AVG": sums / (2.0 * n_variants),
                         "Z_norm1": z_norm1(sums, pcs), "Z_norm2": z_norm2(sums, pcs)})


def write_private_tsv_gz(path: Path, table: pd.DataFrame) -> None:
    """Owner-only gzip TSV (reproducible bytes) of per-sample values."""
    text = table.to_csv(sep="\t", index=False, float_format="%.10g", lineterminator="\n",
                        na_rep="NA")
    write_bytes_atomic(Path(path), gzip.compress(text.encode(), compresslevel=6, mtime=0),
                       private=True)


def score_published(names: list[str], files: list[Path], bfiles: list[Path],
                    variant_qc_paths: list[Path], keep_txt: Path, pcs_tsv: Path,
                    genome_build: str, min_overlap: float, keep_ambiguous: bool,
                    out_dir: Path) -> dict:
    """Match, score and standardise every score; write scores/ and match/ files under out_dir.
    Returns {name: match log record}."""
    out_dir = Path(out_dir)
    variants = cohort_variants(variant_qc_paths)
    records, good = {}, []
    for name, path in zip(names, files, strict=True):
        try:
            result, record = match_score(path, variants, genome_build, min_overlap,
                                         keep_ambiguous)
            records[name] = {"score": name, "status": "OK", **record}
            good.append((name, result))
        except InputError as exc:
            print(f"score {name}: FAILED: {exc}", file=sys.stderr)
            records[name] = {"score": name, "file": str(path), **getattr(exc, "record", {}),
                             "status": "FAILED", "error": str(exc)}
            write_private_tsv_gz(out_dir / "scores" / f"{name}.tsv.gz",
                                 pd.DataFrame(columns=SCORE_COLUMNS))
    if good:
        union, slope, offset, counts = _coefficients([r for _, r in good], len(variants))
        ids, sums = score_chunks(bfiles, variants, union, slope, offset, read_keep(keep_txt),
                                 genome_build)
        pcs = _pcs_of(pcs_tsv, ids)
        for k, (name, _) in enumerate(good):
            table = _score_table(ids, sums[:, k], counts[k], pcs)
            write_private_tsv_gz(out_dir / "scores" / f"{name}.tsv.gz", table)
            records[name]["n_variants_scored"] = int(counts[k])
    for name, record in records.items():
        write_json(out_dir / "match" / f"{name}.json", record)
    return records


PERFORMANCE_COLUMNS = (
    "disease", "score", "status", "n_cases", "n_controls", "auc", "auc_lower", "auc_upper",
    "or_per_sd", "or_per_sd_lower", "or_per_sd_upper", "nagelkerke_r2", "r2_observed",
    "liability_r2", "prevalence", "top5_or", "top5_or_lower", "top5_or_upper")


def masked_count(count: int, min_cell_count: int):
    """A count of people for a shareable table: the count, or ``<min_cell_count`` below it."""
    return count if count >= min_cell_count else f"<{min_cell_count}"


def performance_row(disease, score, result, prevalence, min_cell_count) -> dict:
    """One shareable performance row; small counts masked, top-5% OR dropped on small cells."""
    row = {"disease": disease, "score": score, "status": "OK",
           "n_cases": result["n_cases"], "n_controls": result["n_controls"],
           "nagelkerke_r2": result["nagelkerke_r2"], "r2_observed": result["r2_observed"],
           "liability_r2": result["liability_r2"], "prevalence": prevalence}
    for key in ("auc", "or_per_sd", "top5_or"):
        est = result[key]
        row.update({key: est.value, f"{key}_lower": est.lower, f"{key}_upper": est.upper})
    if result["top5_cells"].min() < min_cell_count:
        row.update(top5_or=np.nan, top5_or_lower=np.nan, top5_or_upper=np.nan,
                   status=f"OK; top-5% OR not shown (a cell under {min_cell_count})")
    if not result["converged"]:
        row["status"] = "OK; logistic fit did not converge"
    return row


def status_row(disease, score, status) -> dict:
    """A performance row that carries only a status (a score not evaluated, and why)."""
    return {"disease": disease, "score": score, "status": status}


def write_performance(path: Path, rows: list[dict], min_cell_count: int) -> pd.DataFrame:
    """Shareable performance table, counts under ``min_cell_count`` masked."""
    table = pd.DataFrame(rows, columns=list(PERFORMANCE_COLUMNS))
    for column in ("n_cases", "n_controls"):
        table[column] = [masked_count(c, min_cell_count) if isinstance(c, int) else c
                         for c in table[column]]
    write_tsv(Path(path), table, float_format="%.6g")
    return table


def evaluate_published(names: list[str], score_paths: list[Path], match_logs: list[Path],
                       targets: dict, phenotypes: Path, keep_txt: Path, pcs_tsv: Path,
                       covariates: list[str], prevalence: dict, min_cell_count: int,
                       score_column: str, performance_tsv: Path, deciles_tsv: Path,
                       categorical: list[str] = ()):
    """Evaluate each OK score for its target diseases on all QC-kept samples, adjusting for
    the design of :func:`design_rows` (the sheet read once); write the shareable performance
    and decile tables (counts under ``min_cell_count`` masked)."""
    diseases = sorted({d for ds in targets.values() for d in ds})
    sheet_all = read_phenotypes(Path(phenotypes), diseases, covariates, list(categorical))
    keep = read_keep(keep_txt)
    rows, deciles = [], []
    for name, path, log in zip(names, score_paths, match_logs, strict=True):
        record = read_json(log)
        if record["status"] != "OK":
            rows += [status_row(d, name, "FAILED: see match log") for d in targets[name]]
            continue
        scores = read_tsv(path, dtype={"sample_id": str}).set_index("sample_id")
        sheet, design = design_rows(sheet_all, Path(phenotypes), covariates, list(categorical),
                                    pcs_tsv, [s for s in keep if s in scores.index])
        ids = sheet.index.tolist()
        for disease in targets[name]:
            y = sheet[disease].to_numpy(float)
            use = np.isfinite(y) & np.all(np.isfinite(design), axis=1)
            n_cases, n_controls = int(np.sum(y[use] == 1)), int(np.sum(y[use] == 0))
            if min(n_cases, n_controls) < max(min_cell_count, 2):
                rows.append(status_row(disease, name, "SKIPPED: too few cases or controls"))
                continue
            s = scores.loc[ids, score_column].to_numpy(float)[use]
            result = evaluate_score(s, y[use], design[use], prevalence.get(disease))
            rows.append(performance_row(disease, name, result, prevalence.get(disease),
                                        min_cell_count))
            deciles.append(decile_table(s, y[use], min_cell_count).assign(
                disease=disease, score=name))
    table = write_performance(performance_tsv, rows, min_cell_count)
    decile_columns = ["disease", "score", "decile", "n", "n_cases", "n_controls",
                      "case_fraction", "suppressed"]
    decile_all = (pd.concat(deciles, ignore_index=True)[decile_columns] if deciles
                  else pd.DataFrame(columns=decile_columns))
    write_tsv(deciles_tsv, decile_all, float_format="%.6g")
    return table
