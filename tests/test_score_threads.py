"""The batched score test gives the same bits at any thread count (the in-cohort PRS fold job
and the association chunk split their variant rows over ``threads``)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cohortgen.kernels.score import prepare_score, score_statistics


@pytest.mark.parametrize(("m", "n"), [(339, 264), (200, 263), (65, 101)])
def test_score_statistics__same_bits_on_one_two_and_three_threads(m, n):
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    mu = rng.uniform(0.05, 0.5, size=(n, 3))
    R = (rng.random((n, 3)) < mu) - mu
    G = rng.integers(0, 3, size=(m, n)).astype(np.float64)
    prep = prepare_score(X, R, mu * (1.0 - mu))
    with threadpool_limits(1, user_api="blas"):  # as its callers run it
        one = score_statistics(G, prep, projections=True, threads=1)
        for threads in (2, 3):
            other = score_statistics(G, prep, projections=True, threads=threads)
            for name, a, b in zip(("U", "V", "GA"), one, other, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=f"{name}, {threads} threads")
