"""Decoding of VCF GT allele indices into ALT dosages, and sex-aware ploidy of those dosages.

Input ``alleles``: int16, shape (n_variants, n_samples, 2), the allele indices of each call as
cyvcf2's ``Variant.genotype.array()`` gives them: >= 0 allele index, -1 missing allele ('.'),
-2 vector end (the second slot of a haploid call). ``alt_index``: int16, shape (n_variants,), the
allele index counted as ALT (1 for a biallelic record; k for the k-th ALT of a split
multi-allelic record, where every other non-missing allele counts as REF, as ``bcftools norm -m-``
writes it). Output dosages: int8 ALT dosage 0/1/2, ``MISSING`` (-1) for missing calls.

Rules: phased and unphased alike; a haploid call counts as homozygous (0 or 2, as PLINK 2 codes
haploid calls); a half-call ('./1', '1/.') follows ``half_call`` (PLINK 2 ``--vcf-half-call``):
``HALF_MISSING`` missing, ``HALF_HAPLOID`` the called allele as a haploid call, ``HALF_REFERENCE``
the missing allele as REF; ``HALF_ERROR`` decodes as missing and the caller raises on the count.
"""

import numpy as np

from cohortgen.kernels._numba import kernel

MISSING = np.int8(-1)
HALF_MISSING, HALF_HAPLOID, HALF_REFERENCE, HALF_ERROR = 0, 1, 2, 3
HALF_CALL_MODES = {"missing": HALF_MISSING, "haploid": HALF_HAPLOID,
                   "reference": HALF_REFERENCE, "error": HALF_ERROR}
"""``ingest.half_calls`` config value -> ``half_call`` code of :func:`decode_calls`."""

REGION_DIPLOID, REGION_X, REGION_Y, REGION_MT = 0, 1, 2, 3
"""Ploidy region of a variant: autosome or PAR, non-PAR chrX, chrY, mitochondrial."""
PLOIDY_COUNTS = ("het_haploid_set_missing", "female_y_set_missing", "mixed_mt_set_missing")
"""Columns of :func:`apply_ploidy`'s per-variant counts (genotype-level changes)."""


@kernel
def decode_calls(alleles: np.ndarray, alt_index: np.ndarray, half_call: int):
    """ALT dosage int8 (n_variants, n_samples) and half-calls seen per variant int64
    (n_variants,) from allele indices (see module doc)."""
    m, n = alleles.shape[0], alleles.shape[1]
    out = np.empty((m, n), dtype=np.int8)
    n_half = np.zeros(m, dtype=np.int64)
    for j in range(m):
        k = alt_index[j]
        for i in range(n):
            a, b = alleles[j, i, 0], alleles[j, i, 1]
            if b == -2:  # haploid
                out[j, i] = MISSING if a < 0 else 2 * (a == k)
            elif a >= 0 and b >= 0:
                out[j, i] = (a == k) + (b == k)
            elif a < 0 and b < 0:
                out[j, i] = MISSING
            else:
                n_half[j] += 1
                called = a if a >= 0 else b
                if half_call == HALF_HAPLOID:
                    out[j, i] = 2 * (called == k)
                elif half_call == HALF_REFERENCE:
                    out[j, i] = called == k
                else:
                    out[j, i] = MISSING
    return out, n_half


@kernel
def decode_biallelic(alleles: np.ndarray) -> np.ndarray:
    """ALT dosage int8 (n_variants, n_samples) of biallelic records, half-calls missing."""
    alt = np.ones(alleles.shape[0], dtype=np.int16)
    return decode_calls(alleles, alt, HALF_MISSING)[0]


@kernel
def apply_ploidy(dosage: np.ndarray, region: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Set calls impossible for the sample's ploidy to ``MISSING``, in place; return the counts
    int64 (n_variants, 3) in :data:`PLOIDY_COUNTS` order.

    ``dosage``: int8 (n_variants, n_samples) ALT dosage, haploid calls already 0/2.
    ``region``: int8 (n_variants,) ``REGION_*`` codes. ``sex``: int8 (n_samples,) 1 male,
    2 female, 0 unknown. Rules (PLINK 2 ``--set-hh-missing --set-mixed-mt-missing``): non-PAR X,
    a male's het call is missing (females and unknown sex are diploid); Y, a female's every call
    is missing and a het call of anyone else is missing; MT, every het call is missing.
    """
    m, n = dosage.shape
    counts = np.zeros((m, 3), dtype=np.int64)
    for j in range(m):
        r = region[j]
        if r == REGION_DIPLOID:
            continue
        for i in range(n):
            d = dosage[j, i]
            if d == MISSING:
                continue
            if r == REGION_Y and sex[i] == 2:
                dosage[j, i] = MISSING
                counts[j, 1] += 1
            elif d == 1 and r == REGION_MT:
                dosage[j, i] = MISSING
                counts[j, 2] += 1
            elif d == 1 and (r == REGION_Y or sex[i] == 1):
                dosage[j, i] = MISSING
                counts[j, 0] += 1
    return counts


@kernel
def check_gt_text(text: np.ndarray) -> tuple:
    """(number of cells, byte offset of the first malformed cell or -1) of tab-separated GT
    cells, ``text`` uint8 (n_bytes,) ASCII. A cell is an allele (digits or '.') followed by any
    number of separator ('/' or '|') + allele pairs, as the VCF GT grammar."""
    n_cells, cell_start, state = 1, 0, 0  # state 0: expect allele, 1: in digits, 2: after '.'
    for k in range(text.size):
        c = text[k]
        if 48 <= c <= 57:
            if state == 2:
                return n_cells, cell_start
            state = 1
        elif c == 46:  # '.'
            if state != 0:
                return n_cells, cell_start
            state = 2
        elif c == 47 or c == 124 or c == 9:  # '/', '|', tab
            if state == 0:
                return n_cells, cell_start
            state = 0
            if c == 9:
                n_cells += 1
                cell_start = k + 1
        else:
            return n_cells, cell_start
    return n_cells, cell_start if state == 0 else -1
