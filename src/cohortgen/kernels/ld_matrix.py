"""Blocked LD (correlation) matrices from packed genotypes of a chosen sample set.

Input ``packed`` is uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes (see
:mod:`cohortgen.kernels.bed`); dosage = ALT count. Only the samples in ``sample_idx`` (e.g. the
training folds) are read, so no other sample can influence the result.

Genotypes are standardised per variant over the selected samples with mean imputation: a missing
call becomes the mean of the called dosages, then z = (x − mean) / sd with the population SD of
the imputed column. A variant with sd = 0 (monomorphic, or all missing) has z = 0, so its row
and column of the correlation matrix are 0, diagonal included. Correlations are r = zᵀz / k.

Blocks are contiguous variant ranges ``[bounds[b], bounds[b + 1])`` that never cross a contig; each
block's dense (size, size) matrix is stored row-major in one flat float64 array at
``offsets[b]`` (``offsets[b + 1] = offsets[b] + size²``). The product zᵀz is one BLAS
symmetric rank-k update per block (``?syrk``: one triangle, half the flops of a matrix product;
multithreaded), mirrored; decoding and standardising is one Numba kernel
(:func:`standardized_dosages`), written straight in the product's precision.
"""

import numpy as np
from numba import prange
from scipy.linalg import blas

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import CODE_DOSAGE_F64, checked_rows, checked_sample_idx


def block_bounds(contig: np.ndarray, max_block_variants: int = 500) -> np.ndarray:
    """Split contiguous contig runs into blocks of at most ``max_block_variants`` variants.

    contig: shape (m,), contig label per variant (any comparable dtype), variants grouped by
    contig and in position order. Each contig run is cut into the fewest blocks of near-equal
    size. Returns int64, shape (b + 1,): block boundaries, ``bounds[0] = 0``, ``bounds[-1] = m``.
    Pass known LD-block boundaries instead (e.g. Berisa & Pickrell 2016) where available.
    """
    contig = np.asarray(contig)
    if max_block_variants < 1:
        raise ValueError(f"max_block_variants must be >= 1, got {max_block_variants}")
    m = contig.shape[0]
    if m == 0:
        return np.zeros(1, dtype=np.int64)
    run_starts = np.flatnonzero(np.r_[True, contig[1:] != contig[:-1]])
    run_ends = np.r_[run_starts[1:], m]
    bounds = [0]
    for start, end in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
        n_blocks = -(-(end - start) // max_block_variants)
        cuts = np.linspace(start, end, n_blocks + 1).round().astype(np.int64)
        bounds.extend(cuts[1:].tolist())
    return np.asarray(bounds, dtype=np.int64)


def standardized_dosages(
    packed: np.ndarray, n_samples: int, sample_idx: np.ndarray, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean-imputed, standardised ALT dosages of the selected samples.

    packed: uint8, shape (m, ceil(n_samples / 4)). sample_idx: int64, shape (k,), k >= 1.
    Returns z: ``dtype`` (float32 or float64) (m, k), 0 for missing calls (imputed to the mean)
    and for sd = 0 variants; mean, sd: float64 (m,) of the imputed dosages (population SD; mean
    0 when every call is missing). Mean and SD come from each variant's genotype counts, z in
    one pass (one Numba kernel, variants in parallel).
    """
    idx = checked_sample_idx(sample_idx, n_samples, allow_empty=False)
    m = packed.shape[0]
    z = np.empty((m, idx.size), dtype=dtype)
    mean, sd = np.empty(m), np.empty(m)
    _standardized_into(packed, idx, CODE_DOSAGE_F64, z, mean, sd)
    return z, mean, sd


def standardized_float_dosages(dosage: np.ndarray, dtype=np.float64
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`standardized_dosages` of dosages already decoded: dosage float32 or float64
    (m, k), NaN missing (imputed dosages, any value in 0..2). Same z, mean and sd
    conventions (a missing dosage becomes the mean, so z = 0; population SD over k)."""
    d = np.asarray(dosage, dtype=np.float64)
    called = ~np.isnan(d)
    n_called = called.sum(axis=1)
    mean = np.divide(np.where(called, d, 0.0).sum(axis=1), n_called,
                     out=np.zeros(d.shape[0]), where=n_called > 0)
    centred = np.where(called, d - mean[:, None], 0.0)
    sd = np.sqrt(np.sum(centred * centred, axis=1) / d.shape[1])
    sd[sd <= 1e-12] = 0.0
    scale = np.divide(1.0, sd, out=np.zeros_like(sd), where=sd > 0)
    return (centred * scale[:, None]).astype(dtype), mean, sd


@parallel_kernel
def _standardized_into(packed, sample_idx, code_dosage, z, mean, sd):
    """Fill z (r, k), mean and sd (r,) (see :func:`standardized_dosages`); code_dosage:
    float64 (4,) dosage of each 2-bit code, negative for missing."""
    k = sample_idx.shape[0]
    for v in prange(packed.shape[0]):
        row = packed[v]
        counts = np.zeros(4)
        for t in range(k):
            s = sample_idx[t]
            counts[(row[s >> 2] >> ((s & 3) * 2)) & 3] += 1.0
        called = 0.0
        total = 0.0
        for code in range(4):
            if code_dosage[code] >= 0.0:
                called += counts[code]
                total += counts[code] * code_dosage[code]
        mu = total / called if called > 0.0 else 0.0
        squares = 0.0
        for code in range(4):
            if code_dosage[code] >= 0.0:
                squares += counts[code] * (code_dosage[code] - mu) ** 2
        sigma = np.sqrt(squares / k)
        if sigma <= 1e-12:
            sigma = 0.0
        scale = 1.0 / sigma if sigma > 0.0 else 0.0
        values = np.zeros(4)
        for code in range(4):
            if code_dosage[code] >= 0.0:
                values[code] = (code_dosage[code] - mu) * scale
        for t in range(k):
            s = sample_idx[t]
            z[v, t] = values[(row[s >> 2] >> ((s & 3) * 2)) & 3]
        mean[v] = mu
        sd[v] = sigma


def block_correlations(
    packed: np.ndarray,
    n_samples: int,
    sample_idx: np.ndarray,
    bounds: np.ndarray,
    *,
    pos: np.ndarray | None = None,
    window_bp: int | None = None,
    dtype=np.float64,
    read_block=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dense within-block correlation matrices over the selected samples.

    packed: uint8 (m, ceil(n_samples / 4)), or a row source read one block at a time
    (:func:`cohortgen.kernels.bed.checked_rows`); sample_idx: int64 (k,); bounds: int64 (b + 1,)
    from :func:`block_bounds`. With ``window_bp`` (and ``pos``: int64 (m,)) entries of pairs more
    than ``window_bp`` apart are set to 0 (banding; the result may then be indefinite).
    Returns corr: ``dtype`` flat (Σ size²,) (float32: the product too is float32, about 1e-6
    relative error, half the memory and twice the speed),
    offsets: int64 (b + 1,), mean, sd: float64 (m,) of the mean-imputed training dosages.
    Peak extra memory: one block's z, (size, k) of ``dtype``. With ``read_block`` (s, e) →
    float (e − s, k) dosages of the samples ``sample_idx`` (NaN missing; imputed dosages),
    blocks are read through it and standardised by :func:`standardized_float_dosages`
    (``packed`` is then only counted for m).
    """
    packed = checked_rows(packed, n_samples)
    sample_idx = checked_sample_idx(sample_idx, n_samples, allow_empty=False)
    bounds = _checked_bounds(bounds, packed.shape[0])
    if window_bp is not None and pos is None:
        raise ValueError("window_bp needs pos")
    sizes = np.diff(bounds)
    offsets = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes * sizes, out=offsets[1:])
    corr = np.empty(int(offsets[-1]), dtype=dtype)
    m = packed.shape[0]
    mean = np.empty(m, dtype=np.float64)
    sd = np.empty(m, dtype=np.float64)
    k = sample_idx.size
    for b in range(sizes.size):
        s, e = int(bounds[b]), int(bounds[b + 1])
        z, mean[s:e], sd[s:e] = (
            standardized_dosages(packed[s:e], n_samples, sample_idx, dtype) if read_block is None
            else standardized_float_dosages(read_block(s, e), dtype))
        if window_bp is None:
            block = gram(z, 1.0 / k)
        else:
            block = banded_gram(z, np.asarray(pos[s:e], dtype=np.int64), window_bp, 1.0 / k)
        corr[offsets[b] : offsets[b + 1]] = block.ravel()
    return corr, offsets, mean, sd


def gram(z: np.ndarray, scale: float) -> np.ndarray:
    """scale · z zᵀ for z: float32 or float64 (r, k), C-contiguous; same dtype, (r, r), by
    BLAS ``?syrk`` on the upper triangle, mirrored to the lower."""
    syrk = blas.ssyrk if z.dtype == np.float32 else blas.dsyrk
    upper = syrk(scale, z.T, trans=1)  # (zᵀ)ᵀ zᵀ = z zᵀ, zᵀ read in place (Fortran order)
    return np.triu(upper) + np.triu(upper, 1).T


BAND_TILE = 100
"""Variants per tile of :func:`banded_gram`."""


def banded_gram(z: np.ndarray, pos: np.ndarray, window_bp: int, scale: float) -> np.ndarray:
    """:func:`gram` with the entries of pairs more than ``window_bp`` apart set to 0, computing
    only the tiles of :data:`BAND_TILE` variants that hold a pair within the window.

    z: float32 or float64 (r, k), C-contiguous; pos: int64 (r,) ascending. Returns (r, r) of
    z's dtype. The same values as the full product, masked, up to the rounding of a different
    BLAS blocking.
    """
    r = z.shape[0]
    out = np.zeros((r, r), dtype=z.dtype)
    for a in range(0, r, BAND_TILE):
        ea = min(a + BAND_TILE, r)
        out[a:ea, a:ea] = gram(z[a:ea], scale)
        for c in range(ea, r, BAND_TILE):
            if pos[c] - pos[ea - 1] > window_bp:
                break
            ec = min(c + BAND_TILE, r)
            tile = (z[a:ea] @ z[c:ec].T) * z.dtype.type(scale)
            out[a:ea, c:ec] = tile
            out[c:ec, a:ea] = tile.T
    out[np.abs(pos[:, None] - pos[None, :]) > window_bp] = 0.0
    return out


def _checked_bounds(bounds: np.ndarray, m: int) -> np.ndarray:
    """int64 block boundaries, checked to run from 0 to m strictly increasing."""
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    if bounds.ndim != 1 or bounds[0] != 0 or bounds[-1] != m or np.any(np.diff(bounds) <= 0):
        raise ValueError(f"bounds must increase strictly from 0 to {m}")
    return bounds
