"""Centred dosages of selected samples, for scoring held-out or validation samples.

``packed`` is uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(:mod:`cohortgen.kernels.bed`); dosage = ALT count. Only the chosen rows and samples are
decoded, so scoring a fifth of the samples costs a fifth of a full decode.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import BYTE_DOSAGE, checked_packed, checked_sample_idx


def centred_dosages(packed: np.ndarray, n_samples: int, rows: np.ndarray,
                    sample_idx: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """float64 (r, k): dosage − fill[row] of the rows ``rows`` (int64 (r,)) and samples
    ``sample_idx`` (int64 (k,)); a missing call gives 0 (imputed to ``fill``, float64 (m,))."""
    packed = checked_packed(packed, n_samples)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    sample_idx = checked_sample_idx(sample_idx, n_samples)
    out = np.empty((rows.size, sample_idx.size))
    _centred_into(packed, rows, sample_idx, np.ascontiguousarray(fill, dtype=np.float64),
                  BYTE_DOSAGE, out)
    return out


@parallel_kernel
def _centred_into(packed, rows, sample_idx, fill, byte_dosage, out):
    """Fill ``out`` (float64, (r, k)) row by row (rows in parallel)."""
    for r in prange(rows.shape[0]):
        row = packed[rows[r]]
        centre = fill[rows[r]]
        for k in range(sample_idx.shape[0]):
            j = sample_idx[k]
            d = byte_dosage[row[j >> 2], j & 3]
            out[r, k] = d - centre if d >= 0 else 0.0


def naive_centred_dosages(dosage: np.ndarray, rows, sample_idx, fill) -> np.ndarray:
    """Clarity twin (tests only) on int8 dosages (m, n), -1 = missing."""
    x = dosage[np.ix_(rows, sample_idx)].astype(np.float64)
    return np.where(x >= 0, x - np.asarray(fill)[rows, None], 0.0)
