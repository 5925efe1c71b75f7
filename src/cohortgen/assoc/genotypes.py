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

from cohortgen.io.pgen import PGEN_MISSING, read_psam_ids, read_pvar_table
from cohortgen.io.sumstats import IMPUTED_COLUMNS
from cohortgen.kernels.bed import buffer_view, dosages_mean_imputed, group_allele_counts
from cohortgen.kernels.dosage import mean_impute_rows, missing_counts


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
    """Dosages of a PLINK 2 fileset read through pgenlib, block by block (memory of
    :meth:`blocks`: float64 (b, k), and (b, samples of the file in use) when G gathers).

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

    def read(self, rows, sample_idx: np.ndarray | None = None) -> np.ndarray:
        """float64 (b, k) ALT dosages of variants ``rows`` (a slice or increasing indices into
        :attr:`variants`) and samples ``sample_idx`` (int64 (k,), indices into :attr:`samples`;
        default all), NaN missing (also for a sample absent from the file). One
        :class:`_BlockReader` for the call: pgenlib reads only the wanted file samples."""
        sample_idx = (np.arange(len(self.samples)) if sample_idx is None
                      else np.asarray(sample_idx, dtype=np.int64))
        variants = self.variants[rows]
        with _BlockReader(self.prefix, len(self.file_samples), sample_idx,
                          variants.size) as reader:
            block = reader.read(variants, np.empty(variants.size * sample_idx.size))
        block[block == PGEN_MISSING] = np.nan
        return block

    def blocks(self, sample_idx: np.ndarray, groups: np.ndarray, block_variants: int
               ) -> Iterator[tuple[slice, np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """As :meth:`BedGenotypes.blocks` (G a view of a buffer the next block overwrites),
        alt float64 (ALT dosage sums), called int64. Every member of a group must be among
        ``sample_idx`` (the chunk step's groups are the diseases' cases and controls).

        One pgenlib reader for all blocks; it writes float64 dosages straight into G when
        ``sample_idx`` lists samples of the file in file order (the chunk step's usual case),
        else into a block of the file's samples that G gathers from. Then G is mean-imputed
        in place (:func:`~cohortgen.kernels.dosage.missing_counts`,
        :func:`~cohortgen.kernels.dosage.mean_impute_rows`), and the group sums are one
        product (:class:`GroupSums`). Memory: G and, in the gathering case, the file block,
        float64 (block_variants, k) each."""
        sample_idx = np.asarray(sample_idx, dtype=np.int64)
        inside = groups[:, sample_idx]
        if (inside.sum(axis=1) != groups.sum(axis=1)).any():
            raise ValueError("every group member must be one of the samples in sample_idx")
        sums = GroupSums(inside)
        width = min(block_variants, len(self))
        buffer = np.empty(width * sample_idx.size)
        with _BlockReader(self.prefix, len(self.file_samples), sample_idx, width) as reader:
            for start in range(0, len(self), block_variants):
                rows = slice(start, min(start + block_variants, len(self)))
                G = reader.read(self.variants[rows], buffer)
                n_missing = missing_counts(G)
                counts = sums(G, n_missing)
                mean_impute_rows(G, n_missing)
                yield rows, G, counts


class _BlockReader:
    """A pgenlib reader of float64 dosages of samples ``sample_idx`` (int64 (k,), indices
    into the file's ``n_file`` samples; one >= n_file is a sample without dosages), for
    blocks of at most ``width`` variants; a context manager (closes the reader)."""

    def __init__(self, prefix: Path, n_file: int, sample_idx: np.ndarray, width: int):
        self.in_file = sample_idx < n_file
        subset = np.unique(sample_idx[self.in_file]).astype(np.uint32)
        self.k, self.n_read = sample_idx.size, subset.size
        self.direct = np.array_equal(sample_idx, subset)
        # each sample's column in the block read (absent samples: column 0, overwritten)
        self.columns = np.zeros(sample_idx.size, dtype=np.int64)
        self.columns[self.in_file] = np.searchsorted(subset, sample_idx[self.in_file])
        self.file_block = None if self.direct else np.empty(width * subset.size)
        self.reader = None
        if subset.size:
            import pgenlib

            self.reader = pgenlib.PgenReader(
                bytes(Path(f"{prefix}.pgen")), raw_sample_ct=n_file,
                sample_subset=None if subset.size == n_file else subset)

    def __enter__(self) -> "_BlockReader":
        return self

    def __exit__(self, *exc) -> None:
        if self.reader is not None:
            self.reader.close()

    def read(self, variants: np.ndarray, out: np.ndarray) -> np.ndarray:
        """float64 (len(variants), k) dosages (:data:`PGEN_MISSING` missing) of the 0-based
        ``variants`` (uint32, increasing), a view of the C-contiguous float64 buffer ``out``."""
        G = buffer_view(out, (variants.size, self.k))
        if self.direct:
            self._read_into(variants, G)
            return G
        block = buffer_view(self.file_block, (variants.size, self.n_read))
        self._read_into(variants, block)
        if self.n_read:  # gathered without a temporary block
            np.take(block, self.columns, axis=1, out=G, mode="clip")
        G[:, ~self.in_file] = PGEN_MISSING
        return G

    def _read_into(self, variants: np.ndarray, out: np.ndarray) -> None:
        """pgenlib's dosages of ``variants`` into ``out`` float64 (len(variants), n_read):
        one call, a range when the variants are consecutive."""
        if variants.size == 0 or self.reader is None:
            return
        first, last = int(variants[0]), int(variants[-1])
        if last - first + 1 == variants.size:
            self.reader.read_dosages_range(first, last + 1, out)
        else:
            self.reader.read_dosages_list(np.ascontiguousarray(variants, dtype=np.uint32), out)


class GroupSums:
    """ALT dosage sums and samples with a dosage per group of ``inside`` bool (n_groups, k),
    per block of G float64 (b, k) (:meth:`__call__`).

    Rows without a missing value are one product G · M, computed as (Mᵀ Gᵀ)ᵀ (exact: PLINK 2
    dosages are multiples of 1/16384, so the float64 sums do not depend on the order of the
    additions). M has a column per group, except that a group whose samples are exactly the
    others of an earlier group (a disease's controls, beside its cases, when the disease has
    every sample) has none: its sum is the row total (one column of ones) minus that group's,
    exact as well.
    """

    def __init__(self, inside: np.ndarray):
        self.inside = inside
        self.sizes = inside.sum(axis=1).astype(np.int64)
        complement = {}
        columns, self.source, self.minus = [], [], []
        for j, mask in enumerate(inside):
            partner = complement.get(mask.tobytes())
            if partner is None:
                complement.setdefault((~mask).tobytes(), j)
                self.source.append(len(columns))
                columns.append(mask)
                self.minus.append(-1)
            else:
                self.source.append(-1)
                self.minus.append(partner)
        derived = any(m >= 0 for m in self.minus)
        self.total_column = len(columns) if derived else -1
        if derived:
            columns.append(np.ones(inside.shape[1], dtype=bool))
        self.member_t = np.asarray(columns, dtype=np.float64).reshape(-1, inside.shape[1])

    def __call__(self, G: np.ndarray, n_missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(alt float64, called int64), each (b, n_groups), of G float64 (b, k) before mean
        imputation (missing values as :func:`~cohortgen.kernels.dosage.missing_counts`
        counts them, ``n_missing`` its result); rows with a missing value as
        :func:`group_dosage_sums`."""
        product = (self.member_t @ G.T).T  # BLAS runs this layout ~1.5x faster than G @ M
        alt = np.empty((G.shape[0], len(self.source)))
        for j, (column, partner) in enumerate(zip(self.source, self.minus, strict=True)):
            alt[:, j] = (product[:, column] if column >= 0
                         else product[:, self.total_column] - product[:, self.source[partner]])
        called = np.tile(self.sizes, (G.shape[0], 1))
        gaps = np.flatnonzero(n_missing)
        if gaps.size:
            dosage = G[gaps]
            dosage[~(dosage >= 0.0)] = np.nan
            alt[gaps], called[gaps] = group_dosage_sums(dosage, self.inside)
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
    pvar = read_pvar_table(Path(f"{prefix}.pvar"))
    info = pvar["INFO"] if "INFO" in pvar.columns else pd.Series(".", index=pvar.index)
    table = pd.DataFrame({"chrom": pvar["CHROM"].to_numpy(), "id": pvar["ID"].to_numpy(),
                          "pos": pvar["POS"].astype(np.int64).to_numpy(),
                          "a1": pvar["ALT"].to_numpy(), "a2": pvar["REF"].to_numpy()})
    r2 = info.str.extract(r"(?:^|;)R2=([^;]*)", expand=False).replace("", "nan").fillna("nan")
    table[IMPUTED_COLUMNS[0]] = np.minimum(r2.astype(np.float64).to_numpy(), 1.0)
    table[IMPUTED_COLUMNS[1]] = info.str.contains(r"(?:^|;)TYPED(?:=|;|$)").to_numpy(np.int64)
    return table
