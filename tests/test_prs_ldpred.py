"""Blocked LD, the LDpred2-auto sampler (vs a naive sweep), chain checks, and CV accuracy."""

import functools

import numpy as np
import pytest
from scipy import stats

from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.ld_matrix import (
    BAND_TILE,
    banded_gram,
    block_bounds,
    block_correlations,
    gram,
)
from cohortgen.kernels.ldpred import (
    block_diagonal,
    draw_normal,
    draw_uniform,
    gibbs_auto,
    gibbs_sweep,
    rng_state,
    row_spans,
    surely_excluded,
)
from cohortgen.kernels.linalg_small import expit
from cohortgen.prs.cplust import cplust_builder
from cohortgen.prs.folds import (
    TrainingSet,
    cross_validated_scores,
    stratified_folds,
    training_gwas,
)
from cohortgen.prs.ldpred import (
    ld_scores,
    ldpred2_auto,
    ldpred_builder,
    ldpred_weights,
    standardized_marginal_effects,
    within_mad,
)


class NoConvergedChainError(RuntimeError):
    """Every LDpred2-auto chain diverged or was an outlier: no score is emitted."""


def ldpred_weights_or_raise(train: TrainingSet, **options) -> np.ndarray:
    """:func:`ldpred_weights` that raises :class:`NoConvergedChainError` instead of a status."""
    result = ldpred_weights(train, **options)
    if result.weights is None:
        raise NoConvergedChainError(f"LDpred2-auto emitted no score: {result.status}")
    return result.weights


def naive_gibbs_sweep(
    R: np.ndarray,
    beta_hat: np.ndarray,
    curr: np.ndarray,
    n: float,
    h2: float,
    p: float,
    shrink: float,
    uniform,
    normal,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clarity twin of one sweep (tests only), drawing as :func:`gibbs_sweep` does.

    R: float64 (m, m) dense LD (blocks on the diagonal); curr: (m,) current β (not modified);
    uniform, normal: callables returning one draw (e.g. :func:`draw_uniform` and
    :func:`draw_normal` on a copy of the kernel's state, to replay its draws).
    Returns (new β (m,), posterior means postp·C2·β̃ (m,), postp (m,)).
    """
    beta = curr.astype(np.float64).copy()
    m = beta.size
    poly = np.diag(R) > 0
    c1 = n * h2 / (poly.sum() * p)
    c2 = c1 / (1 + c1)
    post_mean = np.zeros(m)
    postp_all = np.zeros(m)
    for j in np.flatnonzero(poly):
        others = R[j] @ beta - R[j, j] * beta[j]
        resid = beta_hat[j] - shrink * others
        c3 = c2 * resid
        odds_zero = (1 - p) / p * np.sqrt(1 + c1) * np.exp(-n * c2 * resid**2 / 2)
        postp = 1 / (1 + odds_zero)
        post_mean[j] = c3 * postp
        postp_all[j] = postp
        beta[j] = c3 + np.sqrt(c2 / n) * normal() if uniform() < postp else 0.0
    return beta, post_mean, postp_all


def block_matrix(corr: np.ndarray, offsets: np.ndarray, bounds: np.ndarray, b: int) -> np.ndarray:
    """View of block ``b`` of a flat :func:`block_correlations` array as (size, size)."""
    size = int(bounds[b + 1] - bounds[b])
    return corr[offsets[b] : offsets[b + 1]].reshape(size, size)


def naive_block_correlations(dosage: np.ndarray, bounds: np.ndarray) -> list[np.ndarray]:
    """Clarity twin (tests only): ``np.corrcoef`` of mean-imputed dosages within each block.

    dosage: int8 (m, k), -1 = missing, selected samples only. Monomorphic variants get 0 rows
    and columns. Returns a list of float64 (size, size) matrices.
    """
    x = dosage.astype(np.float64)
    for v in range(x.shape[0]):
        called = x[v] >= 0
        x[v, ~called] = x[v, called].mean() if called.any() else 0.0
    blocks = []
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        xb = x[s:e]
        poly = xb.std(axis=1) > 1e-12
        r = np.zeros((e - s, e - s))
        if poly.any():
            r[np.ix_(poly, poly)] = np.atleast_2d(np.corrcoef(xb[poly]))
        blocks.append(r)
    return blocks


def ld_genotypes(n, m, seed, block=50, rho=0.9, missing=0.0):
    """int8 (m, n) dosages from latent AR(1) Gaussian haplotypes, independent blocks of
    ``block`` variants; allele frequencies U(0.05, 0.5)."""
    rng = np.random.default_rng(seed)
    cut = stats.norm.ppf(rng.uniform(0.05, 0.5, m))
    G = np.empty((m, n), dtype=np.int8)
    for s in range(0, m, block):
        h = rng.standard_normal(2 * n)
        for j in range(s, min(s + block, m)):
            if j > s:
                h = rho * h + np.sqrt(1 - rho**2) * rng.standard_normal(2 * n)
            alleles = h < cut[j]
            G[j] = alleles[:n].astype(np.int8) + alleles[n:]
    if missing:
        G[rng.random(G.shape) < missing] = -1
    return G


def liability_trait(G, h2, n_causal, prevalence, seed):
    """Binary trait from a liability with SNP heritability h2 over n_causal variants."""
    rng = np.random.default_rng(seed)
    causal = rng.choice(G.shape[0], n_causal, replace=False)
    X = G[causal].astype(float)
    g = rng.standard_normal(n_causal) @ ((X - X.mean(1, keepdims=True)) / X.std(1, keepdims=True))
    liability = g / g.std() * np.sqrt(h2) + rng.standard_normal(G.shape[1]) * np.sqrt(1 - h2)
    return (liability > np.quantile(liability, 1 - prevalence)).astype(float)


def lee_liability_r2(r2_obs, K, P):
    """Lee et al. 2012 observed → liability R² (test-local twin; SCIENCE.md, Polygenic scores)."""
    t = stats.norm.ppf(1 - K)
    z = stats.norm.pdf(t)
    m = z / K
    C = K * (1 - K) / z**2 * K * (1 - K) / (P * (1 - P))
    theta = m * (P - K) / (1 - K) * (m * (P - K) / (1 - K) - t)
    return r2_obs * C / (1 + r2_obs * theta * C)


def test_block_bounds__splits_each_contig_into_near_equal_blocks():
    contig = np.array(["1"] * 7 + ["2"] * 3 + ["X"])
    np.testing.assert_array_equal(block_bounds(contig, 3), [0, 2, 5, 7, 10, 11])
    np.testing.assert_array_equal(block_bounds(contig, 100), [0, 7, 10, 11])


def test_block_correlations__matches_corrcoef_on_training_samples():
    G = ld_genotypes(90, 23, seed=1, block=6, missing=0.05)
    G[4] = 1  # monomorphic
    G[9, :] = -1
    G[9, 3] = 2  # one call only: monomorphic after imputation
    idx = np.sort(np.random.default_rng(2).choice(90, 60, replace=False))
    bounds = np.array([0, 5, 12, 23])
    corr, offsets, mean, sd = block_correlations(pack_dosages(G), 90, idx, bounds)
    expected = naive_block_correlations(G[:, idx], bounds)
    for b in range(3):
        np.testing.assert_allclose(
            block_matrix(corr, offsets, bounds, b), expected[b], rtol=1e-12, atol=1e-13
        )
    X = np.where(G[:, idx] >= 0, G[:, idx], np.nan)
    np.testing.assert_allclose(mean, np.nan_to_num(np.nanmean(X, axis=1)), rtol=1e-12)
    imputed = np.where(np.isnan(X), np.nan_to_num(np.nanmean(X, axis=1))[:, None], X)
    np.testing.assert_allclose(sd, np.std(imputed, axis=1), rtol=1e-12, atol=1e-12)
    assert sd[4] == 0.0
    assert sd[9] == 0.0
    single, _, _, _ = block_correlations(pack_dosages(G), 90, idx, bounds, dtype=np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, corr, rtol=0, atol=1e-6)


def test_block_correlations__float32_error_far_below_sampling_noise_at_biobank_n():
    # LDpred2 LD is float32 (ssyrk): at a training n of 16,800 its rounding must stay far
    # below the sampling noise of r, 1/sqrt(n) ~ 0.008; tolerance 1e-4 (measured ~6e-6).
    n = 16_800
    G = ld_genotypes(n, 40, seed=14, block=20, missing=0.01)
    bounds = np.array([0, 40])
    double, *_ = block_correlations(pack_dosages(G), n, np.arange(n), bounds)
    single, *_ = block_correlations(pack_dosages(G), n, np.arange(n), bounds, dtype=np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, double, rtol=0, atol=1e-4)
    assert np.abs(double).max() > 0.5  # real LD in the block


def test_block_correlations__window_bp_zeroes_distant_pairs():
    G = ld_genotypes(50, 8, seed=3, block=8)
    pos = np.arange(8) * 1000
    bounds = np.array([0, 8])
    full, offsets, _, _ = block_correlations(pack_dosages(G), 50, np.arange(50), bounds)
    band, _, _, _ = block_correlations(
        pack_dosages(G), 50, np.arange(50), bounds, pos=pos, window_bp=2500
    )
    R, B = full.reshape(8, 8), band.reshape(8, 8)
    near = np.abs(pos[:, None] - pos[None, :]) <= 2500
    np.testing.assert_array_equal(B[near], R[near])
    assert np.all(B[~near] == 0.0)


@pytest.mark.parametrize(("dtype", "tol"), [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_banded_gram__masked_full_product_across_tiles(dtype, tol):
    """Irregular positions over several tiles of BAND_TILE variants: the tiled band equals the
    full product with distant pairs zeroed (tiles beyond the window are never computed)."""
    rng = np.random.default_rng(5)
    r, k = 2 * BAND_TILE + 57, 300
    z = rng.standard_normal((r, k)).astype(dtype)
    pos = np.cumsum(rng.integers(1, 40_000, r)).astype(np.int64)
    window = 1_500_000
    expected = (z.astype(np.float64) @ z.astype(np.float64).T) / k
    expected[np.abs(pos[:, None] - pos[None, :]) > window] = 0.0
    band = banded_gram(z, pos, window, 1.0 / k)
    assert band.dtype == dtype
    np.testing.assert_allclose(band, expected, rtol=0, atol=tol)
    assert np.all(band == band.T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gram__matches_matrix_product(dtype):
    z = np.random.default_rng(1).normal(size=(37, 300)).astype(dtype)
    got = gram(z, 1 / 300)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, got.T)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, z.astype(np.float64) @ z.T.astype(np.float64) / 300,
                               rtol=tol, atol=tol)


def small_ld(seed, window_bp=None):
    """LD of 30 variants 1 kb apart in 3 blocks, variant 13 monomorphic; banded if window_bp."""
    G = ld_genotypes(300, 30, seed=seed, block=10)
    G[13] = 0
    bounds = np.array([0, 10, 20, 30])
    corr, offsets, _, _ = block_correlations(
        pack_dosages(G), 300, np.arange(300), bounds, pos=np.arange(30) * 1000, window_bp=window_bp
    )
    return corr, offsets, bounds


def full_spans(bounds):
    """int64 (m, 2): every row's whole block, (0, size)."""
    sizes = np.diff(bounds)
    return np.column_stack([np.zeros(bounds[-1], dtype=np.int64), np.repeat(sizes, sizes)])


def splitmix64(x):
    """The next (state, output) of SplitMix64, in Python integers."""
    x = (x + 0x9E3779B97F4A7C15) % 2**64
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return x, z ^ (z >> 31)


def test_rng__uniforms_match_numpy_sfc64_and_seeding_is_splitmix():
    state = rng_state(2024)
    bit_generator = np.random.SFC64()
    bit_generator.state = {"bit_generator": "SFC64", "state": {"state": state.copy()},
                           "has_uint32": 0, "uinteger": 0}
    expected = np.random.Generator(bit_generator).random(1000)
    np.testing.assert_array_equal([draw_uniform(state) for _ in range(1000)], expected)
    x, words = 2024, []
    for _ in range(3):
        x, out = splitmix64(x)
        words.append(out)
    seeded = np.array([*words, 1], dtype=np.uint64)
    reference = np.random.SFC64()
    reference.state = {"bit_generator": "SFC64", "state": {"state": seeded},
                       "has_uint32": 0, "uinteger": 0}
    reference.random_raw(12)
    np.testing.assert_array_equal(rng_state(2024), reference.state["state"]["state"])


def test_rng__normals_are_standard_normal():
    state = rng_state(7)
    draws = np.array([draw_normal(state) for _ in range(20_000)])
    assert stats.kstest(draws, "norm").pvalue > 1e-3


def test_block_diagonal__matches_dense_blocks():
    corr, offsets, bounds = small_ld(4)
    expected = np.concatenate(
        [np.diag(block_matrix(corr, offsets, bounds, b)) for b in range(bounds.size - 1)]
    )
    np.testing.assert_array_equal(block_diagonal(corr, offsets, bounds), expected)
    assert expected[13] == 0.0
    assert np.all(np.delete(expected, 13) > 0.99)


def test_row_spans__are_first_and_past_last_nonzero_columns():
    corr, offsets, bounds = small_ld(4, window_bp=3500)
    expected = []
    for b in range(bounds.size - 1):
        for row in block_matrix(corr, offsets, bounds, b):
            cols = np.flatnonzero(row)
            expected.append((cols[0], cols[-1] + 1) if cols.size else (0, 0))
    spans = row_spans(corr, offsets, bounds)
    np.testing.assert_array_equal(spans, expected)
    np.testing.assert_array_equal(spans[13], [0, 0])  # monomorphic: all-zero row
    assert spans[10, 1] == 3  # row 10's band ends before the monomorphic column 13
    np.testing.assert_array_equal(row_spans(*small_ld(4)[:3])[[0, 29]], [[0, 10], [0, 10]])


@pytest.mark.parametrize("accumulate", [True, False])
@pytest.mark.parametrize("window_bp", [None, 3500])
def test_gibbs_sweep__matches_naive_twin(window_bp, accumulate):
    corr, offsets, bounds = small_ld(4, window_bp)
    R = np.zeros((30, 30))
    for b in range(3):
        s, e = bounds[b], bounds[b + 1]
        R[s:e, s:e] = block_matrix(corr, offsets, bounds, b)
    rng = np.random.default_rng(5)
    beta_hat = rng.normal(scale=0.1, size=30)
    curr = np.where(rng.random(30) < 0.3, rng.normal(scale=0.05, size=30), 0.0)
    curr[13] = 0.0
    n, h2, p, shrink = 500.0, 0.3, 0.2, 0.95
    state = rng_state(5)
    replay = state.copy()
    expected_beta, expected_mean, _ = naive_gibbs_sweep(
        R, beta_hat, curr, n, h2, p, shrink, lambda: draw_uniform(replay),
        lambda: draw_normal(replay)
    )
    beta, dotprods = curr.copy(), R @ curr
    beta_sum, postp_sum = np.zeros(30), np.zeros(30)
    n_causal = gibbs_sweep(
        corr,
        offsets,
        bounds,
        row_spans(corr, offsets, bounds),
        block_diagonal(corr, offsets, bounds),
        beta_hat,
        beta,
        dotprods,
        state,
        n,
        h2,
        p,
        29,
        shrink,
        beta_sum,
        postp_sum,
        accumulate,
    )
    np.testing.assert_allclose(beta, expected_beta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(beta_sum, expected_mean * accumulate, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dotprods, R @ beta, rtol=1e-10, atol=1e-13)
    assert n_causal == np.count_nonzero(expected_beta)
    assert 0 < n_causal < 29


def test_surely_excluded__only_when_the_draw_is_at_leastexpit():
    x = np.r_[-np.geomspace(1e-6, 800, 400), 0.0, 2.0, -np.inf, np.nan]
    rng = np.random.default_rng(13)
    rows = []
    for xi in x:
        postp = expit(xi)
        near = postp * (1 + np.linspace(-0.05, 0.05, 11))  # draws either side of postp
        for u in np.r_[near[near < 1], rng.random(20), 0.0, np.nextafter(postp, 0.0)]:
            rows.append((u, postp, surely_excluded(u, xi)))
    u, postp, excluded = np.array(rows).T
    excluded = excluded.astype(bool)
    assert np.all(u[excluded] >= postp[excluded])
    # and it does save exp for most null variants: log-odds near -6, uniform draws
    draws = rng.random(10_000)
    assert np.mean([surely_excluded(d, -6.0) for d in draws]) > 0.99


def test_gibbs_auto__deterministic_and_divergence_stops_chain():
    corr, offsets, bounds = small_ld(6)
    beta_hat = np.random.default_rng(7).normal(scale=0.1, size=30)
    spans = row_spans(corr, offsets, bounds)
    args = (corr, offsets, bounds, spans, beta_hat, 300.0, 0.2, 0.1, 10, 10, 0.95, 1e-5, 1.0, 1e-4)
    a = gibbs_auto(*args, 1.0, 123)
    b = gibbs_auto(*args, 1.0, 123)
    for x, y in zip(a[:4], b[:4], strict=True):
        np.testing.assert_array_equal(x, y)
    assert a[4] == 20
    assert np.all(np.isfinite(a[3]))
    diverged = gibbs_auto(*args, 1e-6, 123)  # h2_max tiny: first sweep exceeds it
    assert diverged[4] == 0
    assert np.all(np.isnan(diverged[3]))


def test_gibbs_auto__span_restriction_is_bitwise_exact_on_banded_ld():
    corr, offsets, bounds = small_ld(6, window_bp=3500)
    beta_hat = np.random.default_rng(8).normal(scale=0.1, size=30)
    args = (beta_hat, 300.0, 0.2, 0.1, 20, 20, 0.95, 1e-5, 1.0, 1e-4, 1.0, 9)
    spans = row_spans(corr, offsets, bounds)
    assert np.all(spans[:, 1] - spans[:, 0] < 10)  # the band does shorten every row
    banded = gibbs_auto(corr, offsets, bounds, spans, *args)
    whole = gibbs_auto(corr, offsets, bounds, full_spans(bounds), *args)
    assert banded[4] == whole[4] == 40
    for x, y in zip(banded[:4], whole[:4], strict=True):
        np.testing.assert_array_equal(x, y)
    assert np.count_nonzero(banded[0]) > 0


def test_within_mad__rejects_outlier_and_keeps_identical_chains():
    values = np.array([0.30, 0.31, 0.29, 0.30, 0.95, np.nan])
    np.testing.assert_array_equal(within_mad(values, 3.0), [1, 1, 1, 1, 0, 0])
    assert within_mad(np.full(4, 0.2), 3.0).all()


@functools.cache
def sumstats_from_model(seed, n=20_000, h2=0.3, n_causal=60):
    """β̂ = Rβ + N(0, R/n) on blocked LD from simulated genotypes, with known h² and p."""
    rng = np.random.default_rng(seed)
    G = ld_genotypes(2000, 3000, seed=seed, block=50)
    bounds = block_bounds(np.ones(3000), 500)
    corr, offsets, _, _ = block_correlations(pack_dosages(G), 2000, np.arange(2000), bounds)
    beta = np.zeros(3000)
    causal = rng.choice(3000, n_causal, replace=False)
    beta[causal] = rng.normal(size=n_causal)
    beta_hat = np.empty(3000)
    total = 0.0
    blocks = []
    for b in range(bounds.size - 1):
        s, e = bounds[b], bounds[b + 1]
        R = block_matrix(corr, offsets, bounds, b)
        total += beta[s:e] @ R @ beta[s:e]
        blocks.append((s, e, R))
    beta *= np.sqrt(h2 / total)
    for s, e, R in blocks:
        vals, vecs = np.linalg.eigh(R)
        noise = vecs @ (np.sqrt(np.clip(vals, 0, None)) * rng.standard_normal(e - s))
        beta_hat[s:e] = R @ beta[s:e] + noise / np.sqrt(n)
    return beta_hat, beta, corr, offsets, bounds, n


def test_ldpred2_auto__recovers_h2_and_polygenicity_from_model_sumstats():
    beta_hat, beta, corr, offsets, bounds, n = sumstats_from_model(8)
    result = ldpred2_auto(
        beta_hat, n, corr, offsets, bounds, n_chains=4, burn_in=150, num_iter=150, seed=1
    )
    assert result.status == "ok"
    assert sum(c.kept for c in result.chains) >= 3
    assert result.h2_est == pytest.approx(0.3, rel=0.15)
    assert 0.3 * 60 / 3000 < result.p_est < 3 * 60 / 3000
    assert np.corrcoef(result.beta_std, beta)[0, 1] > 0.8


def test_ldpred2_auto__no_converged_chain_emits_no_score():
    beta_hat, _, corr, offsets, bounds, n = sumstats_from_model(8)
    result = ldpred2_auto(
        beta_hat, n, corr, offsets, bounds, n_chains=3, burn_in=5, num_iter=5, h2_max=1e-3, seed=1
    )
    assert result.beta_std is None
    assert result.status == "no converged chain: all chains diverged"
    assert all(c.diverged and not c.kept for c in result.chains)


def test_ldpred_weights__refuses_score_and_raises_when_chains_fail():
    G = ld_genotypes(400, 100, seed=10, block=10)
    y = liability_trait(G, 0.5, 10, 0.5, seed=11)
    idx = np.arange(400)
    packed = pack_dosages(G)
    gwas = training_gwas(packed, 400, idx, y, np.zeros((400, 0)))
    train = TrainingSet(
        packed, 400, np.ones(100), np.arange(100) * 1000, idx, y, np.zeros((400, 0)), gwas, 3
    )
    options = {"max_block_variants": 50, "n_chains": 2, "burn_in": 3, "num_iter": 3, "h2_max": 1e-4}
    result = ldpred_weights(train, **options)
    assert result.weights is None
    assert result.status.startswith("no converged chain")
    with pytest.raises(NoConvergedChainError, match="emitted no score"):
        ldpred_weights_or_raise(train, **options)


def test_standardized_marginal_effects__is_correlation_for_linear_t():
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=200), rng.normal(size=200)
    y += 0.3 * x
    r = np.corrcoef(x, y)[0, 1]
    t = r * np.sqrt(198 / (1 - r * r))  # OLS t statistic
    assert standardized_marginal_effects(np.array([t]), 198)[0] == pytest.approx(r, rel=1e-12)
    assert standardized_marginal_effects(np.array([np.nan]), 10)[0] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("window_bp", [None, 500_000])  # 100 variants; LD spans <= 50
def test_cross_validated_scores__accuracy_vs_daetwyler_and_ldpred_not_worse_than_cplust(window_bp):
    n, m, h2, K = 3000, 6000, 0.5, 0.3
    G = ld_genotypes(n, m, seed=20)
    y = liability_trait(G, h2, 200, K, seed=21)
    covariates = np.random.default_rng(22).normal(size=(n, 2))
    contig = np.repeat([1, 2], m // 2)
    pos = np.tile(np.arange(m // 2) * 5000 + 1000, 2)
    packed = pack_dosages(G)
    # M_e = M² / Σ_jk r²_jk (effective number of independent variants) from all-sample LD
    bounds = np.arange(0, m + 1, 50)
    corr, offsets, _, _ = block_correlations(packed, n, np.arange(n), bounds)
    m_e = m * m / ld_scores(corr, offsets, bounds, n).sum()
    folds = stratified_folds(y, k=5, seed=23)
    builders = {
        "cplust": cplust_builder(),
        "ldpred": ldpred_builder(burn_in=200, num_iter=200, window_bp=window_bp),
    }
    cv = cross_validated_scores(packed, n, contig, pos, y, covariates, folds, builders, seed=24)
    n_train = n * 4 / 5
    expected = h2 * n_train * h2 / (n_train * h2 + m_e)
    r2 = {}
    for name, scores in cv.scores.items():
        per_fold = []
        for f in range(5):
            test = folds == f
            r2_obs = np.corrcoef(scores[test], y[test])[0, 1] ** 2
            per_fold.append(lee_liability_r2(r2_obs, K, y[test].mean()))
        r2[name] = float(np.mean(per_fold))
    assert max(r2.values()) >= 0.8 * expected
    assert r2["ldpred"] >= r2["cplust"] - 0.01
    for result in cv.results["ldpred"]:
        assert result.status == "ok"
        assert result.details["ldpred"].h2_est == pytest.approx(
            h2 * stats.norm.pdf(stats.norm.ppf(1 - K)) ** 2 / (K * (1 - K)), rel=0.3
        )
