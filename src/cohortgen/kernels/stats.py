"""Per-variant and per-sample genotype counts computed straight from packed .bed bytes.

``packed`` is always uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(see :mod:`cohortgen.kernels.bed`: 0b00 hom A1 = ALT, 0b01 missing, 0b10 het, 0b11 hom A2 = REF).
Pad samples of the last byte are never counted. All counts are exact integers, so results do not
depend on the number of threads.
"""

import math

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.bed import checked_packed, n_bytes

COUNT_COLUMNS = ("n_hom_alt", "n_het", "n_hom_ref", "n_missing")
"""Columns of :func:`genotype_counts`: dosage 2, dosage 1, dosage 0, missing."""

CODE_MISSING = 1
CODE_HET = 2
CODE_COLUMN = np.array([0, 3, 1, 2], dtype=np.int64)
"""Column of :data:`COUNT_COLUMNS` for each 2-bit code."""

_SAMPLE_BLOCK_BYTES = 256
"""Bytes (4 samples each) per parallel task in the per-sample counts."""


def _byte_count_table() -> np.ndarray:
    """int64, shape (256, 4): counts per :data:`COUNT_COLUMNS` of the 4 codes in each byte."""
    table = np.zeros((256, 4), dtype=np.int64)
    for value in range(256):
        for k in range(4):
            table[value, CODE_COLUMN[(value >> (2 * k)) & 3]] += 1
    return table


BYTE_COUNTS = _byte_count_table()


def genotype_counts(packed: np.ndarray, n_samples: int, sample_mask: np.ndarray) -> np.ndarray:
    """Genotype counts per variant over the samples where ``sample_mask`` is True.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    sample_mask: bool, shape (n_samples,).
    Returns int64, shape (n_variants, 4), columns :data:`COUNT_COLUMNS`
    (n_hom_alt, n_het, n_hom_ref, n_missing).
    """
    packed = checked_packed(packed, n_samples)
    byte_mask = _byte_masks(_checked_mask(sample_mask, n_samples, "sample_mask"))
    out = np.zeros((packed.shape[0], 4), dtype=np.int64)
    _genotype_counts_into(packed, byte_mask, BYTE_COUNTS, CODE_COLUMN, out)
    return out


def sample_missing_counts(
    packed: np.ndarray, n_samples: int, variant_mask: np.ndarray
) -> np.ndarray:
    """Missing calls per sample over the variants where ``variant_mask`` is True.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)); variant_mask: bool, (n_variants,).
    Returns int64, shape (n_samples,).
    """
    return _sample_code_counts(packed, n_samples, variant_mask, CODE_MISSING)


def sample_het_counts(packed: np.ndarray, n_samples: int, variant_mask: np.ndarray) -> np.ndarray:
    """Heterozygous calls per sample over the variants where ``variant_mask`` is True.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)); variant_mask: bool, (n_variants,).
    Returns int64, shape (n_samples,).
    """
    return _sample_code_counts(packed, n_samples, variant_mask, CODE_HET)


def _sample_code_counts(packed, n_samples, variant_mask, code):
    """int64, shape (n_samples,): calls equal to 2-bit ``code`` per sample, masked variants."""
    packed = checked_packed(packed, n_samples)
    variant_mask = _checked_mask(variant_mask, packed.shape[0], "variant_mask")
    variants = np.flatnonzero(variant_mask).astype(np.int64)
    out = np.zeros(4 * packed.shape[1], dtype=np.int64)
    _sample_code_counts_into(packed, variants, np.uint8(code), _SAMPLE_BLOCK_BYTES, out)
    return out[:n_samples]


def _checked_mask(mask: np.ndarray, size: int, name: str) -> np.ndarray:
    """``mask`` as a contiguous bool array, checked to have shape (size,)."""
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    if mask.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {mask.shape}")
    return mask


def _byte_masks(sample_mask: np.ndarray) -> np.ndarray:
    """uint8, shape (ceil(n / 4),): bit k set when sample 4*b + k is selected (pads never)."""
    n = sample_mask.size
    padded = np.zeros(4 * n_bytes(n), dtype=np.uint8)
    padded[:n] = sample_mask
    return (padded.reshape(-1, 4) << np.arange(4, dtype=np.uint8)).sum(axis=1).astype(np.uint8)


@parallel_kernel
def _genotype_counts_into(packed, byte_mask, byte_counts, code_column, out):
    """Fill ``out`` (int64, (m, 4)); whole selected bytes use the 256-entry count table."""
    n_variants, nb = packed.shape
    for v in prange(n_variants):
        for b in range(nb):
            bits = byte_mask[b]
            if bits == 0:
                continue
            value = packed[v, b]
            if bits == 15:
                for c in range(4):
                    out[v, c] += byte_counts[value, c]
            else:
                for k in range(4):
                    if (bits >> k) & 1:
                        out[v, code_column[(value >> (2 * k)) & 3]] += 1


@parallel_kernel
def _sample_code_counts_into(packed, variants, code, block, out):
    """Add to ``out`` (int64, (4 * nb,)) the calls equal to ``code``; parallel over byte blocks.

    Each task owns a disjoint block of samples, so no partial sums are shared between threads.
    """
    nb = packed.shape[1]
    n_blocks = (nb + block - 1) // block
    for t in prange(n_blocks):
        start = t * block
        stop = min(start + block, nb)
        for i in range(variants.size):
            row = packed[variants[i]]
            for b in range(start, stop):
                _add_code_hits(row[b], code, out, 4 * b)


@kernel
def _add_code_hits(value, code, out, offset):
    """Add 1 to ``out[offset + k]`` for each of the 4 codes of byte ``value`` equal to ``code``."""
    for k in range(4):
        if ((value >> (2 * k)) & 3) == code:
            out[offset + k] += 1


FISHER_TIE_TOLERANCE = 1e-7
"""Relative slack under which a table is as likely as the observed one (as SciPy)."""


def fisher_exact_2x2(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Two-sided Fisher exact p per 2x2 table ``[[a, b], [c, d]]`` (as plink1.9
    ``--test-missing`` and ``scipy.stats.fisher_exact``): the hypergeometric mass of the tables
    with the same margins that are at most as likely as the observed one.

    a, b, c, d: int64, shape (k,), non-negative cell counts. Returns float64, shape (k,), in
    (0, 1]; 1.0 for a table with an empty margin. Cost: O(min of the margins) per table.
    """
    cells = [np.ascontiguousarray(x, dtype=np.int64) for x in (a, b, c, d)]
    if any(x.shape != cells[0].shape or x.ndim != 1 for x in cells):
        raise ValueError("a, b, c, d must be 1-d arrays of one shape")
    if any((x < 0).any() for x in cells):
        raise ValueError("cell counts must be non-negative")
    out = np.empty(cells[0].shape, dtype=np.float64)
    _fisher_into(*cells, FISHER_TIE_TOLERANCE, out)
    return out


@kernel
def _log_hypergeom(x, row1, col1, total):
    """log P(X = x), X ~ hypergeometric (col1 successes, row1 draws, total population)."""
    return (math.lgamma(col1 + 1) - math.lgamma(x + 1) - math.lgamma(col1 - x + 1)
            + math.lgamma(total - col1 + 1) - math.lgamma(row1 - x + 1)
            - math.lgamma(total - col1 - row1 + x + 1)
            - math.lgamma(total + 1) + math.lgamma(row1 + 1) + math.lgamma(total - row1 + 1))


@parallel_kernel
def _fisher_into(a, b, c, d, tolerance, out):
    """Fill ``out`` with the two-sided p of each table (parallel over tables)."""
    for k in prange(a.shape[0]):
        row1 = a[k] + b[k]
        col1 = a[k] + c[k]
        total = row1 + c[k] + d[k]
        lo = max(0, row1 + col1 - total)
        hi = min(row1, col1)
        observed = _log_hypergeom(a[k], row1, col1, total)
        p = 0.0
        for x in range(lo, hi + 1):
            term = math.exp(_log_hypergeom(x, row1, col1, total) - observed)
            if term <= 1.0 + tolerance:
                p += term
        out[k] = min(1.0, p * math.exp(observed))
