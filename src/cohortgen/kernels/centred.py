"""Centred dosages of selected samples, for scoring held-out or validation samples.

``packed`` is uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(:mod:`cohortgen.kernels.bed`); dosage = ALT count. Only the chosen rows and samples are
decoded, so scoring a fifth of the samples costs a fifth of a full decode.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import (
    CODE_DOSAGE_F64,
    buffer_view,
    checked_packed,
    checked_sample_idx,
)


def centred_dosages(packed: np.ndarray, n_samples: int, rows: np.ndarray,
                    sample_idx: np.ndarray, fill: np.ndarray,
                    out: np.ndarray | None = None) -> np.ndarray:
    """float64 (r, k): dosage − fill[row] of the rows ``rows`` (int64 (r,)) and samples
    ``sample_idx`` (int64 (k,)); a missing call gives 0 (imputed to ``fill``, float64 (m,)).

    out: optional C-contiguous float64 buffer of at least r · k elements, reused across calls
    (a fresh array per call costs more in page faults than the decode itself); the result is
    then a view of it.
    """
    packed = checked_packed(packed, n_samples)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    sample_idx = checked_sample_idx(sample_idx, n_samples)
    result = buffer_view(out, (rows.size, sample_idx.size))
    _centred_into(packed, rows, sample_idx, np.ascontiguousarray(fill, dtype=np.float64),
                  CODE_DOSAGE_F64, result)
    return result


@parallel_kernel(error_model="numpy")
def _centred_into(packed, rows, sample_idx, fill, code_dosage, out):
    """Fill ``out`` (float64, (r, k)) row by row (rows in parallel).

    code_dosage: float64 (4,), dosage of each 2-bit code (missing negative). Each row first
    maps its four codes to centred values (missing → 0.0), then every sample is one shift,
    mask and lookup (unsigned indices: no wrap-around checks).
    """
    two = np.uint64(2)
    three = np.uint64(3)
    for r in prange(rows.shape[0]):
        row = packed[rows[r]]
        centred = np.empty(4)
        for code in range(4):
            d = code_dosage[code]
            centred[code] = d - fill[rows[r]] if d >= 0.0 else 0.0
        out_row = out[r]
        for k in range(sample_idx.shape[0]):
            j = np.uint64(sample_idx[k])
            out_row[k] = centred[(np.uint64(row[j >> two]) >> ((j & three) << np.uint64(1)))
                                 & three]
