"""QC funnel (shareable counts per step and reason) and the gathered per-variant QC table.

Counts reconcile: records_in = ingest-excluded + variants ingested; variants ingested =
variant-QC removed + variants passing; samples_in = removed + kept.
"""

from collections import Counter
from pathlib import Path

import pandas as pd

from cohortgen.io.files import read_json, read_tsv, write_json, write_tsv_bgzip


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
    return pd.concat([read_tsv(p, dtype={"chrom": str, "id": str}) for p in table_paths],
                     ignore_index=True)


def summarize_qc(tally_paths: list[Path], samples_tsv: Path, variant_qc_paths: list[Path],
                 summary_json: Path, variants_tsv_gz: Path) -> dict:
    """Write qc/summary.json (funnel) and qc/variants.tsv.gz; return the summary."""
    samples = read_tsv(samples_tsv, dtype={"sample_id": str, "reason": str})
    variants = gather_variant_qc(variant_qc_paths)
    reasons = samples.loc[~samples["keep"], "reason"].value_counts().sort_index()
    variant_reasons = variants.loc[~variants["pass"], "reason"].value_counts().sort_index()
    summary = {
        "ingest": ingest_funnel(tally_paths),
        "samples": {"in": len(samples), "removed": {k: int(v) for k, v in reasons.items()},
                    "kept": int(samples["keep"].sum())},
        "variants": {"in": len(variants),
                     "removed": {k: int(v) for k, v in variant_reasons.items()},
                     "kept": int(variants["pass"].sum())},
    }
    write_json(summary_json, summary)
    write_tsv_bgzip(variants_tsv_gz, variants)
    return summary
