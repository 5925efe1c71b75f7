"""Long-range LD regions to exclude before ancestry PCA.

Source: Price AL, Weale ME, Patterson N, et al. (2008) Long-range LD can confound genome scans
in admixed populations. Am J Hum Genet 83:132-135 (PMC2443852), Table 1: 24 regions, including
the MHC (chr6 25.5-33.5 Mb) and the chr8p23.1 inversion (8-12 Mb). Coordinates are the paper's
rounded megabase bounds, 1-based and inclusive.

Build caveat: the paper predates GRCh37, but these rounded bounds are the list distributed as
"GRCh37" by the Abecasis lab wiki ("Regions of high linkage disequilibrium") and used unchanged
in GRCh37 pipelines; build 36 → 37 shifts on these chromosomes are a few hundred kb at most,
well inside the rounding. No GRCh38 table is shipped: a trustworthy liftover of the 24
regions was not available when this was written, so :func:`in_long_range_ld` refuses GRCh38
rather than guess (lift the GRCh37 rows with UCSC liftOver and add them here).
"""

import numpy as np
import pandas as pd

_PRICE_2008_MB = (
    ("1", 48.0, 52.0),
    ("2", 86.0, 100.5),
    ("2", 134.5, 138.0),
    ("2", 183.0, 190.0),
    ("3", 47.5, 50.0),
    ("3", 83.5, 87.0),
    ("3", 89.0, 97.5),
    ("5", 44.5, 50.5),
    ("5", 98.0, 100.5),
    ("5", 129.0, 132.0),
    ("5", 135.5, 138.5),
    ("6", 25.5, 33.5),  # MHC
    ("6", 57.0, 64.0),
    ("6", 140.0, 142.5),
    ("7", 55.0, 66.0),
    ("8", 8.0, 12.0),  # 8p23.1 inversion
    ("8", 43.0, 50.0),
    ("8", 112.0, 115.0),
    ("10", 37.0, 43.0),
    ("11", 46.0, 57.0),
    ("11", 87.5, 90.5),
    ("12", 33.0, 40.0),
    ("12", 109.5, 112.0),
    ("20", 32.0, 34.5),
)

LONG_RANGE_LD_REGIONS = pd.DataFrame(
    {
        "chrom": pd.array([c for c, _, _ in _PRICE_2008_MB], dtype=str),
        "start": np.array([round(s * 1e6) for _, s, _ in _PRICE_2008_MB], dtype=np.int64),
        "end": np.array([round(e * 1e6) for _, _, e in _PRICE_2008_MB], dtype=np.int64),
        "build": "GRCh37",
    }
)
"""Table of regions: chrom (str, no "chr"), start and end (int64, 1-based inclusive), build."""

BUILD_ALIASES = {
    "grch37": "GRCh37",
    "hg19": "GRCh37",
    "b37": "GRCh37",
    "grch38": "GRCh38",
    "hg38": "GRCh38",
    "b38": "GRCh38",
}


def has_long_range_ld_regions(build: str) -> bool:
    """True when a verified long-range LD list exists for ``build`` (GRCh37 today)."""
    name = BUILD_ALIASES.get(str(build).lower())
    return name is not None and bool((LONG_RANGE_LD_REGIONS["build"] == name).any())


def in_long_range_ld(chrom: np.ndarray, pos: np.ndarray, build: str) -> np.ndarray:
    """True for variants inside a long-range LD region of ``build``.

    chrom: str array, shape (m,), with or without a "chr" prefix; pos: int, shape (m,), 1-based.
    build: "GRCh37" (or hg19/b37). Raises ValueError for GRCh38 (no verified coordinates yet)
    and for unknown builds. Returns bool, shape (m,).
    """
    name = BUILD_ALIASES.get(str(build).lower())
    regions = LONG_RANGE_LD_REGIONS[LONG_RANGE_LD_REGIONS["build"] == name]
    if name is None or regions.empty:
        raise ValueError(
            f"no long-range LD regions for build {build!r}; available: "
            f"{sorted(set(LONG_RANGE_LD_REGIONS['build']))} (GRCh38 needs a verified liftover of "
            "Price et al. 2008, see cohortgen.qc.regions)"
        )
    chrom = np.asarray(chrom).astype(str)
    chrom = np.char.replace(np.char.lower(chrom), "chr", "")
    pos = np.asarray(pos, dtype=np.int64)
    if chrom.shape != pos.shape:
        raise ValueError(f"chrom and pos shapes differ: {chrom.shape} vs {pos.shape}")
    mask = np.zeros(pos.shape, dtype=bool)
    for row in regions.itertuples(index=False):
        mask |= (chrom == row.chrom) & (pos >= row.start) & (pos <= row.end)
    return mask


PAR_REGIONS = {
    "GRCh37": ((60_001, 2_699_520), (154_931_044, 155_260_560)),
    "GRCh38": ((10_001, 2_781_479), (155_701_383, 156_030_895)),
}
"""Pseudo-autosomal regions of chrX per build (1-based, inclusive): PAR1, PAR2 (GRC)."""

_CONTIG_CLASS = {"x": "x", "23": "x", "y": "y", "24": "y", "xy": "par", "25": "par",
                 "mt": "mt", "m": "mt", "26": "mt"}


def contig_classes(chrom: np.ndarray, pos: np.ndarray, build: str) -> np.ndarray:
    """Class of each variant's locus: "auto" (1-22), "x" (non-PAR chrX), "par" (chrX PAR or
    PLINK's XY), "y", "mt" or "other".

    chrom: str array, shape (m,), with or without "chr", PLINK numbers 23-26 accepted;
    pos: int, shape (m,), 1-based; build: GRCh37/GRCh38 (or aliases). Returns object array (m,).
    """
    name = BUILD_ALIASES.get(str(build).lower())
    if name is None:
        raise ValueError(f"unknown genome build {build!r}; use GRCh37 or GRCh38")
    chrom = np.char.replace(np.char.lower(np.asarray(chrom).astype(str)), "chr", "")
    pos = np.asarray(pos, dtype=np.int64)
    autosome = np.isin(chrom, [str(k) for k in range(1, 23)])
    classes = np.where(autosome, "auto", "other").astype(object)
    for label, kind in _CONTIG_CLASS.items():
        classes[chrom == label] = kind
    in_par = np.zeros(pos.shape, dtype=bool)
    for start, end in PAR_REGIONS[name]:
        in_par |= (pos >= start) & (pos <= end)
    classes[(classes == "x") & in_par] = "par"
    return classes
