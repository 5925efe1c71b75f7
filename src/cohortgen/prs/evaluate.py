"""How well a score predicts a binary disease: pure functions on arrays.

score: float64 (n,); y: float64 (n,) 0/1 (no missing: drop those samples first);
covariates: float64 (n, c), finite (may be (n, 0)). Confidence intervals are 95%.

- AUC with the DeLong, DeLong & Clarke-Pearson (1988) variance (midrank form), CI AUC ± 1.96 SE
  clipped to [0, 1].
- OR per SD: logistic regression of y on covariates + standardised score (ddof 0), Wald CI.
- Nagelkerke R²: full (covariates + score) minus covariate-only Nagelkerke R², each against
  the intercept-only model (PRSice-2's "PRS.R2").
- Liability R² (Lee et al. 2012): the observed-scale R², the increase in R² of a linear
  regression of y on covariates + score over covariates alone, converted with prevalence K.
- Top 5%: OR of being a case for the top 5% of scores (score > 95th percentile) vs the rest,
  Woolf CI (0.5 added to every cell when one is zero).
- Deciles: rank-based deciles (ties broken by sample order), case fraction per decile.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from cohortgen.assoc.null_model import design_matrix, fit_logistic
from cohortgen.privacy import with_complement

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% CI."""

    value: float
    lower: float
    upper: float


def auc_delong(score: np.ndarray, y: np.ndarray) -> tuple[Estimate, float]:
    """(AUC with DeLong 95% CI, DeLong SE). Ties count 1/2."""
    score = np.asarray(score, dtype=np.float64)
    cases, controls = score[y == 1], score[y == 0]
    m, n = cases.size, controls.size
    ranks = stats.rankdata(np.concatenate([cases, controls]))
    v10 = (ranks[:m] - stats.rankdata(cases)) / n
    v01 = 1.0 - (ranks[m:] - stats.rankdata(controls)) / m
    auc = float(v10.mean())
    se = float(np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n))
    half = Z95 * se
    return Estimate(auc, max(0.0, auc - half), min(1.0, auc + half)), se


def _covariate_design(covariates: np.ndarray) -> np.ndarray:
    """Intercept + standardised covariates (constant/collinear ones dropped); (n, p)."""
    C = np.asarray(covariates, dtype=np.float64).reshape(len(covariates), -1)
    return design_matrix(C)[0]


def _logistic_se(X: np.ndarray, mu: np.ndarray) -> np.ndarray:
    w = mu * (1.0 - mu)
    return np.sqrt(np.diag(np.linalg.inv(X.T @ (X * w[:, None]))))


def nagelkerke(loglik: float, loglik_intercept: float, n: int) -> float:
    """Nagelkerke R² of a model with log-likelihood ``loglik`` vs the intercept-only model."""
    cox_snell = 1.0 - np.exp(2.0 * (loglik_intercept - loglik) / n)
    return float(cox_snell / (1.0 - np.exp(2.0 * loglik_intercept / n)))


def logistic_performance(score, y, covariates) -> dict:
    """OR per SD (Estimate), Nagelkerke R² increment and both fits' convergence."""
    X0 = _covariate_design(covariates)
    z = (score - score.mean()) / score.std()
    X1 = np.column_stack([X0, z])
    null, full = fit_logistic(X0, y), fit_logistic(X1, y)
    ones = np.ones((y.size, 1))
    intercept = fit_logistic(ones, y)
    beta, se = full.beta[-1], _logistic_se(X1, full.mu)[-1]
    ok = null.converged and full.converged and intercept.converged
    r2 = nagelkerke(full.loglik, intercept.loglik, y.size) - nagelkerke(
        null.loglik, intercept.loglik, y.size)
    return {"or_per_sd": Estimate(*np.exp([beta, beta - Z95 * se, beta + Z95 * se])),
            "nagelkerke_r2": float(r2), "converged": bool(ok)}


def observed_r2(score, y, covariates) -> float:
    """Increase in R² of the linear regression of y on covariates + score over covariates."""
    X0 = _covariate_design(covariates)
    X1 = np.column_stack([X0, score])

    def rss(X):
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        return float(np.sum((y - X @ beta) ** 2))

    tss = float(np.sum((y - y.mean()) ** 2))
    return (rss(X0) - rss(X1)) / tss


def liability_r2(r2_observed: float, prevalence: float, case_fraction: float) -> float:
    """Lee et al. (2012) eq. 15: observed-scale R² to the liability scale.

    K = population prevalence, P = sample case fraction, t = Φ⁻¹(1 − K), z = φ(t), m = z / K,
    C = K(1−K)/z² · K(1−K)/(P(1−P)), θ = m(P−K)/(1−K) · (m(P−K)/(1−K) − t),
    R²_liab = R²_obs · C / (1 + R²_obs · θ · C).
    """
    K, P = prevalence, case_fraction
    t = stats.norm.ppf(1.0 - K)
    z = stats.norm.pdf(t)
    m = z / K
    C = K * (1 - K) / z**2 * K * (1 - K) / (P * (1 - P))
    theta = m * (P - K) / (1 - K) * (m * (P - K) / (1 - K) - t)
    return float(r2_observed * C / (1 + r2_observed * theta * C))


def top_fraction_or(score, y, fraction: float = 0.05) -> tuple[Estimate, np.ndarray]:
    """(OR of the top ``fraction`` vs the rest with Woolf CI, 2×2 counts int64
    [[top cases, top controls], [rest cases, rest controls]])."""
    top = score > np.quantile(score, 1.0 - fraction)
    cells = np.array([[np.sum(top & (y == 1)), np.sum(top & (y == 0))],
                      [np.sum(~top & (y == 1)), np.sum(~top & (y == 0))]], dtype=np.int64)
    table = cells + (0.5 if np.any(cells == 0) else 0.0)
    log_or = np.log(table[0, 0] * table[1, 1] / (table[0, 1] * table[1, 0]))
    se = np.sqrt(np.sum(1.0 / table))
    return Estimate(*np.exp([log_or, log_or - Z95 * se, log_or + Z95 * se])), cells


def decile_table(score, y, min_cell_count: int) -> pd.DataFrame:
    """Per score decile (1 = lowest): n, cases, controls, case fraction; a decile where cases
    or controls number fewer than ``min_cell_count`` has its counts and fraction suppressed
    (NA, ``suppressed`` True); when that hides a single decile, the decile with the fewest
    cases or controls is suppressed too, so the total case count cannot reveal it
    (:func:`cohortgen.privacy.with_complement`)."""
    order = np.argsort(score, kind="stable")
    decile = np.empty(score.size, dtype=np.int64)
    decile[order] = np.arange(score.size) * 10 // score.size + 1
    table = pd.DataFrame({"decile": decile, "case": y == 1}).groupby("decile")["case"].agg(
        n="size", n_cases="sum").reset_index()
    table["n_controls"] = table["n"] - table["n_cases"]
    table["case_fraction"] = table["n_cases"] / table["n"]
    small = (table["n_cases"] < min_cell_count) | (table["n_controls"] < min_cell_count)
    small = with_complement(small, table[["n_cases", "n_controls"]].min(axis=1))
    table["suppressed"] = small
    for column in ("n_cases", "n_controls", "case_fraction"):
        table[column] = table[column].astype(np.float64).mask(small)
    return table


def evaluate_score(score, y, covariates, prevalence: float | None) -> dict:
    """All performance figures of one score for one disease (see the module docstring).

    The fits are small (a few columns), so BLAS runs single-threaded: its idle threads would
    only spin between the many short calls."""
    score, y = np.asarray(score, dtype=np.float64), np.asarray(y, dtype=np.float64)
    auc, _ = auc_delong(score, y)
    with threadpool_limits(1, user_api="blas"):
        logistic = logistic_performance(score, y, covariates)
        r2_obs = observed_r2(score, y, covariates)
    case_fraction = float(np.mean(y))
    top, cells = top_fraction_or(score, y)
    return {"n_cases": int(np.sum(y == 1)), "n_controls": int(np.sum(y == 0)), "auc": auc,
            **logistic, "r2_observed": r2_obs,
            "liability_r2": (liability_r2(r2_obs, prevalence, case_fraction)
                             if prevalence is not None else np.nan),
            "top5_or": top, "top5_cells": cells}
