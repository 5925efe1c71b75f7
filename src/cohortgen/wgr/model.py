"""Whole-genome regression step 1 (REGENIE's scheme, Mbatchou et al. 2021) on arrays.

Conventions (n samples that enter step 1, t traits, K folds, r shrinkage values per level):

- Covariates are regressed out of genotypes and traits (least squares with an intercept, over
  the samples that have the trait), which are then standardised (mean 0, SD 1 with n − 1).
  A trait's missing values are 0 after standardising, so they add nothing to XᵀY; at level 0
  those samples' genotypes still enter XᵀX (shared by all traits), as in REGENIE.
- Level 0: per block of consecutive variants, a ridge regression of all traits at each of the
  r level-0 shrinkage values λ = M(1 − h²)/h² (M: variants in step 1, h² in :data:`H2_GRID`),
  fitted K times without one fold and predicting that fold. Each prediction column is then
  centred and scaled over the trait's samples (SD with n − 1), as REGENIE does.
- Level 1: per trait, ridge (quantitative) or logistic ridge with the covariates' null log-odds
  as offset (disease) on the b·r stacked level-0 columns, with τ = P(1 − h²)/h² (P = b·r; times
  3/π² for diseases: the liability scale), again fitted without each fold. The τ with the best
  pooled out-of-fold fit is chosen: the highest R² = 1 − SSE/SST (quantitative) or the lowest
  deviance (disease).
- LOCO: the prediction of a sample in fold k for chromosome c is its level-0 columns of the
  blocks on other chromosomes times the chosen level-1 fit without fold k (out of sample).
  Units: standardised residual trait (quantitative), log-odds without the offset (disease).
"""

from dataclasses import dataclass

import numpy as np

from cohortgen.errors import InputError
from cohortgen.kernels.ridge import (
    logistic_deviance,
    logistic_ridge,
    out_of_fold_predictions,
    ridge_fold_coefficients,
    weighted_gram,
)

H2_GRID = np.array([0.01, 0.25, 0.5, 0.75, 0.99])
"""Heritability values behind each level's shrinkage grid (REGENIE's defaults)."""

MIN_CASES_PER_FOLD = 2
"""A disease enters level 1 with at least this many cases and controls per fold on average."""


@dataclass(frozen=True)
class Level1Fit:
    """One trait's level-1 result. beta: float64 (K, P) coefficients of the chosen τ for the fits
    without each fold; shrinkage: the chosen τ; criterion: pooled out-of-fold R² (quantitative)
    or deviance (disease); scores: float64 (r,) that criterion per τ of the grid; converged:
    every logistic fit converged (True for quantitative traits)."""

    beta: np.ndarray
    shrinkage: float
    criterion: float
    scores: np.ndarray
    converged: bool


def shrinkage_grid(n_predictors: int, h2: np.ndarray = H2_GRID, scale: float = 1.0) -> np.ndarray:
    """Ridge shrinkage values n_predictors · (1 − h²)/h² · scale, float64 (len(h2),)."""
    return n_predictors * (1.0 - h2) / h2 * scale


def assign_folds(n: int, n_folds: int, seed: int) -> np.ndarray:
    """int64 (n,): fold of each sample, K groups of near-equal size of a seeded permutation."""
    if n < n_folds:
        raise InputError(f"{n} samples cannot be split into {n_folds} folds; lower --folds")
    order = np.random.default_rng(seed).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    folds[order] = np.arange(n) * n_folds // n
    return folds


def covariate_basis(design: np.ndarray) -> np.ndarray:
    """Orthonormal basis float64 (n, q) of [1, design] (design: float64 (n, c)), from a QR."""
    full = np.column_stack([np.ones(design.shape[0]), design])
    q, r = np.linalg.qr(full)
    keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, np.abs(np.diag(r)).max())
    return q[:, keep]


def standardised_genotypes(dosage: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Covariate-residualised genotypes scaled to SD 1 (n − 1), float64 (n, m).

    dosage: float64 (n, m) ALT dosages, no missing values; basis: (n, q) from
    :func:`covariate_basis`. A column without residual variance becomes 0.
    """
    residual = dosage - basis @ (basis.T @ dosage)
    sd = residual.std(axis=0, ddof=1)
    scale = np.divide(1.0, sd, out=np.zeros_like(sd), where=sd > 1e-8)
    return residual * scale


def standardised_traits(traits: np.ndarray, design: np.ndarray,
                        names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Covariate-residualised traits scaled to SD 1 (n − 1) over each trait's samples.

    traits: float64 (n, t), NaN missing; design: float64 (n, c) complete; names: the t traits
    (for messages). Returns (Y float64 (n, t) with 0 where missing, mask bool (n, t), residual
    SD float64 (t,)). InputError when a trait has no variance left after the covariates.
    """
    mask = np.isfinite(traits)
    Y = np.zeros_like(traits)
    sd = np.zeros(traits.shape[1])
    for j in range(traits.shape[1]):
        rows = mask[:, j]
        basis = covariate_basis(design[rows])
        residual = traits[rows, j] - basis @ (basis.T @ traits[rows, j])
        sd[j] = residual.std(ddof=1)
        if not sd[j] > 1e-12:
            raise InputError(
                f"trait {names[j]!r} has no variance left after adjusting for the covariates "
                "and PCs; drop it from the step-1 traits")
        Y[rows, j] = residual / sd[j]
    return Y, mask, sd


def level0_block(G: np.ndarray, Y: np.ndarray, folds: np.ndarray, n_folds: int,
                 shrinkage: np.ndarray) -> np.ndarray:
    """Out-of-fold ridge predictions of one block, float64 (r, n, t), not yet standardised.

    G: float64 (n, m) standardised genotypes of the block; Y: float64 (n, t) standardised traits
    (0 where missing); shrinkage: float64 (r,) level-0 λ values.
    """
    beta = ridge_fold_coefficients(G, Y, folds, n_folds, shrinkage)
    return out_of_fold_predictions(G, beta, folds)


def standardise_predictions(pred: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Level-0 predictions (r, n, t) centred and scaled per (λ, trait) over the trait's samples
    (mask bool (n, t)); 0 outside the mask. Float64 (r, n, t)."""
    weights = mask[None, :, :].astype(np.float64)
    count = mask.sum(axis=0)[None, None, :]
    mean = (pred * weights).sum(axis=1, keepdims=True) / count
    centred = (pred - mean) * weights
    sd = np.sqrt((centred**2).sum(axis=1, keepdims=True) / (count - 1))
    return np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 0)


def level1_quantitative(X: np.ndarray, y: np.ndarray, mask: np.ndarray, folds: np.ndarray,
                        n_folds: int, shrinkage: np.ndarray) -> Level1Fit:
    """Cross-validated ridge of one quantitative trait on its stacked level-0 columns.

    X: float64 (n, P) standardised level-0 predictions, 0 where the trait is missing;
    y: float64 (n,) standardised trait, 0 where missing; mask: bool (n,) samples with the trait;
    shrinkage: float64 (r,) τ values.
    """
    beta = ridge_fold_coefficients(X, y[:, None], folds, n_folds, shrinkage)
    pred = out_of_fold_predictions(X, beta, folds)[:, :, 0]
    sse = ((pred[:, mask] - y[None, mask]) ** 2).sum(axis=1)
    sst = ((y[mask] - y[mask].mean()) ** 2).sum()
    r2 = 1.0 - sse / sst
    best = int(np.argmax(r2))
    return Level1Fit(beta[:, best, :, 0], float(shrinkage[best]), float(r2[best]), r2, True)


def level1_disease(X: np.ndarray, y: np.ndarray, offset: np.ndarray, folds: np.ndarray,
                   n_folds: int, shrinkage: np.ndarray) -> Level1Fit:
    """Cross-validated logistic ridge of one disease on its stacked level-0 columns.

    X: float64 (n, P) standardised level-0 predictions of the disease's samples; y: float64 (n,)
    0/1; offset: float64 (n,) null-model log-odds (covariates); shrinkage: float64 (r,) τ values,
    fitted in the given order with warm starts (the coefficients and the curvature XᵀWX of the
    previous τ's fit: :func:`~cohortgen.kernels.ridge.logistic_ridge`). Each fold's first
    curvature, at β = 0 (W from the offset alone), is the all-sample one minus the fold's own:
    n·P² + n·P²/K flops rather than n·P²(K − 1)/K.
    """
    n_tau, p = shrinkage.size, X.shape[1]
    beta = np.zeros((n_folds, n_tau, p))
    eta = np.array(offset, dtype=np.float64, copy=True)
    deviance = np.zeros(n_tau)
    converged = True
    at_offset = weighted_gram(X, offset)
    for k in range(n_folds):
        train, test = folds != k, folds == k
        X_train, y_train, offset_train = X[train], y[train], offset[train]
        start = np.zeros(p)
        curvature = at_offset - weighted_gram(X[test], offset[test])
        for j, tau in enumerate(shrinkage):
            start, ok, curvature = logistic_ridge(X_train, y_train, offset_train, tau, start,
                                                  curvature)
            converged &= ok
            beta[k, j] = start
            eta[test] = offset[test] + X[test] @ start
            deviance[j] += logistic_deviance(y[test], eta[test])
    best = int(np.argmin(deviance))
    return Level1Fit(beta[:, best], float(shrinkage[best]), float(deviance[best]), deviance,
                     bool(converged))


def loco_predictions(X: np.ndarray, beta: np.ndarray, folds: np.ndarray,
                     block_chrom: np.ndarray, n_per_block: int) -> np.ndarray:
    """Leave-one-chromosome-out predictions of one trait, float64 (n, c).

    X: float64 (n, b·r) standardised level-0 columns, block-major (block i's r columns are
    i·r .. i·r + r − 1); beta: float64 (K, b·r) level-1 fits without each fold; block_chrom:
    int64 (b,) chromosome index 0..c-1 of each block; n_per_block: r.
    """
    chroms = int(block_chrom.max()) + 1
    column_chrom = np.repeat(block_chrom, n_per_block)
    out = np.zeros((X.shape[0], chroms))
    for k in range(beta.shape[0]):
        rows = folds == k
        contribution = X[rows] * beta[k][None, :]
        per_chrom = np.stack([contribution[:, column_chrom == c].sum(axis=1)
                              for c in range(chroms)], axis=1)
        out[rows] = per_chrom.sum(axis=1, keepdims=True) - per_chrom
    return out


def whole_predictions(X: np.ndarray, beta: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Predictions of one trait from every block (no chromosome left out), float64 (n,): each
    sample's level-0 columns X (n, b·r) times the level-1 fit without its fold (beta (K, b·r));
    the offset of variants on a chromosome without step-1 blocks."""
    out = np.zeros(X.shape[0])
    for k in range(beta.shape[0]):
        rows = folds == k
        out[rows] = X[rows] @ beta[k]
    return out
