"""QC funnel (shareable counts per step and reason) and the gathered per-variant QC table.

Counts reconcile: records_in = ingest-excluded + variants ingested; variants ingested =
variant-QC removed + variants passing; samples_in = removed + kept. Counts are exact here
(machine-readable); the report masks counts of people below ``report.min_cell_count``.
``samples.flagged`` counts kept samples with a flag (``pca_outlier``, ``sex_ambiguous``, and
``sex_mismatch`` when mismatches are only flagged); ``related_pairs`` counts pairs per degree.
"""

from collections import Counter
from pathlib import Path

import pandas as pd

from cohortgen.io.bed import read_bim, read_fam
from cohortgen.io.files import read_json, read_tsv, write_json, write_tsv_bgzip

FLAGS = ("pca_outlier", "sex_mismatch", "sex_ambiguous")
"""Boolean columns of samples.tsv counted among kept samples as flags."""


def ingest_funnel(tally_paths: list[Path]) -> dict:
    """Sum per-chunk ingest tallies."""
    records_in, kept, excluded = 0, 0, Counter()
    for path in tally_paths:
        tally = read_json(path)
        records_in += tally["records_in"]
        kept += tally["records_kept"]
        excluded.update(tally["records_excluded"])
    return {"records_in": records_in, "records_kept": kept,
            "records_excluded": dict(sorted(excluded.items()))}


def gather_variant_qc(table_paths: list[Path]) -> pd.DataFrame:
    """Concatenate per-chunk variant QC tables in plan order."""
    return pd.concat([read_tsv(p, dtype={"chrom": str, "id": str, "diff_miss_disease": str})
                      for p in table_paths], ignore_index=True)


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


def check_genotypes(prefix: Path, summary: dict) -> None:
    """Raise ValueError unless the QC'd fileset holds the kept samples and variants."""
    n_samples = len(read_fam(Path(f"{prefix}.fam")))
    n_variants = len(read_bim(Path(f"{prefix}.bim")))
    if (n_samples, n_variants) != (summary["samples"]["kept"], summary["variants"]["kept"]):
        raise ValueError(f"{prefix}: {n_samples} samples x {n_variants} variants, expected the "
                         "kept counts of the QC funnel; rerun the QC rules")


def summarize_qc(tally_paths: list[Path], samples_tsv: Path, pairs_tsv: Path,
                 variant_qc_paths: list[Path], genotypes_prefix: Path, summary_json: Path,
                 variants_tsv_gz: Path) -> dict:
    """Write qc/summary.json (funnel) and qc/variants.tsv.gz; return the summary."""
    samples = read_tsv(samples_tsv, dtype={"sample_id": str, "reason": str})
    pairs = read_tsv(pairs_tsv, dtype={"id1": str, "id2": str})
    variants = gather_variant_qc(variant_qc_paths)
    summary = {
        "ingest": ingest_funnel(tally_paths),
        "samples": sample_funnel(samples, pairs),
        "variants": {"in": len(variants), "removed": reason_counts(variants, "pass"),
                     "kept": int(variants["pass"].sum())},
    }
    check_genotypes(genotypes_prefix, summary)
    write_json(summary_json, summary)
    write_tsv_bgzip(variants_tsv_gz, variants)
    return summary
