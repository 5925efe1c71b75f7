"""Per-chunk variant statistics over all samples, and per-sample partial sums for sample QC.

Outputs: a per-variant TSV (counts over all samples) and a per-sample int64 array saved as .npy,
shape (n_samples, 3): [autosomal variants seen, missing calls, het calls] in this chunk.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import read_bed
from cohortgen.io.files import PRIVATE_MODE, write_tsv
from cohortgen.kernels.stats import genotype_counts, sample_het_counts, sample_missing_counts

AUTOSOMES = frozenset([str(k) for k in range(1, 23)] + [f"chr{k}" for k in range(1, 23)])
COUNT_COLUMNS = ["n_hom_alt", "n_het", "n_hom_ref", "n_missing"]


def autosomal_mask(chrom: pd.Series) -> np.ndarray:
    """bool per variant: on chromosomes 1-22 (with or without a 'chr' prefix)."""
    return chrom.astype(str).isin(AUTOSOMES).to_numpy()


def count_table(bim: pd.DataFrame, counts: np.ndarray) -> pd.DataFrame:
    """Variant identity (chrom, pos, id, ref, alt) beside genotype counts (n_variants, 4)."""
    table = pd.DataFrame({"chrom": bim["chrom"].astype(str), "pos": bim["pos"],
                          "id": bim["id"], "ref": bim["a2"], "alt": bim["a1"]})
    return pd.concat([table, pd.DataFrame(counts, columns=COUNT_COLUMNS)], axis=1)


def variant_stats_chunk(prefix: Path, variants_tsv: Path, sample_partials_npy: Path) -> None:
    """Write the chunk's per-variant counts and per-sample partial sums."""
    packed, bim, fam = read_bed(Path(prefix))
    n = len(fam)
    counts = genotype_counts(packed, n, np.ones(n, dtype=np.bool_))
    write_tsv(variants_tsv, count_table(bim, counts))
    auto = autosomal_mask(bim["chrom"])
    partials = np.column_stack([
        np.full(n, auto.sum(), dtype=np.int64),
        sample_missing_counts(packed, n, auto),
        sample_het_counts(packed, n, auto),
    ]).astype(np.int64)
    with open(sample_partials_npy, "wb") as handle:
        np.save(handle, partials)
    Path(sample_partials_npy).chmod(PRIVATE_MODE)
