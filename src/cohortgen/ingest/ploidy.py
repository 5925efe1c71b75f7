"""Ploidy regions of variants (autosome/PAR, non-PAR X, Y, MT) and sample sex for ingest.

Contig names and PAR boundaries as :mod:`cohortgen.genome` (any case, with or without "chr";
PLINK's XY and the PAR1/PAR2 contigs of ``--split-par`` are diploid).
"""

from pathlib import Path

import numpy as np

from cohortgen.genome import contig_class, in_par
from cohortgen.kernels.gt import REGION_DIPLOID, REGION_MT, REGION_X, REGION_Y

_HAPLOID_REGION = {"y": REGION_Y, "mt": REGION_MT}
"""Region code of the contig classes that are haploid throughout."""


def ploidy_regions(contig: str, pos: np.ndarray, build: str) -> np.ndarray:
    """int8 ``REGION_*`` code per position (int, 1-based) of one contig (names and PARs as
    :mod:`cohortgen.genome`)."""
    pos = np.asarray(pos, dtype=np.int64)
    kind = contig_class(contig)
    region = np.full(pos.size, REGION_DIPLOID, dtype=np.int8)
    if kind == "x":
        region[~in_par(pos, build)] = REGION_X
    elif kind in _HAPLOID_REGION:
        region[:] = _HAPLOID_REGION[kind]
    return region


def is_ploidy_aware(contig: str) -> bool:
    """True for contigs whose calls depend on sex or are haploid (X, Y, MT)."""
    return contig_class(contig) in {"x", "y", "mt"}


def sample_sex(phenotypes: Path | None, samples: list[str]) -> np.ndarray:
    """int8 sex per sample (1 male, 2 female, 0 unknown or not in the sheet) from the sheet's
    ``sex`` column; all 0 without a sheet."""
    sex = np.zeros(len(samples), dtype=np.int8)
    if phenotypes is None:
        return sex
    from cohortgen.io.phenotypes import read_phenotypes  # pandas: only with a sheet

    sheet = read_phenotypes(Path(phenotypes), [], [])["sex"]
    values = sheet.reindex(samples).to_numpy(dtype=np.float64)
    sex[values == 1] = 1
    sex[values == 2] = 2
    return sex
