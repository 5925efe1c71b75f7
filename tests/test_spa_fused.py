"""SPA on the fused per-row path: :func:`cohortgen.kernels.spa.spa_p_values` residualises each
tested row inside the kernel (``rows``, ``samples``, ``projections``), so the chunk step's
SPA rows (:func:`cohortgen.assoc.chunk._spa_rows`) build no (rows × samples) temporary."""

import tracemalloc
from dataclasses import replace

import numpy as np
from test_assoc_chunk import naive_residualised, null_arrays, small_bim

from cohortgen.assoc.chunk import FallbackSettings, _spa_rows, chunk_results, disease_models
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.score import covariate_basis, prepare_score, score_statistics
from cohortgen.kernels.spa import spa_p_values


def _cohort(seed: int, n: int, m: int):
    """(dosage int8 (m, n), covariates (n, 3), y (n, 2) 0/1 with NaN in the second disease):
    rare and common variants, 8% cases."""
    rng = np.random.default_rng(seed)
    covariates = rng.normal(size=(n, 3))
    dosage = rng.binomial(2, rng.uniform(0.005, 0.3, size=(m, 1)), size=(m, n)).astype(np.int8)
    eta = -2.5 + covariates @ [0.3, -0.2, 0.1] + 0.8 * dosage[:8].sum(axis=0)
    y = (rng.random((n, 2)) < 1 / (1 + np.exp(-eta[:, None]))).astype(float)
    y[rng.random(n) < 0.3, 1] = np.nan
    return dosage, covariates, y


def test_chunk_results__spa_equals_the_kernel_on_naive_residuals():
    """SPA rows of the chunk step (a disease on all samples, one with excluded samples) equal
    spa_p_values on the per-variant-solve residuals with the carriers exact, to 1e-10
    relative (the residual's rounding differs: per sample here, one matrix product before)."""
    dosage, covariates, y = _cohort(21, 900, 150)
    ids, null, names = null_arrays(covariates, y)
    out = chunk_results(pack_dosages(dosage), small_bim(len(dosage)), ids, null, names,
                        FallbackSettings(p_value="spa", firth_p_threshold=0.0))
    G = dosage.astype(float)
    for model in disease_models(null, names, np.arange(len(ids)), len(ids)):
        res = out[out["disease"] == model.name].reset_index(drop=True)
        rows = np.flatnonzero(res["status"] == "SPA")
        assert rows.size >= 10
        G_sel = G[np.ix_(rows, model.rows)]
        residual = naive_residualised(G_sel, model.X, model.w)
        U = residual @ (model.y - 1 / (1 + np.exp(-model.offset)))
        p, ok = spa_p_values(residual, model.offset, U, exact=G_sel != 0.0)
        assert ok.all()
        np.testing.assert_allclose(res.loc[rows, "p_value"].to_numpy(), p, rtol=1e-10)


def test_spa_p_values__fused_rows_equal_residualised_input():
    """rows + samples + projections give the p-values of the residualised rows passed whole,
    to 1e-12 relative; ``exact="carriers"`` is the mask G != 0 before residualisation."""
    rng = np.random.default_rng(8)
    n, m, p = 400, 30, 4
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    W = rng.uniform(0.05, 0.2, (n, 1))
    R = rng.normal(size=(n, 1)) * W
    G = rng.binomial(2, rng.uniform(0.01, 0.3, (m, 1)), size=(m, n)).astype(float)
    prep = prepare_score(X, R, W)
    U, _, GA = score_statistics(G, prep, projections=True)
    samples = np.sort(rng.permutation(n)[:300])
    rows = np.array([1, 4, 5, 11, 20, 29])
    XB = covariate_basis(X, prep, 0)[samples]
    eta = rng.normal(-1.5, 0.5, samples.size)
    G_sel = G[np.ix_(rows, samples)]
    residual = G_sel - GA[rows, 0] @ XB.T
    expected, expected_ok = spa_p_values(residual, eta, U[rows, 0], exact=G_sel != 0.0)
    got, ok = spa_p_values(G, eta, U[rows, 0], exact="carriers", rows=rows, samples=samples,
                           projections=(GA[rows, 0], XB))
    np.testing.assert_array_equal(ok, expected_ok)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_spa_rows__no_rows_by_samples_temporary():
    """_spa_rows on 600 SPA rows × 3,000 samples allocates (NumPy, traced) under a tenth of one
    float64 rows × samples matrix (the old path held two and a bool mask: ~32 MB)."""
    rng = np.random.default_rng(3)
    n, m = 3000, 600
    covariates = rng.normal(size=(n, 2))
    y = (rng.random((n, 1)) < 0.1).astype(float)
    ids, null, names = null_arrays(covariates, y)
    X = null.filter(regex=r"^x\d+$").to_numpy(float)
    prep = prepare_score(X, null[["r_d0"]].to_numpy(float), null[["w_d0"]].to_numpy(float))
    (model,) = disease_models(null, names, np.arange(n), n)
    model = replace(model, XB=np.ascontiguousarray(covariate_basis(X, prep, 0)))
    G = rng.binomial(2, 0.05, size=(m, n)).astype(float)
    U, _, GA = score_statistics(G, prep, projections=True)
    chisq = np.full(m, 100.0)  # every row above the SPA cutoff
    _spa_rows(G[:2], GA[:2, 0], model, U[:2, 0], chisq[:2], np.ones(2, bool))  # compile
    tracemalloc.start()
    rows, p, ok = _spa_rows(G, GA[:, 0], model, U[:, 0], chisq, np.ones(m, bool))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows.size == m
    assert ok.any()
    assert peak < 0.1 * m * n * 8
