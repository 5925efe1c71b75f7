"""Ancestry-adjusted score Z-scores (pgsc_calc's Z_norm1 and Z_norm2), fitted in the cohort.

score: float64 (n,); pcs: float64 (n, p) principal components of the same samples (finite).

- Z_norm1: OLS of the score on 1 + PCs; Z = residual / SD(residuals) (population SD, ddof 0).
- Z_norm2: as Z_norm1 for the mean, then the variance is modelled too: a gamma GLM with log
  link of residual² on 1 + PCs (fitted by IRLS; for the gamma family with log link the working
  weights are 1, so each step is an OLS of η + (y − μ)/μ on the design), and
  Z = residual / sqrt(fitted variance). This is the model of pgscatalog-calc's ``pgs_adjust``
  (Khera et al. 2019), fitted here on the cohort itself rather than on a reference panel.

With no PCs (``pca.n_pcs: 0``, pcs of shape (n, 0)) both are the plainly standardised score,
(score − mean) / SD (ddof 0).
"""

import numpy as np

GLM_MAX_ITER = 100
GLM_TOL = 1e-10


def _design(pcs: np.ndarray) -> np.ndarray:
    pcs = np.asarray(pcs, dtype=np.float64)
    return np.column_stack([np.ones(pcs.shape[0]), pcs.reshape(pcs.shape[0], -1)])


def pc_residuals(score: np.ndarray, pcs: np.ndarray) -> np.ndarray:
    """Residuals float64 (n,) of the OLS of ``score`` on an intercept and the PCs."""
    X = _design(pcs)
    beta, *_ = np.linalg.lstsq(X, np.asarray(score, dtype=np.float64), rcond=None)
    return score - X @ beta


def z_norm1(score: np.ndarray, pcs: np.ndarray) -> np.ndarray:
    """Residual of the score on 1 + PCs divided by the residuals' SD (ddof 0); float64 (n,)."""
    resid = pc_residuals(score, pcs)
    return resid / np.std(resid)


def gamma_log_glm(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Coefficients float64 (p,) of a gamma GLM with log link, E[y] = exp(Xβ), by IRLS.

    y: float64 (n,), positive; X: float64 (n, p) with an intercept column.
    """
    y = np.asarray(y, dtype=np.float64)
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(np.mean(y))
    for _ in range(GLM_MAX_ITER):
        eta = X @ beta
        mu = np.exp(eta)
        new, *_ = np.linalg.lstsq(X, eta + (y - mu) / mu, rcond=None)
        done = np.max(np.abs(new - beta)) <= GLM_TOL * (1.0 + np.max(np.abs(new)))
        beta = new
        if done:
            break
    return beta


def z_norm2(score: np.ndarray, pcs: np.ndarray) -> np.ndarray:
    """Residual of the score on 1 + PCs over the PC-predicted SD (gamma-log GLM); float64 (n,).

    Exact-zero squared residuals (a gamma response must be positive) are raised to the
    smallest positive squared residual before the variance fit.
    """
    resid = pc_residuals(score, pcs)
    X = _design(pcs)
    r2 = resid**2
    positive = r2[r2 > 0]
    r2 = np.maximum(r2, positive.min() if positive.size else 1.0)
    variance = np.exp(X @ gamma_log_glm(r2, X))
    return resid / np.sqrt(variance)
