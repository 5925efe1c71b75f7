"""Null models per trait: design matrix, logistic (IRLS) fit of binary diseases, least squares of
quantitative traits, per-trait residuals.

Pure array functions, no file I/O. Encodings used throughout:

- ``covariates``: float64, shape (n_samples, n_covariates); NaN = missing. A sample with any
  missing covariate is excluded from every disease.
- ``phenotypes``: float64, shape (n_samples, n_diseases); 1 = case, 0 = control, NaN = missing
  for that disease only.
- Residuals and weights are float64, shape (n_samples,) per disease, and exactly 0 on every
  sample excluded from that disease, so the score test needs no masks.
- A quantitative trait (any finite value, NaN = missing) gets the least-squares fit of y on X:
  residual (y − Xβ̂)/σ̂² and weight 1/σ̂², σ̂² = RSS / (k − rank(X)) on its k samples. With these
  the score test's U/V is the least-squares genotype effect and U²/V the score statistic with
  the null variance (:func:`cohortgen.assoc.chunk.linear_t_test` turns it into the exact t-test).

The score test (:mod:`cohortgen.kernels.score`) consumes :attr:`NullModels.X`,
:attr:`NullModels.R` and :attr:`NullModels.W`. A disease also gets the Firth-penalised null fit
(:func:`fit_firth_null`), whose linear predictor is the offset of the approximate Firth fallback
(REGENIE's ``--firth --approx``); the score test and SPA keep the unpenalised fit.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import special

from cohortgen.errors import InputError
from cohortgen.kernels.firth import firth_logistic
from cohortgen.kernels.score import pinv_sqrt

CONSTANT_RTOL = 1e-8
"""A covariate is "constant" when its SD is at most ``CONSTANT_RTOL * max(1, |mean|)``."""

COLLINEAR_RTOL = 1e-5
"""A standardised covariate is "collinear" when the norm of its residual after least squares on
the intercept and the earlier kept columns is at most ``COLLINEAR_RTOL`` times its own norm
(R² > 1 − 1e-10)."""

SEPARATION_ETA = 30.0
"""A fit with some |linear predictor| above this (fitted probability within ~1e-13 of 0 or 1) is
reported as not converged: the signature of complete or quasi-complete separation."""

MAX_HALVINGS = 40

FIRTH_NULL_TOL = 1e-10
"""Convergence of the Firth null fit: max|Δβ| of the full step (standardised covariates)."""

FIRTH_NULL_MAX_ITER = 200
"""Iterations of the Firth null fit before it is reported as not converged."""


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`fit_logistic`.

    beta: float64 (p,); mu: float64 (n,) fitted probabilities; converged: False on
    non-convergence, separation or non-finite values; n_iter: Newton iterations taken;
    loglik: log-likelihood at ``beta``.
    """

    beta: np.ndarray
    mu: np.ndarray
    converged: bool
    n_iter: int
    loglik: float


@dataclass(frozen=True)
class NullModel:
    """Null model of one trait (logistic for a disease, least squares if ``quantitative``).

    residual: float64 (n,), y − μ̂ on included samples, 0 elsewhere ((y − Xβ̂)/σ̂² if quantitative).
    weight: float64 (n,), μ̂(1 − μ̂) on included samples, 0 elsewhere (1/σ̂² if quantitative).
    included: bool (n,), phenotype and all covariates non-missing.
    beta: float64 (p,) on the standardised design (NaN when the model could not be fitted).
    A disease whose fit did not converge (or has no cases or no controls) gets residual =
    weight = 0 everywhere, so all of its variants come out untestable; the caller records why.
    A quantitative trait has n_cases = n_controls = 0; loglik is NaN; converged is False when
    it has no residual degrees of freedom or no variance left.
    firth_eta: float64 (n,), linear predictor of the Firth-penalised null fit
    (:func:`fit_firth_null`) on included samples, 0 elsewhere; NaN on included samples when that
    fit did not converge; all 0 for a disease without cases or controls or whose unpenalised
    fit did not converge; None for a quantitative trait.
    """

    residual: np.ndarray
    weight: np.ndarray
    included: np.ndarray
    n_cases: int
    n_controls: int
    converged: bool
    beta: np.ndarray
    loglik: float
    quantitative: bool = False
    firth_eta: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        """Samples in this trait's model."""
        return int(np.count_nonzero(self.included))


@dataclass(frozen=True)
class NullModels(Sequence):
    """All diseases' null models; behaves as ``list[NullModel]`` and carries the stacked arrays.

    X: float64 (n, p) common design (intercept + standardised kept covariates; rows with a
    missing covariate are 0). R, W: float64 (n, d) residuals and weights stacked by disease.
    kept_columns / dropped: as returned by :func:`design_matrix` (input covariate indices).
    """

    models: tuple[NullModel, ...]
    X: np.ndarray
    R: np.ndarray
    W: np.ndarray
    kept_columns: list[int]
    dropped: list[tuple[int, str]]

    def __len__(self) -> int:
        return len(self.models)

    def __getitem__(self, index):
        return self.models[index]

    def __iter__(self) -> Iterator[NullModel]:
        return iter(self.models)


def logistic_loglik(X: np.ndarray, y: np.ndarray, beta: np.ndarray,
                    offset: np.ndarray | float = 0.0) -> float:
    """Bernoulli log-likelihood Σ y·η − log(1 + e^η), η = Xβ + offset, computed without
    overflow."""
    eta = X @ beta + offset
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


@dataclass(frozen=True)
class FirthNullFit:
    """Result of :func:`fit_firth_null`: eta float64 (k,) the fitted linear predictor Xβ̂ +
    offset (NaN when not converged); beta float64 (p,) on the columns of X (0 on dropped
    columns); converged bool; loglik the penalised log-likelihood ℓ + ½ log|XᵀWX|."""

    eta: np.ndarray
    beta: np.ndarray
    converged: bool
    loglik: float


def fit_firth_null(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> FirthNullFit:
    """Firth-penalised logistic regression of y on the covariates, the null model of REGENIE's
    approximate Firth: maximise ℓ(β) + ½ log|XᵀWX| with η = Xβ + offset
    (:func:`cohortgen.kernels.firth.firth_logistic`).

    X: float64 (k, p), column 0 the intercept, on one disease's samples. y: float64 (k,) 0/1.
    offset: float64 (k,) fixed part of the linear predictor (the LOCO prediction of step 1;
    default 0). Columns in the span of the earlier ones on these rows (e.g. a covariate constant
    among the disease's samples; :func:`_spanning_columns`) are left out: the penalised fit
    depends on the column space only, and the penalty needs a full-rank XᵀWX. Converged when
    max|Δβ| ≤ :data:`FIRTH_NULL_TOL` within :data:`FIRTH_NULL_MAX_ITER` iterations.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    offset = np.zeros(len(y)) if offset is None else np.ascontiguousarray(offset, np.float64)
    keep = _spanning_columns(X)
    beta_kept, converged, _, loglik = firth_logistic(
        np.ascontiguousarray(X[:, keep]), y, offset, FIRTH_NULL_MAX_ITER, FIRTH_NULL_TOL)
    converged = bool(converged) and bool(np.all(np.isfinite(beta_kept)))
    beta = np.zeros(X.shape[1])
    beta[keep] = beta_kept
    eta = X[:, keep] @ beta_kept + offset if converged else np.full(len(y), np.nan)
    return FirthNullFit(eta=eta, beta=beta, converged=converged, loglik=float(loglik))


def _spanning_columns(X: np.ndarray) -> np.ndarray:
    """Indices (int64 (p',), in order) of column 0 of X (k, p) and of each later column whose
    residual after least squares on the columns before it is more than
    :data:`COLLINEAR_RTOL` times its norm (the test of :func:`design_matrix`): the residual
    norms are |R_jj| of one QR factorisation X = QR."""
    R = np.linalg.qr(X, mode="r")
    residual = np.zeros(X.shape[1])
    residual[:min(R.shape)] = np.abs(np.diag(R))
    keep = residual > COLLINEAR_RTOL * np.linalg.norm(X, axis=0)
    keep[0] = True
    return np.flatnonzero(keep)


def _newton_step(X: np.ndarray, y: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, int]:
    """Newton step (XᵀWX)⁺ Xᵀ(y − μ), W = diag(μ(1 − μ)), and the numerical rank of XᵀWX."""
    w = mu * (1.0 - mu)
    B = pinv_sqrt(X.T @ (X * w[:, None]))
    rank = int(np.count_nonzero(np.any(B != 0.0, axis=0)))
    return B @ (B.T @ (X.T @ (y - mu))), rank


def _initial_beta(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Zeros, with the intercept (column 0) at logit(mean y) when 0 < mean y < 1."""
    beta = np.zeros(X.shape[1])
    ybar = float(np.mean(y)) if y.size else 0.5
    if 0.0 < ybar < 1.0:
        beta[0] = np.log(ybar / (1.0 - ybar))
    return beta


def fit_logistic(
    X: np.ndarray, y: np.ndarray, max_iter: int = 50, tol: float = 1e-10,
    offset: np.ndarray | None = None,
) -> LogisticFit:
    """Maximum-likelihood logistic regression by Newton–Raphson (IRLS) with step halving.

    X: float64 (n, p), column 0 the intercept. y: float64 (n,), 0/1. offset: float64 (n,) fixed
    part of the linear predictor η = Xβ + offset (log-odds; default 0); ``mu`` includes it.
    Converged when the last step satisfies max|Δβ| ≤ ``tol`` · (1 + max|β|), no sample has
    |η| > :data:`SEPARATION_ETA` and XᵀWX kept the rank it had at the start (weights of the
    samples that separate the outcome underflow, which would otherwise hide the divergence).
    Never raises on non-convergence or separation: returns ``converged=False`` with the last
    iterate. A singular XᵀWX (collinear columns) is handled by a pseudo-inverse.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    offset = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=np.float64)
    beta = _initial_beta(X, y)
    loglik = logistic_loglik(X, y, beta, offset)
    converged = False
    n_iter = 0
    start_rank = None
    rank = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007  (n_iter is reported)
        mu = special.expit(X @ beta + offset)
        step, rank = _newton_step(X, y, mu)
        start_rank = rank if start_rank is None else start_rank
        if not np.all(np.isfinite(step)):
            break
        new_beta, new_loglik = _halve_until_ascent(X, y, beta, step, loglik, offset)
        if new_beta is None:
            break
        small = np.max(np.abs(new_beta - beta), initial=0.0) <= tol * (
            1.0 + np.max(np.abs(new_beta), initial=0.0)
        )
        beta, loglik = new_beta, new_loglik
        if small:
            converged = True
            break
    eta = X @ beta + offset
    mu = special.expit(eta)
    finite = bool(np.all(np.isfinite(beta))) and np.isfinite(loglik)
    separated = bool(np.any(np.abs(eta) > SEPARATION_ETA)) or (
        start_rank is not None and rank < start_rank
    )
    return LogisticFit(
        beta=beta,
        mu=mu,
        converged=converged and finite and not separated,
        n_iter=n_iter,
        loglik=float(loglik),
    )


def _halve_until_ascent(X, y, beta, step, loglik, offset):
    """β + step/2^k for the first k whose log-likelihood does not decrease; (None, nan) if none."""
    slack = 1e-12 * (1.0 + abs(loglik))
    for k in range(MAX_HALVINGS + 1):
        candidate = beta + step / 2.0**k
        value = logistic_loglik(X, y, candidate, offset)
        if np.isfinite(value) and value >= loglik - slack:
            return candidate, value
    return None, float("nan")


def design_matrix(covariates: np.ndarray) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """Intercept + standardised covariates, dropping constant and collinear columns.

    covariates: float64 (n, c), all finite (drop rows with missing values first).
    Returns X: float64 (n, p) with column 0 = 1 and the kept columns standardised to mean 0,
    SD 1 (population SD); kept_columns: input indices of X[:, 1:]; dropped: (input index,
    "constant" | "collinear"). Tolerances: :data:`CONSTANT_RTOL`, :data:`COLLINEAR_RTOL`;
    columns are tested in input order, so the later of two collinear columns is dropped.
    """
    C = np.asarray(covariates, dtype=np.float64)
    if C.ndim != 2:
        raise InputError(f"covariates must be a 2-D array (samples × covariates), got {C.ndim}-D")
    n, c = C.shape
    if n == 0:
        raise InputError("no samples with complete covariates: check the covariate columns")
    if not np.all(np.isfinite(C)):
        bad = np.argwhere(~np.isfinite(C))[0]
        raise InputError(
            f"covariate {int(bad[1])} is missing or non-finite for sample {int(bad[0])}: "
            "exclude samples with missing covariates before building the design"
        )
    columns = [np.ones(n)]
    kept: list[int] = []
    dropped: list[tuple[int, str]] = []
    for j in range(c):
        col = C[:, j]
        mean = float(np.mean(col))
        sd = float(np.std(col))
        if sd <= CONSTANT_RTOL * max(1.0, abs(mean)):
            dropped.append((j, "constant"))
            continue
        z = (col - mean) / sd
        if _is_collinear(np.column_stack(columns), z):
            dropped.append((j, "collinear"))
            continue
        columns.append(z)
        kept.append(j)
    return np.column_stack(columns), kept, dropped


def _is_collinear(basis: np.ndarray, z: np.ndarray) -> bool:
    """Whether z lies (to :data:`COLLINEAR_RTOL`) in the column space of ``basis`` (full rank)."""
    Q, _ = np.linalg.qr(basis)
    residual = z - Q @ (Q.T @ z)
    return bool(np.linalg.norm(residual) <= COLLINEAR_RTOL * np.linalg.norm(z))


def _check_phenotypes(phenotypes: np.ndarray, n: int, quantitative: np.ndarray) -> np.ndarray:
    """Validate an (n, d) phenotype array, 0/1/NaN in binary columns and finite or NaN in
    quantitative ones (``quantitative``: bool (d,)); raise InputError naming trait and sample."""
    P = np.asarray(phenotypes, dtype=np.float64)
    if P.ndim == 1:
        P = P[:, None]
    if P.ndim != 2 or P.shape[0] != n or quantitative.shape != (P.shape[1],):
        raise InputError(f"phenotypes must have shape (n_samples={n}, n_traits) with one type per "
                         f"trait, got {P.shape} and {quantitative.shape[0]} types")
    if np.any(np.isinf(P)):
        i, d = np.argwhere(np.isinf(P))[0]
        raise InputError(f"trait {int(d)}, sample {int(i)}: phenotype is infinite")
    bad = ~quantitative & ~np.isnan(P) & (P != 0.0) & (P != 1.0)
    if np.any(bad):
        i, d = np.argwhere(bad)[0]
        raise InputError(
            f"disease {int(d)}, sample {int(i)}: phenotype {P[i, d]!r} is not 0, 1 or missing; "
            "code binary diseases as 0 = control, 1 = case"
        )
    return P


def fit_null_models(covariates: np.ndarray, phenotypes: np.ndarray,
                    quantitative: Sequence[bool] | None = None,
                    offsets: np.ndarray | None = None) -> NullModels:
    """Fit one null model per trait on a common standardised design: logistic for a disease,
    least squares for a quantitative trait.

    covariates: float64 (n, c), NaN = missing (sample excluded from all diseases).
    phenotypes: float64 (n, d), 0/1 (or any finite value where ``quantitative``), NaN = missing
    for that trait. quantitative: bool per trait (default: every trait binary). offsets:
    float64 (n, d) fixed part of each trait's model (:func:`fit_design_models`; default none).
    Returns :class:`NullModels` (a sequence of d :class:`NullModel`) with X (n, p), R (n, d),
    W (n, d). Columns are dropped once, on all samples with complete covariates; a covariate
    that is constant within one disease's samples is handled by the pseudo-inverse.
    """
    C = np.asarray(covariates, dtype=np.float64)
    if C.ndim == 1:
        C = C[:, None]
    n = C.shape[0]
    complete = np.all(np.isfinite(C), axis=1)
    X_complete, kept, dropped = design_matrix(C[complete])
    X = np.zeros((n, X_complete.shape[1]))
    X[complete] = X_complete
    models = fit_design_models(X, phenotypes, quantitative, offsets, complete)
    return replace(models, kept_columns=kept, dropped=dropped)


def fit_design_models(X: np.ndarray, phenotypes: np.ndarray,
                      quantitative: Sequence[bool] | None = None,
                      offsets: np.ndarray | None = None,
                      complete: np.ndarray | None = None) -> NullModels:
    """Null models of every trait on a ready design, each with its own fixed offset: the
    step-2 null models of a whole-genome regression (the offset is the leave-one-chromosome-out
    prediction of the tested variant's chromosome).

    X: float64 (n, p), column 0 the intercept (e.g. :attr:`NullModels.X`, or the ``x*`` columns
    of the null-model table). phenotypes, quantitative: as :func:`fit_null_models`. offsets:
    float64 (n, d): for a disease, added to the linear predictor (log-odds): η = Xβ + offset,
    and the Firth-penalised null is fitted with it (``firth_eta`` includes it); for a
    quantitative trait, subtracted from y before least squares (trait units). Must be finite on
    each trait's included samples; ignored elsewhere. Default: no offset. complete: bool (n,)
    rows with all covariates (default all). kept_columns of the result are all columns of X but
    the intercept; dropped is empty.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    P = np.asarray(phenotypes, dtype=np.float64)
    d = P.shape[1] if P.ndim == 2 else 1
    kinds = np.zeros(d, bool) if quantitative is None else np.asarray(quantitative, bool)
    P = _check_phenotypes(P, n, kinds)
    complete = np.ones(n, bool) if complete is None else np.asarray(complete, bool)
    fixed = np.zeros(P.shape) if offsets is None else _check_offsets(offsets, P, complete)
    models = tuple(_fit_one_trait(X, P[:, j], complete, fixed[:, j]) if kinds[j]
                   else _fit_one_disease(X, P[:, j], complete, fixed[:, j])
                   for j in range(P.shape[1]))
    R = np.column_stack([m.residual for m in models]) if models else np.zeros((n, 0))
    W = np.column_stack([m.weight for m in models]) if models else np.zeros((n, 0))
    return NullModels(models=models, X=X, R=R, W=W, kept_columns=list(range(X.shape[1] - 1)),
                      dropped=[])


def _check_offsets(offsets: np.ndarray, P: np.ndarray, complete: np.ndarray) -> np.ndarray:
    """The (n, d) offsets as float64, 0 where a trait excludes the sample; InputError naming the
    trait and sample of the first non-finite offset on an included sample."""
    fixed = np.asarray(offsets, dtype=np.float64)
    if fixed.shape != P.shape:
        raise InputError(f"offsets must have the phenotypes' shape {P.shape}, got {fixed.shape}")
    included = complete[:, None] & ~np.isnan(P)
    bad = included & ~np.isfinite(fixed)
    if np.any(bad):
        i, j = np.argwhere(bad)[0]
        raise InputError(f"trait {int(j)}, sample {int(i)}: the offset (LOCO prediction) is "
                         "missing or non-finite; rerun the whole-genome regression step")
    return np.where(included, fixed, 0.0)


def _fit_one_disease(X: np.ndarray, y: np.ndarray, complete: np.ndarray,
                     offset: np.ndarray) -> NullModel:
    """Null model for one disease column y (n,) on rows that are complete and non-missing, with
    the fixed log-odds offset (n,)."""
    n, p = X.shape
    included = complete & ~np.isnan(y)
    y_in = y[included]
    n_cases = int(np.sum(y_in == 1.0))
    n_controls = int(np.sum(y_in == 0.0))
    residual = np.zeros(n)
    weight = np.zeros(n)
    firth_eta = np.zeros(n)
    if n_cases == 0 or n_controls == 0:
        return NullModel(residual, weight, included, n_cases, n_controls, False,
                         np.full(p, np.nan), np.nan, firth_eta=firth_eta)
    fit = fit_logistic(X[included], y_in, offset=offset[included])
    if fit.converged:
        residual[included] = y_in - fit.mu
        weight[included] = fit.mu * (1.0 - fit.mu)
        firth_eta[included] = fit_firth_null(X[included], y_in, offset[included]).eta
    return NullModel(residual, weight, included, n_cases, n_controls, fit.converged, fit.beta,
                     fit.loglik, firth_eta=firth_eta)


def _fit_one_trait(X: np.ndarray, y: np.ndarray, complete: np.ndarray,
                   offset: np.ndarray) -> NullModel:
    """Least-squares null model of one quantitative trait column y (n,) minus its fixed offset
    (n,) (see the module docstring for the scaled residual and weight)."""
    n, p = X.shape
    included = complete & ~np.isnan(y)
    residual = np.zeros(n)
    weight = np.zeros(n)
    if not included.any():
        return NullModel(residual, weight, included, 0, 0, False, np.full(p, np.nan), np.nan,
                         quantitative=True)
    target = y[included] - offset[included]
    beta, _, rank, _ = np.linalg.lstsq(X[included], target, rcond=None)
    r = target - X[included] @ beta
    df = int(np.count_nonzero(included)) - int(rank)
    sigma2 = float(r @ r) / df if df > 0 else 0.0
    converged = sigma2 > COLLINEAR_RTOL**2 * max(1.0, float(np.var(target)))
    if converged:
        residual[included] = r / sigma2
        weight[included] = 1.0 / sigma2
    return NullModel(residual, weight, included, 0, 0, converged, beta, np.nan, quantitative=True)
