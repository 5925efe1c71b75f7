"""Ridge arithmetic of whole-genome regression (step 1) on plain arrays.

Samples are split into K folds (``folds``: int64, shape (n,), values 0..K-1). A fit "without
fold k" uses the cross-products of every sample outside fold k; its predictions for the samples
of fold k are out-of-sample. All traits of one design matrix share one Cholesky factorisation
per fold and shrinkage value, and every product is a BLAS matrix product batched over traits.
A trait's missing values are 0 in Y, so they add nothing to XᵀY; rows that are 0 in X too
(level 1) add nothing to XᵀX either.
"""

import numpy as np
from scipy import linalg, special


def fold_cross_products(X: np.ndarray, Y: np.ndarray, folds: np.ndarray,
                        n_folds: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold cross-products: XᵀX float64 (K, p, p) and XᵀY float64 (K, p, t).

    X: float64 (n, p) design; Y: float64 (n, t) traits; folds: int64 (n,) in 0..K-1.
    """
    p, t = X.shape[1], Y.shape[1]
    xtx = np.empty((n_folds, p, p))
    xty = np.empty((n_folds, p, t))
    for k in range(n_folds):
        rows = folds == k
        X_fold = X[rows]
        xtx[k] = X_fold.T @ X_fold  # one operand twice: a symmetric rank-k update, n·p² flops
        xty[k] = X_fold.T @ Y[rows]
    return xtx, xty


def ridge_fold_coefficients(X: np.ndarray, Y: np.ndarray, folds: np.ndarray, n_folds: int,
                            shrinkage: np.ndarray) -> np.ndarray:
    """Ridge coefficients of the fits without each fold, for every shrinkage value and trait.

    Minimises ‖Y − Xβ‖² + λ‖β‖² over the samples outside fold k:
    β = (XᵀX + λI)⁻¹ XᵀY, by a Cholesky factorisation of XᵀX + λI (positive definite for
    λ > 0) per fold and λ: K·r·p³/3 flops, about a fifth of one eigendecomposition per fold
    (~9p³ each) for r = 5, and as accurate.
    X: float64 (n, p); Y: float64 (n, t); shrinkage: float64 (r,), λ > 0.
    Returns float64 (K, r, p, t).
    """
    xtx, xty = fold_cross_products(X, Y, folds, n_folds)
    total_xtx, total_xty = xtx.sum(axis=0), xty.sum(axis=0)
    p = X.shape[1]
    beta = np.empty((n_folds, shrinkage.size, p, Y.shape[1]))
    for k in range(n_folds):
        train_xtx, train_xty = total_xtx - xtx[k], total_xty - xty[k]
        for j, lam in enumerate(shrinkage):
            factor = _shifted_cholesky(train_xtx, lam)
            beta[k, j] = linalg.cho_solve(factor, train_xty, check_finite=False)
    return beta


def out_of_fold_predictions(X: np.ndarray, beta: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Predictions of each sample from the fits without its fold.

    X: float64 (n, p); beta: float64 (K, r, p, t) from :func:`ridge_fold_coefficients`.
    Returns float64 (r, n, t). One matrix product per fold with every (λ, trait) column at once
    (p × r·t coefficients), so each fold's rows of X are read once rather than r times.
    """
    n_folds, r, p, t = beta.shape
    out = np.empty((r, X.shape[0], t))
    for k in range(n_folds):
        rows = np.flatnonzero(folds == k)
        pred = X[rows] @ beta[k].transpose(1, 0, 2).reshape(p, r * t)
        out[:, rows, :] = pred.reshape(rows.size, r, t).transpose(1, 0, 2)
    return out


REFRESH_CONTRACTION = 0.5
""":func:`logistic_ridge` recomputes its curvature when a step is longer than this fraction of
the step before it (the lagged curvature no longer gives fast convergence)."""


def weighted_gram(X: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Curvature of the logistic log-likelihood, Xᵀ diag(μ(1 − μ)) X with μ = expit(η):
    float64 (p, p). X: float64 (n, p); eta: float64 (n,) log-odds. One symmetric rank-n
    update (n·p² flops) of the rows scaled by √(μ(1 − μ))."""
    mu = special.expit(eta)
    Z = X * np.sqrt(mu * (1.0 - mu))[:, None]
    return Z.T @ Z


def logistic_ridge(X: np.ndarray, y: np.ndarray, offset: np.ndarray, shrinkage: float,
                   start: np.ndarray, curvature: np.ndarray | None = None, max_iter: int = 200,
                   tol: float = 1e-10) -> tuple[np.ndarray, bool, np.ndarray]:
    """Ridge-penalised logistic regression with an offset and no intercept, by Newton–Raphson
    with a lagged Hessian.

    Maximises Σᵢ [yᵢ ηᵢ − log(1 + e^ηᵢ)] − (τ/2)‖β‖² with η = offset + Xβ.
    X: float64 (n, p); y: float64 (n,) 0/1; offset: float64 (n,) log-odds; shrinkage τ > 0;
    start: float64 (p,) initial β (warm start); curvature: float64 (p, p) Xᵀ W X from a nearby
    fit (:func:`weighted_gram`; e.g. the previous τ's), or None to compute it at ``start``.
    Each step solves (Xᵀ W X + τI) d = gradient with the curvature W of an earlier iterate,
    recomputed at the current β (n·p² flops) only when a step is longer than
    REFRESH_CONTRACTION times the previous one or needed halving; any such matrix is positive
    definite, so the fixed point (gradient 0) is the exact penalised optimum, and steps cost
    O(n·p) in between. Each step is halved until the penalised log-likelihood does not
    decrease. Converged when max|Δβ| ≤ tol · (1 + max|β|).
    Returns (β float64 (p,), converged, the curvature last used, for the next warm start).
    """
    beta = np.array(start, dtype=np.float64)
    eta = offset + X @ beta
    objective = _penalised_loglik(y, eta, shrinkage, beta)
    fresh = curvature is None
    if fresh:
        curvature = weighted_gram(X, eta)
    factor = _shifted_cholesky(curvature, shrinkage)
    previous = np.inf
    for _ in range(max_iter):
        gradient = X.T @ (y - special.expit(eta)) - shrinkage * beta
        step = linalg.cho_solve(factor, gradient, check_finite=False)
        accepted = False
        for halving in range(30):  # noqa: B007 (read after the loop)
            candidate = beta + step
            candidate_eta = offset + X @ candidate
            value = _penalised_loglik(y, candidate_eta, shrinkage, candidate)
            if value >= objective - 1e-12 * (1.0 + abs(objective)):
                accepted = True
                break
            step = step / 2.0
        if not accepted and fresh:
            return beta, False, curvature
        size = np.max(np.abs(step), initial=0.0)
        if accepted:
            small = size <= tol * (1.0 + np.max(np.abs(candidate), initial=0.0))
            beta, eta, objective = candidate, candidate_eta, value
            if small and (halving == 0 or fresh):
                return beta, True, curvature
        fresh = not accepted or halving > 0 or size > REFRESH_CONTRACTION * previous
        if fresh:
            curvature = weighted_gram(X, eta)
            factor = _shifted_cholesky(curvature, shrinkage)
        previous = size
    return beta, False, curvature


def _shifted_cholesky(gram: np.ndarray, shrinkage: float) -> tuple[np.ndarray, bool]:
    """Lower Cholesky factor of gram + λI (p, p) as scipy's ``cho_solve`` takes it. NumPy's
    factorisation releases the GIL (scipy's ``cho_factor`` holds it), so worker threads
    factorise at once; the cheap triangular solves stay in ``cho_solve``."""
    return np.linalg.cholesky(gram + shrinkage * np.eye(gram.shape[0])), True


def _penalised_loglik(y, eta, shrinkage, beta) -> float:
    """Σ [y η − log(1 + e^η)] − (τ/2)‖β‖² at log-odds η = offset + Xβ."""
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)) - 0.5 * shrinkage * beta @ beta)


def logistic_deviance(y: np.ndarray, eta: np.ndarray) -> float:
    """Binomial deviance −2 Σ [y η − log(1 + e^η)] of 0/1 outcomes ``y`` at log-odds ``eta``."""
    return float(-2.0 * np.sum(y * eta - np.logaddexp(0.0, eta)))
