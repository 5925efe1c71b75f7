"""Chosen variant rows of several .bed filesets, read from disk a block at a time.

A :class:`BedRows` stands in for the stacked packed genotypes (uint8 (m, ceil(n_samples / 4)),
PLINK .bed 2-bit codes) where holding them all would not fit: indexing it with a slice or
int64 rows reads just those rows from the .bed files (a read-only memory map opened for the read
and closed after it, so the pages read do not stay in the process), and returns an ordinary
C-contiguous uint8 array, byte for byte the rows a full read would hold. Memory: the rows
asked for, never the whole selection.
"""

from pathlib import Path

import numpy as np

from cohortgen.io.bed import fileset_paths, read_bed


class BedRows:
    """Rows ``rows[i]`` of the fileset ``prefixes[chunks[i]]``, i = 0..m-1, as one packed array.

    prefixes: .bed fileset prefixes, all of the same samples; chunks, rows: int64 (m,) the
    fileset and the row within it of each selected variant. Every fileset is checked once here
    (magic bytes and size, :func:`cohortgen.io.bed.read_bed`: InputError naming the file).
    ``shape`` is that of the stacked array; ``self[key]`` (a slice or int rows)
    is ``stacked[key]`` read from disk.
    """

    def __init__(self, prefixes: list[Path], chunks: np.ndarray, rows: np.ndarray):
        self._beds, self._shapes = [], []
        for prefix in prefixes:
            packed = read_bed(Path(prefix))[0]
            self._beds.append(fileset_paths(Path(prefix))["bed"])
            self._shapes.append(packed.shape)
            del packed
        width = self._shapes[0][1] if prefixes else 0
        self._chunks = np.asarray(chunks, dtype=np.int64)
        self._rows = np.asarray(rows, dtype=np.int64)
        self.shape = (self._rows.size, width)

    def __getitem__(self, key) -> np.ndarray:
        """uint8 (r, width): the rows ``key`` (a slice, or int rows in any order) of the
        selection."""
        if isinstance(key, slice):
            index = np.arange(*key.indices(self.shape[0]))
        else:
            index = np.asarray(key, dtype=np.int64).reshape(-1)
        out = np.empty((index.size, self.shape[1]), dtype=np.uint8)
        chunks = self._chunks[index]
        for chunk in np.unique(chunks):
            at = np.flatnonzero(chunks == chunk)
            body = np.memmap(self._beds[chunk], dtype=np.uint8, mode="r", offset=3,
                             shape=self._shapes[chunk])
            out[at] = body[self._rows[index[at]]]
            del body  # unmapped: the pages read leave the process
        return out
