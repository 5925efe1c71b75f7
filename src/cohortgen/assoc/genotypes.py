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
from cohortgen.kernels.dosage import dosage_mean_imputed


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

    def read_raw(self, rows: slice, out: np.ndarray | None = None) -> np.ndarray:
        """float32 (b, len(file_samples)) ALT dosages of variants ``rows`` as pgenlib reads them
        (:data:`~cohortgen.io.pgen.PGEN_MISSING` missing); out: optional float32 C-contiguous
        buffer of at least that many elements, reused across blocks."""
        import pgenlib

        n_file = len(self.file_samples)
        indices = np.ascontiguousarray(self.variants[rows], dtype=np.uint32)
        size = indices.size * n_file
        block = (np.empty((indices.size, n_file), np.float32) if out is None
                 else out.reshape(-1)[:size].reshape(indices.size, n_file))
        if indices.size == 0:
            return block
        reader = pgenlib.PgenReader(bytes(Path(f"{self.prefix}.pgen")), raw_sample_ct=n_file)
        try:
            reader.read_dosages_list(indices, block)
        finally:
            reader.close()
        return block

    def read(self, rows: slice) -> np.ndarray:
        """float32 (b, len(samples)) ALT dosages of variants ``rows``, NaN missing."""
        block = self.read_raw(rows)
        out = np.full((block.shape[0], len(self.samples)), np.nan, dtype=np.float32)
        out[:, :block.shape[1]] = np.where(block == PGEN_MISSING, np.nan, block)
        return out

    def blocks(self, sample_idx: np.ndarray, groups: np.ndarray, block_variants: int
               ) -> Iterator[tuple[slice, np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """As :meth:`BedGenotypes.blocks` (G a view of a buffer the next block overwrites),
        alt float64 (ALT dosage sums), called int64. Every member of a group must be among
        ``sample_idx`` (the chunk step's groups are the diseases' cases and controls)."""
        sample_idx = np.asarray(sample_idx, dtype=np.int64)
        inside = groups[:, sample_idx]
        if (inside.sum(axis=1) != groups.sum(axis=1)).any():
            raise ValueError("every group member must be one of the samples in sample_idx")
        member = inside.T.astype(np.float64)
        width = min(block_variants, len(self))
        raw_buffer = np.empty(width * len(self.file_samples), np.float32)
        buffer = np.empty(width * sample_idx.size)
        for start in range(0, len(self), block_variants):
            rows = slice(start, min(start + block_variants, len(self)))
            raw = self.read_raw(rows, out=raw_buffer)
            G, n_missing = dosage_mean_imputed(raw, sample_idx, out=buffer)
            yield rows, G, block_group_sums(raw, G, n_missing, sample_idx, inside, member)


def block_group_sums(raw: np.ndarray, G: np.ndarray, n_missing: np.ndarray,
                     sample_idx: np.ndarray, inside: np.ndarray, member: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(alt float64, called int64), each (b, n_groups): ALT dosage sums and samples with a
    dosage per group, from G float64 (b, k) of :func:`dosage_mean_imputed` (raw, sample_idx,
    n_missing its inputs and output); inside: bool (n_groups, k) the groups over the k
    samples, member its float64 transpose. Rows without a missing value are one product
    G · member (exact: PLINK 2 dosages are multiples of 1/16384, so the float64 sums do not
    depend on the order of the additions); the others as :func:`group_dosage_sums`."""
    alt = G @ member
    called = np.tile(inside.sum(axis=1).astype(np.int64), (G.shape[0], 1))
    gaps = np.flatnonzero(n_missing)
    if gaps.size:
        dosage = np.full((gaps.size, sample_idx.size), np.nan, dtype=np.float32)
        in_file = sample_idx < raw.shape[1]
        dosage[:, in_file] = raw[gaps][:, sample_idx[in_file]]
        dosage[dosage == PGEN_MISSING] = np.nan
        alt[gaps], called[gaps] = group_dosage_sums(dosage, inside)
    return alt, called


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
