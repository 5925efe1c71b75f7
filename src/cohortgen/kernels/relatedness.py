"""KING-robust kinship (Manichaikul et al. 2010) from packed PLINK .bed rows, as PLINK 2.

For a pair (i, j), over the variants called in both samples:

* ``HETHET``: both het; ``IBS0``: opposite homozygotes;
* ``het[i, j]``: i het (so ``het[i, j] - HETHET`` is "i het, j hom", PLINK's HET1_HOM2).

PLINK 2 (``--make-king-table``, ``ComputeKinship`` in plink2_matrix_calc.cc) computes the
between-family estimator with the smaller of the two pairwise het counts::

    kinship = 1/2 - (4 IBS0 + (het[i,j] - HETHET) + (het[j,i] - HETHET))
                    / (4 min(het[i,j], het[j,i]))

which is KING's ``(HETHET - 2 IBS0) / (2 min) + 1/2 - (het_i + het_j) / (4 min)`` rearranged.
Only autosomal variants enter PLINK's estimate: pass autosomal rows only to match it.

Speed: each block of variants is transposed into four sample-major bit planes of 64-bit words
(one per 2-bit code: hom ALT, missing, het, hom REF); a pair then costs a few ANDs and popcounts
per 64 variants. Pairs are processed in square tiles of samples so one tile's planes stay in
cache, tiles in parallel (each tile pair writes its own cells, so counts are exact and do not
depend on the thread count).
"""

import heapq
from typing import NamedTuple

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.bed import checked_packed
from cohortgen.kernels.bitplanes import (
    HET,
    HOM_ALT,
    HOM_REF,
    MISSING,
    popcount,
    sample_major_planes,
)

VARIANT_BLOCK = 8192
"""Variants per bit-plane block (128 words of 64 variants): bounds memory at n * 4 KiB."""

SAMPLE_TILE = 64
"""Samples per tile side: one tile's planes (64 * 4 KiB = 256 KiB) stay in L2 cache."""

DEGREE_CUTOFFS = (0.354, 0.177, 0.0884, 0.0442)
"""Kinship lower bounds (exclusive) of degree 0 (duplicate/MZ), 1, 2 and 3 (KING's cutoffs)."""

UNRELATED = -1
"""Degree returned by :func:`degree` for kinship <= 0.0442."""


def king_counts(packed: np.ndarray, n_samples: int) -> tuple[np.ndarray, ...]:
    """Pairwise KING counts over the variants called in both samples of each pair.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes (missing is
    code 0b01 and never counts as a genotype).
    Returns (hethet, ibs0, het, n_both), each int64, shape (n_samples, n_samples):
    hethet (symmetric) both het; ibs0 (symmetric) opposite homozygotes; het[i, j] (not
    symmetric) i het and j called; n_both (symmetric) both called. The diagonal holds each
    sample's own counts (hethet = het = its het calls, ibs0 = 0, n_both = its calls).
    Memory: 4 * 8 * n_samples**2 bytes of output (800 MB at 5,000 samples); for large cohorts
    use :func:`king_related_pairs`, which never holds an n x n matrix.
    """
    packed = checked_packed(packed, n_samples)
    n_variants = packed.shape[0]
    shape = (n_samples, n_samples)
    hethet, ibs0, het, n_both = (np.zeros(shape, dtype=np.int64) for _ in range(4))
    n_words = (min(VARIANT_BLOCK, max(n_variants, 1)) + 63) // 64
    planes = np.zeros((n_samples, 4, n_words), dtype=np.uint64)
    any_missing = np.zeros(n_samples, dtype=np.bool_)
    sub_tiles = _sub_tiles(0, n_samples, 0, n_samples)
    for start in range(0, n_variants, VARIANT_BLOCK):
        stop = min(start + VARIANT_BLOCK, n_variants)
        sample_major_planes(packed, start, stop, n_samples, planes, any_missing)
        # het is passed twice: het[i, j] and het[j, i] land in the one matrix.
        _accumulate_pairs(
            planes, any_missing, stop - start, sub_tiles, 0, 0, hethet, ibs0, het, het, n_both
        )
    _mirror_upper(hethet)
    _mirror_upper(ibs0)
    _mirror_upper(n_both)
    return hethet, ibs0, het, n_both


class KingPairs(NamedTuple):
    """Pairs (i < j) from :func:`king_related_pairs`, ordered by i then j; each field is an
    array of shape (k,): i, j int64 sample indices; kinship float64 (as :func:`king_kinship`);
    n_both, hethet, ibs0 int64 (as :func:`king_counts`); het_i = het[i, j] and
    het_j = het[j, i] int64 (PLINK's HET1_HOM2 = het_i - hethet, HET2_HOM1 = het_j - hethet)."""

    i: np.ndarray
    j: np.ndarray
    kinship: np.ndarray
    n_both: np.ndarray
    hethet: np.ndarray
    ibs0: np.ndarray
    het_i: np.ndarray
    het_j: np.ndarray


def king_related_pairs(
    packed: np.ndarray, n_samples: int, threshold: float = 0.0884, tile: int = 1024
) -> KingPairs:
    """Pairs with KING-robust kinship above ``threshold``, without any n x n matrix.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes.
    Same pairs, counts and kinship (bit for bit) as ``king_kinship(*king_counts(...))`` then
    :func:`related_pairs`: pairs i < j with kinship > threshold (nan/-inf never qualify),
    ordered by i then j. Samples are processed ``tile`` x ``tile`` at a time (j-tile >= i-tile).
    Memory: the bit planes of every variant (32 * n_samples * ceil(n_variants / 64) bytes,
    n_samples * n_variants / 2) plus about 12 * 8 * tile**2 bytes (100 MB at tile 1024) per tile
    pair, plus the pairs kept.
    """
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    packed = checked_packed(packed, n_samples)
    n_variants = packed.shape[0]
    blocks = []  # (planes, any_missing, n_block) of each variant block, kept for every tile
    for start in range(0, n_variants, VARIANT_BLOCK):
        stop = min(start + VARIANT_BLOCK, n_variants)
        planes = np.zeros((n_samples, 4, (stop - start + 63) // 64), dtype=np.uint64)
        any_missing = np.zeros(n_samples, dtype=np.bool_)
        sample_major_planes(packed, start, stop, n_samples, planes, any_missing)
        blocks.append((planes, any_missing, stop - start))
    found = []
    for r0 in range(0, n_samples, tile):
        r1 = min(r0 + tile, n_samples)
        for c0 in range(r0, n_samples, tile):
            c1 = min(c0 + tile, n_samples)
            hethet, ibs0, het_i, n_both = (
                np.zeros((r1 - r0, c1 - c0), dtype=np.int64) for _ in range(4)
            )
            het_j = np.zeros((c1 - c0, r1 - r0), dtype=np.int64)  # het[j, i] at [j - c0, i - r0]
            sub_tiles = _sub_tiles(r0, r1, c0, c1)
            for planes, any_missing, n_block in blocks:
                _accumulate_pairs(
                    planes,
                    any_missing,
                    n_block,
                    sub_tiles,
                    r0,
                    c0,
                    hethet,
                    ibs0,
                    het_i,
                    het_j,
                    n_both,
                )
            kinship = _kinship(hethet, ibs0, het_i, het_j.T)
            keep = kinship > threshold
            if r0 == c0:
                keep &= np.triu(np.ones(keep.shape, dtype=np.bool_), k=1)
            rows, cols = np.nonzero(keep)
            found.append(
                (
                    rows + r0,
                    cols + c0,
                    kinship[rows, cols],
                    n_both[rows, cols],
                    hethet[rows, cols],
                    ibs0[rows, cols],
                    het_i[rows, cols],
                    het_j[cols, rows],
                )
            )
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        found.append((empty, empty, np.zeros(0), empty, empty, empty, empty, empty))
    fields = [np.concatenate(column) for column in zip(*found, strict=True)]
    order = np.lexsort((fields[1], fields[0]))
    return KingPairs(*(f[order] for f in fields))


def _sub_tiles(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """int64 (k, 4): (i0, i1, j0, j1) sample ranges of SAMPLE_TILE-square sub-tiles covering
    rows [r0, r1) x columns [c0, c1), skipping sub-tiles wholly below the diagonal."""
    return np.array(
        [
            (i0, min(i0 + SAMPLE_TILE, r1), j0, min(j0 + SAMPLE_TILE, c1))
            for i0 in range(r0, r1, SAMPLE_TILE)
            for j0 in range(c0, c1, SAMPLE_TILE)
            if j0 + SAMPLE_TILE > i0
        ],
        dtype=np.int64,
    ).reshape(-1, 4)


@parallel_kernel
def _accumulate_pairs(
    planes, any_missing, n_block, sub_tiles, r0, c0, hethet, ibs0, het_i, het_j, n_both
):
    """Add one block's counts for every pair i <= j of the sub-tiles (the one tile kernel of
    :func:`king_counts` and :func:`king_related_pairs`).

    planes: uint64 (n_samples, 4, n_words) and any_missing: bool (n_samples,), from
    ``sample_major_planes``; sub_tiles: int64 (k, 4) of (i0, i1, j0, j1) sample ranges; each
    sub-tile writes only its own cells, so counts do not depend on the thread count.
    Pair (i, j) goes to [i - r0, j - c0] of hethet, ibs0, n_both and het_i (i het, j called),
    and "j het, i called" to het_j[j - c0, i - r0] (skipped for i == j).
    """
    for t in prange(sub_tiles.shape[0]):
        for i in range(sub_tiles[t, 0], sub_tiles[t, 1]):
            for j in range(max(i, sub_tiles[t, 2]), sub_tiles[t, 3]):
                hh, opp, hi, hj, n_called = _pair_counts(planes, any_missing, n_block, i, j)
                hethet[i - r0, j - c0] += hh
                ibs0[i - r0, j - c0] += opp
                n_both[i - r0, j - c0] += n_called
                het_i[i - r0, j - c0] += hi
                if j != i:
                    het_j[j - c0, i - r0] += hj


@kernel
def _pair_counts(planes, any_missing, n_block, i, j):
    """(hethet, ibs0, i het & j called, j het & i called, both called) of one pair, one block."""
    alt_i, ref_i = planes[i, HOM_ALT], planes[i, HOM_REF]
    hets_i, miss_i = planes[i, HET], planes[i, MISSING]
    alt_j, ref_j = planes[j, HOM_ALT], planes[j, HOM_REF]
    hets_j, miss_j = planes[j, HET], planes[j, MISSING]
    hh = 0
    opp = 0
    het_i = 0
    het_j = 0
    if any_missing[i] or any_missing[j]:
        either_missing = 0
        for w in range(alt_i.shape[0]):
            m_i = miss_i[w]
            m_j = miss_j[w]
            h_i = hets_i[w]
            h_j = hets_j[w]
            hh += popcount(h_i & h_j)
            opp += popcount((alt_i[w] & ref_j[w]) | (ref_i[w] & alt_j[w]))
            het_i += popcount(h_i & ~m_j)
            het_j += popcount(h_j & ~m_i)
            either_missing += popcount(m_i | m_j)
        return hh, opp, het_i, het_j, n_block - either_missing
    for w in range(alt_i.shape[0]):
        h_i = hets_i[w]
        h_j = hets_j[w]
        hh += popcount(h_i & h_j)
        opp += popcount((alt_i[w] & ref_j[w]) | (ref_i[w] & alt_j[w]))
        het_i += popcount(h_i)
        het_j += popcount(h_j)
    return hh, opp, het_i, het_j, n_block


@parallel_kernel
def _mirror_upper(matrix):
    """Copy the upper triangle of a square matrix onto its lower triangle, in place."""
    n = matrix.shape[0]
    for i in prange(n):
        for j in range(i):
            matrix[i, j] = matrix[j, i]


def king_kinship(
    hethet: np.ndarray, ibs0: np.ndarray, het: np.ndarray, n_both: np.ndarray | None = None
) -> np.ndarray:
    """KING-robust between-family kinship, exactly as PLINK 2 ``--make-king-table`` KINSHIP.

    hethet, ibs0, het: int64, shape (n, n), from :func:`king_counts` (n_both is accepted so the
    tuple can be splatted, and unused). Returns float64, shape (n, n), symmetric, diagonal 0.5
    (for samples with a het call). A pair with no het call in the less heterozygous sample gives
    ``-inf`` (``nan`` if it also has no IBS0 or het-hom call), as PLINK 2 prints.
    """
    del n_both
    het = np.asarray(het, dtype=np.float64)
    return _kinship(hethet, ibs0, het, het.T)  # het.T: a view, no second n x n copy


def _kinship(hethet, ibs0, het_i, het_j) -> np.ndarray:
    """PLINK 2's KING-robust kinship, elementwise over same-shape count arrays (het_i: i het
    and j called, het_j: j het and i called); the one formula of both KING paths."""
    hethet = np.asarray(hethet, dtype=np.float64)
    het_i = np.asarray(het_i, dtype=np.float64)
    het_j = np.asarray(het_j, dtype=np.float64)
    ibs0 = np.asarray(ibs0, dtype=np.float64)
    numerator = 4.0 * ibs0 + (het_i - hethet) + (het_j - hethet)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 - numerator / (4.0 * np.minimum(het_i, het_j))


def degree(kinship: float) -> int:
    """Relationship degree of a kinship coefficient: 0 (> 0.354, duplicate/MZ twin), 1
    (> 0.177), 2 (> 0.0884), 3 (> 0.0442), else :data:`UNRELATED` (also for nan)."""
    for deg, cutoff in enumerate(DEGREE_CUTOFFS):
        if kinship > cutoff:
            return deg
    return UNRELATED


def related_pairs(
    kinship: np.ndarray, sample_ids, threshold: float = 0.0884
) -> list[tuple[int, int, float]]:
    """Pairs with kinship above ``threshold`` (default: 2nd degree or closer).

    kinship: float64, shape (n, n), from :func:`king_kinship`; sample_ids: n IDs, in the same
    order (checked against the matrix). Returns (i, j, kinship) with i < j sample indices,
    ordered by i then j; nan/-inf pairs never qualify.
    """
    kinship = np.asarray(kinship, dtype=np.float64)
    n = len(sample_ids)
    if kinship.shape != (n, n):
        raise ValueError(f"kinship has shape {kinship.shape}, expected ({n}, {n}) for the IDs")
    rows, cols = np.nonzero(np.triu(kinship > threshold, k=1))
    return [(int(i), int(j), float(kinship[i, j])) for i, j in zip(rows, cols, strict=True)]


def maximal_unrelated_set(n: int, pairs, call_rate: np.ndarray, is_case: np.ndarray) -> np.ndarray:
    """Greedy keep-mask with no related pair left among the kept samples.

    pairs: iterable of (i, j, ...) sample-index pairs (e.g. from :func:`related_pairs`);
    call_rate: float64, shape (n,); is_case: bool, shape (n,).
    Rule: while a related pair has both members kept, drop the kept sample with the most
    related pairs among kept samples; ties go to the lower call rate, then to a control
    over a case, then to the higher index. Returns bool, shape (n,), True = keep. The result
    depends only on the inputs (not on the order of ``pairs``).
    """
    call_rate = np.asarray(call_rate, dtype=np.float64)
    is_case = np.asarray(is_case, dtype=np.bool_)
    if call_rate.shape != (n,) or is_case.shape != (n,):
        raise ValueError(f"call_rate and is_case must have shape ({n},)")
    neighbours: dict[int, set[int]] = {}
    for pair in pairs:
        i, j = int(pair[0]), int(pair[1])
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"pair ({i}, {j}) is not two distinct sample indices in [0, {n})")
        neighbours.setdefault(i, set()).add(j)
        neighbours.setdefault(j, set()).add(i)

    def priority(s: int) -> tuple:
        # heapq pops the smallest: most pairs, lowest call rate, control, highest index first.
        return (-len(neighbours[s]), call_rate[s], bool(is_case[s]), -s)

    heap = [(priority(s), s) for s in neighbours]
    heapq.heapify(heap)
    keep = np.ones(n, dtype=np.bool_)
    while heap:
        key, s = heapq.heappop(heap)
        if not keep[s] or not neighbours[s]:
            continue
        if key != priority(s):  # stale entry: its pair count dropped since it was pushed
            heapq.heappush(heap, (priority(s), s))
            continue
        keep[s] = False
        for t in neighbours.pop(s):
            neighbours[t].discard(s)
            if neighbours[t]:
                heapq.heappush(heap, (priority(t), t))
        neighbours[s] = set()
    return keep
