"""Cross-validation harness: stratified folds, training-only GWAS, held-out scoring, no leakage."""

import numpy as np
import pytest

from cohortgen.assoc.null_model import fit_null_models
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.score import naive_score_statistics
from cohortgen.prs.cplust import cplust_builder
from cohortgen.prs.folds import (
    cross_validated_scores,
    score_samples,
    stratified_folds,
    training_gwas,
)
from cohortgen.prs.ldpred import ldpred_builder


def small_cohort(seed: int, n: int = 400, m: int = 60, missing: float = 0.02):
    """Dosages int8 (m, n) with missing calls, y (n,) 0/1/NaN, covariates (n, 2), contig, pos."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, m)
    G = rng.binomial(2, freq[:, None], size=(m, n)).astype(np.int8)
    G[rng.random(G.shape) < missing] = -1
    liability = 0.6 * np.nan_to_num(G[:5].astype(float).clip(0)).sum(axis=0) + rng.normal(size=n)
    y = (liability > np.quantile(liability, 0.7)).astype(float)
    y[rng.random(n) < 0.03] = np.nan
    covariates = np.column_stack([rng.normal(50, 10, n), rng.random(n) < 0.5])
    contig = np.repeat([1, 2], m // 2)
    pos = np.tile(np.arange(m // 2) * 20_000 + 1, 2)
    return G, y, covariates, contig, pos


def test_stratified_folds__balanced_by_case_status():
    rng = np.random.default_rng(1)
    y = (rng.random(1003) < 0.23).astype(float)
    y[rng.random(1003) < 0.05] = np.nan
    folds = stratified_folds(y, k=5, seed=7)
    assert folds.dtype == np.int8
    assert np.all(folds[np.isnan(y)] == -1)
    assert np.all((folds[~np.isnan(y)] >= 0) & (folds[~np.isnan(y)] < 5))
    for group in (y == 1, y == 0, ~np.isnan(y)):
        sizes = np.bincount(folds[group], minlength=5)
        assert sizes.max() - sizes.min() <= 1


def test_stratified_folds__deterministic_per_seed():
    y = (np.random.default_rng(2).random(500) < 0.4).astype(np.int8)
    a = stratified_folds(y, k=4, seed=3)
    np.testing.assert_array_equal(a, stratified_folds(y, k=4, seed=3))
    assert not np.array_equal(a, stratified_folds(y, k=4, seed=4))


def test_stratified_folds__rejects_non_binary_values():
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        stratified_folds(np.array([0.0, 1.0, 2.0]), k=2)


def test_training_gwas__matches_naive_score_test_on_training_rows():
    G, y, covariates, _, _ = small_cohort(5)
    n = y.size
    train = np.flatnonzero(np.arange(n) % 3 != 0)
    gwas = training_gwas(pack_dosages(G), n, train, y[train], covariates[train])
    X = G[:, train].astype(float)
    for v in range(X.shape[0]):  # mean imputation over the training samples
        called = X[v] >= 0
        X[v, ~called] = X[v, called].mean()
    models = fit_null_models(covariates[train], y[train, None])
    U, V = naive_score_statistics(X, models.X, models.R, models.W)
    np.testing.assert_allclose(gwas.z, U[:, 0] / np.sqrt(V[:, 0]), rtol=1e-8)
    np.testing.assert_allclose(gwas.beta, U[:, 0] / V[:, 0], rtol=1e-8)
    np.testing.assert_allclose(gwas.mean, X.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(gwas.sd, X.std(axis=1), rtol=1e-12)
    assert gwas.n == int(np.sum(~np.isnan(y[train])))


def test_score_samples__matches_numpy_with_training_mean_imputation():
    G, _, _, _, _ = small_cohort(6)
    n = G.shape[1]
    rng = np.random.default_rng(0)
    weights = rng.normal(size=G.shape[0])
    weights[::3] = 0.0
    fill = rng.uniform(0, 2, G.shape[0])
    idx = np.array([5, 1, 77, 300, 399])
    expected = (np.where(G[:, idx] >= 0, G[:, idx] - fill[:, None], 0.0) * weights[:, None]).sum(0)
    got = score_samples(pack_dosages(G), n, idx, weights, fill)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_cross_validated_scores__test_fold_data_never_changes_weights():
    G, y, covariates, contig, pos = small_cohort(7, n=500, m=80)
    n = y.size
    folds = stratified_folds(y, k=4, seed=1)
    builders = {
        "cplust": cplust_builder(window_bp=100_000),
        "ldpred": ldpred_builder(max_block_variants=20, n_chains=3, burn_in=20, num_iter=20),
    }

    def run(G, y, covariates):
        return cross_validated_scores(
            pack_dosages(G), n, contig, pos, y, covariates, folds, builders, seed=2, fold_ids=[1]
        )

    base = run(G, y, covariates)
    test = folds == 1
    rng = np.random.default_rng(9)
    y2, G2, cov2 = y.copy(), G.copy(), covariates.copy()
    y2[test] = 1.0 - np.nan_to_num(y[test])  # flip every held-out phenotype
    G2[:, test] = rng.integers(-1, 3, size=(G.shape[0], test.sum()))
    cov2[test] = rng.normal(size=(test.sum(), 2))
    perturbed = run(G2, y2, cov2)
    for name in builders:
        np.testing.assert_array_equal(
            base.results[name][0].weights, perturbed.results[name][0].weights
        )
        assert np.all(np.isfinite(base.scores[name][test]))
        assert np.all(np.isnan(base.scores[name][~test]))
