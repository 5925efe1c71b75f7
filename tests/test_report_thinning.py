"""The figures' grid thinning computes its cells a block of points at a time: the same points
as the whole-array computation, in memory that does not grow with the variant count."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest

import cohortgen.report.plots as plots
from cohortgen.report.plots import manhattan_figure, thin_by_grid


def whole_array_thinning(x, y, x_step, y_step, keep) -> np.ndarray:
    """The oracle: every point's cell at once, the first candidate of each cell kept."""
    cell_x = np.floor(x / x_step).astype(np.int64)
    cell_y = np.floor(y / y_step).astype(np.int64)
    cells = cell_x * (int(cell_y.max(initial=0)) + 1) + cell_y
    candidates = np.flatnonzero(~keep)
    _, first = np.unique(cells[candidates], return_index=True)
    mask = keep.copy()
    mask[candidates[first]] = True
    return mask


@pytest.mark.parametrize("block", [1, 7, 1000, 1 << 18])
def test_thin_by_grid__blocks_keep_the_whole_array_points(monkeypatch, block):
    """Manhattan-like points (cells revisited across blocks, kept points) and QQ-like points
    (a diagonal): the mask of any block size is the oracle's."""
    monkeypatch.setattr(plots, "THIN_BLOCK", block)
    rng = np.random.default_rng(8)
    n = 5_000
    x = rng.uniform(0, 3e9, n)
    y = -np.log10(rng.uniform(size=n))
    keep = y > 3
    assert np.array_equal(thin_by_grid(x, y, 3e9 / 400, 0.25, keep),
                          whole_array_thinning(x, y, 3e9 / 400, 0.25, keep))
    expected = np.sort(rng.exponential(size=n))[::-1]
    observed = expected + rng.normal(0, 0.05, n)
    strongest = np.arange(n) < 50
    assert np.array_equal(thin_by_grid(expected, observed, 0.02, 0.02, strongest),
                          whole_array_thinning(expected, observed, 0.02, 0.02, strongest))
    none = np.zeros(0)
    assert thin_by_grid(none, none, 1.0, 1.0, none.astype(bool)).size == 0


def test_thin_by_grid__memory_is_a_block_not_the_points():
    """2 M points: the traced peak stays under 30 MiB besides the mask (the whole-array cells
    took about 70 bytes a point, 130 MiB)."""
    rng = np.random.default_rng(9)
    n = 2_000_000
    x = rng.uniform(0, 3e9, n)
    y = -np.log10(rng.uniform(size=n))
    keep = y > 5
    tracemalloc.start()
    try:
        thin_by_grid(x, y, 3e9 / 400, 0.25, keep)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - n < 30 * 2**20, f"peak {peak / 2**20:.0f} MiB for {n} points"


def test_manhattan_figure__memory_a_few_arrays_of_the_points():
    """1 M points, every p-value present: the figure's traced peak stays under 72 bytes a point
    (it was about 134: copies of the points with a p-value and the whole-array grid cells)."""
    rng = np.random.default_rng(10)
    n = 1_000_000
    chrom = pd.Categorical(np.sort(rng.integers(1, 24, n)).astype(str))
    pos = rng.integers(1, 200_000_000, n)
    p = rng.uniform(size=n)
    tracemalloc.start()
    try:
        manhattan_figure(chrom, pos, p, "m")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 72 * n, f"peak {peak / n:.0f} bytes a point"
