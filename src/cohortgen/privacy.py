"""Small-cell suppression for shareable tables: which counts of people must not be shown.

A *primary* cell is a count of people between 1 and ``min_cell_count - 1``. When a table also
shows the total of a group of cells, one hidden cell in the group could be recovered by
subtraction, so a second (*complementary*) cell is hidden as well: the smallest other non-zero
cell of the group. With two or more hidden cells, only their sum is known and each stays
ambiguous.
"""

import re

import numpy as np

DEFAULT_MIN_CELL_COUNT = 5
"""``report.min_cell_count`` of the config schema, for callers outside the workflow."""


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


def shareable_counts(counts: dict, min_cell_count: int) -> dict:
    """{name: count of people} of one group whose total is shown elsewhere (a disease's cases
    and controls, adding up to the people analysed) as a shareable table writes it: the count
    as given, ``"<min_cell_count"`` where 1 ≤ n < ``min_cell_count``
    (:func:`primary_suppressed`), or None (written NA) for the one more count
    :func:`with_complement` hides."""
    sizes = np.array([counts[name] for name in counts], dtype=np.float64)
    primary = primary_suppressed(sizes, min_cell_count)
    hidden = with_complement(primary, sizes)
    return {name: f"<{min_cell_count}" if primary[i] else None if hidden[i] else n
            for i, (name, n) in enumerate(counts.items())}


def shared_count(value):
    """A count of people read back from a shareable table (a cell :func:`shareable_counts`
    wrote, as text or number): int, the masked text ``"<N"`` as it is, or None (NA: hidden or
    missing)."""
    if value is None or (not isinstance(value, str) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text if text.startswith("<") else int(float(text))


SAMPLE_ID_TEXT = "<sample ID>"
"""What a sample ID in a shareable text (an error message) is replaced by."""


def without_sample_ids(text: str, sample_ids) -> str:
    """``text`` with every whole occurrence of a sample ID of ``sample_ids`` (iterable of str:
    the cohort's IDs) replaced by :data:`SAMPLE_ID_TEXT`; "whole": not part of a longer run of
    letters, digits, ``_`` or ``-`` (a full stop or a file suffix may follow it). Longer IDs are
    replaced first, so an ID that contains another is replaced whole."""
    found = sorted({i for i in sample_ids if i and i in text}, key=len, reverse=True)
    if not found:
        return text
    alternatives = "|".join(re.escape(i) for i in found)
    return re.sub(rf"(?<![\w-])(?:{alternatives})(?![\w-])", SAMPLE_ID_TEXT, text)
