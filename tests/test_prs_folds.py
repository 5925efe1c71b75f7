"""Cross-validation harness: stratified folds, training-only GWAS, held-out scoring, no leakage."""

import numba
import numpy as np
import pytest
from test_kernels_centred import naive_centred_dosages
from test_kernels_score import naive_score_statistics

from cohortgen.assoc.null_model import fit_null_models
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.centred import centred_dosages
from cohortgen.prs.cplust import cplust_builder
from cohortgen.prs.folds import (
    cross_validated_scores,
    grid_scores,
    inner_validation,
    multilabel_stratified_folds,
    stratified_folds,
    training_gwas,
    training_gwas_all,
)
from cohortgen.prs.ldpred import ldpred_builder


def score_samples(
    packed: np.ndarray,
    n_samples: int,
    sample_idx: np.ndarray,
    weights: np.ndarray,
    fill: np.ndarray,
) -> np.ndarray:
    """Σ_j weights_j · (dosage_ij − fill_j) for the samples ``sample_idx``: float64 (k,).

    weights, fill: float64 (m,); a missing dosage is imputed to ``fill_j`` (the training mean),
    so it contributes 0 (:func:`grid_scores` with one column).
    """
    weights = np.asarray(weights, dtype=np.float64)
    return grid_scores(packed, n_samples, sample_idx, weights[:, None], fill)[:, 0]


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


def nine_diseases(seed: int, n: int = 2100):
    """(n, 9) 0/1 phenotypes at prevalences 0.4 … 0.03, correlated, 2% missing per disease."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=n)
    prevalence = np.array([0.4, 0.3, 0.25, 0.2, 0.12, 0.08, 0.06, 0.04, 0.03])
    liability = 0.5 * shared[:, None] + rng.normal(size=(n, 9))
    cut = np.diag(np.quantile(liability, 1 - prevalence, axis=0))
    Y = (liability > cut).astype(float)
    Y[rng.random(Y.shape) < 0.02] = np.nan
    return Y


def test_multilabel_stratified_folds__every_disease_balanced_in_every_fold():
    Y = nine_diseases(3)
    eligible = np.ones(len(Y), bool)
    eligible[:7] = False
    k = 5
    folds = multilabel_stratified_folds(Y, k, seed=11, eligible=eligible)
    assert folds.dtype == np.int8
    assert np.all(folds[:7] == -1)
    assert np.all((folds[7:] >= 0) & (folds[7:] < k))
    sizes = np.bincount(folds[7:], minlength=k)
    assert np.all(np.abs(sizes - sizes.mean()) <= 0.01 * sizes.mean())
    for d in range(9):
        for status in (1.0, 0.0):
            members = eligible & (Y[:, d] == status)
            counts = np.bincount(folds[members], minlength=k)
            ideal = members.sum() / k
            assert np.all(np.abs(counts - ideal) <= 2), (d, status, counts, ideal)


def test_multilabel_stratified_folds__deterministic_per_seed_and_checks_values():
    Y = nine_diseases(4, n=600)
    a = multilabel_stratified_folds(Y, 4, seed=1)
    np.testing.assert_array_equal(a, multilabel_stratified_folds(Y, 4, seed=1))
    assert not np.array_equal(a, multilabel_stratified_folds(Y, 4, seed=2))
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        multilabel_stratified_folds(np.array([[0.0], [2.0]]), 2)


def test_inner_validation__a_fifth_of_each_fold_and_blind_to_other_folds():
    Y = nine_diseases(5, n=1500)
    folds = multilabel_stratified_folds(Y, 5, seed=2)
    flag = inner_validation(Y, folds, 5, seed=3)
    for g in range(5):
        members = folds == g
        assert abs(flag[members].sum() - members.sum() / 5) <= 1
        for d in range(9):
            cases = members & (Y[:, d] == 1)
            assert abs(flag[cases].sum() - cases.sum() / 5) <= 2
    Y2 = Y.copy()
    Y2[folds == 0] = 1.0 - np.nan_to_num(Y[folds == 0])  # relabel fold 0 only
    flag2 = inner_validation(Y2, folds, 5, seed=3)
    np.testing.assert_array_equal(flag[folds != 0], flag2[folds != 0])


def test_training_gwas_all__equals_one_disease_at_a_time():
    G, y, covariates, _, _ = small_cohort(8)
    n = y.size
    rng = np.random.default_rng(1)
    Y = np.column_stack([y, (rng.random(n) < 0.2).astype(float), np.ones(n)])  # 3rd: no control
    train = np.flatnonzero(np.arange(n) % 4 != 1)
    packed = pack_dosages(G)
    batched = training_gwas_all(packed, n, train, Y[train], covariates[train])
    assert batched[2] is None
    for d in range(2):
        single = training_gwas(packed, n, train, Y[train, d], covariates[train])
        for field in ("z", "p", "beta", "mean"):
            np.testing.assert_allclose(getattr(batched[d], field), getattr(single, field),
                                       rtol=1e-10, atol=1e-14)
        assert batched[d].n == single.n


def test_training_gwas_all__same_for_any_thread_count():
    G, y, covariates, _, _ = small_cohort(10, m=70)
    n = y.size
    train = np.flatnonzero(np.arange(n) % 5 != 2)
    packed = pack_dosages(G)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = training_gwas_all(packed, n, train, y[train, None], covariates[train])[0]
    finally:
        numba.set_num_threads(before)
    many = training_gwas_all(packed, n, train, y[train, None], covariates[train])[0]
    for field in ("z", "p", "beta", "mean"):
        np.testing.assert_array_equal(getattr(one, field), getattr(many, field))


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
    assert gwas.n == int(np.sum(~np.isnan(y[train])))


def test_centred_dosages__matches_naive_twin():
    G, _, _, _, _ = small_cohort(9, n=103, m=30, missing=0.1)
    rng = np.random.default_rng(1)
    rows = np.array([29, 0, 7, 7, 15])
    idx = rng.choice(103, 40, replace=False)
    fill = rng.uniform(0, 2, 30)
    got = centred_dosages(pack_dosages(G), 103, rows, idx, fill)
    np.testing.assert_array_equal(got, naive_centred_dosages(G, rows, idx, fill))


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


@pytest.mark.parametrize("n_diseases", [1, 2])
def test_cross_validated_scores__test_fold_data_never_changes_weights(n_diseases):
    G, y, covariates, contig, pos = small_cohort(7, n=500, m=80)
    n = y.size
    if n_diseases == 1:
        folds = stratified_folds(y, k=4, seed=1)
    else:  # a second disease, folds shared and stratified for both
        y = np.column_stack([y, (np.random.default_rng(3).random(n) < 0.25).astype(float)])
        folds = multilabel_stratified_folds(y, k=4, seed=1)
    builders = {
        "cplust": cplust_builder(window_bp=100_000),
        "ldpred": ldpred_builder(max_block_variants=20, n_chains=3, burn_in=20, num_iter=20),
    }

    def run(G, y, covariates):
        out = cross_validated_scores(
            pack_dosages(G), n, contig, pos, y, covariates, folds, builders, seed=2, fold_ids=[1]
        )
        return [out] if n_diseases == 1 else out

    base = run(G, y, covariates)
    test = folds == 1
    rng = np.random.default_rng(9)
    y2, G2, cov2 = y.copy(), G.copy(), covariates.copy()
    y2[test] = 1.0 - np.nan_to_num(y[test])  # flip every held-out phenotype
    G2[:, test] = rng.integers(-1, 3, size=(G.shape[0], test.sum()))
    cov2[test] = rng.normal(size=(test.sum(), 2))
    perturbed = run(G2, y2, cov2)
    for one, other in zip(base, perturbed, strict=True):
        for name in builders:
            np.testing.assert_array_equal(
                one.results[name][0].weights, other.results[name][0].weights
            )
            assert np.all(np.isfinite(one.scores[name][test]))
            assert np.all(np.isnan(one.scores[name][~test]))


def test_cross_validated_scores__several_diseases_share_ld_and_match_single_runs():
    G, y, covariates, contig, pos = small_cohort(10, n=500, m=80)
    n = y.size
    rng = np.random.default_rng(2)
    Y = np.column_stack([y, (rng.random(n) < 0.3).astype(float)])
    folds = multilabel_stratified_folds(Y, 3, seed=1)
    inner = inner_validation(Y, folds, 5, seed=4)
    computed = []

    def ldpred(train):
        computed.append(sum(key[0] == "ld" for key in train.shared))
        return ldpred_builder(max_block_variants=20, n_chains=2, burn_in=10, num_iter=10)(train)

    builders = {"cplust": cplust_builder(window_bp=100_000), "ldpred": ldpred}
    both = cross_validated_scores(pack_dosages(G), n, contig, pos, Y, covariates, folds,
                                  builders, seed=2, fold_ids=[0], inner_val=inner)
    assert computed == [0, 1]  # the second disease reuses the fold's LD (and C+T pair r²)
    first = cross_validated_scores(pack_dosages(G), n, contig, pos, Y[:, 0], covariates, folds,
                                   {"cplust": builders["cplust"]}, seed=2, fold_ids=[0],
                                   inner_val=inner)
    # same selection and tuning; weights equal up to the rounding of a batched BLAS product
    np.testing.assert_allclose(both[0].results["cplust"][0].weights,
                               first.results["cplust"][0].weights, rtol=1e-12)
    np.testing.assert_allclose(both[0].scores["cplust"], first.scores["cplust"], rtol=1e-10)
