"""Column scores for C+T grids: each variant adds its centred, weighted dosage to a few columns.

``packed`` is uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(:mod:`cohortgen.kernels.bed`); dosage = ALT count. For clumping + thresholding the scores at
nested p-value thresholds are cumulative sums over threshold bins: a variant lands in the bin of
the smallest threshold it passes, so one pass adds it to one column per clumping r² (its bin's)
instead of to every threshold column at or above it.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import CODE_DOSAGE, checked_packed, checked_sample_idx

SAMPLE_BLOCK = 256
"""Samples per parallel task: their (n_columns × 256) float64 sums stay in L2 cache."""


def column_scores(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray, rows: np.ndarray,
                  weights: np.ndarray, fill: np.ndarray, columns: np.ndarray,
                  n_columns: int, out: np.ndarray | None = None) -> np.ndarray:
    """out[i, columns[r, c]] += weights[r] · (dosage − fill) of sample ``sample_idx[i]`` at
    variant ``rows[r]``, for every slot c with columns[r, c] ≥ 0.

    sample_idx: int64 (k,); rows: int64 (r,) variant rows; weights: float64 (r,); fill: float64
    (m,) dosage a missing call takes (so it adds 0); columns: int64 (r, c), −1 = unused slot.
    Returns float64 (k, n_columns). Each column sums its variants in ``rows`` order, so results
    do not depend on the thread count. out: float64 C-contiguous (n_columns, k) that the sums
    are added to (returned transposed); calls over consecutive parts of the rows thus give,
    bit for bit, the sums of one call over all of them.
    """
    packed = checked_packed(packed, n_samples)
    sample_idx = checked_sample_idx(sample_idx, n_samples)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    columns = np.ascontiguousarray(columns, dtype=np.int64)
    if columns.ndim != 2 or columns.shape[0] != rows.size:
        raise ValueError(f"columns must have shape ({rows.size}, c), got {columns.shape}")
    if rows.size and (rows.min() < 0 or rows.max() >= packed.shape[0]):
        raise ValueError(f"rows must lie in [0, {packed.shape[0]})")
    if columns.size and columns.max() >= n_columns:
        raise ValueError(f"columns must be < n_columns = {n_columns}")
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    fill = np.ascontiguousarray(fill, dtype=np.float64)
    if weights.shape != rows.shape or fill.shape != (packed.shape[0],):
        raise ValueError(f"weights must have shape ({rows.size},) and fill "
                         f"({packed.shape[0]},), got {weights.shape} and {fill.shape}")
    if out is None:
        out = np.zeros((n_columns, sample_idx.size))
    elif out.shape != (n_columns, sample_idx.size) or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous ({n_columns}, {sample_idx.size}), "
                         f"got {out.shape}")
    _column_scores_into(packed, sample_idx, rows, weights, fill, columns,
                        CODE_DOSAGE.astype(np.float64), out)
    return out.T


@parallel_kernel
def _column_scores_into(packed, sample_idx, rows, weights, fill, columns, code_dosage, out):
    """Add into ``out`` (float64, (n_columns, k)), sample blocks in parallel."""
    k = sample_idx.shape[0]
    for blk in prange((k + SAMPLE_BLOCK - 1) // SAMPLE_BLOCK):
        s0 = blk * SAMPLE_BLOCK
        size = min(k, s0 + SAMPLE_BLOCK) - s0
        byte = np.empty(size, dtype=np.int64)
        shift = np.empty(size, dtype=np.uint8)
        for i in range(size):
            byte[i] = sample_idx[s0 + i] >> 2
            shift[i] = 2 * (sample_idx[s0 + i] & 3)
        lut = np.empty(4)
        value = np.empty(size)
        for r in range(rows.shape[0]):
            row = packed[rows[r]]
            w = weights[r]
            f = fill[rows[r]]
            for code in range(4):
                d = code_dosage[code]
                lut[code] = w * (d - f) if d >= 0.0 else 0.0
            for i in range(size):
                value[i] = lut[(row[byte[i]] >> shift[i]) & 3]
            for c in range(columns.shape[1]):
                col = columns[r, c]
                if col >= 0:
                    target = out[col, s0:s0 + size]
                    for i in range(size):
                        target[i] += value[i]
