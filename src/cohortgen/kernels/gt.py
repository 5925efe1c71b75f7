"""Parsing of VCF record lines (fixed columns checked, GT cells into allele indices), decoding
of allele indices into ALT dosages, and sex-aware ploidy of the dosages.

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
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel

MISSING = np.int8(-1)
HALF_MISSING, HALF_HAPLOID, HALF_REFERENCE, HALF_ERROR = 0, 1, 2, 3
HALF_CALL_MODES = {"missing": HALF_MISSING, "haploid": HALF_HAPLOID,
                   "reference": HALF_REFERENCE, "error": HALF_ERROR}
"""``ingest.half_calls`` config value -> ``half_call`` code of :func:`decode_calls`."""

REGION_DIPLOID, REGION_X, REGION_Y, REGION_MT = 0, 1, 2, 3
"""Ploidy region of a variant: autosome or PAR, non-PAR chrX, chrY, mitochondrial."""
PLOIDY_COUNTS = ("het_haploid_set_missing", "female_y_set_missing", "mixed_mt_set_missing")
"""Columns of :func:`apply_ploidy`'s per-variant counts (genotype-level changes)."""


@parallel_kernel
def decode_calls(alleles: np.ndarray, alt_index: np.ndarray, half_call: int):
    """ALT dosage int8 (n_variants, n_samples) and half-calls seen per variant int64
    (n_variants,) from allele indices (see module doc); variants in parallel."""
    m, n = alleles.shape[0], alleles.shape[1]
    out = np.empty((m, n), dtype=np.int8)
    n_half = np.zeros(m, dtype=np.int64)
    for j in prange(m):
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
LINE_NO_GT, LINE_MALFORMED = 5, 6
"""Per-line status codes of :func:`parse_record_lines`."""
LINE_FIRST_SAMPLE, LINE_ALT_END, LINE_POS, LINE_STATUS, LINE_CELL = 0, 1, 2, 3, 4
"""Columns of :func:`parse_record_lines`'s per-line facts."""
_TAB, _COLON, _COMMA, _DOT, _SLASH, _BAR, _ZERO, _G, _T = 9, 58, 44, 46, 47, 124, 48, 71, 84
_ALLELE_CAP = 32767
_U1, _U2, _U3, _U4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
_POS_LIMIT = 2**31
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
def _parse_gt_cells(text: np.ndarray, p: int, e: int, top_ok: int, alleles: np.ndarray,
                    j: int) -> tuple:
    """Parse the sample cells ``text[p:e]`` of one record into ``alleles[j]``; return (status,
    cell) as :func:`parse_record_lines` (``top_ok``: REF + ALT count)."""
    n, row = alleles.shape[1], alleles[j]
    first_bad, first_high, first_range = -1, -1, -1
    i = 0
    while True:
        i, p, beyond = _diploid_run(text, p, e, top_ok, row, i)
        if beyond >= 0 and first_range < 0:
            first_range = beyond
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
        return GT_BAD_CELL, first_bad
    if i != n:
        return GT_CELL_COUNT, i
    if first_high >= 0:
        return GT_PLOIDY_ABOVE_2, first_high
    if first_range >= 0:
        return GT_ALLELE_RANGE, first_range
    return GT_OK, 0


@kernel
def _diploid_run(text: np.ndarray, p: int, e: int, top_ok: int, row: np.ndarray,
                 i: int) -> tuple:
    """Parse the run of cells from ``text[p]`` (sample ``i``) that are 'a/b' or 'a|b' of
    one-digit or '.' alleles and a tab (not the last cell) into ``row`` (int16 (n_samples, 2));
    return (the sample, the offset after the run, the first sample of the run with an allele
    index >= ``top_ok`` or -1). Indices are unsigned: Numba then skips its negative-index
    checks, which would double the time of this, the hot loop."""
    u, v, beyond = np.uint64(p), np.uint64(i), -1
    n, end = np.uint64(row.shape[0]), np.uint64(e)
    while v < n and u + _U4 <= end:
        sep = text[u + _U1]
        if text[u + _U3] != _TAB or (sep != _SLASH and sep != _BAR):
            break
        a, b = _ALLELE_CODE[text[u]], _ALLELE_CODE[text[u + _U2]]
        if a == -3 or b == -3:
            break
        row[v, 0] = a
        row[v, 1] = b
        if (a >= top_ok or b >= top_ok) and beyond < 0:
            beyond = np.int64(v)
        v += _U1
        u += _U4
    return np.int64(v), np.int64(u), beyond


@kernel
def _position(text: np.ndarray, p: int, e: int) -> int:
    """The POS ``text[p:e]`` (ASCII digits, 0 (a telomere) to 2^31 - 1), -1 if it is not
    one."""
    if e <= p:
        return -1
    value = 0
    for q in range(p, e):
        digit = text[q] - _ZERO
        if not 0 <= digit <= 9:
            return -1
        value = min(value * 10 + digit, _POS_LIMIT)
    return value if value < _POS_LIMIT else -1


@kernel
def _gt_key(text: np.ndarray, p: int, e: int) -> int:
    """0-based index of the key 'GT' in the FORMAT column ``text[p:e]`` (':'-separated), -1 if
    it has none."""
    key, begin = 0, p
    for q in range(p, e + 1):
        if q == e or text[q] == _COLON:
            if q - begin == 2 and text[begin] == _G and text[begin + 1] == _T:
                return key
            key += 1
            begin = q + 1
    return -1


@kernel
def _count(text: np.ndarray, p: int, e: int, byte: int) -> int:
    found = 0
    for q in range(p, e):
        found += text[q] == byte
    return found


@kernel
def _record_line(text: np.ndarray, s: int, e: int, alleles: np.ndarray, j: int) -> tuple:
    """The facts of the record line ``text[s:e]`` (see :func:`parse_record_lines`), its GT cells
    parsed into ``alleles[j]``."""
    tabs = np.empty(9, dtype=np.int64)
    k, ascii_only, p = 0, True, s
    while p < e and k < 9:
        if text[p] == _TAB:
            tabs[k] = p
            k += 1
        elif text[p] >= 128:
            ascii_only = False
        p += 1
    if k < 9:
        return -1, -1, -1, LINE_MALFORMED, 0
    first, alt_end = tabs[8] + 1, tabs[4]
    pos = _position(text, tabs[0] + 1, tabs[1])
    gt_key = _gt_key(text, tabs[7] + 1, tabs[8])
    if not ascii_only or pos < 0 or gt_key > 0:
        return first, alt_end, pos, LINE_MALFORMED, 0
    no_alt = alt_end - tabs[3] == 2 and text[alt_end - 1] == _DOT
    n_alleles = 1 if no_alt else 2 + _count(text, tabs[3] + 1, alt_end, _COMMA)
    if gt_key == 0:
        status, cell = _parse_gt_cells(text, first, e, n_alleles, alleles, j)
        return first, alt_end, pos, status, cell
    cells = 1 + _count(text, first, e, _TAB)
    return first, alt_end, pos, LINE_NO_GT if cells == alleles.shape[1] else LINE_MALFORMED, cells


@kernel
def parse_record_lines(text: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                       alleles: np.ndarray) -> np.ndarray:
    """Parse m VCF record lines: their GT cells into ``alleles``, in place, and the facts the
    reader needs about each, returned as int64 (m, 5) in ``LINE_*`` column order.

    ``text``: uint8; line j is ``text[starts[j]:ends[j]]`` (int64 (m,) each, without the
    newline). ``alleles``: int16 (m, n_samples, 2), filled in the layout of the module doc (-1
    '.', -2 the second slot of a haploid call) where the status is ``GT_OK``,
    ``GT_PLOIDY_ABOVE_2`` or ``GT_ALLELE_RANGE``. A GT cell is an allele (digits or '.') then any
    number of '/' or '|' + allele pairs, then ':' and other fields or the end of the cell.

    Facts: offset of the first sample cell (-1 with fewer than ten columns), offset of the tab
    ending ALT, POS (-1 unless ASCII digits 0 to 2^31 - 1), status and cell. Status:
    ``LINE_MALFORMED`` fewer than ten columns, a bad POS, non-ASCII bytes before the sample
    columns, GT a FORMAT key but not the first, or without GT a sample cell count (cell) other
    than n_samples; else ``LINE_NO_GT`` (FORMAT without GT); else ``GT_BAD_CELL`` (cell: the
    first malformed cell, 0-based); ``GT_CELL_COUNT`` (cell: the number of cells);
    ``GT_PLOIDY_ABOVE_2`` (cell: the first such cell); ``GT_ALLELE_RANGE`` (cell: the first cell
    with an allele index >= REF + ALT count, ALT '.' counting none); ``GT_OK``, in that order of
    precedence.
    """
    facts = np.empty((alleles.shape[0], 5), dtype=np.int64)
    for j in range(alleles.shape[0]):
        facts[j, 0], facts[j, 1], facts[j, 2], facts[j, 3], facts[j, 4] = _record_line(
            text, starts[j], ends[j], alleles, j)
    return facts
