"""C+T: thresholds, grid scores, partial R² vs statsmodels, clumping wiring, inner tuning."""

import numpy as np
import statsmodels.api as sm

from cohortgen.kernels.bed import pack_dosages, unpack_dosages
from cohortgen.kernels.clump import clump
from cohortgen.prs.cplust import (
    clump_index_variants,
    cplust_weights,
    partial_r2,
    threshold_grid_scores,
    threshold_weights,
)
from cohortgen.prs.folds import TrainingSet, grid_scores, stratified_folds, training_gwas


def naive_clump(
    packed,
    n_samples,
    pos,
    p,
    r2=0.1,
    window_bp=250_000,
    p_index=5e-8,
    p_member=1e-2,
    sample_mask=None,
):
    """PLINK --clump on one contig, written for clarity (dosage r² over jointly called samples).

    Same signature and return as ``cohortgen.kernels.clump.clump``.
    """
    dosage = unpack_dosages(packed, n_samples)
    mask = np.ones(n_samples, bool) if sample_mask is None else sample_mask
    m = p.size
    is_index = np.zeros(m, bool)
    clump_of = np.full(m, -1)
    for i in np.argsort(p, kind="stable"):
        if not p[i] <= p_index or clump_of[i] >= 0:
            continue
        is_index[i] = True
        clump_of[i] = i
        for j in range(m):
            if clump_of[j] >= 0 or abs(pos[j] - pos[i]) > window_bp or not p[j] <= p_member:
                continue
            both = mask & (dosage[i] >= 0) & (dosage[j] >= 0)
            a, b = dosage[i, both].astype(float), dosage[j, both].astype(float)
            if a.std() > 0 and b.std() > 0 and np.corrcoef(a, b)[0, 1] ** 2 >= r2:
                clump_of[j] = i
    return is_index, clump_of


def ld_cohort(seed, n=600, m=120, block=10, rho=0.95):
    """Dosages with LD in blocks of ``block`` variants, a trait driven by a few variants."""
    rng = np.random.default_rng(seed)
    G = np.empty((m, n), dtype=np.int8)
    for s in range(0, m, block):
        h = rng.standard_normal((2, n))
        for j in range(s, s + block):
            h = rho * h + np.sqrt(1 - rho**2) * rng.standard_normal((2, n))
            G[j] = (h < -0.3).sum(axis=0)
    liability = G[[3, 45, 87]].astype(float).sum(axis=0) + rng.normal(size=n) * 1.5
    y = (liability > np.median(liability)).astype(float)
    covariates = rng.normal(size=(n, 2))
    contig = np.repeat([1, 2], m // 2)
    pos = np.tile(np.arange(m // 2) * 10_000 + 1, 2)
    return G, y, covariates, contig, pos


def training_set(G, y, covariates, contig, pos, train):
    n = y.size
    packed = pack_dosages(G)
    gwas = training_gwas(packed, n, train, y[train], covariates[train])
    return TrainingSet(packed, n, contig, pos, train, y[train], covariates[train], gwas, 11)


def test_threshold_weights__keeps_index_variants_at_or_below_threshold():
    beta = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    p = np.array([1e-9, 1e-3, np.nan, 0.5, 1e-3])
    is_index = np.array([True, True, True, True, False])
    np.testing.assert_array_equal(
        threshold_weights(beta, p, is_index, 1e-3), [1.0, 2.0, 0.0, 0.0, 0.0]
    )


def test_partial_r2__matches_statsmodels_nested_ols():
    rng = np.random.default_rng(3)
    covariates = rng.normal(size=(300, 2))
    scores = rng.normal(size=(300, 3)) + covariates[:, :1]
    y = (scores[:, 0] + covariates[:, 1] + rng.normal(size=300) > 0).astype(float)
    got = partial_r2(scores, y, covariates)
    reduced = sm.OLS(y, sm.add_constant(covariates)).fit()
    for g in range(3):
        full = sm.OLS(y, sm.add_constant(np.column_stack([covariates, scores[:, g]]))).fit()
        expected = (reduced.ssr - full.ssr) / reduced.ssr
        assert abs(got[g] - expected) < 1e-10


def test_grid_scores__matches_numpy():
    G, _, _, _, _ = ld_cohort(4, n=101)
    G = G[:40]
    G[0, :7] = -1
    rng = np.random.default_rng(5)
    W = rng.normal(size=(40, 4)) * (rng.random((40, 4)) < 0.3)
    fill = rng.uniform(0, 2, 40)
    idx = np.arange(0, 101, 3)
    centred = np.where(G[:, idx] >= 0, G[:, idx] - fill[:, None], 0.0)
    got = grid_scores(pack_dosages(G), 101, idx, W, fill)
    np.testing.assert_allclose(got, centred.T @ W, rtol=1e-12, atol=1e-12)


def test_threshold_grid_scores__equal_dense_weight_columns():
    G, y, covariates, contig, pos = ld_cohort(10, n=500)
    G[5, :40] = -1
    train = np.flatnonzero(np.arange(y.size) % 5 != 0)
    ts = training_set(G, y, covariates, contig, pos, train)
    gwas = ts.gwas
    gwas.p[11] = np.nan  # untestable: never in a column
    rng = np.random.default_rng(2)
    is_index = rng.random((3, G.shape[0])) < 0.5
    thresholds = (0.5, 1e-3, 0.05, 1e-3, 0.2)  # unsorted, a repeat, some p above every cut
    val = train[::4]
    got = threshold_grid_scores(ts, val, gwas, is_index, thresholds)
    W = np.column_stack([threshold_weights(gwas.beta, gwas.p, is_index[r], t)
                         for r in range(3) for t in thresholds])
    expected = grid_scores(ts.packed, ts.n_samples, val, W, gwas.mean)
    assert np.all(np.count_nonzero(W, axis=0)[1::5] > 0)  # the tightest cut keeps variants
    # bins summed before the thresholds: the same terms in another order (rounding only)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_clump_index_variants__per_contig_on_training_samples_matches_naive_clump():
    G, y, covariates, contig, pos = ld_cohort(6)
    train = np.flatnonzero(np.arange(y.size) % 4 != 0)
    ts = training_set(G, y, covariates, contig, pos, train)
    p = ts.gwas.p.copy()
    p[7] = np.nan
    got = clump_index_variants(ts, train, p, 0.2, 1.0, 50_000, naive_clump)
    mask = np.zeros(y.size, bool)
    mask[train] = True
    for label in (1, 2):
        rows = np.flatnonzero((contig == label) & np.isfinite(p))
        expected, _ = naive_clump(
            pack_dosages(G[rows]), y.size, pos[rows], p[rows], 0.2, 50_000, 1.0, 1.0, mask
        )
        np.testing.assert_array_equal(got[rows], expected)
    assert not got[7]


def test_cplust_weights__tunes_inside_training_and_finds_causal_clumps():
    G, y, covariates, contig, pos = ld_cohort(8, n=1200)
    folds = stratified_folds(y, k=5, seed=0)
    train = np.flatnonzero(folds != 0)
    ts = training_set(G, y, covariates, contig, pos, train)
    result = cplust_weights(ts, window_bp=50_000, clump_fn=naive_clump)
    grid = result.details["grid"]
    assert grid.shape == (4, 9)
    best = np.unravel_index(np.argmax(grid), grid.shape)
    assert result.details["r2"] == (0.1, 0.2, 0.5, 0.8)[best[0]]
    assert (
        result.details["p_threshold"] == (5e-8, 1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.5, 1)[best[1]]
    )
    chosen = np.flatnonzero(result.weights)
    assert result.details["n_variants"] == chosen.size
    for causal in (3, 45, 87):  # each causal block carries a positive weight
        block = slice(causal - causal % 10, causal - causal % 10 + 10)
        assert result.weights[block].sum() > 0
    assert np.all(ts.gwas.p[chosen] <= result.details["p_threshold"])


def test_cplust_weights__shared_pair_levels_match_the_clump_kernel():
    G, y, covariates, contig, pos = ld_cohort(9, n=600)
    train = np.flatnonzero(stratified_folds(y, k=5, seed=1) != 0)
    ts = training_set(G, y, covariates, contig, pos, train)
    expected = cplust_weights(ts, window_bp=50_000, clump_fn=clump)
    first = cplust_weights(ts, window_bp=50_000)
    again = cplust_weights(ts, window_bp=50_000)  # from the cache in ts.shared
    assert any(key[0] == "pair_levels" for key in ts.shared)
    for got in (first, again):
        np.testing.assert_array_equal(got.weights, expected.weights)
        np.testing.assert_array_equal(got.details["grid"], expected.details["grid"])
