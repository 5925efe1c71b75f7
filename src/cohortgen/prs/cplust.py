"""Clumping + thresholding (C+T) weights, tuned inside the training samples only.

PRSice-2 style: clump every testable variant (index p ≤ the largest p threshold, members
p ≤ 1) within ``window_bp`` at each r² of the grid, keep index variants with p ≤ p_T, weight
them by their one-step log-odds (score test U/V per ALT allele).

Tuning: the training samples are split once into inner-train (1 − 1/k) and inner-validation
(1/k): the split (and inner-train GWAS) the cross-validation harness shares across diseases, or
else a split stratified by this disease (seeded). GWAS and clumping use inner-train; each
(r², p_T) is scored on inner-validation (every p_T of the grid from one pass over the index
variants, :func:`threshold_grid_scores`) and judged by the squared partial correlation of score
and phenotype given the covariates (linear, intercept included). The best pair (first in grid
order on ties) is then applied to the GWAS and clumping of all training samples. The held-out
fold is never read.
"""

import hashlib
import importlib
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from cohortgen.kernels.ct_scores import column_scores
from cohortgen.prs.folds import (
    CHUNK_VARIANTS,
    MethodResult,
    TrainingGwas,
    TrainingSet,
    grid_scores,
    stratified_folds,
    training_gwas,
)

R2_GRID = (0.1, 0.2, 0.5, 0.8)
P_THRESHOLDS = (5e-8, 1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.5, 1.0)
WINDOW_BP = 250_000
INNER_K = 5
"""Inner split: 1/INNER_K of the training samples validate the (r², p_T) grid."""

ClumpFn = Callable[..., tuple[np.ndarray, np.ndarray]]


def clump_index_variants(
    train: TrainingSet,
    sample_idx: np.ndarray,
    p: np.ndarray,
    r2: float,
    p_index: float,
    window_bp: int,
    clump_fn: ClumpFn,
) -> np.ndarray:
    """bool (m,): index variants of PLINK-style clumping per contig over ``sample_idx``.

    p: float64 (m,), NaN = untestable (never an index variant).
    """
    mask = np.zeros(train.n_samples, dtype=bool)
    mask[sample_idx] = True
    is_index = np.zeros(p.size, dtype=bool)
    usable = np.isfinite(p)
    for label in np.unique(train.contig[usable]):
        rows = np.flatnonzero(usable & (train.contig == label))
        idx, _ = clump_fn(
            train.packed[rows],
            train.n_samples,
            train.pos[rows],
            p[rows],
            r2=r2,
            window_bp=window_bp,
            p_index=p_index,
            p_member=1.0,
            sample_mask=mask,
        )
        is_index[rows] = idx
    return is_index


def grid_index_variants(
    train: TrainingSet,
    sample_idx: np.ndarray,
    p: np.ndarray,
    r2_grid: tuple[float, ...],
    r2: float,
    p_index: float,
    window_bp: int,
) -> np.ndarray:
    """:func:`clump_index_variants` with the kernel clump (p_member 1) at r² ∈ ``r2_grid``.

    The r² classes of all pairs within the window (:func:`cohortgen.kernels.clump.pair_levels`)
    are computed once per contig, sample set, window and grid and cached in ``train.shared``,
    so every disease of a fold and every r² of the grid reuse them.
    """
    clump = importlib.import_module("cohortgen.kernels.clump")
    thresholds = np.array(sorted(set(r2_grid)), dtype=np.float64)
    level = int(np.searchsorted(thresholds, r2)) + 1
    samples = hashlib.sha256(np.ascontiguousarray(sample_idx, dtype=np.int64)).hexdigest()
    mask = np.zeros(train.n_samples, dtype=bool)
    mask[sample_idx] = True
    is_index = np.zeros(p.size, dtype=bool)
    for label in np.unique(train.contig[np.isfinite(p)]):
        rows = np.flatnonzero(train.contig == label)
        key = ("pair_levels", samples, label, window_bp, tuple(thresholds))
        if key not in train.shared:
            train.shared[key] = clump.pair_levels(train.packed[rows], train.n_samples,
                                                  train.pos[rows], thresholds, window_bp, mask)
        start, levels = train.shared[key]
        is_index[rows] = clump.clump_by_levels(p[rows], start, levels, level, p_index, 1.0)[0]
    return is_index


def threshold_weights(
    beta: np.ndarray, p: np.ndarray, is_index: np.ndarray, p_threshold: float
) -> np.ndarray:
    """float64 (m,): ``beta`` on index variants with p ≤ ``p_threshold``, else 0."""
    keep = is_index & np.isfinite(p) & (p <= p_threshold)
    return np.where(keep, beta, 0.0)


def threshold_grid_scores(
    train: TrainingSet,
    sample_idx: np.ndarray,
    gwas: TrainingGwas,
    is_index: np.ndarray,
    p_thresholds: tuple[float, ...],
) -> np.ndarray:
    """Scores of the samples ``sample_idx`` (int64 (k,)) for every (r², p_T) of the grid.

    is_index: bool (R, m), the index variants at each r². Column r·T + t holds the score of
    :func:`threshold_weights` (gwas.beta, gwas.p, is_index[r], p_thresholds[t]), missing dosages
    at ``gwas.mean``; float64 (k, R·T). The thresholds are nested, so each variant is added once
    per r², to the bin of the smallest threshold it passes, and a cumulative sum over the bins
    gives every threshold (equal to the column-by-column sums up to rounding).
    """
    cuts = np.unique(np.asarray(p_thresholds, dtype=np.float64))
    bins = np.searchsorted(cuts, gwas.p)  # first cut ≥ p; len(cuts) for NaN or p > every cut
    passes = is_index & (bins < cuts.size)
    slots = np.where(passes, np.arange(is_index.shape[0])[:, None] * cuts.size + bins, -1).T
    rows = np.flatnonzero(np.any(passes, axis=0) & (gwas.beta != 0.0))
    n_columns = is_index.shape[0] * cuts.size
    if train.dosages is None:
        sums = np.zeros((n_columns, np.size(sample_idx)))
        for s in range(0, rows.size, CHUNK_VARIANTS):  # genotypes read a block at a time
            part = rows[s : s + CHUNK_VARIANTS]
            column_scores(train.packed[part], train.n_samples, sample_idx, np.arange(part.size),
                          gwas.beta[part], gwas.mean[part], slots[part], n_columns, out=sums)
        partial = sums.T
    else:  # the same sums as one weight matrix over the dosages (a variant's bin per r²)
        W = np.zeros((gwas.beta.size, n_columns))
        at, slot = np.nonzero(slots[rows] >= 0)
        W[rows[at], slots[rows][at, slot]] = gwas.beta[rows][at]
        partial = grid_scores(None, train.n_samples, sample_idx, W, gwas.mean, train.dosages)
    cumulative = np.cumsum(partial.reshape(-1, is_index.shape[0], cuts.size), axis=2)
    return cumulative[:, :, np.searchsorted(cuts, p_thresholds)].reshape(partial.shape[0], -1)


def partial_r2(scores: np.ndarray, y: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """Squared partial correlation of y with each score column given covariates.

    scores: float64 (k, g); y: (k,); covariates: (k, c) (intercept added). Rows with a missing
    y or covariate are dropped. A constant score column gets 0. Returns float64 (g,). The QR
    and the products run on one BLAS thread, so the grid's best (r², p_T) does not depend on
    the job's thread count.
    """
    ok = np.isfinite(y) & np.all(np.isfinite(covariates), axis=1)
    X = np.column_stack([np.ones(ok.sum()), covariates[ok]])
    S = scores[ok]
    with threadpool_limits(1, user_api="blas"):
        Q, _ = np.linalg.qr(X)
        ry = y[ok] - Q @ (Q.T @ y[ok])
        RS = S - Q @ (Q.T @ S)
        num = (RS.T @ ry) ** 2
        den = np.sum(RS**2, axis=0) * (ry @ ry)
    tiny = 1e-12 * np.maximum(np.sum((S - S.mean(axis=0)) ** 2, axis=0), 1e-300)
    return np.where(np.sum(RS**2, axis=0) > tiny, num / np.where(den > 0, den, 1.0), 0.0)


def inner_split(train: TrainingSet) -> tuple[np.ndarray, np.ndarray, TrainingGwas]:
    """(inner-train rows, inner-validation rows, GWAS on inner-train) of the training set:
    the shared split of ``train`` when it has one, else one stratified by ``train.y``."""
    if train.inner_val is not None and train.inner_gwas is not None:
        return (np.flatnonzero(~train.inner_val), np.flatnonzero(train.inner_val),
                train.inner_gwas)
    inner = stratified_folds(train.y, k=INNER_K, seed=train.seed)
    fit = np.flatnonzero((inner >= 0) & (inner != 0))
    gwas = training_gwas(
        train.packed, train.n_samples, train.train_idx[fit], train.y[fit], train.covariates[fit],
        train.dosages,
    )
    return fit, np.flatnonzero(inner == 0), gwas


def cplust_weights(
    train: TrainingSet,
    r2_grid: tuple[float, ...] = R2_GRID,
    p_thresholds: tuple[float, ...] = P_THRESHOLDS,
    window_bp: int = WINDOW_BP,
    clump_fn: ClumpFn | None = None,
) -> MethodResult:
    """C+T weights from training data, (r², p_T) tuned on an inner split of the training set.

    Clumping is :func:`grid_index_variants` (pair r² shared across diseases and the grid), or
    :func:`clump_index_variants` with ``clump_fn`` when one is given.
    Returns :class:`MethodResult` with weights float64 (m,) and details: r2, p_threshold,
    n_variants, and grid (float64 (len(r2_grid), len(p_thresholds)) inner partial R²).
    """
    fit, val, inner_gwas = inner_split(train)
    p_index = max(p_thresholds)

    def index_variants(sample_idx, p, r2):
        if clump_fn is None:
            return grid_index_variants(train, sample_idx, p, r2_grid, r2, p_index, window_bp)
        return clump_index_variants(train, sample_idx, p, r2, p_index, window_bp, clump_fn)

    is_index = np.stack([index_variants(train.train_idx[fit], inner_gwas.p, r2)
                         for r2 in r2_grid])
    S = threshold_grid_scores(train, train.train_idx[val], inner_gwas, is_index, p_thresholds)
    grid = partial_r2(S, train.y[val], train.covariates[val]).reshape(
        len(r2_grid), len(p_thresholds)
    )
    best_r, best_t = np.unravel_index(int(np.argmax(grid)), grid.shape)
    r2, p_t = r2_grid[best_r], p_thresholds[best_t]
    gwas = train.gwas
    is_index = index_variants(train.train_idx, gwas.p, r2)
    weights = threshold_weights(gwas.beta, gwas.p, is_index, p_t)
    details = {
        "r2": r2,
        "p_threshold": p_t,
        "n_variants": int(np.count_nonzero(weights)),
        "grid": grid,
    }
    return MethodResult(weights, "ok", details)


def cplust_builder(**options) -> Callable[[TrainingSet], MethodResult]:
    """Builder for :func:`cohortgen.prs.folds.cross_validated_scores` (options as
    :func:`cplust_weights`)."""

    def build(train: TrainingSet) -> MethodResult:
        return cplust_weights(train, **options)

    return build
