"""Allele strings: which ones name a sequence, and which ones are nucleotides.

Genotype alleles are kept as the input gives them, so QC and association work on any code
(array exports' ``1``/``2``, ``A``/``B``, ``D``/``I``, VCF bases), as PLINK 2 and REGENIE do.
Ingest excludes only what names no allele: PLINK's missing allele (``0``, ``.``) and VCF symbolic
alleles (``<DEL>``, ``<*>``, the spanning deletion ``*``, breakends with ``[`` or ``]``). Steps
that need bases (strand flips in PRS matching, GWAS-SSF allele columns) ask
:func:`is_nucleotide` and skip, counted, what is not.
"""

import numpy as np

MISSING_ALLELES = frozenset({"0", "."})
"""PLINK's missing-allele codes in a .bim (an A1 of ``0`` is a monomorphic variant's no-ALT)."""

NUCLEOTIDES = frozenset("ACGT")


def is_missing_allele(allele: str) -> bool:
    """True for PLINK's missing-allele codes (:data:`MISSING_ALLELES`) and an empty string."""
    return not allele or allele in MISSING_ALLELES


def is_symbolic_allele(allele: str) -> bool:
    """True for a VCF symbolic allele: ``<ID>``, the spanning deletion ``*``, a breakend
    (``[`` or ``]``), the missing value ``.``, or an empty string."""
    return (not allele or allele in ("*", ".") or allele.startswith("<")
            or "[" in allele or "]" in allele)


def is_nucleotide(allele: str) -> bool:
    """True for a non-empty string of upper-case A, C, G, T (a SNP or indel allele)."""
    return bool(allele) and set(allele) <= NUCLEOTIDES


def are_nucleotides(alleles) -> np.ndarray:
    """bool, shape of ``alleles`` (array-like of str, e.g. (m, 2) allele pairs): each one is a
    nucleotide string (:func:`is_nucleotide`)."""
    values = np.asarray(alleles, dtype=object).astype(str)
    distinct, inverse = np.unique(values, return_inverse=True)
    verdicts = np.array([is_nucleotide(a) for a in distinct.tolist()], dtype=bool)
    return verdicts[inverse].reshape(values.shape)
