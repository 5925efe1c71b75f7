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
(one per 2-bit code: hom ALT, missing, het, hom REF); a pair then costs five ANDs/ORs and five
popcounts per 64 variants (vectorized over words), and two rows share each load of a column
sample's words. Pairs are processed in square tiles of samples so one tile's planes stay in
cache, tiles in parallel (each tile pair writes its own cells, so counts are exact and do not
depend on the thread count). Kinship is computed cell by cell in one pass, without n x n
temporaries.
"""

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
    sub_tiles = _sub_tiles(0, n_samples, 0, n_samples)
    for start in range(0, n_variants, VARIANT_BLOCK):
        stop = min(start + VARIANT_BLOCK, n_variants)
        sample_major_planes(packed, start, stop, n_samples, planes)
        # het is passed twice: het[i, j] and het[j, i] land in the one matrix.
        _accumulate_pairs(planes, stop - start, sub_tiles, 0, 0, hethet, ibs0, het, het, n_both)
    lower_tiles = _lower_tiles(n_samples)
    for matrix in (hethet, ibs0, n_both):
        _mirror_upper(matrix, lower_tiles)
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
    Same pairs, counts and kinship (bit for bit) as the full matrix
    ``king_kinship(*king_counts(...))``: pairs i < j with kinship > threshold (nan/-inf never
    qualify), ordered by i then j. Samples are processed ``tile`` x ``tile`` at a time (j-tile
    >= i-tile).
    Memory: the bit planes of every variant (32 * n_samples * ceil(n_variants / 64) bytes,
    n_samples * n_variants / 2) plus about 12 * 8 * tile**2 bytes (100 MB at tile 1024) per tile
    pair, plus the pairs kept.
    """
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    packed = checked_packed(packed, n_samples)
    n_variants = packed.shape[0]
    blocks = []  # (planes, n_block) of each variant block, kept for every tile
    for start in range(0, n_variants, VARIANT_BLOCK):
        stop = min(start + VARIANT_BLOCK, n_variants)
        planes = np.zeros((n_samples, 4, (stop - start + 63) // 64), dtype=np.uint64)
        sample_major_planes(packed, start, stop, n_samples, planes)
        blocks.append((planes, stop - start))
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
            for planes, n_block in blocks:
                _accumulate_pairs(
                    planes,
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
            kinship = _kinship(hethet, ibs0, het_i, het_j)
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
def _accumulate_pairs(planes, n_block, sub_tiles, r0, c0, hethet, ibs0, het_i, het_j, n_both):
    """Add one block's counts for every pair i <= j of the sub-tiles (the one tile kernel of
    :func:`king_counts` and :func:`king_related_pairs`).

    planes: uint64 (n_samples, 4, n_words), from ``sample_major_planes``, of a block of
    n_block variants; sub_tiles: int64 (k, 4) of (i0, i1, j0, j1) sample ranges; each sub-tile
    writes only its own cells, so counts do not depend on the thread count. Rows go two at a
    time (:func:`_pair_counts`). Pair (i, j) goes to [i - r0, j - c0] of hethet, ibs0, n_both
    and het_i (i het, j called), and "j het, i called" to het_j[j - c0, i - r0] (skipped for
    i == j).
    """
    for t in prange(sub_tiles.shape[0]):
        i1 = sub_tiles[t, 1]
        for i in range(sub_tiles[t, 0], i1, 2):
            k = min(i + 1, i1 - 1)  # the second row; i again on an odd last row
            for j in range(max(i, sub_tiles[t, 2]), sub_tiles[t, 3]):
                counts_i, counts_k = _pair_counts(planes, i, k, j)
                _add_counts(counts_i, n_block, i, j, r0, c0, hethet, ibs0, het_i, het_j, n_both)
                if i < k <= j:
                    _add_counts(counts_k, n_block, k, j, r0, c0, hethet, ibs0, het_i, het_j, n_both)


@kernel
def _add_counts(counts, n_block, i, j, r0, c0, hethet, ibs0, het_i, het_j, n_both):
    """Add one pair's :func:`_pair_counts` to the count arrays (as :func:`_accumulate_pairs`)."""
    hh, opp, hi, hj, either_missing = counts
    hethet[i - r0, j - c0] += hh
    ibs0[i - r0, j - c0] += opp
    n_both[i - r0, j - c0] += n_block - either_missing
    het_i[i - r0, j - c0] += hi
    if j != i:
        het_j[j - c0, i - r0] += hj


@kernel
def _pair_counts(planes, i, k, j):
    """Counts of the pairs (i, j) and (k, j) in one block: two tuples (hethet, ibs0, first het
    & j called, j het & first called, either missing). Two rows per pass share the loads of j's
    words, which bound the speed of one pair at a time."""
    p_i, p_k, p_j = planes[i], planes[k], planes[j]
    counts_i = counts_k = (0, 0, 0, 0, 0)
    for w in range(p_j.shape[1]):
        a_j, r_j, h_j, m_j = p_j[HOM_ALT, w], p_j[HOM_REF, w], p_j[HET, w], p_j[MISSING, w]
        counts_i = _plus(counts_i, _word_counts(p_i, w, a_j, r_j, h_j, m_j))
        counts_k = _plus(counts_k, _word_counts(p_k, w, a_j, r_j, h_j, m_j))
    return counts_i, counts_k


@kernel
def _word_counts(p_x, w, a_j, r_j, h_j, m_j):
    """Counts of word w for sample x (planes p_x: uint64 (4, n_words)) against sample j (its
    word w of each plane): (hethet, ibs0, x het & j called, j het & x called, either missing)."""
    h, m = p_x[HET, w], p_x[MISSING, w]
    return (
        popcount(h & h_j),
        popcount((p_x[HOM_ALT, w] & r_j) | (p_x[HOM_REF, w] & a_j)),
        popcount(h & ~m_j),
        popcount(h_j & ~m),
        popcount(m | m_j),
    )


@kernel
def _plus(a, b):
    """Elementwise sum of two 5-tuples of counts."""
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


@parallel_kernel
def _mirror_upper(matrix, lower_tiles):
    """Copy the upper triangle of a square matrix onto its lower triangle, in place, one
    (i0, i1, j0, j1) tile of ``lower_tiles`` (int64 (k, 4), from :func:`_lower_tiles`) at a
    time, so the transposed reads stay in cache."""
    for t in prange(lower_tiles.shape[0]):
        for i in range(lower_tiles[t, 0], lower_tiles[t, 1]):
            for j in range(lower_tiles[t, 2], min(lower_tiles[t, 3], i)):
                matrix[i, j] = matrix[j, i]


def _lower_tiles(n: int) -> np.ndarray:
    """int64 (k, 4): (i0, i1, j0, j1) SAMPLE_TILE-square tiles covering the lower triangle of
    an n x n matrix (the transposes of :func:`_sub_tiles` ``(0, n, 0, n)``)."""
    return _sub_tiles(0, n, 0, n)[:, [2, 3, 0, 1]]


def king_kinship(
    hethet: np.ndarray, ibs0: np.ndarray, het: np.ndarray, n_both: np.ndarray | None = None
) -> np.ndarray:
    """KING-robust between-family kinship, exactly as PLINK 2 ``--make-king-table`` KINSHIP.

    hethet, ibs0, het: int64, shape (n, n), from :func:`king_counts` (n_both is accepted so the
    tuple can be splatted, and unused). Returns float64, shape (n, n), symmetric, diagonal 0.5
    (for samples with a het call). A pair with no het call in the less heterozygous sample gives
    ``-inf`` (``nan`` if it also has no IBS0 or het-hom call), as PLINK 2 prints.
    Memory: the result only (no n x n temporaries).
    """
    del n_both
    het = np.ascontiguousarray(het, dtype=np.int64)
    return _kinship(hethet, ibs0, het, het)  # het[j, i] is "j het, i called"


def _kinship(hethet, ibs0, het_i, het_j_t) -> np.ndarray:
    """float64 (r, c): PLINK 2's KING-robust kinship of each cell [a, b] of the int64 (r, c)
    counts hethet, ibs0 and het_i (a het, b called), with "b het, a called" at het_j_t[b, a]
    (het_j_t: int64 (c, r)); the one formula of both KING paths."""
    hethet, ibs0, het_i, het_j_t = (
        np.ascontiguousarray(a, dtype=np.int64) for a in (hethet, ibs0, het_i, het_j_t)
    )
    kinship = np.empty(hethet.shape, dtype=np.float64)
    _kinship_tiles(hethet, ibs0, het_i, het_j_t, kinship)
    return kinship


@parallel_kernel(error_model="numpy")
def _kinship_tiles(hethet, ibs0, het_i, het_j_t, kinship):
    """Fill ``kinship`` (float64 (r, c)) as :func:`_kinship`, in 64-square tiles of cells so
    the transposed reads of het_j_t stay in cache; x / 0 gives inf or nan, as in NumPy."""
    rows, cols = kinship.shape
    tile = 64
    for a0 in prange((rows + tile - 1) // tile):
        for b0 in range(0, cols, tile):
            for a in range(a0 * tile, min(a0 * tile + tile, rows)):
                for b in range(b0, min(b0 + tile, cols)):
                    h_i = het_i[a, b]
                    h_j = het_j_t[b, a]
                    numerator = 4.0 * ibs0[a, b] + (h_i - hethet[a, b]) + (h_j - hethet[a, b])
                    kinship[a, b] = 0.5 - numerator / (4.0 * min(h_i, h_j))
