"""Small-cell suppression for shareable tables: which counts of people must not be shown.

A *primary* cell is a count of people between 1 and ``min_cell_count - 1``. When a table also
shows the total of a group of cells, one hidden cell in the group could be recovered by
subtraction, so a second (*complementary*) cell is hidden as well: the smallest other non-zero
cell of the group. With two or more hidden cells, only their sum is known and each stays
ambiguous.
"""

import numpy as np


def primary_suppressed(counts, min_cell_count: int) -> np.ndarray:
    """bool (k,): counts (k,) of people with 1 ≤ n < ``min_cell_count``."""
    counts = np.asarray(counts, dtype=np.float64)
    return (counts >= 1) & (counts < min_cell_count)


def with_complement(hidden, sizes) -> np.ndarray:
    """bool (k,): ``hidden`` plus, when it hides exactly one cell of a group whose total is
    shown, the other cell with the smallest non-zero ``sizes`` (first in order on ties): hiding
    a 0 would protect nothing, as the group's total minus the shown cells would still give the
    small cell. Unchanged when no other cell is non-zero (a group with a single cell: its total
    is that cell)."""
    hidden = np.asarray(hidden, dtype=bool).copy()
    sizes = np.asarray(sizes, dtype=np.float64)
    if hidden.sum() == 1:
        others = np.where(hidden | ~(sizes > 0), np.inf, sizes)
        if np.isfinite(others).any():
            hidden[int(np.argmin(others))] = True
    return hidden
