"""Genome builds, the table of contigs and pseudo-autosomal regions, shared by every stage.

One table (:data:`CONTIG_NAMES`, :data:`CONTIG_CLASSES`) decides each contig's PLINK code, name
and class. Names are matched without case and without a ``chr`` prefix: 1-22, X (PLINK 23),
Y (24), XY (25, PLINK's pseudo-autosomal code; PAR1/PAR2 of ``--split-par`` too) and MT or M
(26). Summary statistics number differently (GWAS-SSF and PGS Catalog files: 23 X, 24 Y, 25 MT;
:data:`GWAS_SSF_CODES`), so numeric codes are read in a stated ``numbering``. Any other contig
(unplaced ``chrUn_*``, ``*_random``, ``*_alt``, ``HLA*``, decoys, PLINK's 0) is not analysed:
ingest excludes its records with the reason of :func:`excluded_contig_reason`. PAR boundaries
(1-based, inclusive) per build as in SCIENCE.md, Genome builds and chrX. No pandas here:
ingest jobs import this module.
"""

import re

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

CONTIG_LENGTHS = {
    "GRCh37": (249_250_621, 243_199_373, 198_022_430, 191_154_276, 180_915_260, 171_115_067,
               159_138_663, 146_364_022, 141_213_431, 135_534_747, 135_006_516, 133_851_895,
               115_169_878, 107_349_540, 102_531_392, 90_354_753, 81_195_210, 78_077_248,
               59_128_983, 63_025_520, 48_129_895, 51_304_566, 155_270_560, 59_373_566),
    "GRCh38": (248_956_422, 242_193_529, 198_295_559, 190_214_555, 181_538_259, 170_805_979,
               159_345_973, 145_138_636, 138_394_717, 133_797_422, 135_086_622, 133_275_309,
               114_364_328, 107_043_718, 101_991_189, 90_338_345, 83_257_441, 80_373_285,
               58_617_616, 64_444_167, 46_709_983, 50_818_468, 156_040_895, 57_227_415),
}
"""Lengths (bp) of chromosomes 1-22, X, Y (PLINK codes 1-24) per build (GRC assembly reports);
every one differs between the builds, so a position beyond the length is on another build."""


CONTIG_NAMES = {**{code: str(code) for code in range(1, 23)}, 23: "X", 24: "Y", 25: "XY",
                26: "MT"}
"""PLINK code -> canonical contig name (no "chr")."""

CONTIG_CLASSES = {**dict.fromkeys(range(1, 23), "auto"), 23: "x", 24: "y", 25: "par", 26: "mt"}
"""PLINK code -> contig class: "auto", "x" (chrX; its PAR part is told apart by :func:`in_par`),
"y", "par" (XY, PAR1, PAR2) or "mt"."""

GWAS_SSF_CODES = {**{code: code for code in range(1, 25)}, 25: 23, 26: 25}
"""PLINK code -> GWAS-SSF chromosome code (1-22, X 23, Y 24, MT 25; PLINK's XY lies on X: 23)."""

_NAME_CODES = {**{str(code): code for code in range(1, 27)}, "x": 23, "y": 24, "xy": 25,
               "par1": 25, "par2": 25, "mt": 26, "m": 26}
"""Lower-case name (no "chr") -> PLINK code, numeric names in PLINK numbering."""

_GWAS_SSF_NUMERIC = {"23": 23, "24": 24, "25": 26}
"""GWAS-SSF numeric codes of X, Y, MT -> PLINK code (26 is not a GWAS-SSF code)."""

NUMBERINGS = ("plink", "gwas_ssf")
"""How numeric contig codes 23-26 are read: genotype files ("plink": 25 XY, 26 MT) or summary
statistics and scoring files ("gwas_ssf": 25 MT)."""

_EXCLUDED_CONTIGS = (
    ("alt_contig", re.compile(r"(_alt|_fix|_novel)$|^hla[-_]")),
    ("decoy_contig", re.compile(r"(_decoy|^ebv|^hs37d5|^hs38d1)")),
    ("unplaced_contig", re.compile(r"^un(_|$)|_random$|^0$|^(gl|ki|jh|kn|kv|kz|ml|mu)\d+")),
)
"""Reasons why ingest excludes a non-primary contig, by pattern on the lower-case name without
"chr" (first match wins); any other unknown name is ``unknown_contig``."""


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


def contig_code(name: str, numbering: str = "plink") -> int | None:
    """PLINK code (1-26) of a contig name ("chrX", "x", "23", "MT", "chrM", ...), numeric names
    read in ``numbering`` (:data:`NUMBERINGS`); None for a contig outside the table."""
    if numbering not in NUMBERINGS:
        raise ValueError(f"unknown contig numbering {numbering!r}; use one of {NUMBERINGS}")
    bare = bare_contig(name)
    if numbering == "gwas_ssf" and bare.isdigit() and int(bare) > 22:
        return _GWAS_SSF_NUMERIC.get(bare)
    return _NAME_CODES.get(bare)


def contig_name(name: str, numbering: str = "plink") -> str | None:
    """Canonical name ("1"-"22", "X", "Y", "XY", "MT") of a contig; None outside the table."""
    code = contig_code(name, numbering)
    return None if code is None else CONTIG_NAMES[code]


def contig_class(name: str) -> str:
    """Class of a whole contig (:data:`CONTIG_CLASSES`), "other" outside the table."""
    code = contig_code(name)
    return "other" if code is None else CONTIG_CLASSES[code]


def gwas_ssf_code(name: str, numbering: str = "plink") -> int | None:
    """GWAS-SSF chromosome code (1-25, :data:`GWAS_SSF_CODES`) of a contig; None outside the
    table."""
    code = contig_code(name, numbering)
    return None if code is None else GWAS_SSF_CODES[code]


def site_chromosome(name: str, numbering: str = "plink") -> str:
    """The chromosome on which sites of different files are joined: the canonical name of
    :func:`gwas_ssf_code` ("1"-"22", "X", "Y", "MT"), so PLINK's XY (PAR1, PAR2) joins X as in
    GWAS-SSF files; a name outside the table is kept as given."""
    code = gwas_ssf_code(name, numbering)
    return str(name) if code is None else contig_name(str(code), "gwas_ssf")


def excluded_contig_reason(name: str) -> str | None:
    """Why ingest excludes the records of a contig: None for 1-22, X, Y, XY/PAR, MT; else
    "alt_contig" (``*_alt``, ``*_fix``, ``HLA*``), "decoy_contig" (``*_decoy``, ``chrEBV``,
    ``hs37d5``), "unplaced_contig" (``chrUn_*``, ``*_random``, GL/KI accessions, PLINK's 0) or
    "unknown_contig"."""
    if contig_code(name) is not None:
        return None
    bare = bare_contig(name)
    for reason, pattern in _EXCLUDED_CONTIGS:
        if pattern.search(bare):
            return reason
    return "unknown_contig"


def in_par(pos: np.ndarray, build: str) -> np.ndarray:
    """bool, shape of ``pos`` (int, 1-based chrX positions): inside PAR1 or PAR2 of ``build``."""
    pos = np.asarray(pos, dtype=np.int64)
    mask = np.zeros(pos.shape, dtype=bool)
    for first, last in PAR_REGIONS[checked_build(build)]:
        mask |= (pos >= first) & (pos <= last)
    return mask


def contig_length(name: str, build: str) -> int | None:
    """Length (bp) of chromosome ``name`` (1-22, X, Y; XY/PAR as X) in ``build``; None for MT and
    contigs outside the table."""
    code = contig_code(name)
    code = 23 if code == 25 else code
    if code is None or code > 24:
        return None
    return CONTIG_LENGTHS[checked_build(build)][code - 1]
