"""C+T column scores kernel vs its NumPy twin (same sum order: exact)."""

import numba
import numpy as np
import pytest

from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.ct_scores import SAMPLE_BLOCK, column_scores


def naive_column_scores(dosage: np.ndarray, sample_idx, rows, weights, fill, columns,
                        n_columns: int) -> np.ndarray:
    """Clarity twin (tests only) on int8 dosages (m, n), -1 = missing; same sum order."""
    out = np.zeros((len(sample_idx), n_columns))
    for r, v in enumerate(rows):
        d = dosage[v, sample_idx]
        contribution = np.where(d >= 0, weights[r] * (d - fill[v]), 0.0)
        for col in columns[r][columns[r] >= 0]:
            out[:, col] += contribution
    return out


def case(seed: int, m: int = 50, n: int = 2 * SAMPLE_BLOCK + 37):
    """Dosages int8 (m, n) with 10% missing, sample and variant subsets, weights, slots."""
    rng = np.random.default_rng(seed)
    G = rng.integers(0, 3, size=(m, n)).astype(np.int8)
    G[rng.random(G.shape) < 0.1] = -1
    idx = rng.permutation(n)[: n - 5]  # unsorted, spans several sample blocks
    rows = np.array([3, 0, 7, 7, 41, 12, 49])  # any order, repeats allowed
    weights = rng.normal(size=rows.size)
    fill = rng.uniform(0, 2, m)
    columns = rng.integers(-1, 6, size=(rows.size, 3))
    columns[1] = -1  # a variant in no column
    return G, idx, rows, weights, fill, columns


def test_column_scores__matches_naive_twin_exactly_at_any_thread_count():
    G, idx, rows, weights, fill, columns = case(1)
    packed = pack_dosages(G)
    expected = naive_column_scores(G, idx, rows, weights, fill, columns, 6)
    before = numba.get_num_threads()
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            got = column_scores(packed, G.shape[1], idx, rows, weights, fill, columns, 6)
            np.testing.assert_array_equal(got, expected)
    finally:
        numba.set_num_threads(before)
    used = np.unique(columns[columns >= 0])
    assert np.all(np.count_nonzero(expected[:, used], axis=0) > idx.size // 2)


def test_column_scores__missing_call_adds_nothing():
    G = np.array([[2, -1, 1, 0, -1]], dtype=np.int8)
    got = column_scores(pack_dosages(G), 5, np.arange(5), np.array([0]), np.array([2.0]),
                        np.array([0.5]), np.array([[1]]), 2)
    np.testing.assert_array_equal(got, [[0, 3], [0, 0], [0, 1], [0, -1], [0, 0]])


def test_column_scores__rejects_bad_shapes_and_indices():
    G, idx, rows, weights, fill, columns = case(2, m=10)
    packed = pack_dosages(G)
    with pytest.raises(ValueError, match="rows"):
        column_scores(packed, G.shape[1], idx, np.array([10]), weights[:1], fill, columns[:1], 6)
    with pytest.raises(ValueError, match="n_columns"):
        column_scores(packed, G.shape[1], idx, rows[:2] % 10, weights[:2], fill, columns[:2], 2)
    with pytest.raises(ValueError, match="columns must have shape"):
        column_scores(packed, G.shape[1], idx, rows[:2] % 10, weights[:2], fill, columns[:1], 6)
    with pytest.raises(ValueError, match="fill"):
        column_scores(packed, G.shape[1], idx, rows[:2] % 10, weights[:2], fill[:9], columns[:2], 6)
