"""Step 1's fast paths give the same answers: the lagged-Hessian logistic ridge against a
penalised fit (statsmodels), and the worker threads against one thread (byte-identical)."""

import json

import numpy as np
import statsmodels.api as sm
from statsmodels.base._penalized import PenalizedMixin
from statsmodels.base._penalties import L2
from test_wgr import _write_inputs, cohort  # noqa: F401 (the fixture)

import cohortgen.kernels.ridge as ridge
import cohortgen.wgr.model as model
from cohortgen.cli import main
from cohortgen.wgr.model import level1_disease, shrinkage_grid


class PenalizedGLM(PenalizedMixin, sm.GLM):
    """statsmodels' GLM with its penalised log-likelihood, ℓ(β) − w·Σβ² (L2 penalty)."""


def penalised_reference(X, y, offset, tau):
    """statsmodels' maximiser of ℓ(β) − (τ/2)‖β‖² (its L2 weight is τ/2)."""
    return PenalizedGLM(y, X, family=sm.families.Binomial(), offset=offset, penal=L2(),
                        pen_weight=tau / 2).fit(method="newton", maxiter=100, tol=1e-14,
                                                disp=0).params


def polygenic_disease(n: int, p: int, seed: int):
    """(X (n, p) correlated columns, y 0/1 at prevalence ~10%, offset (n,) log-odds)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + rng.normal(size=(n, 1))
    offset = rng.normal(scale=0.3, size=n) - 2.2
    y = (rng.random(n) < 1 / (1 + np.exp(-(offset + X @ rng.normal(scale=0.15, size=p))))) * 1.0
    return X, y, offset


def test_logistic_ridge__stale_curvature_still_reaches_the_penalised_optimum():
    X, y, offset = polygenic_disease(500, 12, seed=21)
    far = ridge.weighted_gram(X, offset + 3.0)  # the curvature at log-odds far from the fit
    for tau in (0.2, 2.0, 20.0):
        beta, converged, _ = ridge.logistic_ridge(X, y, offset, tau, np.zeros(12), far)
        assert converged
        assert np.max(np.abs(beta - penalised_reference(X, y, offset, tau))) < 1e-8


def test_level1_disease__warm_started_path_equals_penalised_fits(monkeypatch):
    X, y, offset = polygenic_disease(600, 40, seed=22)
    folds = np.arange(600) % 5
    tau = shrinkage_grid(40, scale=3 / np.pi**2)
    grams, weighted_gram = [], ridge.weighted_gram

    def counted(X, eta):
        grams.append(X.shape)
        return weighted_gram(X, eta)

    monkeypatch.setattr(ridge, "weighted_gram", counted)
    monkeypatch.setattr(model, "weighted_gram", counted)
    fit = level1_disease(X, y, offset, folds, 5, tau)
    assert fit.converged
    deviance = np.zeros(tau.size)
    for k in range(5):
        train, test = folds != k, folds == k
        for j, t in enumerate(tau):
            reference = penalised_reference(X[train], y[train], offset[train], t)
            eta = offset[test] + X[test] @ reference
            deviance[j] += -2 * np.sum(y[test] * eta - np.logaddexp(0, eta))
            if t == fit.shrinkage:
                assert np.max(np.abs(fit.beta[k] - reference)) < 1e-8
    assert np.max(np.abs(fit.scores - deviance)) < 1e-8
    # plain Newton forms XᵀWX at each of its 80 steps here; the lagged Hessian 11 times (6 of
    # them the folds' first curvatures: one on every sample, one on each fold's)
    assert len(grams) <= 15


def _run(out, threads: int) -> tuple[bytes, bytes]:
    options = {"diseases": ["hypertension"], "traits": {"ldl": "quantitative"},
               "covariates": ["age", "sex"], "seed": 3,
               "assoc": {"wgr": {"folds": 4, "block_size": 40}}}
    assert main(["wgr-step1", "--bfile", str(out / "genotypes"), "--keep", str(out / "keep.txt"),
                 "--phenotypes", str(out / "phenotypes.tsv"), "--pcs", str(out / "pcs.tsv"),
                 "--options", json.dumps(options), "--threads", str(threads),
                 "--loco", str(out / "loco.tsv.gz"), "--summary", str(out / "wgr.json")]) == 0
    return (out / "loco.tsv.gz").read_bytes(), (out / "wgr.json").read_bytes()


def test_wgr_step1__two_worker_threads_give_byte_identical_outputs(cohort, tmp_path):  # noqa: F811
    _write_inputs(cohort, tmp_path)
    assert _run(tmp_path, threads=2) == _run(tmp_path, threads=1)
