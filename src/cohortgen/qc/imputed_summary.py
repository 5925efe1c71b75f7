"""Imputed-variant QC gathered over the dosage chunks: the per-variant table
(``qc/imputed_variants.tsv.gz``, shareable: no individual data) and the funnel
(``qc/imputed_summary.json``, which ``qc/summary.json`` carries as its ``imputed`` entry).

Funnel keys: ``input_formats`` (sorted), ``samples_in_files`` (samples of the imputed files),
``samples_kept`` (QC-kept samples with dosages), ``variants_in``, ``removed`` (count per
reason code of :data:`cohortgen.ingest.dosages.REASONS`, first failing reason), ``kept``,
``dosage_fields`` (where the dosages came from, sorted: a VCF's ``DS``, ``HDS``, ``GP``, or
``GT`` for hard calls only; ``GP`` for BGEN, ``dosage`` for PGEN) and ``hard_calls_contigs``
(the contigs, in chunk order, whose file had no DS, HDS or GP, so GT hard calls were read as
dosages 0/1/2; empty when none).
"""

from pathlib import Path

import pandas as pd

from cohortgen.errors import InputError
from cohortgen.ingest.dosages import REASONS, TABLE_COLUMNS
from cohortgen.io.files import read_json, read_tsv, write_json, write_tsv_bgzip


def imputed_funnel(summary_paths: list[Path]) -> dict:
    """Sum the chunks' ``ingest-dosages`` summaries (``<out>.json``) into the funnel."""
    chunks = [read_json(p) for p in summary_paths]
    samples = {(c["samples_in_file"], c["samples_kept"]) for c in chunks}
    if len(samples) > 1:
        raise InputError(f"{summary_paths[0]}: the dosage chunks kept different sample counts "
                         f"{sorted(samples)}; rerun the imputed chunks")
    removed = {code: sum(c["excluded"][code] for c in chunks) for code in REASONS}
    n_in = sum(c["variants_in"] for c in chunks)
    kept = sum(c["variants_passed"] for c in chunks)
    if n_in != kept + sum(removed.values()):
        raise InputError(f"{summary_paths[0]}: variant counts do not add up over the chunks; "
                         "rerun the imputed chunks")
    first = samples.pop() if samples else (0, 0)
    return {"input_formats": sorted({c["input_format"] for c in chunks}),
            "samples_in_files": first[0], "samples_kept": first[1], "variants_in": n_in,
            "removed": removed, "kept": kept,
            "dosage_fields": sorted({c["dosage_field"] for c in chunks}),
            "hard_calls_contigs": list(dict.fromkeys(c["contig"] for c in chunks
                                                     if c["hard_calls_only"]))}


def summarize_imputed_qc(table_paths: list[Path], summary_paths: list[Path], table_out: Path,
                         summary_out: Path) -> dict:
    """Write the gathered per-variant table and the funnel; return the funnel."""
    tables = [read_tsv(p, dtype={"chrom": str, "id": str, "reason": str}) for p in table_paths]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=list(TABLE_COLUMNS))
    table["reason"] = table["reason"].fillna("")
    funnel = imputed_funnel(summary_paths)
    write_tsv_bgzip(table_out, table[list(TABLE_COLUMNS)])
    write_json(summary_out, funnel)
    return funnel
