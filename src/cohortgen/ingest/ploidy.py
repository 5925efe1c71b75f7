"""Ploidy regions of variants (autosome/PAR, non-PAR X, Y, MT) and sample sex for ingest.

Contig names: X as ``X``, ``chrX`` or ``23``; PLINK's PAR code ``XY``/``25`` (and ``PAR1``/``PAR2``
of ``--split-par``) is diploid; Y as ``Y``, ``chrY``, ``24``; MT as ``MT``, ``M``, ``chrM``,
``chrMT``, ``26``. PAR boundaries (1-based, inclusive) per build from SCIENCE.md.
"""

from pathlib import Path

import numpy as np

from cohortgen.kernels.gt import REGION_DIPLOID, REGION_MT, REGION_X, REGION_Y

X_NAMES = frozenset({"X", "chrX", "23", "chr23"})
Y_NAMES = frozenset({"Y", "chrY", "24", "chr24"})
MT_NAMES = frozenset({"MT", "M", "chrM", "chrMT", "26", "chr26"})
PAR_REGIONS = {
    "GRCh37": ((60_001, 2_699_520), (154_931_044, 155_260_560)),
    "GRCh38": ((10_001, 2_781_479), (155_701_383, 156_030_895)),
}


def ploidy_regions(contig: str, pos: np.ndarray, build: str) -> np.ndarray:
    """int8 ``REGION_*`` code per position (int, 1-based) of one contig."""
    pos = np.asarray(pos, dtype=np.int64)
    region = np.full(pos.size, REGION_DIPLOID, dtype=np.int8)
    if contig in X_NAMES:
        in_par = np.zeros(pos.size, dtype=bool)
        for first, last in PAR_REGIONS[build]:
            in_par |= (pos >= first) & (pos <= last)
        region[~in_par] = REGION_X
    elif contig in Y_NAMES:
        region[:] = REGION_Y
    elif contig in MT_NAMES:
        region[:] = REGION_MT
    return region


def is_ploidy_aware(contig: str) -> bool:
    """True for contigs whose calls depend on sex or are haploid (X, Y, MT)."""
    return contig in X_NAMES | Y_NAMES | MT_NAMES


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
