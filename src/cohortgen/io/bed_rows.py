"""Chosen variant rows of several .bed filesets, read from disk a block at a time.

A :class:`BedRows` stands in for the stacked packed genotypes (uint8 (m, ceil(n_samples / 4)),
PLINK .bed 2-bit codes) where holding them all would not fit: indexing it with a slice or
int64 rows reads just those rows from the .bed files, and returns an ordinary C-contiguous,
writable uint8 array, byte for byte the rows a full read would hold. Each run of rows that lie
one after the other in one file is one ``pread`` straight into the returned array (no memory
map: the pages read stay in the page cache, not in the process's resident memory, which the
touched pages of a map would grow by the whole .bed, 2.4 GiB at 21,000 samples × 500,000
variants; and no page fault per 4 kB page), so a pass over the selection costs about one copy
of it. Memory: the rows asked for, never the whole selection (plus 16 bytes per selected
variant: its fileset and row). Whole-genome regression step 1 reads every row of one fileset
this way; the in-cohort PRS folds and clumping read chosen rows of the chunk filesets.
"""

import os
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.bed import BED_MAGIC, fileset_paths, fileset_shape
from cohortgen.kernels.bed import n_bytes


class BedRows:
    """Rows ``rows[i]`` of the fileset ``prefixes[chunks[i]]``, i = 0..m-1, as one packed array.

    prefixes: .bed fileset prefixes, all of the same ``n_samples`` samples; chunks, rows: int64
    (m,) the fileset and the row within it of each selected variant; without them, every row of
    every fileset, fileset after fileset. Every fileset is checked once here (magic bytes and
    size against the .bim and .fam line counts, :func:`cohortgen.io.bed.fileset_shape`:
    InputError naming the file; the tables are not parsed). ``shape`` is that of
    the stacked array; ``self[key]`` (a slice or int rows) is ``stacked[key]`` read from disk.
    Safe from several threads at once: each read opens its own descriptor and reads at an
    offset (no shared file position).
    """

    def __init__(self, prefixes: list[Path], chunks: np.ndarray | None = None,
                 rows: np.ndarray | None = None):
        self._beds, sizes, n_samples = [], [], []
        for prefix in prefixes:
            n_variants, samples = fileset_shape(Path(prefix))
            self._beds.append(fileset_paths(Path(prefix))["bed"])
            sizes.append(n_variants)
            n_samples.append(samples)
        if chunks is None:
            chunks = np.repeat(np.arange(len(sizes)), sizes)
            rows = np.concatenate([np.arange(size) for size in sizes]) if sizes else []
        self._chunks = np.asarray(chunks, dtype=np.int64)
        self._rows = np.asarray(rows, dtype=np.int64)
        self.shape = (self._rows.size, n_bytes(n_samples[0]) if prefixes else 0)
        self.n_samples = n_samples[0] if prefixes else 0

    def __getitem__(self, key) -> np.ndarray:
        """uint8 (r, width): the rows ``key`` (a slice, or int rows in any order) of the
        selection."""
        if isinstance(key, slice):
            index = np.arange(*key.indices(self.shape[0]))
        else:
            index = np.asarray(key, dtype=np.int64).reshape(-1)
        out = np.empty((index.size, self.shape[1]), dtype=np.uint8)
        chunks, rows = self._chunks[index], self._rows[index]
        # runs: consecutive output rows that are consecutive rows of one file
        breaks = np.flatnonzero((np.diff(chunks) != 0) | (np.diff(rows) != 1)) + 1
        starts = np.r_[0, breaks] if index.size else breaks
        ends = np.r_[breaks, index.size] if index.size else breaks
        for chunk in np.unique(chunks):
            in_chunk = chunks[starts] == chunk
            fd = os.open(self._beds[chunk], os.O_RDONLY)
            try:
                for start, end in zip(starts[in_chunk], ends[in_chunk], strict=True):
                    _pread_exactly(fd, self._beds[chunk],
                                   len(BED_MAGIC) + int(rows[start]) * self.shape[1],
                                   out[start:end])
            finally:
                os.close(fd)
        return out


def _pread_exactly(fd: int, path: Path, offset: int, out: np.ndarray) -> None:
    """Fill ``out`` (uint8, C-contiguous) with the bytes of the open file ``fd`` (``path``) from
    ``offset`` (a read may return fewer bytes than asked: read on until full)."""
    view = memoryview(out).cast("B")
    done = 0
    while done < view.nbytes:
        got = os.preadv(fd, [view[done:]], offset + done)
        if not got:
            raise InputError(f"{path}: ends {view.nbytes - done} bytes early: the file "
                             "changed while the job ran; rerun the job")
        done += got
