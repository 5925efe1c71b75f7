"""Per-variant and per-sample genotype counts computed straight from packed .bed bytes.

``packed`` is always uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(see :mod:`cohortgen.kernels.bed`: 0b00 hom A1 = ALT, 0b01 missing, 0b10 het, 0b11 hom A2 = REF).
Pad samples of the last byte are never counted. Rows are read as 64-bit words of 32 samples
(code planes by bit masks, counts by popcount; per-sample counts in vertical counters). All
counts are exact integers, and float sums are combined in a fixed order, so results do not
depend on the number of threads.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import prange
from numba.cpython.unsafe.numbers import trailing_zeros

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.bed import checked_packed
from cohortgen.kernels.bitplanes import popcount

COUNT_COLUMNS = ("n_hom_alt", "n_het", "n_hom_ref", "n_missing")
"""Columns of :func:`genotype_counts`: dosage 2, dosage 1, dosage 0, missing."""

PASS_TASKS = 16
"""Fixed number of variant ranges in :func:`variant_sample_counts` (whatever the thread count,
so per-sample float sums are combined in one fixed order)."""

_EVEN = np.uint64(0x5555555555555555)
_PAIRS = np.uint64(0x3333333333333333)
_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)
_LANE8_SAMPLE = np.array([0, 2, 1, 3], dtype=np.int64)
"""Sample offset (within 4) of the 8-bit lanes of per-sample counter word r (see
:func:`_spill_counters`)."""


def genotype_counts(packed: np.ndarray, n_samples: int, sample_mask: np.ndarray) -> np.ndarray:
    """Genotype counts per variant over the samples where ``sample_mask`` is True.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    sample_mask: bool, shape (n_samples,).
    Returns int64, shape (n_variants, 4), columns :data:`COUNT_COLUMNS`
    (n_hom_alt, n_het, n_hom_ref, n_missing).
    """
    packed = checked_packed(packed, n_samples)
    words = sample_mask_words(_checked_mask(sample_mask, n_samples, "sample_mask"))
    out = np.zeros((packed.shape[0], 4), dtype=np.int64)
    _genotype_counts_into(packed, words, out)
    return out


class PassCounts(NamedTuple):
    """Result of :func:`variant_sample_counts` (G = n_groups, n = n_samples)."""

    variant: np.ndarray
    """int64, (m, 4): :data:`COUNT_COLUMNS` per variant over all samples."""
    missing: np.ndarray
    """int64, (G, n): missing calls per sample over each group's variants."""
    het: np.ndarray
    """int64, (G, n): het calls per sample over each group's variants."""
    missing_weight: np.ndarray
    """float64, (G, n): sum of ``missing_weight[v]`` over each sample's missing calls in the
    group (zeros when no weights are given)."""


def variant_sample_counts(
    packed: np.ndarray,
    n_samples: int,
    variant_group: np.ndarray,
    n_groups: int,
    missing_weight: np.ndarray | None = None,
) -> PassCounts:
    """One pass over ``packed``: genotype counts per variant and per-sample call counts.

    packed: uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    variant_group: int64, shape (m,): the group in [0, n_groups) whose per-sample sums include
    the variant, or -1 for none (its variant counts are still computed).
    missing_weight: optional float64, shape (m,): a per-variant weight summed over each
    sample's missing calls (the heterozygosity F kernel's expected-hom rates).
    Rows are read as 64-bit words (32 samples); the work is split into :data:`PASS_TASKS`
    variant ranges whose partial sums are added in range order.
    """
    packed = checked_packed(packed, n_samples)
    m = packed.shape[0]
    group = np.ascontiguousarray(variant_group, dtype=np.int64)
    if group.shape != (m,):
        raise ValueError(f"variant_group must have shape ({m},), got {group.shape}")
    if m and (group.min() < -1 or group.max() >= n_groups):
        raise ValueError(f"variant_group values must lie in [-1, {n_groups})")
    use_weight = missing_weight is not None
    weight = np.zeros(m) if missing_weight is None else np.ascontiguousarray(
        missing_weight, dtype=np.float64)
    if weight.shape != (m,):
        raise ValueError(f"missing_weight must have shape ({m},), got {weight.shape}")
    words = sample_mask_words(np.ones(n_samples, dtype=np.bool_))
    width = 32 * words.size
    variant = np.zeros((m, 4), dtype=np.int64)
    missing = np.zeros((PASS_TASKS, n_groups, width), dtype=np.int64)
    het = np.zeros((PASS_TASKS, n_groups, width), dtype=np.int64)
    weighted = np.zeros((PASS_TASKS, n_groups, width if use_weight else 0))
    _variant_sample_pass(packed, words, group, weight, use_weight, variant, missing, het,
                         weighted)
    weight_sums = weighted.sum(axis=0) if use_weight else np.zeros((n_groups, width))
    return PassCounts(variant, missing.sum(axis=0)[:, :n_samples],
                      het.sum(axis=0)[:, :n_samples], weight_sums[:, :n_samples])


def sample_missing_counts(
    packed: np.ndarray, n_samples: int, variant_mask: np.ndarray
) -> np.ndarray:
    """Missing calls per sample over the variants where ``variant_mask`` is True.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)); variant_mask: bool, (n_variants,).
    Returns int64, shape (n_samples,).
    """
    packed = checked_packed(packed, n_samples)
    mask = _checked_mask(variant_mask, packed.shape[0], "variant_mask")
    return variant_sample_counts(packed, n_samples, np.where(mask, 0, -1), 1).missing[0]


def _checked_mask(mask: np.ndarray, size: int, name: str) -> np.ndarray:
    """``mask`` as a contiguous bool array, checked to have shape (size,)."""
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    if mask.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {mask.shape}")
    return mask


def sample_mask_words(sample_mask: np.ndarray) -> np.ndarray:
    """uint64, shape (ceil(n / 32),): bit 2k of word i set when sample 32 i + k is selected,
    matching the row words of the kernels here (pad samples never)."""
    n = sample_mask.size
    padded = np.zeros(32 * ((n + 31) // 32), dtype=np.uint64)
    padded[:n] = sample_mask
    shifts = 2 * np.arange(32, dtype=np.uint64)
    return (padded.reshape(-1, 32) << shifts).sum(axis=1, dtype=np.uint64)


@kernel
def _row_word(row, i):
    """uint64: bytes [8 i, 8 i + 8) of ``row`` little-endian (zero past the row's end), so
    sample 32 i + k has its 2-bit code in bits 2k and 2k + 1."""
    b0 = 8 * i
    if b0 + 8 <= row.shape[0]:
        return (np.uint64(row[b0]) | np.uint64(row[b0 + 1]) << np.uint64(8)
                | np.uint64(row[b0 + 2]) << np.uint64(16)
                | np.uint64(row[b0 + 3]) << np.uint64(24)
                | np.uint64(row[b0 + 4]) << np.uint64(32)
                | np.uint64(row[b0 + 5]) << np.uint64(40)
                | np.uint64(row[b0 + 6]) << np.uint64(48)
                | np.uint64(row[b0 + 7]) << np.uint64(56))
    word = np.uint64(0)
    for j in range(row.shape[0] - b0):
        word |= np.uint64(row[b0 + j]) << np.uint64(8 * j)
    return word


@kernel
def _code_bits(word, select):
    """(hom ALT, het, hom REF, missing) bits of the selected samples of a row word: bit 2k set
    when sample k has that code (``select``: bits 2k of the selected samples)."""
    lo = word & _EVEN
    hi = (word >> np.uint64(1)) & _EVEN
    return (~(lo | hi) & select, hi & ~lo & select, lo & hi & select, lo & ~hi & select)


@kernel
def _add_row_counts(row, select_words, out):
    """Add the :data:`COUNT_COLUMNS` counts of ``row``'s selected samples to ``out`` (int64,
    (4,))."""
    counts = (0, 0, 0, 0)
    for i in range(select_words.shape[0]):
        counts = _count_bits(counts, _code_bits(_row_word(row, i), select_words[i]))
    _add_counts(out, counts)


@kernel
def _count_bits(counts, bits):
    """``counts`` (alt, het, ref, missing; int64 each) plus the set bits of each word of
    ``bits`` (:func:`_code_bits`'s four uint64 words, in that order)."""
    return (counts[0] + popcount(bits[0]), counts[1] + popcount(bits[1]),
            counts[2] + popcount(bits[2]), counts[3] + popcount(bits[3]))


@kernel
def _add_counts(out, counts):
    """Add ``counts`` (:func:`_count_bits`) to ``out`` (int64, (4,))."""
    for c in range(4):
        out[c] += counts[c]


@parallel_kernel
def _genotype_counts_into(packed, select_words, out):
    """Fill ``out`` (int64, (m, 4)) with the counts of each row (parallel over variants)."""
    for v in prange(packed.shape[0]):
        _add_row_counts(packed[v], select_words, out[v])


@parallel_kernel
def _variant_sample_pass(packed, select_words, group, weight, use_weight, variant, missing, het,
                         weighted):
    """Fill ``variant`` (int64, (m, 4)) and add per-task sample sums to ``missing``, ``het``
    (int64, (tasks, G, 32 * words)) and ``weighted`` (float64, same shape when ``use_weight``).

    Task t owns variants [t*m/tasks, (t+1)*m/tasks). Per-sample counts go to vertical counters
    (:func:`_spill_counters`): per group, ``c2[g, s, i]`` holds the het (s = 0) or missing
    (s = 1) count of the 32 samples of word i in 2-bit lanes.
    """
    m = packed.shape[0]
    n_words = select_words.shape[0]
    n_tasks, n_groups = missing.shape[0], missing.shape[1]
    for t in prange(n_tasks):
        c2 = np.zeros((n_groups, 2, n_words), dtype=np.uint64)
        c4 = np.zeros((n_groups, 4, n_words), dtype=np.uint64)
        c8 = np.zeros((n_groups, 8, n_words), dtype=np.uint64)
        seen = np.zeros(n_groups, dtype=np.int64)
        for v in range(t * m // n_tasks, (t + 1) * m // n_tasks):
            g = group[v]
            if g < 0:
                _add_row_counts(packed[v], select_words, variant[v])
                continue
            _add_row_counts_and_samples(packed[v], select_words, c2[g], use_weight, weight[v],
                                        weighted[t, g], variant[v])
            seen[g] += 1
            _spill_counters(c2[g], c4[g], c8[g], seen[g], False, het[t, g], missing[t, g])
        for g in range(n_groups):
            _spill_counters(c2[g], c4[g], c8[g], seen[g], True, het[t, g], missing[t, g])


@kernel
def _add_row_counts_and_samples(row, select_words, c2, use_weight, w, weighted, out):
    """:func:`_add_row_counts`, plus each sample's het and missing bits added to ``c2``
    (uint64, (2, words)); with ``use_weight``, ``w`` is added to ``weighted[s]`` for each
    missing sample s."""
    counts = (0, 0, 0, 0)
    for i in range(select_words.shape[0]):
        bits = _code_bits(_row_word(row, i), select_words[i])
        counts = _count_bits(counts, bits)
        c2[0, i] += bits[1]
        c2[1, i] += bits[3]
        if use_weight and bits[3] != 0:
            _add_at_set_bits(bits[3], w, weighted, 32 * i)
    _add_counts(out, counts)


@kernel
def _add_at_set_bits(bits, w, out, offset):
    """Add ``w`` to ``out[offset + k]`` for each set bit 2k of ``bits``."""
    while bits != 0:
        out[offset + np.int64(trailing_zeros(bits)) // 2] += w
        bits &= bits - np.uint64(1)


@kernel
def _widen_lanes(narrow, wide, width, mask):
    """Add each row r of ``narrow`` (uint64 (R, words), lanes of ``width`` bits) into rows 2r
    (even lanes) and 2r + 1 (odd lanes) of ``wide`` (lanes twice as wide), then zero it."""
    for r in range(narrow.shape[0]):
        for i in range(narrow.shape[1]):
            x = narrow[r, i]
            wide[2 * r, i] += x & mask
            wide[2 * r + 1, i] += (x >> width) & mask
            narrow[r, i] = 0


@kernel
def _spill_counters(c2, c4, c8, seen, final, het, missing):
    """Move per-sample counts up the vertical counters before a lane can overflow.

    c2 (uint64, (2, words)): 2-bit lanes, sample k of word i in lane k, at most 3 → spilled
    every 3 variants into c4 (4, words): 4-bit lanes, samples 2j (row 2s) and 2j + 1 (row
    2s + 1) in lane j, at most 15 → spilled every 15 variants into c8 (8, words): 8-bit lanes,
    sample 4j + :data:`_LANE8_SAMPLE` [r] in lane j of row 4s + r, at most 255 → added every 255
    variants to ``het`` (s = 0) and ``missing`` (s = 1), int64 (32 * words,). ``final`` spills
    everything.
    """
    n_words = c2.shape[1]
    if final or seen % 3 == 0:
        _widen_lanes(c2, c4, np.uint64(2), _PAIRS)
    if final or seen % 15 == 0:
        _widen_lanes(c4, c8, np.uint64(4), _NIBBLES)
    if final or seen % 255 == 0:
        for row in range(8):
            out = het if row < 4 else missing
            offset = _LANE8_SAMPLE[row % 4]
            for i in range(n_words):
                x = c8[row, i]
                if x != 0:
                    for j in range(8):
                        out[32 * i + 4 * j + offset] += np.int64(
                            (x >> np.uint64(8 * j)) & np.uint64(0xFF))
                    c8[row, i] = 0


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
