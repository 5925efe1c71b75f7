"""Chosen variant rows of several .bed filesets, read from disk a block at a time.

A :class:`BedRows` stands in for the stacked packed genotypes (uint8 (m, ceil(n_samples / 4)),
PLINK .bed 2-bit codes) where holding them all would not fit: indexing it with a slice or
int64 rows reads just those rows from the .bed files, and returns an ordinary C-contiguous uint8
array, byte for byte the rows a full read would hold. Each run of rows that lie one after the
other in one file is one read straight into the returned array (no memory map: the pages read
stay in the page cache, not in the process, and no page fault per 4 kB page), so a pass over
the selection costs about one copy of it. Memory: the rows asked for, never the whole
selection.
"""

from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
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
        chunks, rows = self._chunks[index], self._rows[index]
        # runs: consecutive output rows that are consecutive rows of one file
        breaks = np.flatnonzero((np.diff(chunks) != 0) | (np.diff(rows) != 1)) + 1
        starts = np.r_[0, breaks] if index.size else breaks
        ends = np.r_[breaks, index.size] if index.size else breaks
        for chunk in np.unique(chunks):
            in_chunk = chunks[starts] == chunk
            with open(self._beds[chunk], "rb", buffering=0) as bed:
                for start, end in zip(starts[in_chunk], ends[in_chunk], strict=True):
                    _read_exactly(bed, 3 + int(rows[start]) * self.shape[1], out[start:end])
        return out


def _read_exactly(bed, offset: int, out: np.ndarray) -> None:
    """Fill ``out`` (uint8, C-contiguous) with the bytes of the open file ``bed`` from
    ``offset`` (a read may return fewer bytes than asked: read on until full)."""
    view = memoryview(out).cast("B")
    bed.seek(offset)
    done = 0
    while done < view.nbytes:
        got = bed.readinto(view[done:])
        if not got:
            raise InputError(f"{bed.name}: ends {view.nbytes - done} bytes early: the file "
                             "changed while the job ran; rerun the job")
        done += got
