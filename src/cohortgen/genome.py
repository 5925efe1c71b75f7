"""Genome builds, contig names and pseudo-autosomal regions, shared by ingest, QC and PRS.

Contig names are matched without case and without a ``chr`` prefix: X (PLINK 23), Y (24), MT or
M (26), PLINK's pseudo-autosomal code XY (25) and the PAR1/PAR2 contigs of ``--split-par``.
PAR boundaries (1-based, inclusive) per build as in SCIENCE.md, Genome builds and chrX. No
pandas here: ingest jobs import this module.
"""

import numpy as np

BUILD_ALIASES = {
    "grch37": "GRCh37",
    "hg19": "GRCh37",
    "b37": "GRCh37",
    "grch38": "GRCh38",
    "hg38": "GRCh38",
    "b38": "GRCh38",
}
"""Lower-case build names and their canonical spelling."""

PAR_REGIONS = {
    "GRCh37": ((60_001, 2_699_520), (154_931_044, 155_260_560)),
    "GRCh38": ((10_001, 2_781_479), (155_701_383, 156_030_895)),
}
"""Pseudo-autosomal regions of chrX per build (1-based, inclusive): PAR1, PAR2 (GRC)."""

CONTIG_CLASS = {"x": "x", "23": "x", "y": "y", "24": "y", "xy": "par", "25": "par",
                "par1": "par", "par2": "par", "mt": "mt", "m": "mt", "26": "mt"}
"""Class of a non-autosomal contig name (lower case, no "chr"); autosomes are 1-22."""

AUTOSOMES = frozenset(str(k) for k in range(1, 23))

SUMSTATS_CHROM_ALIASES = {"23": "X", "24": "Y", "25": "MT", "M": "MT"}
"""Chromosome codes of GWAS-SSF summary statistics and scoring files (upper case, no "chr"):
there 25 is MT, unlike the PLINK numbering of genotype files (:data:`CONTIG_CLASS`: 25 = XY)."""


def canonical_build(text: str | None) -> str | None:
    """'GRCh37' or 'GRCh38' for any alias (hg19, b37, GRCh37, hg38, ...); None if unknown."""
    if text is None:
        return None
    return BUILD_ALIASES.get(str(text).strip().lower())


def checked_build(build: str) -> str:
    """The canonical name of ``build``; ValueError naming it when it is not GRCh37/GRCh38."""
    name = canonical_build(build)
    if name is None:
        raise ValueError(f"unknown genome build {build!r}; use GRCh37 or GRCh38")
    return name


def bare_contig(name: str) -> str:
    """``name`` in lower case without surrounding space or a "chr" prefix ("chrX" -> "x")."""
    name = str(name).strip().lower()
    return name[3:] if name.startswith("chr") else name


def contig_class(name: str) -> str:
    """Class of a whole contig: "auto" (1-22), "x" (chrX: its PAR part is told apart by
    :func:`in_par`), "par" (XY, PAR1, PAR2), "y", "mt" or "other"."""
    bare = bare_contig(name)
    return "auto" if bare in AUTOSOMES else CONTIG_CLASS.get(bare, "other")


def in_par(pos: np.ndarray, build: str) -> np.ndarray:
    """bool, shape of ``pos`` (int, 1-based chrX positions): inside PAR1 or PAR2 of ``build``."""
    pos = np.asarray(pos, dtype=np.int64)
    mask = np.zeros(pos.shape, dtype=bool)
    for first, last in PAR_REGIONS[checked_build(build)]:
        mask |= (pos >= first) & (pos <= last)
    return mask
