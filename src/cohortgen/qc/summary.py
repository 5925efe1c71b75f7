"""QC funnel (shareable counts per step and reason) and the gathered per-variant QC table.

Counts reconcile at every step, and :func:`summarize_qc` checks that they do:

* ingest: ``records_in = records_kept + sum(records_excluded)``; ``variants_written =
  records_kept - multiallelic_split.records + multiallelic_split.variants`` (a kept
  bi-allelic record is one variant, a split multi-allelic record one per non-symbolic ALT);
* variant QC: ``variants.in = ingest.variants_written = sum(variants.removed) + variants.kept``;
* samples: ``samples.in = sum(samples.removed) + samples.kept``.

Counts are exact here (machine-readable); the report masks counts of people below
``report.min_cell_count``. ``samples.flagged`` counts kept samples with a flag
(``pca_outlier``, ``sex_ambiguous``, and ``sex_mismatch`` when mismatches are only flagged);
``related_pairs`` counts pairs per degree; ``ingest.genotypes_changed`` counts calls changed at
ingest (set missing, half-calls) by reason. ``hwe`` says where variant QC tested HWE:
``population`` (``qc.hwe_population``) and, unless it is ``all``, ``min_cluster_size``, the kept
samples per ancestry cluster (``kept_per_cluster``) and the clusters tested
(``tested_clusters``, :func:`cohortgen.qc.ancestry.hwe_tested_clusters`).
"""

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.bed import read_bim, read_fam
from cohortgen.io.files import read_json, read_tsv, write_json, write_tsv_bgzip
from cohortgen.qc.ancestry import MIN_CLUSTER_SIZE, cluster_sizes, hwe_tested_clusters

FLAGS = ("pca_outlier", "sex_mismatch", "sex_ambiguous")
"""Boolean columns of samples.tsv counted among kept samples as flags."""


def ingest_funnel(tally_paths: list[Path]) -> dict:
    """Sum per-chunk ingest tallies (``RecordTally.as_dict`` of :mod:`cohortgen.io.vcf`) into
    the ingest step of the funnel (keys as the module docstring). Raises InputError naming the
    tally whose records do not reconcile."""
    records, excluded, split, genotypes = Counter(), Counter(), Counter(), Counter()
    for path in tally_paths:
        tally = read_json(path)
        n_excluded = sum(tally["records_excluded"].values())
        if tally["records_in"] != tally["records_kept"] + n_excluded:
            raise InputError(f"{path}: {tally['records_in']} records in but "
                             f"{tally['records_kept']} kept + {n_excluded} excluded; the tally "
                             "is damaged: rerun ingest for this chunk")
        records.update({k: tally[k] for k in ("records_in", "records_kept", "variants_written")})
        excluded.update(tally["records_excluded"])
        split.update(tally["multiallelic_split"])
        genotypes.update(tally["genotypes_changed"])
    variants_of_split = records["variants_written"] - records["records_kept"] + split["records"]
    return {"records_in": records["records_in"],
            "records_excluded": dict(sorted(excluded.items())),
            "records_kept": records["records_kept"],
            "multiallelic_split": {"records": split["records"], "variants": variants_of_split,
                                   "symbolic_alts_dropped": split["symbolic_alts_dropped"]},
            "variants_written": records["variants_written"],
            "genotypes_changed": dict(sorted(genotypes.items()))}


def check_variants_ingested(tally_paths: list[Path]) -> dict:
    """The ingest step of the funnel (:func:`ingest_funnel`); InputError when ingest wrote no
    variant, naming the records read and excluded per reason."""
    funnel = ingest_funnel(tally_paths)
    if funnel["variants_written"] == 0:
        excluded = ", ".join(f"{reason}: {count:,}" for reason, count in
                             funnel["records_excluded"].items()) or "none"
        raise InputError(
            f"no variant passed ingest: {funnel['records_in']:,} records read in "
            f"{len(tally_paths)} chunks, excluded per reason: {excluded} (per chunk in "
            f"{Path(tally_paths[0]).name} beside each chunk). Only contigs 1-22, X, Y, XY and "
            "MT are analysed (rename others, e.g. bcftools annotate --rename-chrs); symbolic "
            "alleles are not; multi-allelic records need ingest.multiallelic: split")
    return funnel


def gather_variant_qc(table_paths: list[Path]) -> pd.DataFrame:
    """Concatenate per-chunk variant QC tables in plan order (alleles as strings, ``1``/``2``
    codes too; ``pass`` bool, also when a chunk has no variants)."""
    dtype = {"chrom": str, "id": str, "ref": str, "alt": str, "diff_miss_disease": str}
    table = pd.concat([read_tsv(p, dtype=dtype) for p in table_paths], ignore_index=True)
    return table.assign(**{"pass": table["pass"].astype(bool)})


def reason_counts(table: pd.DataFrame, passed: str) -> dict:
    """{reason: count} of the rows failing ``passed``, sorted by reason."""
    counts = table.loc[~table[passed], "reason"].value_counts().sort_index()
    return {str(k): int(v) for k, v in counts.items()}


def sample_funnel(samples: pd.DataFrame, pairs: pd.DataFrame) -> dict:
    """Sample counts: in, removed per reason, kept, flags among kept, related pairs per degree."""
    kept = samples["keep"].to_numpy(bool)
    degrees = pairs["degree"].value_counts().sort_index()
    return {"in": len(samples), "removed": reason_counts(samples, "keep"), "kept": int(kept.sum()),
            "flagged": {flag: int((samples[flag].to_numpy(bool) & kept).sum()) for flag in FLAGS},
            "related_pairs": {f"degree_{k}": int(v) for k, v in degrees.items()}}


def hwe_population_summary(samples: pd.DataFrame, population: str,
                           min_cluster_size: int) -> dict:
    """The ``hwe`` entry of the module docstring from samples.tsv (``keep``,
    ``ancestry_cluster``)."""
    if population == "all":
        return {"population": population}
    kept = samples["keep"].to_numpy(bool)
    clusters = samples["ancestry_cluster"].fillna(0).to_numpy(np.int64)
    return {"population": population, "min_cluster_size": int(min_cluster_size),
            "kept_per_cluster": cluster_sizes(clusters[kept]),
            "tested_clusters": hwe_tested_clusters(population, clusters, kept, min_cluster_size)}


def variant_funnel(ingest: dict, variants: pd.DataFrame) -> dict:
    """Variant QC step: in, removed per reason, kept. Raises InputError unless the QC tables
    hold exactly the variants ingest wrote (``ingest`` from :func:`ingest_funnel`)."""
    if len(variants) != ingest["variants_written"]:
        raise InputError(f"the variant QC tables hold {len(variants):,} variants but the ingest "
                         f"tallies count {ingest['variants_written']:,} variants written: they "
                         "come from different runs; rerun ingest and variant QC for this cohort")
    return {"in": len(variants), "removed": reason_counts(variants, "pass"),
            "kept": int(variants["pass"].sum())}


def check_genotypes(prefix: Path, summary: dict) -> None:
    """Raise InputError unless the QC'd fileset holds the kept samples and variants."""
    n_samples = len(read_fam(Path(f"{prefix}.fam")))
    n_variants = len(read_bim(Path(f"{prefix}.bim")))
    if (n_samples, n_variants) != (summary["samples"]["kept"], summary["variants"]["kept"]):
        raise InputError(f"{prefix}: {n_samples} samples x {n_variants} variants, expected the "
                         "kept counts of the QC funnel; rerun the QC rules")


def summarize_qc(tally_paths: list[Path], samples_tsv: Path, pairs_tsv: Path,
                 variant_qc_paths: list[Path], genotypes_prefix: Path, summary_json: Path,
                 variants_tsv_gz: Path, hwe_population: str = "all",
                 min_cluster_size: int = MIN_CLUSTER_SIZE,
                 imputed_summary_json: Path | None = None) -> dict:
    """Write qc/summary.json (funnel) and qc/variants.tsv.gz; return the summary. With
    ``imputed_summary_json`` (:mod:`cohortgen.qc.imputed_summary`), the funnel also has the
    imputed-variant QC as its ``imputed`` entry."""
    samples = read_tsv(samples_tsv, ("ancestry_cluster",) if hwe_population != "all" else (),
                       dtype={"sample_id": str, "reason": str, "ancestry_cluster": "Int64"})
    pairs = read_tsv(pairs_tsv, dtype={"id1": str, "id2": str})
    variants = gather_variant_qc(variant_qc_paths)
    ingest = ingest_funnel(tally_paths)
    summary = {"ingest": ingest, "samples": sample_funnel(samples, pairs),
               "variants": variant_funnel(ingest, variants),
               "hwe": hwe_population_summary(samples, hwe_population, min_cluster_size)}
    if imputed_summary_json is not None:
        summary["imputed"] = read_json(imputed_summary_json)
    check_genotypes(genotypes_prefix, summary)
    write_json(summary_json, summary)
    write_tsv_bgzip(variants_tsv_gz, variants)
    return summary
