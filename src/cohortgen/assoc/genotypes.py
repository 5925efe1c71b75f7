"""Genotype sources of the association chunk: array hard calls (PLINK 1 .bed) or imputed dosages
(PLINK 2 .pgen, as ``cohortgen ingest-dosages`` writes them).

Both give the chunk step the same thing, one block of variants at a time
(:meth:`BedGenotypes.blocks`, :meth:`PgenDosages.blocks`): G, float64 (b, k), the ALT dosages
(0..2) of the null model's k samples with missing values replaced by the variant's mean over
those samples, and per sample group (the diseases' cases and controls) the ALT dosage sum and
the number of samples with a value. A male's chrX dosage is on the 0..2 scale in both (a
hemizygous call is stored as homozygous in the .bed; PLINK 2 doubles a haploid dosage), which
is ``plink2 --glm``'s default ``--xchr-model 2``.
"""

import copy
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.pgen import PGEN_MISSING, pvar_rows, read_psam_ids
from cohortgen.io.sumstats import IMPUTED_COLUMNS
from cohortgen.kernels.bed import dosages_mean_imputed, group_allele_counts


class BedGenotypes:
    """The rows of a .bed: packed uint8 (m, ceil(n_samples / 4)), PLINK 2-bit codes."""

    def __init__(self, packed: np.ndarray, n_samples: int):
        self.packed, self.n_samples = packed, n_samples

    def __len__(self) -> int:
        return self.packed.shape[0]

    def subset(self, keep: np.ndarray) -> "BedGenotypes":
        """The variants of bool mask ``keep`` (m,)."""
        return BedGenotypes(self.packed[keep], self.n_samples)

    def blocks(self, sample_idx: np.ndarray, groups: np.ndarray, block_variants: int
               ) -> Iterator[tuple[slice, np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """(rows, G, (alt, called)) per block: G as the module docstring (a view of a buffer
        the next block overwrites); alt, called int64 (b, n_groups) ALT allele counts and called
        samples within each group of ``groups`` bool (n_groups, n_samples)."""
        m = len(self)
        buffer = np.empty(min(block_variants, m) * np.size(sample_idx))
        for start in range(0, m, block_variants):
            rows = slice(start, min(start + block_variants, m))
            G = dosages_mean_imputed(self.packed[rows], self.n_samples, sample_idx, out=buffer)
            yield rows, G, group_allele_counts(self.packed[rows], self.n_samples, groups)


class PgenDosages:
    """Dosages of a PLINK 2 fileset read through pgenlib, block by block (memory: a block of
    float32 (b, n) and float64 (b, k)).

    ``samples`` (the chunk step's sample list, :attr:`samples`) are the .psam samples followed
    by ``extra_samples``: samples of the null model missing from the imputed file (at most
    ``ingest.max_sample_loss`` of them, checked when the chunks are planned), whose dosages are
    missing, hence mean-imputed in G and not counted.
    """

    def __init__(self, prefix: Path, n_variants: int, extra_samples: list[str] = ()):
        self.prefix = Path(prefix)
        self.file_samples = read_psam_ids(Path(f"{prefix}.psam"))
        self.samples = self.file_samples + list(extra_samples)
        self.variants = np.arange(n_variants, dtype=np.uint32)

    def __len__(self) -> int:
        return len(self.variants)

    def subset(self, keep: np.ndarray) -> "PgenDosages":
        """The variants of bool mask ``keep``."""
        out = copy.copy(self)
        out.variants = self.variants[keep]
        return out

    def read(self, rows: slice) -> np.ndarray:
        """float32 (b, len(samples)) ALT dosages of variants ``rows``, NaN missing."""
        import pgenlib

        n_file = len(self.file_samples)
        indices = np.ascontiguousarray(self.variants[rows], dtype=np.uint32)
        out = np.full((indices.size, len(self.samples)), np.nan, dtype=np.float32)
        if indices.size == 0:
            return out
        # straight into ``out`` without extra samples (no second block and copy)
        block = out if n_file == out.shape[1] else np.empty((indices.size, n_file), np.float32)
        reader = pgenlib.PgenReader(bytes(Path(f"{self.prefix}.pgen")), raw_sample_ct=n_file)
        try:
            reader.read_dosages_list(indices, block)
        finally:
            reader.close()
        block[block == PGEN_MISSING] = np.nan
        out[:, :n_file] = block
        return out

    def blocks(self, sample_idx: np.ndarray, groups: np.ndarray, block_variants: int
               ) -> Iterator[tuple[slice, np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """As :meth:`BedGenotypes.blocks`, alt float64 (ALT dosage sums), called int64."""
        for start in range(0, len(self), block_variants):
            rows = slice(start, min(start + block_variants, len(self)))
            dosage = self.read(rows)
            yield rows, mean_imputed(dosage, sample_idx), group_dosage_sums(dosage, groups)


def mean_imputed(dosage: np.ndarray, sample_idx: np.ndarray) -> np.ndarray:
    """float64 (b, k): columns ``sample_idx`` of ``dosage`` float32 (b, n) (NaN missing), each
    missing value replaced by its row's mean over those columns (0 for a row without values)."""
    G = np.take(dosage, sample_idx, axis=1).astype(np.float64)  # row-major, as the .bed path
    missing = np.isnan(G)
    if not missing.any():  # imputed files rarely miss a dosage: skip three passes over G
        return G
    called = (~missing).sum(axis=1)
    sums = np.where(missing, 0.0, G).sum(axis=1)
    mean = np.divide(sums, called, out=np.zeros_like(sums), where=called > 0)
    return np.where(missing, mean[:, None], G)


def group_dosage_sums(dosage: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(alt float64, called int64), each (b, n_groups): the ALT dosage sum and the samples with
    a dosage within each group of ``groups`` bool (n_groups, n) of ``dosage`` float32 (b, n)."""
    called = ~np.isnan(dosage)
    member = groups.T.astype(np.float64)
    if called.all():  # no missing dosage: the same sums without two passes over the block
        return (dosage.astype(np.float64) @ member,
                np.tile(groups.sum(axis=1).astype(np.int64), (dosage.shape[0], 1)))
    alt = np.where(called, dosage, 0.0).astype(np.float64) @ member
    return alt, np.rint(called.astype(np.float64) @ member).astype(np.int64)


def pgen_variants(prefix: Path) -> pd.DataFrame:
    """The .pvar of an ``ingest-dosages`` output as the chunk step's variant table: chrom, id,
    pos, a1 (ALT, the effect allele), a2 (REF), and :data:`IMPUTED_COLUMNS` ``info`` (INFO
    ``R2``, the r² that gated the variant, capped at 1 as GWAS-SSF's ``info`` (a MaCH r²
    estimate may exceed 1); NaN without) and ``typed`` (INFO ``TYPED``: 1, else
    0)."""
    rows = pvar_rows(Path(f"{prefix}.pvar"))[0]
    info = [dict((item.split("=", 1) + [""])[:2] for item in f.get("INFO", ".").split(";"))
            for _, f in rows]
    table = pd.DataFrame({"chrom": [f["CHROM"] for _, f in rows],
                          "id": [f["ID"] for _, f in rows],
                          "pos": np.array([int(f["POS"]) for _, f in rows], dtype=np.int64),
                          "a1": [f["ALT"] for _, f in rows], "a2": [f["REF"] for _, f in rows]})
    r2 = np.array([float(i.get("R2") or "nan") for i in info])
    table[IMPUTED_COLUMNS[0]] = np.minimum(r2, 1.0)
    table[IMPUTED_COLUMNS[1]] = np.array([int("TYPED" in i) for i in info], dtype=np.int64)
    return table
