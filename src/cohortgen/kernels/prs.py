"""Polygenic scoring kernels: several scores in one pass over PLINK .bed 2-bit genotypes or
over dosages (:func:`dosage_score_sums`).

Each (variant v, score k) has four contributions, one per .bed code (0: two A1 = ALT alleles,
1: missing, 2: het, 3: no A1), built by :func:`code_values` from the weight w, whether the
effect allele is ALT, the effect type and the imputation mean, as ``plink2 --score`` (2.00a3.5)
counts them. With e the effect-allele dosage (ALT dosage d, or 2 − d when the effect allele is
REF) the contribution is w·e (``additive``), w·min(e, 1) (``dominant``) or w·max(e − 1, 0)
(``recessive``). A missing call takes the mean effect dosage ē over the scored samples
(additive: w·ē) or, for dominant and recessive weights, the effect-allele frequency ē / 2
(w·ē/2, untransformed: what ``plink2 --score dominant|recessive`` gives a missing call). A
variant absent from score k contributes 0 for every code.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import checked_packed

SAMPLE_BLOCK_BYTES = 64
"""Bytes (4 samples each) per parallel task: the (256 × k) float64 sums stay in L1 cache."""

ADDITIVE, DOMINANT, RECESSIVE = 0, 1, 2
"""Effect type codes of :func:`code_values`."""
EFFECT_TYPES = {"additive": ADDITIVE, "dominant": DOMINANT, "recessive": RECESSIVE}

_ALT_DOSAGE = np.array([2.0, np.nan, 1.0, 0.0])
"""ALT (A1) dosage of each .bed code; code 1 is a missing call."""


def code_values(weights: np.ndarray, effect_is_alt: np.ndarray, effect_type: np.ndarray,
                alt_mean: np.ndarray) -> np.ndarray:
    """Contribution of each .bed code, float64 (m, 4, k) (see the module docstring).

    weights: float64 (m, k), 0 where the variant is not in the score; effect_is_alt: bool
    (m, k); effect_type: int (m, k) of :data:`EFFECT_TYPES`; alt_mean: float64 (m,), mean ALT
    dosage given to missing calls (finite).
    """
    weights = np.asarray(weights, dtype=np.float64)
    alt = np.asarray(effect_is_alt, dtype=bool)[:, None, :]
    kind = np.asarray(effect_type)[:, None, :]
    alt_mean = np.asarray(alt_mean, dtype=np.float64)
    if alt_mean.shape != (weights.shape[0],) or not np.all(np.isfinite(alt_mean)):
        raise ValueError(f"alt_mean must be finite with shape ({weights.shape[0]},)")
    d = np.where(np.isnan(_ALT_DOSAGE)[None, :], alt_mean[:, None], _ALT_DOSAGE[None, :])
    effect = np.where(alt, d[:, :, None], 2.0 - d[:, :, None])
    transformed = np.select([kind == DOMINANT, kind == RECESSIVE],
                            [np.minimum(effect, 1.0), np.maximum(effect - 1.0, 0.0)], effect)
    missing = np.where(kind == ADDITIVE, effect, 0.5 * effect)[:, 1, :]
    transformed[:, 1, :] = missing
    return np.ascontiguousarray(weights[:, None, :] * transformed)


def score_sums(packed: np.ndarray, n_samples: int, values: np.ndarray) -> np.ndarray:
    """Score sums of every sample.

    packed: uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    values: float64, shape (m, 4, k), contribution of each code (:func:`code_values`).
    Returns float64, shape (n_samples, k): Σ_v values[v, code(v, sample), k]. Each sample
    sums its variants in order, so results do not depend on the thread count.
    """
    packed = checked_packed(packed, n_samples)
    values = np.ascontiguousarray(values, dtype=np.float64)
    m = packed.shape[0]
    if values.ndim != 3 or values.shape[:2] != (m, 4):
        raise ValueError(f"values must have shape ({m}, 4, k), got {values.shape}")
    out = np.zeros((4 * packed.shape[1], values.shape[2]), dtype=np.float64)
    _score_into(packed, values, out)
    return out[:n_samples]


@parallel_kernel
def _score_into(packed, values, out):
    """Add each variant's per-code contributions to ``out`` (float64, (4 * n_bytes, k))."""
    m, nb = packed.shape
    k = values.shape[2]
    n_blocks = (nb + SAMPLE_BLOCK_BYTES - 1) // SAMPLE_BLOCK_BYTES
    for blk in prange(n_blocks):
        b0 = blk * SAMPLE_BLOCK_BYTES
        b1 = min(nb, b0 + SAMPLE_BLOCK_BYTES)
        for v in range(m):
            lut = values[v]
            for b in range(b0, b1):
                byte = packed[v, b]
                j = 4 * b
                for q in range(4):
                    code = (byte >> (2 * q)) & 3
                    for c in range(k):
                        out[j + q, c] += lut[code, c]


def dosage_score_sums(dosage: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Score sums of every sample from ALT dosages, as ``plink2 --score`` on a .pgen.

    dosage: float32, shape (m, n), ALT dosage 0..2, NaN missing.
    values: float64, shape (m, 4, k), :func:`code_values`: the contributions at ALT dosage 2
    (code 0), missing (code 1), 1 (code 2) and 0 (code 3). Every effect type is linear in d on
    [0, 1] and on [1, 2] (additive, dominant and recessive of either allele), so a dosage d
    contributes values[3] + (values[2] − values[3])·min(d, 1) + (values[0] − values[2])·max(d −
    1, 0): exactly the hard-call value at d = 0, 1, 2.
    Returns float64, shape (n, k); each sample sums its variants in order.
    """
    dosage = np.ascontiguousarray(dosage, dtype=np.float32)
    values = np.ascontiguousarray(values, dtype=np.float64)
    if dosage.ndim != 2 or values.ndim != 3 or values.shape[:2] != (dosage.shape[0], 4):
        raise ValueError(f"values must have shape ({dosage.shape[0]}, 4, k), got {values.shape}")
    out = np.zeros((dosage.shape[1], values.shape[2]), dtype=np.float64)
    _dosage_score_into(dosage, values, out)
    return out


@parallel_kernel
def _dosage_score_into(dosage, values, out):
    """Add each variant's contribution at each sample's dosage to ``out`` (float64, (n, k))."""
    m, n = dosage.shape
    k = values.shape[2]
    n_blocks = (n + 4 * SAMPLE_BLOCK_BYTES - 1) // (4 * SAMPLE_BLOCK_BYTES)
    for blk in prange(n_blocks):
        j0 = blk * 4 * SAMPLE_BLOCK_BYTES
        j1 = min(n, j0 + 4 * SAMPLE_BLOCK_BYTES)
        for v in range(m):
            lut = values[v]
            for j in range(j0, j1):
                d = np.float64(dosage[v, j])
                if np.isnan(d):
                    for c in range(k):
                        out[j, c] += lut[1, c]
                    continue
                low = min(d, 1.0)
                high = max(d - 1.0, 0.0)
                for c in range(k):
                    out[j, c] += (lut[3, c] + (lut[2, c] - lut[3, c]) * low
                                  + (lut[0, c] - lut[2, c]) * high)
