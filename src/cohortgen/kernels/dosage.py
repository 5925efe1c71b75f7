"""Per-variant summaries of imputed dosages: allele frequency, observed allele count, missing
count and MaCH r², as ``plink2 --freq cols=+machr2`` reports them (SCIENCE.md, Imputed dosages).

``dosage`` is always float32, shape (n_variants, n_samples): ALT allele dosage on PLINK 2's
0..2 scale (a haploid call's dosage doubled), NaN for missing. ``weight`` (int8, same shape,
:func:`allele_weights`; the kernel derives it per call) is the alleles a sample carries (2
diploid, 1 haploid: a male on non-PAR chrX, everyone on chrY and MT), as PLINK 2 counts them.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.bed import fill_missing_with_mean
from cohortgen.kernels.gt import REGION_DIPLOID, REGION_X

SUMMARY_COLUMNS = ("alt_dosage", "obs_alleles", "n_missing", "mach_r2")
"""Columns of :func:`dosage_summaries`: ALT allele dosage sum, alleles observed, samples with a
missing dosage, MaCH r² (NaN outside diploid regions and for a monomorphic variant)."""


def allele_weights(region: np.ndarray, male: np.ndarray) -> np.ndarray:
    """int8 (n_variants, n_samples) alleles per call: ``region`` int8 (n_variants,)
    ``REGION_*`` codes (:mod:`cohortgen.kernels.gt`), ``male`` bool (n_samples,)."""
    region = np.asarray(region, dtype=np.int8)[:, None]
    male = np.asarray(male, dtype=bool)[None, :]
    haploid = ((region == REGION_X) & male) | ((region != REGION_DIPLOID) & (region != REGION_X))
    return np.where(haploid, 1, 2).astype(np.int8)


@parallel_kernel
def dosage_summaries(dosage, region, male):
    """float64 (n_variants, 4) :data:`SUMMARY_COLUMNS` of ``dosage`` float32 (m, n), in one pass:
    ``region`` int8 (m,) ``REGION_*`` codes and ``male`` bool (n,) give each call's alleles as
    :func:`allele_weights` does (without the (m, n) matrix); MaCH r² only on diploid rows.

    MaCH r² = variance of the dosages over the non-missing samples (divisor n) / (2 p (1 - p)),
    p = mean dosage / 2 (PLINK 2's MACH_R2; NaN when p is 0 or 1). Rows are independent, so
    the result does not depend on the thread count.
    """
    m, n = dosage.shape
    out = np.empty((m, 4), dtype=np.float64)
    for i in prange(m):
        diploid = region[i] == REGION_DIPLOID
        male_weight = 2 if diploid else 1
        female_weight = 2 if diploid or region[i] == REGION_X else 1
        alt = 0.0
        obs = 0
        missing = 0
        total = 0.0
        squares = 0.0
        for j in range(n):
            d = np.float64(dosage[i, j])
            if np.isnan(d):
                missing += 1
                continue
            w = male_weight if male[j] else female_weight
            alt += d * w
            obs += w
            total += d
            squares += d * d
        out[i, 0] = alt / 2.0
        out[i, 1] = obs
        out[i, 2] = missing
        out[i, 3] = np.nan
        called = n - missing
        if diploid and called > 0:
            mean = total / called
            p = mean / 2.0
            if 0.0 < p < 1.0:
                variance = max(squares / called - mean * mean, 0.0)
                out[i, 3] = variance / (2.0 * p * (1.0 - p))
    return out


def dosage_summaries_naive(dosage, region, male) -> np.ndarray:
    """NumPy twin of :func:`dosage_summaries` (the test oracle), through the weight matrix."""
    weight = allele_weights(region, male)
    diploid = region == REGION_DIPLOID
    out = np.full((dosage.shape[0], 4), np.nan)
    for i, (row, w) in enumerate(zip(dosage.astype(np.float64), weight, strict=True)):
        ok = ~np.isnan(row)
        out[i, :3] = (row[ok] * w[ok] / 2).sum(), w[ok].sum(), (~ok).sum()
        p = row[ok].mean() / 2 if ok.any() else np.nan
        if diploid[i] and 0 < p < 1:
            out[i, 3] = row[ok].var() / (2 * p * (1 - p))
    return out


@kernel(error_model="numpy")
def missing_counts(G):
    """int64 (b,): the missing values (negative, as pgenlib's -9, or NaN) of each row of G
    float64 (b, k). Read-only, one pass: the block that pgenlib wrote as float64 straight
    into G. Serial, as :func:`mean_impute_rows`: the block is memory-bound, and serial kernels
    spare the job the load of Numba's parallel machinery."""
    b, k = G.shape
    out = np.zeros(b, dtype=np.int64)
    for v in range(b):
        row = G[v]
        missing = 0
        for i in range(k):
            missing += not row[i] >= 0.0
        out[v] = missing
    return out


@kernel(error_model="numpy")
def mean_impute_rows(G, n_missing):
    """Replace in place the missing values (as :func:`missing_counts`) of the rows of G
    float64 (b, k) whose ``n_missing`` int64 (b,) is not 0 by the row's mean over its other
    values, summed in column order (0.0 when none): for hard calls,
    :func:`cohortgen.kernels.bed.dosages_mean_imputed`'s values, bit for bit."""
    for v in np.flatnonzero(n_missing):
        row = G[v]
        total = 0.0
        for i in range(row.size):
            if row[i] >= 0.0:
                total += row[i]
            else:
                row[i] = -1.0  # NaN too: fill_missing_with_mean replaces negative values
        fill_missing_with_mean(row, total, n_missing[v])


def mean_impute_rows_naive(raw: np.ndarray, sample_idx: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """NumPy twin (the test oracle) of :func:`missing_counts` and :func:`mean_impute_rows` on
    the columns ``sample_idx`` (int (k,)) of ``raw`` (float (b, n_file), negative or NaN
    missing; an index >= n_file is a sample without dosages, missing on every row): (G float64
    (b, k) mean-imputed, n_missing int64 (b,))."""
    n_file = raw.shape[1]
    G = np.full((raw.shape[0], len(sample_idx)), np.nan)
    inside = np.asarray(sample_idx) < n_file
    G[:, inside] = raw[:, np.asarray(sample_idx)[inside]]
    G[G < 0] = np.nan
    missing = np.isnan(G)
    for row, gaps in zip(G, missing, strict=True):
        row[gaps] = row[~gaps].mean() if (~gaps).any() else 0.0
    return G, missing.sum(axis=1)
