"""Sample QC (gather step): combine per-chunk partial sums, decide which samples to keep.

Reason codes: ``not_in_phenotype_sheet``, ``low_call_rate``. The per-sample table is private
(owner-only); only counts per reason leave this stage.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import read_fam
from cohortgen.io.files import write_text_atomic, write_tsv
from cohortgen.io.phenotypes import read_phenotypes


def sum_partials(paths: list[Path]) -> np.ndarray:
    """Element-wise sum of per-chunk (n_samples, 3) int64 partials, in the given order."""
    total = None
    for path in paths:
        part = np.load(path)
        total = part.copy() if total is None else total + part
    return total


def decide_samples(sample_ids: list[str], in_sheet: np.ndarray, partials: np.ndarray,
                   min_call_rate: float) -> pd.DataFrame:
    """Per-sample call rate, het rate, decision and first failing reason ('' if kept)."""
    n_variants, n_missing, n_het = partials.T
    called = n_variants - n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        call_rate = np.where(n_variants > 0, called / n_variants, np.nan)
        het_rate = np.where(called > 0, n_het / called, np.nan)
    reason = np.where(~in_sheet, "not_in_phenotype_sheet",
                      np.where(~(call_rate >= min_call_rate), "low_call_rate", ""))
    return pd.DataFrame({"sample_id": sample_ids, "call_rate": call_rate, "het_rate": het_rate,
                         "keep": reason == "", "reason": reason})


def sample_qc(fam_path: Path, partial_paths: list[Path], phenotypes: Path, diseases: list[str],
              covariates: list[str], min_call_rate: float, samples_tsv: Path,
              keep_txt: Path) -> pd.DataFrame:
    """Write the private per-sample table and the list of kept sample IDs."""
    samples = read_fam(Path(fam_path))["iid"].astype(str).tolist()
    sheet = read_phenotypes(Path(phenotypes), diseases, covariates)
    in_sheet = np.isin(np.array(samples, dtype=object), np.array(sheet.index, dtype=object))
    table = decide_samples(samples, in_sheet, sum_partials(partial_paths), min_call_rate)
    write_tsv(samples_tsv, table, private=True)
    kept = table.loc[table["keep"], "sample_id"]
    write_text_atomic(keep_txt, "".join(f"{s}\n" for s in kept), private=True)
    return table


def read_keep(path: Path) -> list[str]:
    """Sample IDs from a keep list written by :func:`sample_qc`."""
    return [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
