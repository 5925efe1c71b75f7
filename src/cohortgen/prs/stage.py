"""PRS stage: match published scores to the cohort, score every QC-passed sample, evaluate per
disease on the unrelated QC-kept samples.

Scored samples: every sample that passed sample QC, relatives included (``qc/samples.tsv``
rows whose reason is empty or ``related``): relatedness matters for evaluation, not for a
person's score. Scoring variants: every ingested variant (the chunk filesets) that passes the
scoring filter, call rate ≥ ``min_call_rate`` (over the kept samples, as variant QC computes it)
and not a duplicate (``duplicate``/``duplicate_id`` in variant QC); HWE, MAF/MAC and
differential missingness are GWAS filters and do not apply (:mod:`cohortgen.prs.match`).

Files written by :func:`score_published` (per score name ``s``):
- ``scores/<s>.tsv.gz`` (private): sample_id, SUM, AVG, Z_norm1, Z_norm2 for the scored samples.
  SUM = Σ w · f(effect-allele dosage), f as :mod:`cohortgen.kernels.prs` (additive, dominant,
  recessive), missing calls mean-imputed over the scored samples (on non-PAR chrX, where males
  are coded 0/2, to twice the ALT frequency counting males once); AVG = SUM / (2 × variants
  scored), both as ``plink2 --score cols=+scoresums`` (whose average divides by its DENOM
  column, 2 × variants, when missing calls are mean-imputed); Z_norm1/Z_norm2 see
  :mod:`cohortgen.prs.standardize`, fitted on the scored samples that have ancestry PCs
  (``qc/pcs.tsv``: the unrelated ones fitted, the relatives projected; every scored sample
  when sample QC ran on the same samples) and NA for the others. A failed score gets a
  header-only file.
- ``match/<s>.json`` (shareable): status (OK or FAILED with the error, any sample ID of
  ``qc/samples.tsv`` in it shown as :data:`~cohortgen.privacy.SAMPLE_ID_TEXT`), file build,
  counts per match status (:mod:`cohortgen.prs.match`), overlap, matched lines on
  GWAS-QC-failed variants.
- ``match/<s>.variants.tsv.gz`` (shareable, no individual-level data): one row per scoring-file
  line (:data:`VARIANT_LOG_COLUMNS`), its match type or exclusion reason.

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
from cohortgen.io.alleles import are_nucleotides
from cohortgen.io.bed import fileset_paths, read_bed, read_fam
from cohortgen.io.files import read_json, read_tsv, write_bytes_atomic, write_json, write_tsv
from cohortgen.io.pgen import read_pgen_rows, read_psam_ids, read_psam_sex
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.io.scorefile import canonical_chrom, read_scoring_file
from cohortgen.kernels.prs import EFFECT_TYPES, code_values, dosage_score_sums, score_sums
from cohortgen.kernels.stats import genotype_counts
from cohortgen.privacy import shareable_counts, without_sample_ids
from cohortgen.prs.match import MatchResult, check_overlap, match_variants
from cohortgen.prs.standardize import z_norm1, z_norm2
from cohortgen.qc.keep import read_keep, sample_mask
from cohortgen.qc.pca import read_pcs
from cohortgen.qc.regions import contig_classes
from cohortgen.qc.variant_qc import PLINK2_HAPLOID_HET, ploidy_masks
from cohortgen.qc.variant_stats import allele_counts

SCORE_COLUMNS = ("sample_id", "SUM", "AVG", "Z_norm1", "Z_norm2")
SCORED_REASONS = ("", "related")
"""Sample QC reasons (``qc/samples.tsv``) of the samples that are scored."""
DUPLICATE_REASONS = ("duplicate", "duplicate_id")
"""Variant QC reasons that the scoring filter applies (with the call rate)."""
VARIANT_LOG_COLUMNS = ("line", "chrom", "pos", "effect_allele", "other_allele", "effect_type",
                       "weight", "status", "variant_id", "variant_ref", "variant_alt",
                       "failed_gwas_qc", "gwas_qc_reason")
"""Per-line match log: scoring-file line, the line's fields, ``status`` (match type or
exclusion reason, :mod:`cohortgen.prs.match`), the cohort variant it matched (or would have
used, when excluded after matching), whether a used variant failed the GWAS variant QC, and the
variant's QC reason code (empty when it passed)."""


VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt", "alt_freq", "pass")
"""Variant QC columns every PRS step reads (:func:`cohort_variants`)."""


def cohort_variants(variant_qc_paths: list[Path],
                    columns: tuple[str, ...] = VARIANT_COLUMNS) -> pd.DataFrame:
    """All ingested variants in chunk order: the variant QC ``columns`` (chrom canonical, pass
    bool, reason "" when passing), chunk (index into ``variant_qc_paths``) and row (index
    within the chunk)."""
    tables = []
    for chunk, path in enumerate(variant_qc_paths):
        table = read_tsv(path, required=tuple(columns),
                         dtype={"chrom": str, "id": str, "ref": str, "alt": str, "reason": str})
        tables.append(table[list(columns)].assign(chunk=chunk, row=np.arange(len(table))))
    variants = pd.concat(tables, ignore_index=True)
    variants["chrom"] = canonical_chrom(variants["chrom"], "plink")
    variants["pass"] = variants["pass"].astype(bool)
    if "reason" in variants.columns:
        variants["reason"] = variants["reason"].fillna("")
    return variants


def scoring_variants(variant_qc_paths: list[Path], min_call_rate: float,
                     genome_build: str) -> pd.DataFrame:
    """:func:`cohort_variants` (with id, call_rate, reason) and ``score_pass`` (call rate ≥
    ``min_call_rate`` and not a duplicate: the scoring filter), ``is_x`` (non-PAR chrX) and
    ``diploid`` (every sample carries two alleles: autosomes, the PARs, unplaced contigs)."""
    variants = cohort_variants(variant_qc_paths,
                               (*VARIANT_COLUMNS, "id", "call_rate", "reason"))
    variants["score_pass"] = ((variants["call_rate"] >= min_call_rate)
                              & ~variants["reason"].isin(DUPLICATE_REASONS))
    return _with_ploidy(variants, genome_build)


def _with_ploidy(variants: pd.DataFrame, genome_build: str) -> pd.DataFrame:
    """``variants`` with ``is_x`` (non-PAR chrX) and ``diploid`` (autosomes, the PARs,
    unplaced contigs)."""
    classes = contig_classes(variants["chrom"].to_numpy(), variants["pos"].to_numpy(),
                             genome_build)
    variants["is_x"] = classes == "x"
    variants["diploid"] = np.isin(classes, ["auto", "par", "other"])
    return variants


DOSAGE_TABLE_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "alt_freq", "missing_rate", "reason")
"""Columns of ``<prefix>.variants.tsv`` (:mod:`cohortgen.ingest.dosages`) scoring reads."""


def dosage_scoring_variants(pgen_prefixes: list[Path], min_call_rate: float,
                            genome_build: str) -> pd.DataFrame:
    """The cohort variants of QC'd dosage chunks (``cohortgen ingest-dosages`` output prefixes:
    ``<prefix>.variants.tsv`` beside ``<prefix>.pgen``), in the columns of
    :func:`scoring_variants`: every row of each variants table (chunk: index into
    ``pgen_prefixes``), ``pass`` when its reason is empty (the imputed-variant QC), ``row`` its
    index in the .pgen (−1 when it failed: only passing variants are stored), call_rate =
    1 − missing_rate, and ``score_pass`` = pass and call rate ≥ ``min_call_rate`` (a variant
    that failed the imputed QC has no stored dosages: a score line matching only it is
    ``failed_filter``)."""
    variants = dosage_chunk_variants(pgen_prefixes)
    variants["call_rate"] = 1.0 - variants["missing_rate"].astype(float)
    variants["score_pass"] = variants["pass"] & (variants["call_rate"] >= min_call_rate)
    return _with_ploidy(variants.drop(columns="missing_rate"), genome_build)


def dosage_chunk_variants(pgen_prefixes: list[Path]) -> pd.DataFrame:
    """Every row of the variants tables of the dosage chunks ``pgen_prefixes``, in chunk order:
    :data:`DOSAGE_TABLE_COLUMNS` (chrom canonical), chunk, row and pass as
    :func:`dosage_scoring_variants` describes them."""
    tables = []
    for chunk, prefix in enumerate(pgen_prefixes):
        path = Path(f"{prefix}.variants.tsv")
        for part in (Path(f"{prefix}.pgen"), Path(f"{prefix}.psam"), path):
            if not part.is_file():
                raise InputError(f"{part}: missing; --pgens takes the --out-prefix of each "
                                 "cohortgen ingest-dosages run (.pgen/.pvar/.psam and "
                                 ".variants.tsv)")
        table = read_tsv(path, required=DOSAGE_TABLE_COLUMNS,
                         dtype={"chrom": str, "id": str, "ref": str, "alt": str, "reason": str})
        table = table[list(DOSAGE_TABLE_COLUMNS)].copy()
        table["reason"] = table["reason"].fillna("")
        passing = (table["reason"] == "").to_numpy()
        row = np.full(len(table), -1, dtype=np.int64)
        row[passing] = np.arange(int(passing.sum()))
        tables.append(table.assign(chunk=chunk, row=row, **{"pass": passing}))
    variants = pd.concat(tables, ignore_index=True)
    variants["chrom"] = canonical_chrom(variants["chrom"], "plink")
    return variants


def nucleotide_variant_rows(variants: pd.DataFrame) -> np.ndarray:
    """int64 rows of the cohort variants whose ``ref`` and ``alt`` are nucleotide strings
    (:func:`cohortgen.io.alleles.are_nucleotides`)."""
    return np.flatnonzero(are_nucleotides(variants[["ref", "alt"]].to_numpy()).all(axis=1))


def match_score(path: Path, variants: pd.DataFrame, genome_build: str, min_overlap: float,
                keep_ambiguous: bool) -> tuple[MatchResult, dict]:
    """Read one scoring file and match it; (result, log record). Raises InputError; on too
    little overlap the error carries the log record (counts) as ``record``. Only cohort variants
    whose alleles are nucleotides are matched (strand flips need bases); the record counts the
    others (``cohort_variants_not_nucleotide``: array codes such as 1/2, A/B, I/D), and score
    lines that only they could match count as missing."""
    scoring = read_scoring_file(Path(path), genome_build)
    rows = nucleotide_variant_rows(variants)
    result = match_variants(scoring.table, variants.iloc[rows], keep_ambiguous)
    used = result.lines["variant"].to_numpy() >= 0
    result.lines.loc[used, "variant"] = rows[result.lines.loc[used, "variant"].to_numpy()]
    record = {"file": str(path), "build": scoring.build or f"{genome_build} (assumed)",
              "harmonised": scoring.harmonised, "pgs_id": scoring.header.get("pgs_id", ""),
              "cohort_variants_not_nucleotide": len(variants) - rows.size, **result.counts}
    try:
        check_overlap(result.counts, min_overlap, path)
    except InputError as exc:
        exc.record, exc.result = record, result
        raise
    return result, record


def _coefficients(results: list[MatchResult], n_variants: int):
    """Union of used cohort variants (sorted); weights float64, effect_is_alt bool and effect
    type codes int8 (:data:`cohortgen.kernels.prs.EFFECT_TYPES`), each (m, k); variants per
    score (k,)."""
    union = np.unique(np.concatenate([r.used["variant"].to_numpy(np.int64) for r in results]
                                     + [np.zeros(0, np.int64)]))
    position = np.full(n_variants, -1, dtype=np.int64)
    position[union] = np.arange(union.size)
    weights = np.zeros((union.size, len(results)))
    effect_is_alt = np.ones((union.size, len(results)), dtype=bool)
    effect_type = np.zeros((union.size, len(results)), dtype=np.int8)
    for k, result in enumerate(results):
        rows = position[result.used["variant"].to_numpy(np.int64)]
        weights[rows, k] = result.used["weight"].to_numpy(float)
        effect_is_alt[rows, k] = result.used["effect_is_alt"].to_numpy(bool)
        effect_type[rows, k] = result.used["effect_type"].map(EFFECT_TYPES).to_numpy(np.int8)
    counts = np.array([len(r.used) for r in results], dtype=np.int64)
    return union, (weights, effect_is_alt, effect_type), counts


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


DOSAGE_BLOCK = 1024
"""Variants read from a .pgen at a time (memory: block × samples × 4 bytes)."""


def dosage_imputation_means(dosage: np.ndarray, sex: np.ndarray, is_x: np.ndarray) -> np.ndarray:
    """:func:`imputation_means` of dosages: float64 (m,) ALT dosage given to missing ones, as
    ``plink2 --score`` on a .pgen: the mean called dosage over samples with ``sex`` ≠ −1; on
    non-PAR chrX rows (``is_x``, bool (m,)), where a male's dosage is on the 0..2 scale, twice
    the ALT frequency of ``plink2 --freq``: a male counts one allele (his dosage / 2), females
    and unknown-sex samples two.

    dosage: float32 (m, n), NaN missing; sex: int64 (n,), 1 male, 2 female, 0 unknown, −1 for
    samples left out. A row with no called sample gets 0.
    """
    d = np.asarray(dosage, dtype=np.float64)[:, sex >= 0]
    called = ~np.isnan(d)
    alleles = np.where(is_x[:, None] & (sex[sex >= 0] == 1)[None, :], 1.0, 2.0) * called
    alt = np.where(called, d, 0.0) * (alleles / 2.0)
    total = alleles.sum(axis=1)
    return np.divide(2.0 * alt.sum(axis=1), total, out=np.zeros(len(d)), where=total > 0)


def _chunk_samples(prefix: Path, dosages: bool) -> tuple[list[str], np.ndarray]:
    """(sample IDs, sex int64: 1 male, 2 female, 0 unknown) of a .fam or, for ``dosages``, a
    .psam, in file order."""
    if dosages:
        psam = Path(f"{prefix}.psam")
        return read_psam_ids(psam), read_psam_sex(psam)
    fam = read_fam(fileset_paths(Path(prefix))["fam"])
    return (fam["iid"].astype(str).tolist(),
            pd.to_numeric(fam["sex"], errors="coerce").fillna(0).to_numpy(np.int64))


def _bed_chunk_sums(prefix: Path, rows: np.ndarray, sex: np.ndarray, is_x: np.ndarray,
                    coefficients: tuple) -> np.ndarray:
    """float64 (n, k) score sums of the .bed ``rows`` of one chunk (all its samples)."""
    packed = read_bed(Path(prefix))[0][rows]
    values = code_values(*coefficients, imputation_means(packed, sex, is_x))
    return score_sums(packed, sex.size, values)


def _pgen_chunk_sums(prefix: Path, rows: np.ndarray, sex: np.ndarray, is_x: np.ndarray,
                     coefficients: tuple) -> np.ndarray:
    """float64 (n, k) score sums of the .pgen ``rows`` of one chunk, read
    :data:`DOSAGE_BLOCK` variants at a time."""
    total = np.zeros((sex.size, coefficients[0].shape[1]))
    for first in range(0, rows.size, DOSAGE_BLOCK):
        block = slice(first, first + DOSAGE_BLOCK)
        dosage = read_pgen_rows(Path(prefix), rows[block], sex.size)
        values = code_values(*(c[block] for c in coefficients),
                             dosage_imputation_means(dosage, sex, is_x[block]))
        total += dosage_score_sums(dosage, values)
    return total


def score_chunks(prefixes: list[Path], variants: pd.DataFrame, union: np.ndarray,
                 coefficients: tuple, scored: list[str], dosages: bool = False):
    """(scored sample IDs in file order, score sums float64 (n_scored, k)) over all chunks.

    prefixes: the chunk filesets, .bed/.bim/.fam hard calls or, with ``dosages``, QC'd dosage
    .pgen/.pvar/.psam (:func:`dosage_scoring_variants`); every chunk holds the same samples in
    the same order. coefficients: (weights, effect_is_alt, effect_type) of the ``union`` rows
    of ``variants`` (:func:`_coefficients`); missing calls or dosages are imputed over the
    ``scored`` samples."""
    chunk_sums = _pgen_chunk_sums if dosages else _bed_chunk_sums
    total, first_ids, sex = None, None, None
    is_x = variants["is_x"].to_numpy(bool)
    for chunk, prefix in enumerate(prefixes):
        members = np.flatnonzero(variants["chunk"].to_numpy()[union] == chunk)
        ids, file_sex = _chunk_samples(Path(prefix), dosages)
        if sex is None:
            first_ids = ids
            sex = np.where(sample_mask(ids, scored), file_sex, -1).astype(np.int64)
            total = np.zeros((len(ids), coefficients[0].shape[1]))
        elif ids != first_ids:
            raise InputError(f"{prefix}: its samples differ from those of {prefixes[0]}; "
                             "score chunks of one cohort, made with the same sample list")
        rows = variants["row"].to_numpy()[union[members]]
        total += chunk_sums(Path(prefix), rows, sex, is_x[union[members]],
                            tuple(c[members] for c in coefficients))
    return [s for s, x in zip(first_ids, sex, strict=True) if x >= 0], total[sex >= 0]


def scored_samples(samples_tsv: Path) -> list[str]:
    """IDs of the samples that passed sample QC, relatives included (reason in
    :data:`SCORED_REASONS`), in ``qc/samples.tsv`` order."""
    table = read_tsv(samples_tsv, required=("sample_id", "reason"),
                     dtype={"sample_id": str, "reason": str})
    return table.loc[table["reason"].fillna("").isin(SCORED_REASONS), "sample_id"].tolist()


def _pcs_of(pcs_tsv: Path, sample_ids: list[str]) -> np.ndarray:
    """PCs float64 (n, p) of ``sample_ids`` (fitted or projected); NaN rows for samples not in
    ``pcs.tsv``."""
    return read_pcs(pcs_tsv).reindex(sample_ids).to_numpy(np.float64)


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
    """Per-sample SUM, AVG and the Z-scores, fitted on the samples with PCs (NA elsewhere)."""
    with_pcs = np.all(np.isfinite(pcs), axis=1)
    z1, z2 = np.full(len(sums), np.nan), np.full(len(sums), np.nan)
    z1[with_pcs] = z_norm1(sums[with_pcs], pcs[with_pcs])
    z2[with_pcs] = z_norm2(sums[with_pcs], pcs[with_pcs])
    return pd.DataFrame({"sample_id": sample_ids, "SUM": sums, "AVG": sums / (2.0 * n_variants),
                         "Z_norm1": z1, "Z_norm2": z2})


def variant_log(lines: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """The per-line match log (:data:`VARIANT_LOG_COLUMNS`) of matched ``lines``
    (:class:`cohortgen.prs.match.MatchResult`), in scoring-file order."""
    has_variant = lines["candidate"].to_numpy() >= 0
    idx = lines["candidate"].clip(lower=0).to_numpy()

    def of_variant(column: str) -> np.ndarray:
        return np.where(has_variant, variants[column].to_numpy(object)[idx], "")

    return pd.DataFrame({
        "line": lines["line"].to_numpy(), "chrom": lines["chrom"].to_numpy(),
        "pos": lines["pos"].to_numpy(), "effect_allele": lines["effect_allele"].to_numpy(),
        "other_allele": lines["other_allele"].to_numpy(),
        "effect_type": lines["effect_type"].to_numpy(), "weight": lines["weight"].to_numpy(),
        "status": lines["status"].to_numpy(), "variant_id": of_variant("id"),
        "variant_ref": of_variant("ref"), "variant_alt": of_variant("alt"),
        "failed_gwas_qc": lines["failed_gwas_qc"].to_numpy(),
        "gwas_qc_reason": of_variant("reason")})


def write_tsv_gz(path: Path, table: pd.DataFrame, private: bool) -> None:
    """Gzip TSV with reproducible bytes (owner-only when ``private``)."""
    text = table.to_csv(sep="\t", index=False, float_format="%.10g", lineterminator="\n",
                        na_rep="NA")
    write_bytes_atomic(Path(path), gzip.compress(text.encode(), compresslevel=6, mtime=0),
                       private=private)


def write_private_tsv_gz(path: Path, table: pd.DataFrame) -> None:
    """Owner-only gzip TSV (reproducible bytes) of per-sample values."""
    write_tsv_gz(path, table, private=True)


def score_published(names: list[str], files: list[Path], bfiles: list[Path],
                    variant_qc_paths: list[Path], samples_tsv: Path, pcs_tsv: Path,
                    genome_build: str, min_overlap: float, keep_ambiguous: bool,
                    min_call_rate: float, out_dir: Path, pgens: list[Path] = ()) -> dict:
    """Match, score and standardise every score; write scores/ and match/ files under out_dir
    (module docstring). Returns {name: match log record}.

    Without ``pgens`` the scores use the hard calls of the ``bfiles`` chunks and their
    ``variant_qc_paths``; with ``pgens`` (``cohortgen ingest-dosages`` output prefixes, the
    cohort's QC'd imputed dosages) they match and score the dosage variants instead
    (:func:`dosage_scoring_variants`), and ``bfiles`` and ``variant_qc_paths`` are not read.
    Each record's ``genotypes`` says which: ``dosages`` or ``hard_calls``."""
    out_dir = Path(out_dir)
    dosages = len(pgens) > 0
    variants = (dosage_scoring_variants(pgens, min_call_rate, genome_build) if dosages
                else scoring_variants(variant_qc_paths, min_call_rate, genome_build))
    records, good = {}, []
    for name, path in zip(names, files, strict=True):
        try:
            result, record = match_score(path, variants, genome_build, min_overlap,
                                         keep_ambiguous)
            records[name] = {"score": name, "status": "OK",
                             "genotypes": "dosages" if dosages else "hard_calls", **record}
            good.append((name, result))
        except InputError as exc:
            from cohortgen.assoc.gather import cohort_sample_ids  # only on failure: pysam

            error = without_sample_ids(str(exc), cohort_sample_ids(samples_tsv))
            print(f"score {name}: FAILED: {error}", file=sys.stderr)
            records[name] = {"score": name, "file": str(path), **getattr(exc, "record", {}),
                             "status": "FAILED", "error": error}
            write_private_tsv_gz(out_dir / "scores" / f"{name}.tsv.gz",
                                 pd.DataFrame(columns=SCORE_COLUMNS))
            result = getattr(exc, "result", None)
        log = (variant_log(result.lines, variants) if result is not None
               else pd.DataFrame(columns=VARIANT_LOG_COLUMNS))
        write_tsv_gz(out_dir / "match" / f"{name}.variants.tsv.gz", log, private=False)
    if good:
        union, coefficients, counts = _coefficients([r for _, r in good], len(variants))
        ids, sums = score_chunks(list(pgens) if dosages else bfiles, variants, union,
                                 coefficients, scored_samples(samples_tsv), dosages)
        pcs = _pcs_of(pcs_tsv, ids)
        for k, (name, _) in enumerate(good):
            table = _score_table(ids, sums[:, k], counts[k], pcs)
            write_private_tsv_gz(out_dir / "scores" / f"{name}.tsv.gz", table)
            records[name]["n_variants_scored"] = int(counts[k])
            records[name]["n_samples_scored"] = len(ids)
    for name, record in records.items():
        write_json(out_dir / "match" / f"{name}.json", record)
    return records


PERFORMANCE_COLUMNS = (
    "disease", "score", "status", "n_cases", "n_controls", "auc", "auc_lower", "auc_upper",
    "or_per_sd", "or_per_sd_lower", "or_per_sd_upper", "nagelkerke_r2", "r2_observed",
    "liability_r2", "prevalence", "top5_or", "top5_or_lower", "top5_or_upper")


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


def shareable_case_control(row: dict, min_cell_count: int) -> dict:
    """``row`` with its ``n_cases`` and ``n_controls`` as a shareable table shows them
    (:func:`cohortgen.privacy.shareable_counts`: a count under ``min_cell_count`` masked as
    ``<min_cell_count`` and the other one hidden, NA, since the two add up to the people
    analysed, shown elsewhere); a status row (no counts) as it is."""
    if not isinstance(row.get("n_cases"), int):
        return row
    pair = {"n_cases": row["n_cases"], "n_controls": row["n_controls"]}
    return row | shareable_counts(pair, min_cell_count)


def write_performance(path: Path, rows: list[dict], min_cell_count: int) -> pd.DataFrame:
    """Shareable performance table, counts under ``min_cell_count`` masked with their
    complement (:func:`shareable_case_control`)."""
    table = pd.DataFrame([shareable_case_control(r, min_cell_count) for r in rows],
                         columns=list(PERFORMANCE_COLUMNS))
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
    from cohortgen.prs.evaluate import decile_table, evaluate_score  # SciPy's stats: here only

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
