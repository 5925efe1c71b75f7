"""Report stage: gather shareable aggregates (QC funnel, per-disease and per-trait GWAS) into the
HTML report."""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.files import read_json, read_tsv, stale_input, write_text_atomic
from cohortgen.io.sumstats import (
    GWAS_SUFFIX,
    LOCI_SUFFIX,
    paths_for_traits,
    read_gwas_ssf,
    read_gwas_ssf_meta,
    untested_path_for,
)
from cohortgen.privacy import shared_count
from cohortgen.provenance import comparable_record
from cohortgen.report.catalogue import LANGUAGES
from cohortgen.report.plots import normalise_chromosomes
from cohortgen.report.render import cohort_index_html, render_html, with_figure_data
from cohortgen.wgr.model import MIN_CASES_PER_FOLD

MAX_LOCI_SHOWN = 10
Z_95 = 1.959963984540054  # standard normal quantile of a two-sided 95% interval


SUMMARY_COLUMNS = ("disease", "kind", "status", "lambda_gc", "n_genome_wide", "n_suggestive",
                   "n_cases", "n_controls", "n_samples")
"""Columns of gwas/summary.tsv the report reads."""
LOCI_COLUMNS = ("chromosome", "base_pair_location", "effect_allele", "other_allele", "p_value",
                "beta", "standard_error")
"""Columns of a gwas/<disease>.loci.tsv the report reads."""


COUNT_COLUMNS = ("n_cases", "n_controls", "n_samples")
"""Columns of gwas/summary.tsv with counts of people, masked there (``<N`` or NA)."""


def read_gwas_summary(path: Path) -> pd.DataFrame:
    """gwas/summary.tsv with its :data:`COUNT_COLUMNS` as
    :func:`~cohortgen.privacy.shared_count` reads them (int, ``"<N"`` or None)."""
    summary = read_tsv(path, SUMMARY_COLUMNS, dtype={"disease": str, "kind": str,
                                                     "status": str} | dict.fromkeys(
        COUNT_COLUMNS, str))
    for column in COUNT_COLUMNS:
        summary[column] = pd.Series([shared_count(v) for v in summary[column]], dtype=object)
    return summary


def qc_context(qc_summary: dict) -> dict:
    """The report's QC funnel from qc/summary.json (counts only): records in, removed at ingest,
    variants written (with the multi-allelic split), removed by variant QC, kept; and where HWE
    was tested (its ``hwe`` entry; a summary written before that entry existed tested over all
    kept samples); and the imputed-variant QC funnel of a cohort with imputed files (its
    ``imputed`` entry, :mod:`cohortgen.qc.imputed_summary`)."""
    ingest = qc_summary["ingest"]
    return {"samples_in": qc_summary["samples"]["in"],
            "samples_removed_by_reason": qc_summary["samples"]["removed"],
            "samples_out": qc_summary["samples"]["kept"],
            "variants_in": ingest["records_in"],
            "ingest_removed_by_reason": ingest["records_excluded"],
            "variants_written": ingest["variants_written"],
            "multiallelic_split": ingest["multiallelic_split"],
            "variants_removed_by_reason": qc_summary["variants"]["removed"],
            "variants_out": qc_summary["variants"]["kept"],
            "hwe": qc_summary.get("hwe", {"population": "all"}),
            "related_pairs": qc_summary["samples"].get("related_pairs", {}),
            **({"imputed": qc_summary["imputed"]} if "imputed" in qc_summary else {})}


def imputed_r2_filter(gwas_paths: list[Path]) -> dict:
    """The r² filter of imputed dosages, {``min_r2``, ``r2_source``}: the
    ``cohortgen_imputation_r2_filter`` of the first GWAS-SSF sidecar (``x.tsv.gz-meta.yaml``)
    that records one; {} when none does (every trait failed before its rows were gathered)."""
    for path in gwas_paths:
        meta = read_gwas_ssf_meta(Path(path))
        if meta.get("cohortgen_genotypes") == "imputed dosages":
            return dict(meta.get("cohortgen_imputation_r2_filter") or {})
    return {}


def genotype_input(qc_summary: dict, gwas_paths: list[Path]) -> dict:
    """Which genotypes the GWAS tested: ``source`` ``array`` (hard calls of ``genotypes``), or
    ``imputed`` (dosages: qc/summary.json has the ``imputed`` entry of a cohort with imputed
    files) with ``r2_filter`` (:func:`imputed_r2_filter`) and ``hard_calls_contigs``, the
    contigs whose imputed file had no DS, HDS or GP, so GT hard calls were used."""
    imputed = qc_summary.get("imputed")
    if imputed is None:
        return {"source": "array"}
    return {"source": "imputed", "r2_filter": imputed_r2_filter(gwas_paths),
            "hard_calls_contigs": list(imputed.get("hard_calls_contigs", []))}


def wgr_notes(trait: str, wgr_summary: dict) -> list[dict]:
    """Notes (:func:`cohortgen.report.render.note_texts`) on step 1 of the whole-genome
    regression for one trait from ``wgr.json``: its cross-validated fit (R² of a quantitative
    trait; a disease's deviance per person analysed), whether level 1 converged, or for a
    disease that fell back, how many cases and controls level 1 needs (not its own counts)."""
    entry = wgr_summary["traits"].get(trait)
    if entry is None:
        return []
    if entry.get("status") != "OK":
        need = MIN_CASES_PER_FOLD * int(wgr_summary["folds"])
        return [{"key": "wgr.fallback", "fields": {"need": f"{need:,}",
                                                  "folds": str(wgr_summary["folds"])}}]
    if entry["kind"] == "quantitative":
        r2 = float(entry["cv_r2"])
        notes = [{"key": "wgr.fit_trait", "fields": {"percent": f"{100 * r2:.1f}%",
                                                    "r2": f"{r2:.3f}"}}]
    else:
        per_person = float(entry["cv_deviance"]) / int(entry["n"])
        notes = [{"key": "wgr.fit_disease", "fields": {"deviance": f"{per_person:.3f}"}}]
    return notes + ([] if entry.get("converged", True) else [{"key": "wgr.not_converged"}])


FREQUENCY_COLUMNS = ("effect_allele_frequency_cases", "effect_allele_frequency_controls")
"""GWAS-SSF columns of a disease's lead loci table besides the loci file's own."""
VARIANT_KEY = ["chromosome", "base_pair_location", "effect_allele", "other_allele"]


def lead_loci(loci_tsv: Path, table: pd.DataFrame, limit: int = MAX_LOCI_SHOWN) -> list[dict]:
    """The most significant lead variants, best first: ``locus`` chrom:position (chromosome
    named as in the plots, X for GWAS-SSF 23), ``chromosome``, ``position``, ``alleles``
    (effect / other), ``p``, ``beta`` and ``se`` on the model's scale (log odds for a disease,
    trait units for a quantitative trait), and the effect allele frequency in cases and in
    controls from the GWAS-SSF ``table`` (NaN when it has none)."""
    loci = read_tsv(loci_tsv, LOCI_COLUMNS, dtype={"chromosome": str, "effect_allele": str,
                                                   "other_allele": str}).sort_values(
        "p_value", kind="stable").head(limit)
    frequencies = table.reindex(columns=[*VARIANT_KEY, *FREQUENCY_COLUMNS])
    loci = loci.merge(frequencies.drop_duplicates(VARIANT_KEY), on=VARIANT_KEY, how="left")
    names = normalise_chromosomes(loci["chromosome"].to_numpy())
    return [{"locus": f"{name}:{row.base_pair_location}", "chromosome": name,
             "position": int(row.base_pair_location),
             "alleles": f"{row.effect_allele} / {row.other_allele}", "p": row.p_value,
             "beta": float(row.beta), "se": float(row.standard_error),
             "eaf_cases": float(row.effect_allele_frequency_cases),
             "eaf_controls": float(row.effect_allele_frequency_controls)}
            for name, row in zip(names, loci.itertuples(), strict=True)]


PLOT_COLUMNS = ("chromosome", "base_pair_location", "p_value")
"""The GWAS-SSF columns of the figures, read for every row (numbers, and the chromosome as a
categorical: one byte a row, no string a row)."""


def lead_rows(gwas_path: Path, loci_tsv: Path) -> pd.DataFrame:
    """The GWAS-SSF rows (columns :data:`VARIANT_KEY` and :data:`FREQUENCY_COLUMNS`) at the
    positions of the loci file's lead variants: what :func:`lead_loci` joins, read without
    holding the whole file."""
    positions = read_tsv(loci_tsv, ("base_pair_location",))["base_pair_location"].to_numpy()
    return read_gwas_ssf(Path(gwas_path), [*VARIANT_KEY, *FREQUENCY_COLUMNS],
                         lambda block: block["base_pair_location"].isin(positions).to_numpy())


def untested_counts(gwas_path: Path) -> dict[str, int]:
    """{reason: variants} of the GWAS-SSF file's companion table of untested variants
    (``x.untested.tsv.gz``, :func:`cohortgen.io.sumstats.untested_path_for`), by reason."""
    reasons = read_tsv(untested_path_for(Path(gwas_path)), ("reason",), dtype={"reason": str})
    return {str(k): int(v) for k, v in reasons["reason"].value_counts().sort_index().items()}


def association_context(row: pd.Series, gwas_path: Path, loci_tsv: Path) -> dict:
    """What a disease and a quantitative trait share: name, status, λGC, loci counts, lead loci,
    untested variants by reason and the chrom / pos / p arrays of the figures (aggregates, no
    individual-level data)."""
    table = read_gwas_ssf(Path(gwas_path), PLOT_COLUMNS, categorical=("chromosome",))
    return {"name": row["disease"], "status": row["status"], "lambda_gc": row["lambda_gc"],
            "n_significant": int(row["n_genome_wide"]), "n_suggestive": int(row["n_suggestive"]),
            "loci": lead_loci(loci_tsv, lead_rows(gwas_path, loci_tsv)),
            "untested": untested_counts(gwas_path),
            "method": {"wgr": row.get("whole_genome_regression"),
                       "relatives": row.get("relatives")},
            "chrom": table["chromosome"].array,
            "pos": table["base_pair_location"].to_numpy(), "p": table["p_value"].to_numpy(float)}


def disease_context(row: pd.Series, gwas_path: Path, loci_tsv: Path) -> dict:
    """One disease: case and control counts, detectable odds ratios, lead loci as odds ratios."""
    context = association_context(row, gwas_path, loci_tsv)
    context["loci"] = [lo | {"odds_ratio": float(np.exp(lo["beta"])),
                             "or_lower": float(np.exp(lo["beta"] - Z_95 * lo["se"])),
                             "or_upper": float(np.exp(lo["beta"] + Z_95 * lo["se"]))}
                       for lo in context["loci"]]
    return context | {"n_cases": row["n_cases"], "n_controls": row["n_controls"],
                      "detectable_or": {"5%": row.get("detectable_or_maf05"),
                                        "20%": row.get("detectable_or_maf20")}}


def trait_context(row: pd.Series, gwas_path: Path, loci_tsv: Path) -> dict:
    """One quantitative trait: number of people analysed, detectable effects (trait standard
    deviations per allele), lead loci with beta (trait units)."""
    return association_context(row, gwas_path, loci_tsv) | {
        "n": row["n_samples"],
        "detectable_beta_sd": {"5%": row.get("detectable_beta_sd_maf05"),
                               "20%": row.get("detectable_beta_sd_maf20")}}


def prs_context(performance_tsvs: list[Path]) -> list[dict]:
    """Rows of the PRS performance tables (already masked for small counts)."""
    tables = [read_tsv(p, dtype={"disease": str, "score": str, "status": str,
                                 "n_cases": str, "n_controls": str}) for p in performance_tsvs]
    if not tables:
        return []
    return pd.concat(tables, ignore_index=True).to_dict(orient="records")


SEX_CODES = {1: "male", 2: "female"}
"""qc/samples.tsv ``sheet_sex`` codes; anything else (NA) counts as ``unknown``."""


def sex_counts(samples_tsv: Path) -> dict[str, int]:
    """People who passed sample QC by the sheet's sex, from qc/samples.tsv (private; only the
    counts leave this function): {male, female, unknown: n}."""
    samples = read_tsv(samples_tsv, ("sheet_sex", "keep"), dtype={"sample_id": str})
    kept = samples.loc[samples["keep"].astype(str) == "True", "sheet_sex"]
    sex = kept.map(SEX_CODES).fillna("unknown")
    return {name: int((sex == name).sum()) for name in (*SEX_CODES.values(), "unknown")}


AGE_BAND_EDGES = (30, 40, 50, 60, 70)
"""Lower edges (years) of the report's age bands after the first: <30, 30-39, ..., 70+."""
AGE_BANDS = ("under_30", "30_39", "40_49", "50_59", "60_69", "70_over")
"""Names of the age bands (catalogue ``glance.age.<band>``), youngest first."""


def age_band_counts(phenotypes: Path, samples_tsv: Path) -> dict[str, int]:
    """People who passed sample QC per age band (:data:`AGE_BANDS`, then ``unknown`` for a
    missing age), from the sheet's ``age`` column (years) and qc/samples.tsv (private; only the
    counts leave this function)."""
    from cohortgen.io.phenotypes import read_phenotypes

    sheet = read_phenotypes(Path(phenotypes), [], ["age"])
    samples = read_tsv(samples_tsv, ("sample_id", "keep"), dtype={"sample_id": str})
    kept = samples.loc[samples["keep"].astype(str) == "True", "sample_id"]
    age = sheet["age"].reindex(pd.Index(kept, dtype="string")).to_numpy(np.float64)
    known = np.isfinite(age)
    band = np.searchsorted(np.asarray(AGE_BAND_EDGES, dtype=np.float64), age[known],
                           side="right")
    counts = np.bincount(band, minlength=len(AGE_BANDS))
    return {name: int(n) for name, n in zip(AGE_BANDS, counts, strict=True)} | {
        "unknown": int((~known).sum())}


def with_nearest_genes(context: dict, genes) -> dict:
    """``context`` (a disease or trait) with ``nearest_gene`` (name) and ``gene_distance``
    (base pairs, 0 inside the gene) added to each lead locus that has a gene on its chromosome
    (:func:`cohortgen.report.genes.nearest_gene`)."""
    from cohortgen.report.genes import nearest_gene

    loci = []
    for locus in context["loci"]:
        found = nearest_gene(genes, locus["chromosome"], locus["position"])
        loci.append(locus if found is None
                    else locus | {"nearest_gene": found[0], "gene_distance": found[1]})
    return context | {"loci": loci}


PCA_BINS = 20
"""Bins per axis of the report's PC1 × PC2 density picture."""


def pca_density(pcs_tsv: Path, bins: int = PCA_BINS) -> dict | None:
    """People per cell of a ``bins`` × ``bins`` grid over PC1 × PC2 of qc/pcs.tsv (private: the
    points never leave this function): ``counts`` int64 (bins, bins) indexed [PC2 bin, PC1 bin],
    ``pc1_edges``, ``pc2_edges`` float64 (bins + 1,). None when the PCA has fewer than 2 PCs."""
    pcs = read_tsv(pcs_tsv, ("sample_id",), dtype={"sample_id": str})
    if not {"PC1", "PC2"} <= set(pcs.columns):
        return None
    pc1, pc2 = pcs["PC1"].to_numpy(float), pcs["PC2"].to_numpy(float)
    ok = np.isfinite(pc1) & np.isfinite(pc2)
    counts, pc2_edges, pc1_edges = np.histogram2d(pc2[ok], pc1[ok], bins=bins)
    return {"counts": counts.astype(np.int64), "pc1_edges": pc1_edges, "pc2_edges": pc2_edges}


DECILE_COLUMNS = ("disease", "score", "decile", "case_fraction")
"""Columns of prs/deciles.tsv the report reads."""


def decile_rows(decile_tsvs: list[Path]) -> list[dict]:
    """Rows of prs/deciles.tsv (case fraction per score decile, NaN where suppressed)."""
    tables = [read_tsv(p, DECILE_COLUMNS, dtype={"disease": str, "score": str})
              for p in decile_tsvs]
    return pd.concat(tables, ignore_index=True).to_dict(orient="records") if tables else []


def build_report(cohort: str, qc_summary_json: Path, gwas_summary_tsv: Path,
                 gwas_paths: list[Path], loci_paths: list[Path], provenance_json: Path,
                 min_cell_count: int, out_html: Path,
                 prs_performance: list[Path] = (), languages: list[str] = LANGUAGES,
                 labels: dict | None = None, prs_deciles: list[Path] = (),
                 prs_match: list[Path] = (), pcs_tsv: Path | None = None,
                 samples_tsv: Path | None = None, phenotypes: Path | None = None,
                 genes: Path | None = None, notes: list[dict] = (),
                 wgr_json: Path | None = None) -> None:
    """Render results/<cohort>/report/index.<lang>.html per language of ``languages`` and
    ``out_html`` (index.html) in the first. ``gwas_paths`` and ``loci_paths`` are paired with
    the rows of gwas/summary.tsv (diseases, ``kind`` binary, and quantitative traits) by file
    name (``<trait>.tsv.gz``, ``<trait>.loci.tsv``), in any order; ``labels`` are the
    config's ``disease_labels`` ({name: {language: label}}); ``prs_deciles`` prs/deciles.tsv
    (case fraction per score decile, suppressed upstream); ``prs_match`` the published scores'
    prs/match/<score>.json (lines matched per status, or the error of a failed score);
    ``pcs_tsv`` qc/pcs.tsv for the binned ancestry picture and ``samples_tsv`` qc/samples.tsv
    for the people analysed by sex (both optional); ``phenotypes`` the phenotype sheet, for
    the people analysed by age band (with ``samples_tsv``; optional); ``genes`` a gene
    annotation (config ``report.genes``, :mod:`cohortgen.report.genes`) naming each lead
    locus's nearest gene (optional); ``notes`` extra facts for the methods section
    (:func:`cohortgen.report.render.render_report`); ``wgr_json`` step 1's wgr.json, whose fit
    per disease and trait is added to its notes (:func:`wgr_notes`; optional). The GWAS-SSF
    sidecars say which r² filter imputed dosages passed (:func:`genotype_input`)."""
    summary = read_gwas_summary(gwas_summary_tsv)
    names = summary["disease"].tolist()
    try:
        gwas_paths = paths_for_traits(names, gwas_paths, GWAS_SUFFIX)
        loci_paths = paths_for_traits(names, loci_paths, LOCI_SUFFIX)
    except InputError as error:
        raise InputError(f"{gwas_summary_tsv} lists {names}: {error}; the summary must list "
                         "every disease and quantitative trait; rerun it with all of them"
                         ) from None
    diseases, traits = [], []
    for (_, row), gwas, loci in zip(summary.iterrows(), gwas_paths, loci_paths, strict=True):
        if row["kind"] == "quantitative":
            traits.append(with_figure_data(trait_context(row, gwas, loci)))
        else:
            diseases.append(with_figure_data(disease_context(row, gwas, loci)))
    if wgr_json is not None:
        wgr_summary = read_json(wgr_json)
        diseases = [d | {"notes": wgr_notes(d["name"], wgr_summary)} for d in diseases]
        traits = [t | {"notes": wgr_notes(t["name"], wgr_summary)} for t in traits]
    if genes is not None:
        from cohortgen.report.genes import read_genes

        annotation = read_genes(Path(genes))
        diseases = [with_nearest_genes(d, annotation) for d in diseases]
        traits = [with_nearest_genes(t, annotation) for t in traits]
    qc_summary = read_json(qc_summary_json)
    try:
        qc = qc_context(qc_summary)
    except KeyError as missing:
        raise stale_input(qc_summary_json, f"entry {missing}") from None
    context = {"cohort": cohort, "qc": qc,
               "genotypes": genotype_input(qc_summary, gwas_paths),
               "diseases": diseases, "traits": traits,
               "prs": prs_context(list(prs_performance)),
               "prs_deciles": decile_rows(list(prs_deciles)),
               "prs_match": [read_json(p) for p in prs_match],
               "pca": None if pcs_tsv is None else pca_density(Path(pcs_tsv)),
               "sex": {} if samples_tsv is None else sex_counts(Path(samples_tsv)),
               "age": {} if phenotypes is None or samples_tsv is None
               else age_band_counts(Path(phenotypes), Path(samples_tsv)),
               "notes": list(notes),
               "provenance": comparable_record(read_json(provenance_json)),
               "min_cell_count": min_cell_count,
               "labels": labels or {}, "languages": list(languages)}
    for lang in languages:
        html = render_html(context, lang)
        write_text_atomic(language_page(Path(out_html), lang), html)
        if lang == languages[0]:
            write_text_atomic(Path(out_html), html)


def build_cohort_index(cohorts: list[str], summary_tsvs: list[Path], min_cell_count: int,
                       out_html: Path, languages: list[str] = LANGUAGES,
                       labels: dict | None = None) -> None:
    """Write results/report/index.<lang>.html per language and ``out_html`` in the first: links
    to each cohort's report and the diseases of their gwas/summary.tsv side by side."""
    if len(cohorts) != len(summary_tsvs):
        raise InputError(f"{len(cohorts)} cohorts but {len(summary_tsvs)} summaries were given: "
                         "give one gwas/summary.tsv per cohort, in the same order")
    rows = {}
    for cohort, path in zip(cohorts, summary_tsvs, strict=True):
        summary = read_gwas_summary(path)
        rows[cohort] = summary[summary["kind"] != "quantitative"].to_dict(orient="records")
    for lang in languages:
        html = cohort_index_html(rows, lang, list(languages), labels or {}, min_cell_count)
        write_text_atomic(language_page(Path(out_html), lang), html)
        if lang == languages[0]:
            write_text_atomic(Path(out_html), html)


def language_page(out_html: Path, lang: str) -> Path:
    """The page of one language beside ``out_html``: report/index.html -> report/index.ko.html."""
    return out_html.with_name(f"{out_html.stem}.{lang}{out_html.suffix}")
