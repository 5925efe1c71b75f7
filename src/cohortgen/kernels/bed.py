"""PLINK 1 .bed 2-bit genotype kernels: pack, unpack, mean-imputed decoding, group allele counts.

Encoding (PLINK 1 .bed, variant-major, 4 samples per byte, sample ``j`` in bits ``2*(j % 4)``
and ``2*(j % 4) + 1`` of byte ``j // 4``, low bits first):

======  ============  =====================
code    genotype      A1 (ALT) dosage
======  ============  =====================
0b00    hom A1        2
0b01    missing       ``MISSING`` (-1)
0b10    het           1
0b11    hom A2        0
======  ============  =====================

cohortgen's convention is A1 = ALT (the 5th .bim column). In-memory dosages are ``int8`` with
``MISSING = -1``. Pad bits of the last byte of a row are written as zero (the hom-A1 code), so
every reader must ignore samples ``>= n_samples``.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.bitplanes import BYTE_PLANES, mask_words, popcount, row_planes

MISSING = -1
"""Sentinel for a missing call in ``int8`` dosage arrays."""

CODE_DOSAGE = np.array([2, MISSING, 1, 0], dtype=np.int8)
CODE_DOSAGE_F64 = CODE_DOSAGE.astype(np.float64)
"""float64 copy of :data:`CODE_DOSAGE` (missing negative), for kernels that build float tables."""
"""A1 (ALT) dosage of each 2-bit code, indexed by code."""

DOSAGE_CODE = np.array([1, 3, 2, 0], dtype=np.uint8)
"""2-bit code of each dosage, indexed by ``dosage + 1`` (dosage -1, 0, 1, 2)."""


def n_bytes(n_samples: int) -> int:
    """Bytes per variant row of a .bed file: ``ceil(n_samples / 4)``."""
    return (n_samples + 3) // 4


def _byte_dosage_table() -> np.ndarray:
    """``int8``, shape (256, 4): A1 dosage of the 4 samples held by each byte value."""
    values = np.arange(256)[:, None]
    codes = (values >> (2 * np.arange(4))[None, :]) & 3
    return CODE_DOSAGE[codes]


BYTE_DOSAGE = _byte_dosage_table()
BYTE_DOSAGE_FLAT = BYTE_DOSAGE.astype(np.float64).ravel()
"""float64 (1024,): :data:`BYTE_DOSAGE` flattened, sample ``s`` of byte ``b`` at ``4 b + s``."""


def pack_dosages(dosage: np.ndarray) -> np.ndarray:
    """Pack dosages into .bed rows.

    dosage: int8, shape (n_variants, n_samples), values 0/1/2 (A1 = ALT count) or ``MISSING``.
    Returns uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes, pad bits 0.
    Raises ValueError on any other dosage value.
    """
    dosage = np.ascontiguousarray(dosage, dtype=np.int8)
    if dosage.ndim != 2:
        raise ValueError(f"dosage must be 2-D (variants, samples), got shape {dosage.shape}")
    packed = np.empty((dosage.shape[0], n_bytes(dosage.shape[1])), dtype=np.uint8)
    bad = _pack_into(dosage, DOSAGE_CODE, packed)
    if bad >= 0:
        variant, sample = divmod(bad, dosage.shape[1])
        raise ValueError(
            f"dosage {dosage[variant, sample]} at variant {variant}, sample {sample} is not "
            f"0, 1, 2 or {MISSING}"
        )
    return packed


@parallel_kernel
def _pack_into(dosage, dosage_code, packed):
    """Fill ``packed`` from ``dosage``; return the flat index of one invalid value, else -1."""
    n_variants, n_samples = dosage.shape
    n_full = n_samples // 4
    bad = np.full(n_variants, -1, dtype=np.int64)
    for v in prange(n_variants):
        for b in range(packed.shape[1]):
            byte = 0
            stop = 4 if b < n_full else n_samples - 4 * b
            for k in range(stop):
                d = dosage[v, 4 * b + k]
                if d < -1 or d > 2:
                    bad[v] = v * n_samples + 4 * b + k
                    d = -1
                byte |= dosage_code[d + 1] << (2 * k)
            packed[v, b] = byte
    for v in range(n_variants):
        if bad[v] >= 0:
            return bad[v]
    return -1


def unpack_dosages(packed: np.ndarray, n_samples: int) -> np.ndarray:
    """Decode .bed rows to dosages.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    Returns int8, shape (n_variants, n_samples): A1 (ALT) dosage 0/1/2 or ``MISSING``.
    """
    packed = checked_packed(packed, n_samples)
    out = np.empty((packed.shape[0], n_samples), dtype=np.int8)
    _unpack_into(packed, BYTE_DOSAGE, out)
    return out


@parallel_kernel
def _unpack_into(packed, byte_dosage, out):
    """Fill ``out`` (int8, (m, n)) with the dosages of ``packed`` via the per-byte table."""
    n_variants, n_samples = out.shape
    for v in prange(n_variants):
        for j in range(n_samples):
            out[v, j] = byte_dosage[packed[v, j >> 2], j & 3]


def dosages_mean_imputed(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray,
                         out: np.ndarray | None = None) -> np.ndarray:
    """A1 (ALT) dosages of selected samples, missing calls replaced by the variant mean.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    sample_idx: int64, shape (k,), sample indices in the wanted output order (repeats allowed).
    out: optional float64 C-contiguous buffer with at least n_variants * k elements, reused
    across calls (no page faults on a fresh allocation per block).
    Returns float64, shape (n_variants, k) (a view of ``out`` when given). The mean is over the
    non-missing selected calls of that variant (0.0 when all are missing).
    """
    packed = checked_packed(packed, n_samples)
    sample_idx = checked_sample_idx(sample_idx, n_samples)
    result = buffer_view(out, (packed.shape[0], sample_idx.size))
    _mean_imputed_into(packed, sample_idx, BYTE_DOSAGE_FLAT, result)
    return result


@parallel_kernel(error_model="numpy")
def _mean_imputed_into(packed, sample_idx, byte_dosage, out):
    """Fill ``out`` (float64, (m, k)); missing (-1.0 from the table) becomes the row mean.

    byte_dosage: float64 (1024,), dosage of sample ``s`` of byte value ``b`` at ``4 b + s``
    (unsigned indices: no wrap-around checks, so the loop vectorises). The imputing second
    pass runs only on rows with a missing call.
    """
    n_variants, k = out.shape
    two = np.uint64(2)
    three = np.uint64(3)
    for v in prange(n_variants):
        row = packed[v]
        out_row = out[v]
        total = 0.0
        n_missing = 0
        for i in range(k):
            j = np.uint64(sample_idx[i])
            d = byte_dosage[(np.uint64(row[j >> two]) << two) | (j & three)]
            out_row[i] = d
            total += max(d, 0.0)
            n_missing += d < 0.0
        fill_missing_with_mean(out_row, total, n_missing)


@kernel(error_model="numpy")
def fill_missing_with_mean(row, total, n_missing):
    """Replace each negative (missing) value of ``row`` (float64, (k,)) by the mean of the
    others, ``total`` (float64, their sum) / (k - ``n_missing``), or by 0.0 when all are
    missing; nothing to do when ``n_missing`` is 0. The second pass of the mean-imputing
    decoders (:func:`dosages_mean_imputed`, :func:`cohortgen.kernels.dosage.mean_impute_rows`),
    whose first pass writes the values, -1.0 for missing, and their sum and missing count."""
    if n_missing == 0:
        return
    k = row.size
    mean = total / (k - n_missing) if n_missing < k else 0.0
    for i in range(k):
        if row[i] < 0.0:
            row[i] = mean


def group_allele_counts(packed: np.ndarray, n_samples: int,
                        groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A1 (ALT) allele counts and called samples per variant within each sample group.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    groups: bool, shape (n_groups, n_samples), one row per (possibly overlapping) sample group.
    Returns (alt, called): int64, shape (n_variants, n_groups) each; missing calls count in
    neither. One pass over the bytes builds each row's bit planes; each group then costs one
    AND and popcount per 64 samples.
    """
    packed = checked_packed(packed, n_samples)
    groups = np.asarray(groups, dtype=bool)
    if groups.ndim != 2 or groups.shape[1] != n_samples:
        raise ValueError(f"groups must have shape (n_groups, {n_samples}), got {groups.shape}")
    words = np.stack([mask_words(g) for g in groups]) if len(groups) else np.zeros(
        (0, (n_samples + 63) // 64), dtype=np.uint64)
    alt = np.zeros((packed.shape[0], len(groups)), dtype=np.int64)
    called = np.zeros_like(alt)
    _group_counts_into(packed, words, mask_words(np.ones(n_samples, bool)), BYTE_PLANES, alt,
                       called)
    return alt, called


@parallel_kernel
def _group_counts_into(packed, group_words, all_words, planes_table, alt, called):
    """Fill ``alt``, ``called`` (int64, (m, n_groups)) from each row's bit planes."""
    n_groups, n_words = group_words.shape
    for v in prange(packed.shape[0]):
        hom = np.empty(n_words, dtype=np.uint64)
        carrier = np.empty(n_words, dtype=np.uint64)
        nonmissing = np.empty(n_words, dtype=np.uint64)
        row_planes(packed[v], all_words, planes_table, hom, carrier, nonmissing)
        for g in range(n_groups):
            n_alt = 0
            n_called = 0
            for w in range(n_words):
                mask = group_words[g, w]
                n_alt += popcount(hom[w] & mask) + popcount(carrier[w] & mask)
                n_called += popcount(nonmissing[w] & mask)
            alt[v, g] = n_alt
            called[v, g] = n_called


def buffer_view(out: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """A float64 array of ``shape``: new when ``out`` is None, else a view of the leading
    elements of the C-contiguous float64 buffer ``out`` (ValueError if it is too small)."""
    size = shape[0] * shape[1]
    if out is None:
        return np.empty(shape)
    if out.dtype != np.float64 or not out.flags.c_contiguous or out.size < size:
        raise ValueError(f"out must be a C-contiguous float64 buffer of >= {size} elements")
    return out.reshape(-1)[:size].reshape(shape)


def checked_sample_idx(sample_idx, n_samples: int, allow_empty: bool = True) -> np.ndarray:
    """C-contiguous int64 1-D sample indices, each within [0, n_samples); ValueError otherwise
    (also when empty, unless ``allow_empty``)."""
    idx = np.ascontiguousarray(sample_idx, dtype=np.int64)
    if idx.ndim != 1 or (idx.size == 0 and not allow_empty):
        raise ValueError("sample_idx must be a " + ("" if allow_empty else "non-empty ")
                         + "1-D array")
    if idx.size and (idx.min() < 0 or idx.max() >= n_samples):
        raise ValueError(f"sample_idx values must lie in [0, {n_samples})")
    return idx


def checked_packed(packed: np.ndarray, n_samples: int) -> np.ndarray:
    """C-contiguous uint8 view of ``packed``, checked to be 2-D with ceil(n/4) columns."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    if packed.ndim != 2 or packed.shape[1] != n_bytes(n_samples):
        raise ValueError(
            f"packed must have shape (n_variants, {n_bytes(n_samples)}) for {n_samples} samples, "
            f"got {packed.shape}"
        )
    return packed


def checked_rows(packed, n_samples: int):
    """:func:`checked_packed` of an array; any other row source (an object with ``shape`` whose
    ``packed[rows]`` is a uint8 array, e.g. :class:`cohortgen.io.bed_rows.BedRows`, read
    block by block) only has its width checked, and is returned as it is."""
    if isinstance(packed, np.ndarray):
        return checked_packed(packed, n_samples)
    if len(packed.shape) != 2 or packed.shape[1] != n_bytes(n_samples):
        raise ValueError(f"packed must have shape (n_variants, {n_bytes(n_samples)}) for "
                         f"{n_samples} samples, got {packed.shape}")
    return packed
