"""Imputed dosages for the in-cohort scores: the selected variants of the QC'd dosage chunks
(``cohortgen ingest-dosages`` output, ``imputed/<chunk>/dosages.{pgen,pvar,psam}``), read from
disk block by block through :class:`cohortgen.assoc.genotypes.PgenDosages`, in the cohort's
sample order.

Nothing but the block being used is held: a read is float64 (b, k), ALT dosages on the 0..2
scale exactly as the .pgen stores them (PLINK 2's 1/16384 steps), of the k samples asked for,
NaN where a dosage is missing or the sample is not in the chunk's .psam (a sample removed by QC,
never read by the folds, or a kept sample absent from the imputed files, which is mean-imputed
as a missing dosage). Clumping, whose LD kernel works on 2-bit codes, gets the dosages rounded
to the nearest hard call (:meth:`ChunkedDosages.hard_calls`), read a block of rows at a time
as the array path reads its .bed rows (:class:`HardCallRows`): never all m × n / 4 bytes.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.assoc.genotypes import PgenDosages
from cohortgen.io.pgen import read_psam_ids
from cohortgen.kernels.bed import MISSING, pack_dosages

BLOCK = 1024
"""Variants read at a time by :class:`HardCallRows` (float64 block × n; with a gather of the
samples, three such blocks)."""


class ChunkedDosages:
    """The rows of ``variants`` (columns chunk: index into ``prefixes``, row: index in that
    chunk's .pgen; grouped by chunk in ``prefixes`` order) of the dosage chunks ``prefixes``,
    for the samples ``sample_ids`` (in that order)."""

    def __init__(self, prefixes: list[Path], variants: pd.DataFrame, sample_ids: list[str]):
        chunk = variants["chunk"].to_numpy(np.int64)
        row = variants["row"].to_numpy(np.int64)
        if np.any(np.diff(chunk) < 0):
            raise ValueError("variants must be grouped by chunk in prefix order")
        self.n_samples = len(sample_ids)
        self.starts = np.searchsorted(chunk, np.arange(len(prefixes) + 1))
        self.readers, self.columns = [], []
        for c, prefix in enumerate(prefixes):
            file_ids = read_psam_ids(Path(f"{prefix}.psam"))
            in_file = set(file_ids)
            absent = [s for s in sample_ids if s not in in_file]
            selected = np.zeros(int(row[self.starts[c]:self.starts[c + 1]].max(initial=-1)) + 1,
                                dtype=bool)
            selected[row[self.starts[c]:self.starts[c + 1]]] = True
            reader = PgenDosages(Path(prefix), selected.size, absent).subset(selected)
            self.readers.append(reader)
            position = {s: i for i, s in enumerate(reader.samples)}
            self.columns.append(np.array([position[s] for s in sample_ids], dtype=np.int64))

    def __len__(self) -> int:
        return int(self.starts[-1])

    def read(self, rows: np.ndarray, sample_idx: np.ndarray | None = None) -> np.ndarray:
        """float64 (len(rows), k) ALT dosages (NaN missing) of the ascending variant indices
        ``rows`` (int, into ``variants``) and the samples ``sample_idx`` (int64 (k,), indices
        into ``sample_ids``; default all): each chunk's reader reads only those samples."""
        rows = np.asarray(rows, dtype=np.int64)
        sample_idx = (np.arange(self.n_samples) if sample_idx is None
                      else np.asarray(sample_idx, dtype=np.int64))
        bounds = np.searchsorted(rows, self.starts)
        parts = [reader.read(rows[bounds[c]:bounds[c + 1]] - self.starts[c],
                             self.columns[c][sample_idx])
                 for c, reader in enumerate(self.readers) if bounds[c] < bounds[c + 1]]
        if len(parts) == 1:  # the usual case: the rows lie in one chunk, no copy
            return parts[0]
        return np.concatenate(parts) if parts else np.empty((0, sample_idx.size))

    def hard_calls(self) -> "HardCallRows":
        """Every variant's dosages rounded to the nearest hard call (missing stays missing), as
        .bed rows read on demand (:class:`HardCallRows`)."""
        return HardCallRows(self)


class HardCallRows:
    """The dosages of ``dosages`` (:class:`ChunkedDosages`) rounded to the nearest hard call
    (missing stays missing) as packed .bed rows, read when asked for: the row-source interface
    of :class:`cohortgen.io.bed_rows.BedRows`. ``shape`` is (m, ceil(n_samples / 4));
    ``self[key]`` (a slice, or int rows in any order) is uint8 (r, ceil(n_samples / 4)),
    C-contiguous, PLINK 2-bit codes. Memory: the rows asked for, and the float64 dosages of
    :data:`BLOCK` of them while they are packed.
    """

    def __init__(self, dosages: ChunkedDosages):
        self._dosages = dosages
        self.shape = (len(dosages), (dosages.n_samples + 3) // 4)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            index = np.arange(*key.indices(self.shape[0]))
        else:
            index = np.asarray(key, dtype=np.int64).reshape(-1)
        rows, inverse = np.unique(index, return_inverse=True)  # ascending, as read() wants
        packed = np.empty((rows.size, self.shape[1]), dtype=np.uint8)
        for start in range(0, rows.size, BLOCK):
            dosage = self._dosages.read(rows[start:start + BLOCK])
            np.rint(dosage, out=dosage)
            dosage[np.isnan(dosage)] = MISSING
            packed[start:start + BLOCK] = pack_dosages(dosage.astype(np.int8))
        return packed if np.array_equal(rows, index) else packed[inverse.reshape(-1)]
