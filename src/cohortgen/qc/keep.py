"""The keep list (``qc/keep.txt``, private): one kept sample ID per line, .fam order."""

from pathlib import Path

import numpy as np

from cohortgen.io.files import write_text_atomic


def read_keep(path: Path) -> list[str]:
    """Sample IDs from a keep list written by :func:`write_keep`."""
    return [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def write_keep(path: Path, sample_ids) -> None:
    """Write the keep list, owner-only."""
    write_text_atomic(path, "".join(f"{s}\n" for s in sample_ids), private=True)


def sample_mask(fam_iids, keep) -> np.ndarray:
    """bool per .fam sample: listed in ``keep`` (a set look-up per sample, linear in the
    numbers of IDs: ``np.isin`` on object arrays compares every pair)."""
    wanted = set(keep)
    return np.fromiter((iid in wanted for iid in fam_iids), dtype=bool, count=len(fam_iids))
