"""Long-range LD regions to exclude before ancestry PCA.

GRCh37 source: Price AL, Weale ME, Patterson N, et al. (2008) Long-range LD can confound genome
scans in admixed populations. Am J Hum Genet 83:132-135 (PMC2443852), Table 1: 24 regions,
including the MHC (chr6 25.5-33.5 Mb) and the chr8p23.1 inversion (8-12 Mb). Coordinates are the
paper's rounded megabase bounds, 1-based and inclusive.

Build caveat: the paper's bounds are on build 36; they are used unchanged as GRCh37, as in many
GRCh37 pipelines (build 36 → 37 shifts on these chromosomes are a few hundred kb, mostly inside
the rounding).

GRCh38 source: the UCSC liftOver of the same Price et al. bounds distributed by the plinkQC R
package (Meyer lab, ``inst/extdata/high-LD-regions-hg38-GRCh38.bed``; the same coordinates are
listed for GRCh38 on the Abecasis lab Genome Analysis Wiki page "Regions of high linkage
disequilibrium (LD)" and shipped by pgsc_calc). Its fourth BED column names the build-36 region
each GRCh38 segment was lifted from; every one is a row of the Price list above. It covers 18
of the 24 regions: 2:134.5-138, 3:89-97.5, 5:98-100.5, 5:135.5-138.5, 11:46-57 and
12:109.5-112 Mb are absent from it and therefore not excluded on GRCh38, and of 6:57-64 (across
the centromere) only 0.9 Mb lifted over. The segments are kept as published, including the short
liftOver pieces that landed elsewhere (tens of bp to 2 kb); BED starts are converted to 1-based
(start + 1).
"""

import numpy as np
import pandas as pd

from cohortgen.genome import canonical_build, checked_build, contig_class, contig_name, in_par

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

_PLINKQC_GRCH38_BED = (  # chrom, BED start, BED end, source region (build 36, Mb)
    ("1", 47761740, 51761740, "1:48-52"),
    ("2", 85919365, 100517106, "2:86-100.5"),
    ("2", 89917298, 89917322, "2:86-100.5"),
    ("2", 87416141, 87416186, "2:86-100.5"),
    ("2", 87417804, 87417863, "2:86-100.5"),
    ("2", 87418924, 87418981, "2:86-100.5"),
    ("1", 144106678, 144106709, "2:86-100.5"),
    ("14", 87391719, 87391996, "2:86-100.5"),
    ("9", 40365644, 40365693, "2:86-100.5"),
    ("2", 182427027, 189427029, "2:183-190"),
    ("3", 47483505, 49987563, "3:47.5-50"),
    ("3", 83368158, 86868160, "3:83.5-87"),
    ("5", 44464140, 51168409, "5:44.5-50.5"),
    ("5", 129636407, 132636409, "5:129-132"),
    ("6", 25391792, 33424245, "6:25.5-33.5"),
    ("6", 26726947, 26726981, "6:25.5-33.5"),
    ("6", 57788603, 58453888, "6:57-64"),
    ("6", 61109122, 61357029, "6:57-64"),
    ("6", 61424410, 61424451, "6:57-64"),
    ("9", 64198500, 64200392, "6:57-64"),
    ("6", 139637169, 142137170, "6:140-142.5"),
    ("7", 54964812, 66897578, "7:55-66"),
    ("7", 62182500, 62277073, "7:55-66"),
    ("12", 34639034, 34639084, "7:55-66"),
    ("14", 94658026, 94658080, "7:55-66"),
    ("17", 43159541, 43159574, "7:55-66"),
    ("2", 135275091, 135275210, "7:55-66"),
    ("1", 181955019, 181955047, "7:55-66"),
    ("22", 30060084, 30060162, "7:55-66"),
    ("9", 88958735, 88959017, "7:55-66"),
    ("2", 207609786, 207609808, "7:55-66"),
    ("22", 42980497, 42980522, "7:55-66"),
    ("20", 4031884, 4032441, "7:55-66"),
    ("8", 8105067, 12105082, "8:8-12"),
    ("8", 43025699, 48924888, "8:43-50"),
    ("8", 47303500, 47317337, "8:43-50"),
    ("8", 110918594, 113918595, "8:112-115"),
    ("10", 36671065, 43184546, "10:37-43"),
    ("10", 41693521, 41885273, "10:37-43"),
    ("1", 125169943, 125170022, "10:37-43"),
    ("11", 88127183, 91127184, "11:87.5-90.5"),
    ("12", 32955798, 41319931, "12:33-40"),
    ("20", 33948532, 36438183, "20:32-34.5"),
)


def _price_label(chrom: str, start_mb: float, end_mb: float) -> str:
    """A Price et al. row as "chrom:start-end" in Mb (e.g. "6:25.5-33.5")."""
    return f"{chrom}:{start_mb:g}-{end_mb:g}"


LONG_RANGE_LD_REGIONS = pd.DataFrame(
    {
        "chrom": pd.array([c for c, _, _ in _PRICE_2008_MB]
                          + [c for c, *_ in _PLINKQC_GRCH38_BED], dtype=str),
        "start": np.array([round(s * 1e6) for _, s, _ in _PRICE_2008_MB]
                          + [s + 1 for _, s, _, _ in _PLINKQC_GRCH38_BED], dtype=np.int64),
        "end": np.array([round(e * 1e6) for _, _, e in _PRICE_2008_MB]
                        + [e for _, _, e, _ in _PLINKQC_GRCH38_BED], dtype=np.int64),
        "build": ["GRCh37"] * len(_PRICE_2008_MB) + ["GRCh38"] * len(_PLINKQC_GRCH38_BED),
        "source_region": [_price_label(*row) for row in _PRICE_2008_MB]
                         + [src for *_, src in _PLINKQC_GRCH38_BED],
    }
)
"""Table of regions: chrom (str, no "chr"), start and end (int64, 1-based inclusive), build,
source_region (the Price et al. row, "chrom:start-end" in Mb)."""

def has_long_range_ld_regions(build: str) -> bool:
    """True when a published long-range LD list exists for ``build`` (GRCh37, GRCh38)."""
    name = canonical_build(build)
    return name is not None and bool((LONG_RANGE_LD_REGIONS["build"] == name).any())


def in_long_range_ld(chrom: np.ndarray, pos: np.ndarray, build: str) -> np.ndarray:
    """True for variants inside a long-range LD region of ``build``.

    chrom: str array, shape (m,), contig names of :mod:`cohortgen.genome` (any case, with or
    without "chr"); pos: int, shape (m,), 1-based.
    build: "GRCh37" or "GRCh38" (or aliases); raises ValueError for unknown builds. Returns
    bool, shape (m,).
    """
    name = canonical_build(build)
    regions = LONG_RANGE_LD_REGIONS[LONG_RANGE_LD_REGIONS["build"] == name]
    if name is None or regions.empty:
        raise ValueError(
            f"no long-range LD regions for build {build!r}; available: "
            f"{sorted(set(LONG_RANGE_LD_REGIONS['build']))}"
        )
    chrom = np.asarray(chrom).astype(str)
    pos = np.asarray(pos, dtype=np.int64)
    if chrom.shape != pos.shape:
        raise ValueError(f"chrom and pos shapes differ: {chrom.shape} vs {pos.shape}")
    mask = np.zeros(pos.shape, dtype=bool)
    for contig in np.unique(chrom):
        rows = np.flatnonzero(chrom == contig)
        for row in regions[regions["chrom"] == contig_name(contig)].itertuples(index=False):
            mask[rows] |= (pos[rows] >= row.start) & (pos[rows] <= row.end)
    return mask


def contig_classes(chrom: np.ndarray, pos: np.ndarray, build: str) -> np.ndarray:
    """Class of each variant's locus: "auto" (1-22), "x" (non-PAR chrX), "par" (chrX PAR,
    PLINK's XY or PAR1/PAR2), "y", "mt" or "other" (:mod:`cohortgen.genome` names).

    chrom: str array, shape (m,), with or without "chr", PLINK numbers 23-26 accepted;
    pos: int, shape (m,), 1-based; build: GRCh37/GRCh38 (or aliases). Returns object array (m,).
    """
    name = checked_build(build)
    chrom = np.asarray(chrom).astype(str)
    classes = np.empty(chrom.shape, dtype=object)
    for contig in np.unique(chrom):
        classes[chrom == contig] = contig_class(contig)
    classes[(classes == "x") & in_par(pos, name)] = "par"
    return classes
