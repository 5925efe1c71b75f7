"""Gather per trait: GWAS-SSF file from the chunk tables, and the per-trait summary table.

``gwas/summary.tsv`` (shareable), one row per disease or quantitative trait: ``disease kind
status n_cases n_controls n_samples n_variants lambda_gc n_genome_wide n_suggestive`` then
``n_variants_mac20 n_genome_wide_variants n_suggestive_variants detectable_or_maf05
detectable_or_maf20 detectable_beta_sd_maf05 detectable_beta_sd_maf20``. ``disease`` is the
trait's name; ``kind`` is ``binary`` (a disease) or ``quantitative``, as in ``null_model.json``;
a quantitative trait has NA case, control and detectable-OR columns, a disease NA
detectable-beta columns, and ``n_samples`` (cases + controls for a disease) is the number
analysed.
``status`` is ``OK`` or ``SKIPPED: <reason>``; ``n_variants`` counts rows with a p-value (the
GWAS-SSF rows: tested variants with nucleotide alleles);
``lambda_gc`` is median χ²₁ / 0.4549 over variants with MAC ≥ 20 (:data:`LAMBDA_MIN_MAC`; the
GWAS-SSF ``mac`` column, as the association chunk counted it);
``n_genome_wide`` / ``n_suggestive`` count loci (clumps, from ``<disease>.loci.tsv``) whose lead
has p < 5e-8 / p < 1e-5 (so suggestive includes genome-wide); the ``*_variants`` columns count
variants. ``detectable_or_maf*``: smallest allelic OR with 80% power at α = 5e-8 for MAF 0.05 /
0.2 given the case and control counts; ``detectable_beta_sd_maf*``: for a quantitative trait,
the smallest per-allele effect in trait standard deviations with that power given ``n_samples``
(:mod:`cohortgen.assoc.power`). The last columns give the method (:func:`trait_method`):
``whole_genome_regression`` (``on``: the LOCO prediction of step 1 is the null models' offset;
``off``; ``fallback``: step 1 on but this disease had too few cases for it, so it was tested
without, the reason in ``method_note``) and ``relatives`` (``kept`` or ``removed``).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen import __version__
from cohortgen.assoc.loci import GENOME_WIDE, SUGGESTIVE
from cohortgen.assoc.power import detectable_beta_sd, detectable_odds_ratio
from cohortgen.inflation import lambda_gc
from cohortgen.io.files import read_json, read_tsv, stale_input, write_tsv, write_tsv_bgzip
from cohortgen.io.sumstats import (
    GWAS_SSF_COLUMNS,
    GWAS_SUFFIX,
    LOCI_SUFFIX,
    paths_for_traits,
    read_gwas_ssf,
    split_gwas_ssf,
    untested_path_for,
    write_gwas_ssf,
)

LAMBDA_MIN_MAC = 20
POWER_ALPHA = 5e-8
POWER_LEVEL = 0.8
POWER_MAFS = {"maf05": 0.05, "maf20": 0.2}
"""Minor allele frequencies of the power columns (``detectable_or_<key>``,
``detectable_beta_sd_<key>``)."""


def trait_method(trait: str, relatives: str, wgr_json: Path | None) -> dict:
    """How one trait was tested: ``whole_genome_regression`` ``on`` / ``off`` / ``fallback``
    (from step 1's ``wgr.json``, None when step 1 is off), ``relatives`` ``kept`` / ``removed``
    (config ``qc.relatives``) and ``method_note`` (why a disease fell back, else empty)."""
    entry = read_json(wgr_json)["traits"].get(trait, {}) if wgr_json else None
    if entry is None:
        step1, note = "off", ""
    elif entry.get("status") == "OK":
        step1, note = "on", ""
    else:
        step1 = "fallback"
        note = entry.get("reason", "not in the whole-genome regression")
    return {"whole_genome_regression": step1,
            "relatives": "kept" if relatives == "keep" else "removed", "method_note": note}


def gather_gwas(disease: str, chunk_paths: list[Path], null_json: Path, genome_build: str,
                out_gz: Path, relatives: str = "remove",
                wgr_json: Path | None = None) -> pd.DataFrame:
    """Write one trait's GWAS-SSF file (+ .tbi, -meta.yaml) and its companion table of untested
    variants (:func:`~cohortgen.io.sumstats.untested_path_for`: no estimate, e.g. ``LOW_MAC``,
    or non-nucleotide alleles; :func:`~cohortgen.io.sumstats.split_gwas_ssf`) from its chunk
    tables (one per chunk, :func:`cohortgen.assoc.chunk.association_chunk`); return the
    GWAS-SSF rows. A skipped trait gets files with a header and no rows; its status and reason
    are in the sidecar. The sidecar's ``samples`` entry gives the number analysed, and for a
    disease its case and control counts; ``cohortgen_method`` the method
    (:func:`trait_method`)."""
    null = read_json(null_json)
    info = null["diseases"][disease]
    dtype = {name: str for name in ("chromosome", "variant_id", "disease", "status",
                                    "effect_allele", "other_allele")}
    tables = [read_tsv(p, dtype=dtype) for p in chunk_paths]
    table = pd.concat(tables, ignore_index=True)
    table = table.loc[table["disease"] == disease, GWAS_SSF_COLUMNS].reset_index(drop=True)
    if info.get("type") == "quantitative":
        counts = {"sample_size": info["n"]}
    else:
        counts = {"sample_size": info["n_cases"] + info["n_controls"],
                  "case_count": info["n_cases"], "control_count": info["n_controls"]}
    covariates = {"adjusted_covariates": null["covariates"]}
    if null.get("sex_added_for_chrX"):
        covariates["chrX_adjusted_covariates"] = ["sex", *null["covariates"]]
    meta = {"genome_assembly": genome_build, "trait_description": disease, **counts,
            **covariates, "cohortgen_status": info["status"],
            "cohortgen_method": trait_method(disease, relatives, wgr_json),
            "analysis_software": f"cohortgen {__version__}"}
    tested, untested = split_gwas_ssf(table)
    write_gwas_ssf(Path(out_gz), tested, meta)
    write_tsv_bgzip(untested_path_for(Path(out_gz)), untested)
    return tested


def minor_allele_count(table: pd.DataFrame, path: Path) -> np.ndarray:
    """MAC (float64 (m,), NaN where missing) of the GWAS-SSF rows of ``path``: its ``mac``
    column, the chunk's exact count (a MAC rebuilt from ``n`` and the 6-digit
    ``effect_allele_frequency`` is off by up to n · 10⁻⁶ alleles)."""
    if "mac" not in table.columns:
        raise stale_input(path, "column mac")
    return table["mac"].to_numpy(float, na_value=np.nan)


def is_quantitative(info: dict) -> bool:
    """Whether a ``null_model.json`` trait entry is a quantitative trait (else a disease)."""
    return info.get("type") == "quantitative"


def trait_counts(info: dict) -> dict:
    """``kind``, ``n_cases``, ``n_controls``, ``n_samples`` of a ``null_model.json`` entry."""
    if is_quantitative(info):
        return {"kind": "quantitative", "n_cases": pd.NA, "n_controls": pd.NA,
                "n_samples": info["n"]}
    return {"kind": "binary", "n_cases": info["n_cases"], "n_controls": info["n_controls"],
            "n_samples": info["n_cases"] + info["n_controls"]}


def gwas_summary_row(disease: str, table: pd.DataFrame, loci: pd.DataFrame, info: dict,
                     gwas_path: Path, method: dict) -> dict:
    """One disease's or trait's line of ``gwas/summary.tsv`` (see the module docstring) from its
    GWAS-SSF rows ``table`` (read from ``gwas_path``), loci and method (:func:`trait_method`)."""
    p = table["p_value"].to_numpy(float)
    tested = np.isfinite(p)
    common = tested & (minor_allele_count(table, gwas_path) >= LAMBDA_MIN_MAC)
    lead_p = loci["p_value"].to_numpy(float)
    counts = trait_counts(info)
    row = {"disease": disease, "kind": counts.pop("kind"), "status": info["status"], **counts,
           "n_variants": int(tested.sum()),
           "lambda_gc": lambda_gc(p[common]) if common.any() else np.nan,
           "n_genome_wide": int((lead_p < GENOME_WIDE).sum()),
           "n_suggestive": int((lead_p < SUGGESTIVE).sum()),
           "n_variants_mac20": int(common.sum()),
           "n_genome_wide_variants": int((p[tested] < GENOME_WIDE).sum()),
           "n_suggestive_variants": int((p[tested] < SUGGESTIVE).sum())}
    quantitative = is_quantitative(info)
    for key, maf in POWER_MAFS.items():
        row[f"detectable_or_{key}"] = np.nan if quantitative else detectable_odds_ratio(
            info["n_cases"], info["n_controls"], maf, POWER_ALPHA, POWER_LEVEL)
    for key, maf in POWER_MAFS.items():
        row[f"detectable_beta_sd_{key}"] = detectable_beta_sd(
            info["n"], maf, POWER_ALPHA, POWER_LEVEL) if quantitative else np.nan
    return row | method


def summarize_gwas(diseases: list[str], gwas_paths: list[Path], loci_paths: list[Path],
                   null_json: Path, summary_tsv: Path, relatives: str = "remove",
                   wgr_json: Path | None = None) -> pd.DataFrame:
    """Write gwas/summary.tsv: one row per disease or quantitative trait, in the order given
    (see :func:`gwas_summary_row`); each trait's GWAS-SSF and loci files are found by name
    (:func:`~cohortgen.io.sumstats.paths_for_traits`), in whatever order they are given."""
    info = read_json(null_json)["diseases"]
    gwas_paths = paths_for_traits(diseases, gwas_paths, GWAS_SUFFIX)
    loci_paths = paths_for_traits(diseases, loci_paths, LOCI_SUFFIX)
    rows = [gwas_summary_row(d, read_gwas_ssf(g), read_tsv(lo), info[d], g,
                             trait_method(d, relatives, wgr_json))
            for d, g, lo in zip(diseases, gwas_paths, loci_paths, strict=True)]
    summary = pd.DataFrame(rows)
    write_tsv(summary_tsv, summary, float_format="%.6g")
    return summary
