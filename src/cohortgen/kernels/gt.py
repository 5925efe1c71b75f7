"""Parsing of VCF GT text into allele indices, decoding of those into ALT dosages, and sex-aware
ploidy of the dosages.

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


GT_OK, GT_BAD_CELL, GT_CELL_COUNT, GT_PLOIDY_ABOVE_2, GT_ALLELE_RANGE = 0, 1, 2, 3, 4
"""Per-record status codes of :func:`parse_gt_text`."""
_TAB, _COLON, _DOT, _SLASH, _BAR, _ZERO = 9, 58, 46, 47, 124, 48
_ALLELE_CAP = 32767
_ALLELE_CODE = np.full(256, -3, dtype=np.int64)
_ALLELE_CODE[_ZERO:_ZERO + 10] = np.arange(10)
_ALLELE_CODE[_DOT] = -1
"""Allele index of a one-byte allele by byte value: 0-9, -1 for '.', -3 for any other byte."""


@kernel
def _parse_cell(text: np.ndarray, p: int, e: int, out: np.ndarray, j: int, i: int) -> tuple:
    """Parse the GT of the cell at ``text[p]`` into ``out[j, i]`` (if ``i`` is a sample) and
    return (number of alleles, largest allele index, 0 if malformed else 1, offset of the tab or
    end closing the cell). Allele indices above 32767 are capped there."""
    n_alleles, top, ok = 0, -1, 1
    while True:
        if p < e and text[p] == _DOT:
            allele = -1
            p += 1
        else:
            allele, q = 0, p
            while q < e and _ZERO <= text[q] <= _ZERO + 9:
                allele = min(allele * 10 + text[q] - _ZERO, _ALLELE_CAP)
                q += 1
            if q == p:
                ok = 0
                break
            p = q
        if n_alleles < 2 and i < out.shape[1]:
            out[j, i, n_alleles] = allele
        n_alleles += 1
        top = max(top, allele)
        c = text[p] if p < e else _TAB
        if c == _SLASH or c == _BAR:
            p += 1
            continue
        if c != _TAB and c != _COLON:
            ok = 0
        break
    if n_alleles == 1 and i < out.shape[1]:
        out[j, i, 1] = -2
    while p < e and text[p] != _TAB:  # other FORMAT fields, or the rest of a bad cell
        p += 1
    return n_alleles, top, ok, p


@kernel
def parse_gt_text(text: np.ndarray, begin: np.ndarray, end: np.ndarray, n_alleles: np.ndarray,
                  alleles: np.ndarray) -> tuple:
    """Parse the sample columns of m VCF records into ``alleles``, in place.

    ``text``: uint8 ASCII; record j's sample columns are ``text[begin[j]:end[j]]`` (int64 (m,)),
    tab-separated cells whose first ':'-separated field is GT: an allele (digits or '.') then
    any number of '/' or '|' + allele pairs. ``n_alleles``: int64 (m,) REF + ALT count.
    ``alleles``: int16 (m, n_samples, 2), filled in the layout of the module doc (-1 '.', -2 the
    second slot of a haploid call). Returns (status, cell), int64 (m,) each: ``GT_OK``;
    ``GT_BAD_CELL`` (cell: the first malformed cell, 0-based); ``GT_CELL_COUNT`` (cell: the
    number of cells, not n_samples); ``GT_PLOIDY_ABOVE_2`` (cell: the first such cell);
    ``GT_ALLELE_RANGE`` (cell: the first cell with an allele index >= n_alleles). A malformed
    cell or a wrong count outranks the other two, ploidy outranks range. Diploid cells of
    one-digit alleles ('0/1', '.|.') take a fast path.
    """
    m, n = alleles.shape[0], alleles.shape[1]
    status = np.zeros(m, dtype=np.int64)
    cell = np.zeros(m, dtype=np.int64)
    for j in range(m):
        p, e, top_ok, row = begin[j], end[j], n_alleles[j], alleles[j]
        first_bad, first_high, first_range = -1, -1, -1
        i = 0
        while True:
            if i < n and p + 3 <= e:
                sep = text[p + 1]
                after = text[p + 3] if p + 3 < e else _TAB
                if (sep == _SLASH or sep == _BAR) and after == _TAB:
                    a, b = _ALLELE_CODE[text[p]], _ALLELE_CODE[text[p + 2]]
                    if a != -3 and b != -3:
                        row[i, 0] = a
                        row[i, 1] = b
                        if (a >= top_ok or b >= top_ok) and first_range < 0:
                            first_range = i
                        i += 1
                        p += 4
                        if p > e:
                            break
                        continue
            ploidy, top, ok, p = _parse_cell(text, p, e, alleles, j, i)
            if not ok and first_bad < 0:
                first_bad = i
            if ploidy > 2 and first_high < 0:
                first_high = i
            if top >= top_ok and first_range < 0:
                first_range = i
            i += 1
            if p >= e:
                break
            p += 1  # the tab
        if first_bad >= 0:
            status[j], cell[j] = GT_BAD_CELL, first_bad
        elif i != n:
            status[j], cell[j] = GT_CELL_COUNT, i
        elif first_high >= 0:
            status[j], cell[j] = GT_PLOIDY_ABOVE_2, first_high
        elif first_range >= 0:
            status[j], cell[j] = GT_ALLELE_RANGE, first_range
    return status, cell
