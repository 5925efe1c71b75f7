"""Parsing of imputed-dosage VCF record lines (FORMAT DS, HDS, GP and GT in any order) straight
into stored dosages, for :mod:`cohortgen.io.dosage_text`.

The kernel handles the common record and nothing else: it either computes the record's stored
dosages exactly as the rules of :mod:`cohortgen.io.dosage_vcf` do (``DOSAGE_OK``) or marks the
record ``DOSAGE_SLOW``, and the reader then applies those rules in Python to the record's cells,
so every error, every multi-allelic split and every unusual cell has one implementation. A
record is slow when a value is outside its range, GP does not sum to 1, DS and GP disagree,
within 1e-6 of the GP sum tolerance, written with more than 7 significant digits, an exponent
or a sign, a GT is not one or two alleles, a cell count differs from the sample count, an HDS
cell does not hold one value per allele, a DS cell holds more than one value, a GP cell does not
hold one value per genotype, a used FORMAT key is missing from a cell, or the record needs GT
(chrX, chrY, MT) and has none. A GP cell written as Minimac4 writes it (three values
``d.ddd``) is checked in thousandths, as exact integers (its sum 1000, DS within the tolerance
of its dosage by more than 1e-4), and by the floating-point checks only when it is not clearly
inside them: the same decisions, without parsing each probability to a double. In a
``GT:DS:GP`` record, a cell written wholly as Minimac4 writes a diploid call
(``a/b:d.ddd:d.ddd,d.ddd,d.ddd``) is first tried by :func:`_minimac_cell`, which reads each
byte at its fixed offset and takes the cell only when those integer checks pass clearly,
its stored dosage looked up by DS in thousandths; any other cell goes the general way (the
kernel is 1.6 to 1.8 times as fast on such files).

Encodings: ``text`` uint8, the decompressed VCF text; lines ``text[starts[j]:ends[j]]`` (int64
(m,) each, no newline). ``dosage`` float32 (m, n_samples): the stored ALT dosage (PLINK 2's 0..2
scale, a haploid call doubled, rounded to 1/16384 half up), NaN missing; written for
``DOSAGE_OK`` rows only.
"""

import numpy as np

from cohortgen.kernels._numba import kernel

DOSAGE_OK, DOSAGE_MULTI, DOSAGE_SLOW, DOSAGE_MALFORMED = 0, 1, 2, 3
"""Status of a line: stored dosages written; a multi-allelic record (not parsed); to be read by
the Python rules; fewer than ten columns or a POS that is not ASCII digits."""
FACT_COLUMNS = ("pos", "alt_end", "info_start", "info_end", "status")
"""Columns of :func:`parse_dosage_lines`: POS (-1 when not digits), offsets of the tab ending
ALT, of the INFO column and of the tab ending it, and the status."""
USE_DS, USE_HDS, USE_GP, NEEDS_GT = 1, 2, 4, 8
"""Bits of ``flags``: the header declares FORMAT DS, HDS, GP; the contig is chrX, chrY or MT
(a record without GT cannot tell haploid from diploid calls)."""

GP_SUM_TOLERANCE = 0.01
DS_GP_TOLERANCE = 0.02
DOSAGE_STEPS = 16384.0
_MAX_MANTISSA = 10_000_000  # 7 significant digits
_MINIMAC_CELL = 27  # len("0/1:1.000:0.000,1.000,0.000")
_TAB, _COLON, _COMMA, _DOT = 9, 58, 44, 46
_SLASH, _BAR, _ZERO, _NINE = 47, 124, 48, 57
_G, _T, _D, _S, _H, _P = 71, 84, 68, 83, 72, 80
_POWERS = np.array([10.0 ** k for k in range(23)])


@kernel
def _values(text: np.ndarray, p: int, e: int, out: np.ndarray) -> tuple:
    """Parse the comma-separated numbers from ``text[p]`` up to the ':' or tab ending the
    FORMAT value (or ``e``) into ``out`` (float64 (3,)); return (their count, the offset of
    that end), (-1, -1) if one is not a plain number or there are more than 3. A plain number
    is '.' (NaN) or unsigned digits with an optional fraction and at most 7 significant digits,
    parsed as the correctly rounded double (an exact integer over an exact power of ten)."""
    k, q = 0, p
    while True:
        mantissa, fraction, dot, digits, begin = 0, 0, False, 0, q
        while q < e:
            c = text[q]
            if _ZERO <= c <= _NINE:
                mantissa = mantissa * 10 + (c - _ZERO)
                digits += 1
                fraction += dot
            elif c == _DOT and not dot:
                dot = True
            else:
                break
            q += 1
        if k == 3 or mantissa >= _MAX_MANTISSA:
            return -1, -1
        if digits:
            out[k] = mantissa / _POWERS[fraction]
        elif q - begin == 1:
            out[k] = np.nan
        else:
            return -1, -1
        k += 1
        if q == e or text[q] == _COLON or text[q] == _TAB:
            return k, q
        if text[q] != _COMMA:
            return -1, -1
        q += 1


@kernel
def _skip(text: np.ndarray, p: int, e: int) -> int:
    """The offset of the ':' or tab ending the FORMAT value from ``text[p]``, or ``e``."""
    q = p
    while q < e and text[q] != _COLON and text[q] != _TAB:
        q += 1
    return q


@kernel
def _key_code(text: np.ndarray, p: int, e: int) -> int:
    """0 GT, 1 DS, 2 HDS, 3 GP, -1 any other FORMAT key ``text[p:e]``."""
    if e - p == 2:
        a, b = text[p], text[p + 1]
        if a == _G and b == _T:
            return 0
        if a == _D and b == _S:
            return 1
        if a == _G and b == _P:
            return 3
    elif e - p == 3 and text[p] == _H and text[p + 1] == _D and text[p + 2] == _S:
        return 2
    return -1


@kernel
def _format_keys(text: np.ndarray, p: int, e: int) -> np.ndarray:
    """int64 (4,): the 0-based index of GT, DS, HDS, GP in the FORMAT column ``text[p:e]``, -1
    for a key it lacks."""
    where = np.full(4, -1, dtype=np.int64)
    key, begin = 0, p
    for q in range(p, e + 1):
        if q == e or text[q] == _COLON:
            code = _key_code(text, begin, q)
            if code >= 0:
                where[code] = key
            key += 1
            begin = q + 1
    return where


@kernel
def _ploidy(text: np.ndarray, p: int, e: int) -> tuple:
    """(alleles, the offset of the ':' or tab ending it or ``e``) of the GT from ``text[p]``
    (digits or '.' separated by '/' or '|'); (-1, -1) if it is not a GT."""
    alleles, allele_chars, q = 1, 0, p
    while q < e:
        c = text[q]
        if c == _SLASH or c == _BAR:
            if allele_chars == 0:
                return -1, -1
            alleles += 1
            allele_chars = 0
        elif c == _DOT or _ZERO <= c <= _NINE:
            allele_chars += 1
        elif c == _COLON or c == _TAB:
            break
        else:
            return -1, -1
        q += 1
    return (alleles, q) if allele_chars > 0 else (-1, -1)


@kernel
def _stored(dosage: float, haploid: bool) -> np.float32:
    """As PLINK 2 stores a dosage as written: haploid doubled, rounded to 1/16384 half up."""
    value = 2.0 * dosage if haploid else dosage
    return np.float32(np.floor(value * DOSAGE_STEPS + 0.5) / DOSAGE_STEPS)


@kernel
def _gp_dosage(gp: np.ndarray, count: int, haploid: bool) -> tuple:
    """(dosage as written, ok) from ``count`` genotype probabilities; NaN when missing; ok
    False where the Python rules must decide (wrong count, a bad or borderline sum)."""
    if count == 1 and np.isnan(gp[0]):
        return np.nan, True
    if count != (2 if haploid else 3):
        return np.nan, False
    total = 0.0
    for k in range(count):
        if np.isnan(gp[k]) or gp[k] > 1.0:
            return np.nan, False
        total += gp[k]
    if abs(abs(total - 1.0) - GP_SUM_TOLERANCE) < 1e-6 or abs(total - 1.0) > GP_SUM_TOLERANCE:
        return np.nan, False
    return (gp[1] if haploid else gp[1] + 2.0 * gp[2]), True


@kernel
def _thousandths(text: np.ndarray, p: int, e: int, units: np.ndarray) -> int:
    """The offset of the ':' or tab (or ``e``) ending the FORMAT value from ``text[p]`` when
    that value is three numbers written ``d.ddd`` (Minimac4's GP), their thousandths in
    ``units`` (int64 (3,)); -1 for any other value."""
    for k in range(3):
        q = p + 6 * k
        if q + 5 > e or text[q + 1] != _DOT or (k < 2 and (q + 5 == e or text[q + 5] != _COMMA)):
            return -1
        value = 0
        for r in (q, q + 2, q + 3, q + 4):
            c = text[r]
            if not _ZERO <= c <= _NINE:
                return -1
            value = value * 10 + (c - _ZERO)
        units[k] = value
    end = p + 17
    return end if end == e or text[end] == _COLON or text[end] == _TAB else -1


@kernel
def _gp_agrees(units: np.ndarray, dosage: float) -> bool:
    """True when GP in thousandths ``units`` (int64 (3,), diploid) sums to 1 exactly and
    ``dosage`` lies clearly (by more than 1e-4) within ``DS_GP_TOLERANCE`` of its dosage, so
    :func:`_gp_dosage` and the tolerance check would pass; False when they must decide."""
    if units[0] > 1000 or units[1] > 1000 or units[2] > 1000:
        return False
    if units[0] + units[1] + units[2] != 1000:
        return False
    return abs(dosage * 1000.0 - (units[1] + 2 * units[2])) < (DS_GP_TOLERANCE - 1e-4) * 1000


@kernel
def _digit(cell: np.ndarray, k: int) -> int:
    """The digit ``cell[k]`` (0 to 9); outside 0..9 when it is not an ASCII digit."""
    return np.int64(cell[k]) - _ZERO


@kernel
def _fixed3(cell: np.ndarray, k: int) -> int:
    """The number written ``d.ddd`` at ``cell[k:k + 5]`` in thousandths (0 to 9999), -1 when
    one of its 4 digits is not a digit (the '.' is the caller's to check)."""
    d0, d1, d2, d3 = _digit(cell, k), _digit(cell, k + 2), _digit(cell, k + 3), _digit(cell, k + 4)
    bad = d0 | (9 - d0) | d1 | (9 - d1) | d2 | (9 - d2) | d3 | (9 - d3)
    return d0 * 1000 + d1 * 100 + d2 * 10 + d3 if bad >= 0 else -1


@kernel
def _minimac_cell(text: np.ndarray, p: int, e: int) -> tuple:
    """(stored-dosage table index, end) of a ``GT:DS:GP`` cell from ``text[p]`` written as
    Minimac4 writes a diploid call, ``a/b:d.ddd:d.ddd,d.ddd,d.ddd`` (GT alleles one digit each,
    '/' or '|'), whose DS is in [0, 2] and GP sums to 1 exactly in thousandths and lies within
    ``DS_GP_TOLERANCE`` of DS by at least a thousandth: the index is DS in thousandths (0 to
    2000) and ``end`` the offset of the tab (or ``e``) after the cell. (-1, -1) for any other
    cell, which the general path then decides: so every cell this accepts is one
    :func:`_record_cells`' general path stores with the same value. Each byte is read at a
    constant offset of the cell (no scan, no float)."""
    end = p + _MINIMAC_CELL
    if end > e or (end < e and text[end] != _TAB):
        return -1, -1
    cell = text[p:end]
    a, b, slash = _digit(cell, 0), _digit(cell, 2), cell[1]
    if (cell[3] != _COLON or cell[5] != _DOT or cell[9] != _COLON or cell[11] != _DOT
            or cell[15] != _COMMA or cell[17] != _DOT or cell[21] != _COMMA
            or cell[23] != _DOT or (slash != _SLASH and slash != _BAR)
            or (a | (9 - a) | b | (9 - b)) < 0):
        return -1, -1
    ds, gp0, gp1, gp2 = _fixed3(cell, 4), _fixed3(cell, 10), _fixed3(cell, 16), _fixed3(cell, 22)
    if (min(ds, gp0, gp1, gp2) < 0 or ds > 2000 or gp0 + gp1 + gp2 != 1000
            or abs(ds - gp1 - 2 * gp2) >= DS_GP_TOLERANCE * 1000):
        return -1, -1
    return ds, end


@kernel
def _thousandths_table() -> np.ndarray:
    """float32 (2001,): the stored dosage (:func:`_stored`, diploid) of each DS written with 3
    decimals, indexed by DS in thousandths, parsed as :func:`_values` parses it."""
    table = np.empty(2001, dtype=np.float32)
    for units in range(2001):
        table[units] = _stored(units / _POWERS[3], False)
    return table


@kernel
def _record_cells(text: np.ndarray, first: int, e: int, keys: np.ndarray, source: int,
                  with_gp: bool, needs_gt: bool, row: np.ndarray, table: np.ndarray) -> int:
    """Stored dosages of the sample cells ``text[first:e]`` into ``row`` (float32 (n,)) from
    FORMAT key ``source`` (1 DS, 2 HDS, 3 GP), checked against GP where ``with_gp``; the line
    status. In a ``GT:DS:GP`` record a cell :func:`_minimac_cell` accepts takes its stored
    dosage from ``table`` (:func:`_thousandths_table`); any other cell the general path
    decides."""
    n = row.shape[0]
    gp = np.empty(3, dtype=np.float64)
    gp_units = np.empty(3, dtype=np.int64)
    values = np.empty(3, dtype=np.float64)
    gt_key, source_key = keys[0], keys[source]
    gp_key = keys[3] if with_gp and source != 3 else -1
    wanted = (gt_key >= 0) + 1 + (gp_key >= 0)
    if needs_gt and gt_key < 0:
        return DOSAGE_SLOW
    minimac = gt_key == 0 and source_key == 1 and gp_key == 2
    p = first
    for sample in range(n):
        if p > e:
            return DOSAGE_SLOW
        if minimac:
            units, end = _minimac_cell(text, p, e)
            if end >= 0:
                row[sample] = table[units]
                p = end + 1
                continue
        key, ploidy, n_values, n_gp, seen, gp_fast = 0, 2, 0, 0, 0, False
        while True:
            if key == gt_key:
                ploidy, p = _ploidy(text, p, e)
                seen += 1
            elif key == source_key:
                n_values, p = _values(text, p, e, values)
                seen += 1
            elif key == gp_key:
                end = _thousandths(text, p, e, gp_units)
                gp_fast = end >= 0
                n_gp, p = (3, end) if gp_fast else _values(text, p, e, gp)
                seen += 1
            else:
                p = _skip(text, p, e)
            if p < 0:
                return DOSAGE_SLOW
            if p == e or text[p] == _TAB:
                break
            key += 1
            p += 1
        p += 1
        if seen != wanted or ploidy > 2:
            return DOSAGE_SLOW
        haploid = ploidy == 1
        if source == 3:
            dosage, ok = _gp_dosage(values, n_values, haploid)
            if not ok:
                return DOSAGE_SLOW
        else:
            if n_values == 1 and (source == 1 or np.isnan(values[0])):
                dosage = values[0]
            elif source == 2 and n_values == (1 if haploid else 2):
                dosage = values[0] if haploid else values[0] + values[1]
            else:
                return DOSAGE_SLOW
            if not np.isnan(dosage) and not 0.0 <= dosage <= (1.0 if haploid else 2.0):
                return DOSAGE_SLOW
            if gp_key >= 0 and not (gp_fast and not haploid
                                    and _gp_agrees(gp_units, dosage)):
                if gp_fast:  # as _values parses them
                    for k in range(3):
                        gp[k] = gp_units[k] / _POWERS[3]
                gp_ds, ok = _gp_dosage(gp, n_gp, haploid)
                if not ok or abs(dosage - gp_ds) > DS_GP_TOLERANCE:
                    return DOSAGE_SLOW
        row[sample] = _stored(dosage, haploid)
    return DOSAGE_OK if p == e + 1 else DOSAGE_SLOW


@kernel
def _dosage_line(text: np.ndarray, s: int, e: int, flags: int, split: bool,
                 dosage: np.ndarray, j: int, table: np.ndarray) -> tuple:
    """The facts (:data:`FACT_COLUMNS`) of the record line ``text[s:e]``, its stored dosages in
    ``dosage[j]`` when the status is ``DOSAGE_OK``."""
    tabs = np.empty(9, dtype=np.int64)
    k, p = 0, s
    while p < e and k < 9:
        if text[p] == _TAB:
            tabs[k] = p
            k += 1
        p += 1
    if k < 9:
        return -1, -1, -1, -1, DOSAGE_MALFORMED
    pos = 0
    for q in range(tabs[0] + 1, tabs[1]):
        if not _ZERO <= text[q] <= _NINE or pos > 2**31:
            return -1, -1, -1, -1, DOSAGE_MALFORMED
        pos = pos * 10 + text[q] - _ZERO
    if tabs[1] == tabs[0] + 1:
        return -1, -1, -1, -1, DOSAGE_MALFORMED
    facts = (pos, tabs[4], tabs[6] + 1, tabs[7])
    for q in range(tabs[3] + 1, tabs[4]):
        if text[q] == _COMMA:
            return facts + (DOSAGE_SLOW if split else DOSAGE_MULTI,)
    keys = _format_keys(text, tabs[7] + 1, tabs[8])
    if flags & USE_DS and keys[1] >= 0:
        source = 1
    elif flags & USE_HDS and keys[2] >= 0:
        source = 2
    elif flags & USE_GP and keys[3] >= 0:
        source = 3
    else:
        return facts + (DOSAGE_SLOW,)
    with_gp = bool(flags & USE_GP) and keys[3] >= 0
    status = _record_cells(text, tabs[8] + 1, e, keys, source, with_gp,
                           bool(flags & NEEDS_GT), dosage[j], table)
    return facts + (status,)


@kernel
def parse_dosage_lines(text: np.ndarray, starts: np.ndarray, ends: np.ndarray, flags: int,
                       split: bool, dosage: np.ndarray) -> np.ndarray:
    """Facts int64 (m, 5) (:data:`FACT_COLUMNS`) of m record lines, their stored dosages into
    ``dosage`` float32 (m, n_samples) where the status is ``DOSAGE_OK`` (see the module doc).
    ``flags``: ``USE_*`` / ``NEEDS_GT`` bits; ``split``: multi-allelic records are split (read
    by the Python rules) rather than dropped (``DOSAGE_MULTI``)."""
    facts = np.empty((dosage.shape[0], 5), dtype=np.int64)
    table = _thousandths_table()
    for j in range(dosage.shape[0]):
        facts[j, 0], facts[j, 1], facts[j, 2], facts[j, 3], facts[j, 4] = _dosage_line(
            text, starts[j], ends[j], flags, split, dosage, j, table)
    return facts
