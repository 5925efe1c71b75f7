"""LD clumping of association results (PLINK 1.9 ``--clump`` semantics), one contig at a time.

Index variants are taken in increasing p (ties: earlier row first) among those with
p ≤ ``p_index`` that no earlier clump has claimed. Each claims every unclaimed variant within
``window_bp`` of it (|Δpos| ≤ window_bp) with p ≤ ``p_member`` and r² ≥ ``r2`` with the index
variant; a claimed variant belongs to one clump only and never becomes an index itself.
r² is PLINK 1.9's: the haplotype r² = D² / (p_A(1 − p_A) p_B(1 − p_B)) from maximum-likelihood
two-locus haplotype frequencies (EM over the double heterozygotes, as ``--ld``), on the masked
samples called at both variants (pairwise-complete). A pair where either variant is monomorphic
on those samples has no r² and is never clumped. Variants with a NaN p are neither index nor
member.

``packed`` is uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(:mod:`cohortgen.kernels.bed`). The 3×3 genotype table of a pair comes from popcounts of bit
planes (:mod:`cohortgen.kernels.bitplanes`: hom ALT, carries ALT, called; masked samples only),
64 samples per word, built once per call for the rows that can take part (p ≤ max(p_index,
p_member)): memory 24 bytes × rows × ceil(n_samples / 64). To clump one sample set at several
r² thresholds (C+T tuning, several diseases), :func:`pair_levels` classifies every pair within
the window once and :func:`clump_by_levels` clumps from those classes (same result).
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.bed import checked_packed
from cohortgen.kernels.bitplanes import BYTE_PLANES, mask_words, popcount, row_planes

EM_STARTS = (0.02, 0.5, 0.98)
"""Starting fractions of double heterozygotes in phase AB/ab; the best fit of the three wins
(the likelihood can have two maxima)."""

EM_ITER = 200
EM_TOL = 1e-12


@kernel
def _haplotype_loglik(cAB, cAb, caB, cab, dh, fAB, fAb, faB, fab):
    """Log-likelihood of the two-locus genotype counts given haplotype frequencies."""
    total = 0.0
    for c, f in ((cAB, fAB), (cAb, fAb), (caB, faB), (cab, fab)):
        if c > 0:
            total += c * np.log(max(f, 1e-300))
    if dh > 0:
        total += dh * np.log(max(fAB * fab + fAb * faB, 1e-300))
    return total


@kernel
def _haplotype_counts(table):
    """Phase-known haplotype counts (AB, Ab, aB, ab), the double heterozygotes (phase unknown)
    and the total haplotype count 2 × called pairs, from a 3×3 table of (dosage at A, dosage at
    B) counts."""
    cAB = 2 * table[2, 2] + table[2, 1] + table[1, 2]
    cAb = 2 * table[2, 0] + table[2, 1] + table[1, 0]
    caB = 2 * table[0, 2] + table[1, 2] + table[0, 1]
    cab = 2 * table[0, 0] + table[1, 0] + table[0, 1]
    dh = table[1, 1]
    return cAB, cAb, caB, cab, dh, cAB + cAb + caB + cab + 2 * dh


@kernel
def haplotype_r2(table):
    """Haplotype r² from a 3×3 table of (dosage at A, dosage at B) counts; NaN if monomorphic."""
    cAB, cAb, caB, cab, dh, n_hap = _haplotype_counts(table)
    if n_hap == 0:
        return np.nan
    best_ll = -np.inf
    best = (0.0, 0.0, 0.0, 0.0)
    for start in EM_STARTS:
        x = start * dh
        for _ in range(EM_ITER):
            fAB = (cAB + x) / n_hap
            fab = (cab + x) / n_hap
            fAb = (cAb + dh - x) / n_hap
            faB = (caB + dh - x) / n_hap
            cis = fAB * fab
            both = cis + fAb * faB
            new_x = dh * cis / both if both > 0 else 0.0
            if abs(new_x - x) <= EM_TOL * (1.0 + dh):
                x = new_x
                break
            x = new_x
        fAB = (cAB + x) / n_hap
        fab = (cab + x) / n_hap
        fAb = (cAb + dh - x) / n_hap
        faB = (caB + dh - x) / n_hap
        ll = _haplotype_loglik(cAB, cAb, caB, cab, dh, fAB, fAb, faB, fab)
        if ll > best_ll:
            best_ll = ll
            best = (fAB, fAb, faB, fab)
    fAB, fAb, faB, fab = best
    pA = fAB + fAb
    pB = fAB + faB
    var = pA * (1.0 - pA) * pB * (1.0 - pB)
    if var <= 1e-12:
        return np.nan
    d = fAB * fab - fAb * faB
    return d * d / var


BOUND_RTOL = 1e-9
"""Relative margin around the r² threshold within which the EM decides (not the bounds)."""


@kernel
def r2_at_least(table, r2):
    """Whether the haplotype r² of ``table`` is ≥ ``r2`` (False when it is NaN).

    D = f_AB f_ab − f_Ab f_aB is linear in the phase split x ∈ [0, dh] of the double
    heterozygotes and the allele frequencies do not depend on x, so r²(x) = D(x)² / var is
    bounded by its values at x = 0 and x = dh (and by 0 when D changes sign). The EM (whose x
    lies in [0, dh]) runs only when the bounds straddle the threshold.
    """
    cAB, cAb, caB, cab, dh, n_hap = _haplotype_counts(table)
    if n_hap == 0:
        return False
    pA = (cAB + cAb + dh) / n_hap
    pB = (cAB + caB + dh) / n_hap
    var = pA * (1.0 - pA) * pB * (1.0 - pB)
    if var <= 1e-12:
        return False
    d0 = (cAB * cab - (cAb + dh) * (caB + dh)) / (n_hap * n_hap)
    d1 = ((cAB + dh) * (cab + dh) - cAb * caB) / (n_hap * n_hap)
    hi = max(d0 * d0, d1 * d1) / var
    lo = 0.0 if d0 * d1 <= 0.0 else min(d0 * d0, d1 * d1) / var
    if hi < r2 * (1.0 - BOUND_RTOL):
        return False
    if lo > r2 * (1.0 + BOUND_RTOL):
        return True
    return haplotype_r2(table) >= r2


@kernel
def _pair_table(planes, a, b, table):
    """Fill ``table`` (3×3 float64) with the (dosage at a, dosage at b) counts of the masked
    samples called at both, from popcounts of the slot-a and slot-b bit planes."""
    hom_a, car_a, nm_a = planes[a, 0], planes[a, 1], planes[a, 2]
    hom_b, car_b, nm_b = planes[b, 0], planes[b, 1], planes[b, 2]
    n = ca1 = ca2 = cb1 = cb2 = x11 = x21 = x12 = x22 = 0
    for w in range(nm_a.shape[0]):
        n += popcount(nm_a[w] & nm_b[w])
        ca1 += popcount(car_a[w] & nm_b[w])
        ca2 += popcount(hom_a[w] & nm_b[w])
        cb1 += popcount(car_b[w] & nm_a[w])
        cb2 += popcount(hom_b[w] & nm_a[w])
        x11 += popcount(car_a[w] & car_b[w])
        x21 += popcount(hom_a[w] & car_b[w])
        x12 += popcount(car_a[w] & hom_b[w])
        x22 += popcount(hom_a[w] & hom_b[w])
    table[2, 2] = x22
    table[2, 1] = x21 - x22
    table[1, 2] = x12 - x22
    table[1, 1] = x11 - x21 - x12 + x22
    table[2, 0] = ca2 - x21
    table[0, 2] = cb2 - x12
    table[1, 0] = (ca1 - ca2) - (x11 - x21)
    table[0, 1] = (cb1 - cb2) - (x11 - x12)
    table[0, 0] = n - ca1 - cb1 + x11


@kernel
def _fill_planes(packed, rows, mask_words, planes_table, planes):
    """planes[k] = (hom ALT, carries ALT, called) bit planes of .bed row ``rows[k]``, masked."""
    for k in range(rows.shape[0]):
        row_planes(packed[rows[k]], mask_words, planes_table, planes[k, 0], planes[k, 1],
                   planes[k, 2])


@kernel
def _next_index(order, k, p, p_index, is_index, clump_of):
    """(i, k'): the first variant i from position k of ``order`` (rows by ascending p) not yet
    in a clump, marked as the index of its own clump, and the position after it; i = -1 when
    no later variant can open a clump (p above ``p_index``, or ``order`` exhausted)."""
    while k < order.shape[0]:
        i = order[k]
        k += 1
        if not p[i] <= p_index:
            break
        if clump_of[i] < 0:
            is_index[i] = True
            clump_of[i] = i
            return i, k
    return -1, k


@kernel
def _clump_into(planes, slot, pos, p, order, r2, window_bp, p_index, p_member, is_index,
                clump_of):
    """Fill ``is_index`` and ``clump_of`` (preset False / -1); ``order``: rows by ascending p;
    ``slot[row]``: the row's index in ``planes`` (every row with p ≤ max(p_index, p_member))."""
    table = np.zeros((3, 3))
    i, k = _next_index(order, 0, p, p_index, is_index, clump_of)
    while i >= 0:
        lo = np.searchsorted(pos, pos[i] - window_bp, side="left")
        hi = np.searchsorted(pos, pos[i] + window_bp, side="right")
        for j in range(lo, hi):
            if clump_of[j] >= 0 or not p[j] <= p_member:
                continue
            _pair_table(planes, slot[i], slot[j], table)
            if r2_at_least(table, r2):
                clump_of[j] = i
        i, k = _next_index(order, k, p, p_index, is_index, clump_of)


def clump(packed: np.ndarray, n_samples: int, pos: np.ndarray, p: np.ndarray, r2: float = 0.1,
          window_bp: int = 250_000, p_index: float = 5e-8, p_member: float = 1e-2,
          sample_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Clump the variants of one contig (see the module docstring for the rules).

    packed: uint8 (m, ceil(n_samples / 4)) .bed rows; pos: int (m,) positions, ascending;
    p: float64 (m,), NaN = untested; sample_mask: bool (n_samples,), default all samples.
    Returns is_index: bool (m,) and clump_of: int64 (m,), the row of the index variant of each
    variant's clump (itself for an index variant), -1 for a variant in no clump.
    """
    packed = checked_packed(packed, n_samples)
    pos = np.ascontiguousarray(pos, dtype=np.int64)
    p = np.ascontiguousarray(p, dtype=np.float64)
    m = packed.shape[0]
    if pos.shape != (m,) or p.shape != (m,):
        raise ValueError(f"pos {pos.shape} and p {p.shape} must have shape ({m},)")
    if np.any(np.diff(pos) < 0):
        raise ValueError("pos must be ascending (one contig, sorted by position)")
    if sample_mask is None:
        sample_mask = np.ones(n_samples, dtype=np.bool_)
    mask = np.ascontiguousarray(sample_mask, dtype=np.bool_)
    if mask.shape != (n_samples,):
        raise ValueError(f"sample_mask must have shape ({n_samples},), got {mask.shape}")
    order = _ascending_p(p)
    rows = np.sort(order[p[order] <= max(p_index, p_member)])
    slot = np.full(m, -1, dtype=np.int64)
    slot[rows] = np.arange(rows.size)
    words = mask_words(mask)
    planes = np.empty((rows.size, 3, words.size), dtype=np.uint64)
    _fill_planes(packed, rows, words, BYTE_PLANES, planes)
    is_index = np.zeros(m, dtype=np.bool_)
    clump_of = np.full(m, -1, dtype=np.int64)
    _clump_into(planes, slot, pos, p, order, float(r2), int(window_bp), float(p_index),
                float(p_member), is_index, clump_of)
    return is_index, clump_of


def _ascending_p(p: np.ndarray) -> np.ndarray:
    """int64 rows with a finite p, by ascending p (ties in row order)."""
    tested = np.flatnonzero(np.isfinite(p))
    return tested[np.argsort(p[tested], kind="stable")].astype(np.int64)


def pair_levels(packed: np.ndarray, n_samples: int, pos: np.ndarray, thresholds: np.ndarray,
                window_bp: int, sample_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """r² class of every pair within ``window_bp`` on one contig, for clumping at many r².

    packed: uint8 (m, ceil(n_samples / 4)); pos: int (m,) ascending; thresholds: float64 (t,)
    ascending r² thresholds; sample_mask: bool (n_samples,). The pairs of row i are (i, j) for
    i < j with pos_j − pos_i ≤ window_bp, flat at ``start[i] + (j − i − 1)``. Returns start:
    int64 (m + 1,) and levels: uint8 (start[m],), the number of thresholds t with r² ≥ t (the
    test of :func:`clump`; 0 where r² is undefined). Memory: one byte per pair plus the bit
    planes of all m rows (24 bytes × m × ceil(n_samples / 64)).
    """
    packed = checked_packed(packed, n_samples)
    pos = np.ascontiguousarray(pos, dtype=np.int64)
    thresholds = np.ascontiguousarray(thresholds, dtype=np.float64)
    if np.any(np.diff(pos) < 0):
        raise ValueError("pos must be ascending (one contig, sorted by position)")
    if np.any(np.diff(thresholds) < 0) or thresholds.size > 255:
        raise ValueError("thresholds must be ascending, at most 255 of them")
    m = packed.shape[0]
    words = mask_words(np.ascontiguousarray(sample_mask, dtype=np.bool_))
    planes = np.empty((m, 3, words.size), dtype=np.uint64)
    _fill_planes(packed, np.arange(m, dtype=np.int64), words, BYTE_PLANES, planes)
    ends = np.searchsorted(pos, pos + int(window_bp), side="right")
    start = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(ends - np.arange(m) - 1, out=start[1:])
    levels = np.zeros(int(start[-1]), dtype=np.uint8)
    _levels_into(planes, ends, start, thresholds, levels)
    return start, levels


@parallel_kernel
def _levels_into(planes, ends, start, thresholds, levels):
    """Fill ``levels`` (see :func:`pair_levels`; rows in parallel)."""
    for i in prange(ends.shape[0]):
        table = np.zeros((3, 3))
        for j in range(i + 1, ends[i]):
            _pair_table(planes, i, j, table)
            level = 0
            while level < thresholds.shape[0] and r2_at_least(table, thresholds[level]):
                level += 1
            levels[start[i] + j - i - 1] = level


def clump_by_levels(p: np.ndarray, start: np.ndarray, levels: np.ndarray, level: int,
                    p_index: float, p_member: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`clump` at r² = thresholds[level − 1] within the window of :func:`pair_levels`
    (same contig and samples); p: float64 (m,), NaN = untested. Same returns as :func:`clump`."""
    p = np.ascontiguousarray(p, dtype=np.float64)
    if not 1 <= level <= 255:
        raise ValueError(f"level must lie in [1, 255], got {level}")
    if start.shape != (p.size + 1,):
        raise ValueError(f"start must have shape ({p.size + 1},), got {start.shape}")
    order = _ascending_p(p)
    is_index = np.zeros(p.size, dtype=np.bool_)
    clump_of = np.full(p.size, -1, dtype=np.int64)
    _clump_levels_into(p, order, start, levels, int(level), float(p_index), float(p_member),
                       is_index, clump_of)
    return is_index, clump_of


@kernel
def _clump_levels_into(p, order, start, levels, level, p_index, p_member, is_index, clump_of):
    """:func:`_clump_into` with the window and the r² test read from ``start`` / ``levels``:
    the partners of i are j > i among its own pairs and j < i whose pairs reach i."""
    i, k = _next_index(order, 0, p, p_index, is_index, clump_of)
    while i >= 0:
        for j in range(i + 1, i + 1 + start[i + 1] - start[i]):
            if clump_of[j] < 0 and p[j] <= p_member and levels[start[i] + j - i - 1] >= level:
                clump_of[j] = i
        j = i - 1
        while j >= 0 and i - j - 1 < start[j + 1] - start[j]:
            if clump_of[j] < 0 and p[j] <= p_member and levels[start[j] + i - j - 1] >= level:
                clump_of[j] = i
            j -= 1
        i, k = _next_index(order, k, p, p_index, is_index, clump_of)
