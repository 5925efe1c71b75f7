""":func:`cohortgen.kernels.score.score_statistics` multiplies Cᵀ Gᵀ (OpenBLAS's faster layout
for the skinny product): U, V and the projections GA stay within 1e-12 relative of G C on
mean-imputed dosage blocks that cross a :data:`~cohortgen.kernels.score.SCORE_ROWS` boundary
(bit for bit with this project's OpenBLAS; the bound is what the association outputs rely on)."""

import numpy as np

from cohortgen.kernels.score import SCORE_ROWS, prepare_score, score_statistics, weighted_sumsq


def test_score_statistics__transposed_product_equals_g_times_c():
    rng = np.random.default_rng(31)
    n, m, d = 700, SCORE_ROWS + 45, 4
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    mu = rng.uniform(0.05, 0.6, (n, d))
    y = (rng.random((n, d)) < mu).astype(float)
    prep = prepare_score(X, y - mu, mu * (1 - mu))
    G = np.rint(rng.uniform(0, 2, (m, n)) * 16384) / 16384
    G[rng.random((m, n)) < 0.02] = 0.7
    U, V, GA = score_statistics(G, prep, projections=True)
    GC = G @ prep.C
    sumsq = np.empty((m, d))
    weighted_sumsq(G, prep.WT, sumsq)
    expected_GA = GC[:, d:].reshape(m, d, -1)
    expected_V = sumsq - np.einsum("mdp,mdp->md", expected_GA, expected_GA)
    for got, expected in ((U, GC[:, :d]), (GA, expected_GA), (V, expected_V)):
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-12 * np.abs(expected).max()
    assert U.flags.c_contiguous
    assert GA.flags.c_contiguous
