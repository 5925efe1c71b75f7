"""Polygenic scoring kernel: several scores in one pass over PLINK .bed 2-bit genotypes.

Per variant v and score k the contribution of a sample with A1 (ALT) dosage d is
``offset[v, k] + slope[v, k] * d``: for an effect allele that is ALT, slope = w and offset = 0;
for an effect allele that is REF (dosage 2 − d), slope = −w and offset = 2w; a variant absent
from score k has slope = offset = 0. A missing call takes ``d = alt_mean[v]`` (mean imputation,
as ``plink2 --score`` does by default, with the mean over the scored samples).
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import checked_packed

SAMPLE_BLOCK_BYTES = 64
"""Bytes (4 samples each) per parallel task: the (256 × k) float64 sums stay in L1 cache."""


def score_coefficients(weights: np.ndarray, effect_is_alt: np.ndarray) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    """(slope, offset), float64 (m, k), from weights (m, k) and effect_is_alt (m, k) bool."""
    weights = np.asarray(weights, dtype=np.float64)
    alt = np.asarray(effect_is_alt, dtype=bool)
    slope = np.where(alt, weights, -weights)
    offset = np.where(alt, 0.0, 2.0 * weights)
    return np.ascontiguousarray(slope), np.ascontiguousarray(offset)


def score_sums(packed: np.ndarray, n_samples: int, slope: np.ndarray, offset: np.ndarray,
               alt_mean: np.ndarray) -> np.ndarray:
    """Score sums of every sample.

    packed: uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    slope, offset: float64, shape (m, k) (see :func:`score_coefficients`).
    alt_mean: float64, shape (m,), ALT dosage given to missing calls (finite).
    Returns float64, shape (n_samples, k): Σ_v offset[v, k] + slope[v, k] · dosage. Each sample
    sums its variants in order, so results do not depend on the thread count.
    """
    packed = checked_packed(packed, n_samples)
    slope = np.ascontiguousarray(slope, dtype=np.float64)
    offset = np.ascontiguousarray(offset, dtype=np.float64)
    alt_mean = np.ascontiguousarray(alt_mean, dtype=np.float64)
    m = packed.shape[0]
    if slope.shape != offset.shape or slope.ndim != 2 or slope.shape[0] != m:
        raise ValueError(f"slope/offset must have shape ({m}, k), got {slope.shape}, "
                         f"{offset.shape}")
    if alt_mean.shape != (m,) or not np.all(np.isfinite(alt_mean)):
        raise ValueError(f"alt_mean must be finite with shape ({m},)")
    out = np.zeros((4 * packed.shape[1], slope.shape[1]), dtype=np.float64)
    _score_into(packed, slope, offset, alt_mean, out)
    return out[:n_samples]


@parallel_kernel
def _score_into(packed, slope, offset, alt_mean, out):
    """Add each variant's per-code contributions to ``out`` (float64, (4 * n_bytes, k))."""
    m, nb = packed.shape
    k = slope.shape[1]
    n_blocks = (nb + SAMPLE_BLOCK_BYTES - 1) // SAMPLE_BLOCK_BYTES
    for blk in prange(n_blocks):
        b0 = blk * SAMPLE_BLOCK_BYTES
        b1 = min(nb, b0 + SAMPLE_BLOCK_BYTES)
        lut = np.empty((4, k), dtype=np.float64)
        for v in range(m):
            for c in range(k):
                s = slope[v, c]
                o = offset[v, c]
                lut[0, c] = o + 2.0 * s
                lut[1, c] = o + s * alt_mean[v]
                lut[2, c] = o + s
                lut[3, c] = o
            for b in range(b0, b1):
                byte = packed[v, b]
                j = 4 * b
                for q in range(4):
                    code = (byte >> (2 * q)) & 3
                    for c in range(k):
                        out[j + q, c] += lut[code, c]
