"""Firth-penalised logistic regression: NumPy twin, PLINK 2 ``--glm firth``, separation, ML."""

import math
import subprocess

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special

from cohortgen.io.bed import write_bed
from cohortgen.kernels._numba import kernel
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.firth import (
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    firth_approx_batch,
    firth_batch,
    firth_logistic,
)
from cohortgen.kernels.linalg_small import EXP_FLOOR, exp_nonpositive


def firth_variant_test(
    g: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    p_value: str = "wald",
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> tuple[float, float, float, bool]:
    """Firth test of one variant, as PLINK 2 ``--glm firth``: full fit of y on [X | g].

    g: float64 (n,) ALT dosage (caller imputes missing). X: float64 (n, p) covariates with
    intercept. y: float64 (n,) 0/1, NaN-free (the caller drops excluded samples).
    p_value: ``"wald"`` (PLINK 2's) or ``"lrt"`` (penalised likelihood ratio, one more fit).
    Returns (beta_g, se_g, p, converged); NaN estimates when not converged.
    """
    beta, se, p, ok = firth_batch(
        np.asarray(g, dtype=np.float64)[None, :],
        X,
        y,
        p_value=p_value,
        max_iter=max_iter,
        tol=tol,
        warm_start=False,
    )
    return float(beta[0]), float(se[0]), float(p[0]), bool(ok[0])


def naive_firth(X, y, max_iter=200, tol=1e-11, max_step=5.0, max_halvings=25):
    """Clarity twin of ``firth_logistic``: the same iteration written with NumPy ``inv``.

    Step Δ = I⁻¹U*, U* = Xᵀ(y − μ + h(½ − μ)), capped at max|Δ| = 5, halved while the penalised
    log-likelihood falls (beyond rounding). Returns (beta, converged).
    """

    def penalised_loglik(beta):
        eta = X @ beta
        mu = special.expit(eta)
        info = X.T @ (X * (mu * (1 - mu))[:, None])
        sign, logdet = np.linalg.slogdet(info)
        loglik = np.sum(y * eta - np.logaddexp(0.0, eta))
        return (loglik + 0.5 * logdet if sign > 0 else -np.inf), mu, info

    beta = np.zeros(X.shape[1])
    ll, mu, info = penalised_loglik(beta)
    for _ in range(max_iter):
        info_inv = np.linalg.inv(info)
        h = mu * (1 - mu) * np.einsum("ia,ab,ib->i", X, info_inv, X)
        delta = info_inv @ (X.T @ (y - mu + h * (0.5 - mu)))
        if np.abs(delta).max() <= tol:
            return beta, True
        delta *= min(1.0, max_step / np.abs(delta).max())
        for _ in range(max_halvings + 1):
            ll_new, mu, info = penalised_loglik(beta + delta)
            if ll_new >= ll - 1e-10 * (1 + abs(ll)):
                break
            delta /= 2
        beta, ll = beta + delta, ll_new
    return beta, False


def naive_approx_firth(g, y, offset, max_iter=200, tol=1e-11, max_step=5.0, max_halvings=25):
    """Clarity twin of ``firth_approx_batch`` for one variant: scalar Firth with a fixed offset.

    Returns (beta, se, p, converged): p from the penalised LRT against beta = 0, se = |beta| /
    √χ² (or 1/√I when χ² < 1e-8).
    """

    def state(beta):
        eta = offset + beta * g
        mu = special.expit(eta)
        info = np.sum(mu * (1 - mu) * g**2)
        loglik = np.sum(y * eta - np.logaddexp(0.0, eta)) + 0.5 * np.log(info)
        h = mu * (1 - mu) * g**2 / info
        return loglik, info, np.sum(g * (y - mu + h * (0.5 - mu)))

    beta = 0.0
    ll0 = ll = state(0.0)[0]
    _, info, score = state(0.0)
    for _ in range(max_iter):
        delta = score / info
        if abs(delta) <= tol:
            break
        delta = np.clip(delta, -max_step, max_step)
        for _ in range(max_halvings + 1):
            ll_new, info_new, score_new = state(beta + delta)
            if ll_new >= ll - 1e-10 * (1 + abs(ll)):
                break
            delta /= 2
        beta, ll, info, score = beta + delta, ll_new, info_new, score_new
    else:
        return np.nan, np.nan, np.nan, False
    chi2 = max(2 * (ll - ll0), 0.0)
    se = abs(beta) / np.sqrt(chi2) if chi2 >= 1e-8 else 1 / np.sqrt(info)
    return beta, se, special.erfc(np.sqrt(chi2 / 2)), True


def null_offset_and_residuals(X, y, G):
    """ML null model of y on X (statsmodels): offset logit(μ̂) and G residualised on X in W."""
    mu = sm.Logit(y, X).fit(disp=0, tol=1e-12).predict()
    w = mu * (1 - mu)
    coef = np.linalg.solve(X.T @ (X * w[:, None]), (X * w[:, None]).T @ G.T)
    return np.log(mu / (1 - mu)), G - (X @ coef).T


def random_data(rng, n, n_covariates, case_rate):
    covariates = rng.normal(size=(n, n_covariates))
    X = np.column_stack([np.ones(n), covariates])
    eta = math.log(case_rate / (1 - case_rate)) + covariates @ rng.normal(0, 0.3, n_covariates)
    y = (rng.random(n) < special.expit(eta)).astype(np.float64)
    return X, y


def test_firth_logistic__matches_numpy_twin():
    rng = np.random.default_rng(11)
    for n, case_rate, maf in [(300, 0.1, 0.05), (1000, 0.3, 0.2), (200, 0.05, 0.01)]:
        X, y = random_data(rng, n, 4, case_rate)
        g = rng.binomial(2, maf, size=n).astype(np.float64)
        g[np.flatnonzero(y == 1)[0]] = 1.0  # at least one carrier
        design = np.column_stack([X, g])
        expected, expected_converged = naive_firth(design, y)
        beta, converged, n_iter, loglik = firth_logistic(design, y, np.zeros(n), 200, 1e-11)
        assert expected_converged
        assert converged
        assert 0 < n_iter < 200
        assert np.isfinite(loglik)
        np.testing.assert_allclose(beta, expected, rtol=0, atol=1e-8)


def test_firth_batch__matches_numpy_twin():
    rng = np.random.default_rng(12)
    X, y = random_data(rng, 400, 3, 0.1)
    G = rng.binomial(2, rng.uniform(0.01, 0.4, size=(12, 1)), size=(12, 400)).astype(np.float64)
    G[:, np.flatnonzero(y == 1)[0]] = 1.0
    beta, se, _, converged = firth_batch(G, X, y, tol=1e-11)
    assert converged.all()
    for j in range(len(G)):
        design = np.column_stack([X, G[j]])
        expected, _ = naive_firth(design, y)
        np.testing.assert_allclose(beta[j], expected[-1], rtol=0, atol=1e-8)
        mu = special.expit(design @ expected)
        info = design.T @ (design * (mu * (1 - mu))[:, None])
        np.testing.assert_allclose(se[j], np.sqrt(np.linalg.inv(info)[-1, -1]), rtol=1e-7)


def separated_variant(rng):
    """n = 500, ~8% cases, g carried by 4 cases and no control (complete separation in g)."""
    X, y = random_data(rng, 500, 3, 0.08)
    g = np.zeros(500)
    g[np.flatnonzero(y == 1)[:4]] = 1.0
    return X, y, g


def test_firth_variant_test__separation_gives_finite_estimate():
    X, y, g = separated_variant(np.random.default_rng(13))
    with np.errstate(all="ignore"):  # statsmodels' ML fit diverges here: that is the point
        ml = sm.Logit(y, np.column_stack([X, g])).fit(disp=0, maxiter=50, warn_convergence=False)
    assert abs(ml.params[-1]) > 10 or not ml.mle_retvals["converged"]
    for p_value in ("wald", "lrt"):
        beta, se, p, converged = firth_variant_test(g, X, y, p_value=p_value)
        assert converged
        assert 2 < beta < 10
        assert 0 < se < 10
        assert 0 < p < 0.05


def test_firth_batch__all_cases_carriers_and_monomorphic():
    X, y, g = separated_variant(np.random.default_rng(14))
    G = np.stack([g, 2.0 * g, np.zeros_like(g), np.ones_like(g)])
    beta, se, p, converged = firth_batch(G, X, y)
    np.testing.assert_array_equal(converged, [True, True, False, False])
    assert np.isfinite(np.stack([beta[:2], se[:2], p[:2]])).all()
    assert (p[:2] > 0).all()
    # Constant genotypes are collinear with the intercept: NaN, not an exception.
    assert np.isnan(np.stack([beta[2:], se[2:], p[2:]])).all()


def test_firth_variant_test__close_to_ml_on_well_behaved_data():
    """n = 3000, 30% cases, MAF 0.3, true effect 0.4: Firth's O(1/n) bias correction moves the
    estimate by far less than one SE, toward 0."""
    rng = np.random.default_rng(15)
    n = 3000
    X, _ = random_data(rng, n, 3, 0.3)
    g = rng.binomial(2, 0.3, size=n).astype(np.float64)
    y = (rng.random(n) < special.expit(-1.2 + 0.4 * g + X[:, 1:] @ [0.3, -0.2, 0.1])) * 1.0
    ml = sm.Logit(y, np.column_stack([X, g])).fit(disp=0)
    beta, se, p, converged = firth_variant_test(g, X, y)
    assert converged
    assert abs(beta - ml.params[-1]) < 0.02 * ml.bse[-1]
    assert abs(beta) < abs(ml.params[-1])
    np.testing.assert_allclose(se, ml.bse[-1], rtol=1e-2)
    np.testing.assert_allclose(p, ml.pvalues[-1], rtol=0.1)


def test_firth_approx_batch__matches_numpy_twin():
    rng = np.random.default_rng(17)
    X, y = random_data(rng, 600, 3, 0.1)
    G = rng.binomial(2, rng.uniform(0.005, 0.4, size=(15, 1)), size=(15, 600)).astype(np.float64)
    G[:, np.flatnonzero(y == 1)[0]] = 1.0
    offset, G_res = null_offset_and_residuals(X, y, G)
    beta, se, p, converged = firth_approx_batch(G_res, y, offset, tol=1e-11)
    assert converged.all()
    for j in range(len(G)):
        expected = naive_approx_firth(G_res[j], y, offset)
        assert expected[3]
        np.testing.assert_allclose(beta[j], expected[0], rtol=0, atol=1e-8)
        np.testing.assert_allclose([se[j], p[j]], expected[1:3], rtol=1e-6)


@kernel
def _exp(x):
    """exp_nonpositive applied element-wise (it is an inlined device helper)."""
    e = np.empty_like(x)
    for i in range(x.size):
        e[i] = exp_nonpositive(x[i])
    return e


def test_exp_nonpositive__within_two_ulp_of_numpy():
    """Dense grid over [-700, 0], tiny arguments, and the multiples of ln2 (k switches)."""
    x = -np.concatenate([np.linspace(0, 700, 400_001), np.geomspace(1e-300, 1e-3, 2_000),
                         np.log(2) * np.arange(1010)])
    x = x[x <= 0]
    e = _exp(x)
    ulp = np.finfo(np.float64).eps
    np.testing.assert_allclose(e, np.exp(x), rtol=2 * ulp, atol=0)
    np.testing.assert_allclose(_exp(np.array([EXP_FLOOR - 50.0])), np.exp(EXP_FLOOR),
                               rtol=2 * ulp)


def test_firth_approx_batch__close_to_full_firth_on_common_variants():
    """n = 3,000, 20% cases, MAF 0.1-0.5, effects 0-0.3: the approximation fixes the covariate
    coefficients at their null ML values, an O(1/n) shift, so −log10 p agrees with full Firth's
    LRT within 0.05 (measured max 0.021, at p ~ 1e-8) and beta within 2% + 0.005 (measured
    max |Δbeta| 0.003)."""
    rng = np.random.default_rng(18)
    n, m = 3000, 30
    X, _ = random_data(rng, n, 4, 0.2)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, size=(m, 1)), size=(m, n)).astype(np.float64)
    effects = np.where(np.arange(m) % 3 == 0, 0.3, 0.0)
    eta = -1.5 + X[:, 1:] @ [0.3, -0.2, 0.1, 0.0] + effects @ (G - G.mean(1, keepdims=True))
    y = (rng.random(n) < special.expit(eta)).astype(np.float64)
    offset, G_res = null_offset_and_residuals(X, y, G)
    beta, _, p, converged = firth_approx_batch(G_res, y, offset)
    beta_full, _, p_full, converged_full = firth_batch(G, X, y, p_value="lrt")
    assert converged.all()
    assert converged_full.all()
    assert (p < 1e-4).sum() >= 5, "some strong signals are compared too"
    np.testing.assert_allclose(np.log10(p), np.log10(p_full), rtol=0, atol=0.05)
    np.testing.assert_allclose(beta, beta_full, rtol=0.02, atol=0.005)


def test_firth_approx_batch__separation_gives_finite_estimate():
    X, y, g = separated_variant(np.random.default_rng(19))
    G = np.stack([g, np.zeros_like(g)])
    offset, G_res = null_offset_and_residuals(X, y, G)
    beta, se, p, converged = firth_approx_batch(G_res, y, offset)
    np.testing.assert_array_equal(converged, [True, False])
    assert 2 < beta[0] < 10
    assert 0 < se[0] < 10
    assert 0 < p[0] < 0.05
    np.testing.assert_allclose(p[0], special.erfc(abs(beta[0] / se[0]) / np.sqrt(2)), rtol=1e-9)
    assert np.isnan([beta[1], se[1], p[1]]).all(), "g ≡ 0: no information, NaN"
    with pytest.raises(ValueError, match="shapes"):
        firth_approx_batch(G_res, y, offset[:-1])


def test_firth_batch__rejects_unknown_p_value_and_mismatched_shapes():
    X, y, g = separated_variant(np.random.default_rng(16))
    with pytest.raises(ValueError, match="p_value"):
        firth_batch(g[None, :], X, y, p_value="score")
    with pytest.raises(ValueError, match="shapes"):
        firth_batch(g[None, :-1], X, y)


N_SAMPLES = 500
N_VARIANTS = 40


@pytest.fixture(scope="module")
def plink2_firth(plink2, tmp_path_factory):
    """Simulated cohort (n = 500, 3 covariates, ~8% cases, 40 variants of MAF 0.02-0.4 plus three
    separation-prone ones), our Firth results and PLINK 2's ``--glm firth`` report."""
    rng = np.random.default_rng(20240612)
    tmp = tmp_path_factory.mktemp("firth")
    covariates = rng.normal(size=(N_SAMPLES, 3))
    eta = -2.7 + covariates @ [0.4, -0.3, 0.0]
    y = (rng.random(N_SAMPLES) < special.expit(eta)).astype(np.float64)
    maf = rng.uniform(0.02, 0.4, size=(N_VARIANTS, 1))
    dosage = rng.binomial(2, maf, size=(N_VARIANTS, N_SAMPLES)).astype(np.int8)
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    dosage[:3] = 0
    dosage[0, cases[:3]] = 1  # every carrier a case
    dosage[1, cases[:5]] = 1
    dosage[1, cases[5]] = 2
    dosage[2, controls[:6]] = 1  # every carrier a control
    bim = pd.DataFrame(
        {
            "chrom": "1",
            "id": [f"v{i}" for i in range(N_VARIANTS)],
            "cm": 0.0,
            "pos": np.arange(1, N_VARIANTS + 1) * 100,
            "a1": "T",
            "a2": "C",
        }
    )
    ids = [f"0{i:04d}" for i in range(N_SAMPLES)]
    fam = pd.DataFrame(
        {
            "fid": ids,
            "iid": ids,
            "father": "0",
            "mother": "0",
            "sex": rng.integers(1, 3, size=N_SAMPLES),
            "pheno": np.where(y == 1, "2", "1"),
        }
    )
    write_bed(tmp / "cohort", pack_dosages(dosage), bim, fam)
    covar = pd.DataFrame({"#FID": ids, "IID": ids})
    for k in range(3):
        covar[f"c{k + 1}"] = covariates[:, k]
    covar.to_csv(tmp / "cohort.cov", sep="\t", index=False, float_format="%.17g")
    command = [plink2, "--bfile", str(tmp / "cohort"), "--covar", str(tmp / "cohort.cov")]
    command += ["--glm", "firth", "hide-covar", "omit-ref", "cols=+a1count,+beta"]
    command += ["--threads", "1", "--out", str(tmp / "ref")]
    subprocess.run(command, check=True, capture_output=True)
    report = pd.read_csv(tmp / "ref.PHENO1.glm.firth", sep="\t", dtype={"ID": str})
    X = np.column_stack([np.ones(N_SAMPLES), covariates])
    ours = firth_batch(dosage.astype(np.float64), X, y)
    return y, bim, report, ours


@pytest.mark.reference
def test_firth_batch__matches_plink2(plink2_firth):
    """BETA and SE within 1e-3 of PLINK 2.00a3.5's: its Firth iteration stops earlier than ours
    (observed differences up to ~3e-4, on common variants too), far above its 6 printed digits."""
    y, bim, report, (beta, se, p, converged) = plink2_firth
    assert report["ID"].tolist() == bim["id"].tolist()
    assert (report["A1"] == bim["a1"]).all(), "PLINK 2 must test the ALT allele (.bim a1)"
    assert (report["OBS_CT"] == N_SAMPLES).all()
    assert (report["ERRCODE"] == ".").all()
    assert 0.05 < y.mean() < 0.11
    assert converged.all()
    np.testing.assert_allclose(beta, report["BETA"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(se, report["SE"], rtol=0, atol=1e-3)
    assert (beta[:2] > 3).all(), "separation-prone variants have finite, large estimates"
    assert beta[2] < 0
    # PLINK 2's Firth p is Wald's: Z = BETA/SE, P = 2Φ(−|Z|), to its 6 printed digits (Z rounded
    # by up to 5e-6 relative moves P by up to ~Z²·5e-6 relative, hence rtol 1e-4).
    z = report["Z_STAT"].to_numpy()
    np.testing.assert_allclose(z, report["BETA"] / report["SE"], rtol=1e-5)
    np.testing.assert_allclose(report["P"], special.erfc(np.abs(z) / np.sqrt(2)), rtol=1e-4)
    np.testing.assert_allclose(p, special.erfc(np.abs(beta / se) / np.sqrt(2)), rtol=1e-12)
    np.testing.assert_allclose(np.log10(p), np.log10(report["P"]), rtol=0, atol=1e-3)
