"""A byte scan of VCF sample cells for values htslib cannot parse, for
:mod:`cohortgen.io.vcf_guard`: cyvcf2 0.34 crashes the process (a segmentation fault) at such
a value, e.g. DS ``1.0x0`` or GT ``0-1``, so text is checked before it reaches htslib.

Encodings: ``text`` uint8, the decompressed VCF text; per checked line ``begin`` (int64, the
first byte of its first sample column), ``end`` (int64, its newline or the text's end) and
``code_start`` (int64, where its FORMAT keys' codes start in ``codes``, int8: :data:`STRING`,
:data:`INTEGER`, :data:`FLOAT`, :data:`GT`, one per key in FORMAT order). A value is checked by
its key's code: INTEGER ``[+-]?digits``; FLOAT a decimal (``[+-]?`` digits, a point, digits,
at least one digit, then ``[eE][+-]?digits``) or ``nan``/``inf``/``infinity`` in any case;
comma-separated values each; GT alleles (``.`` or digits) joined by ``/`` or ``|``, a leading
``/`` or ``|`` allowed. ``.`` and an empty value are missing; STRING values and values beyond
the FORMAT keys are not checked.
"""

import numpy as np

from cohortgen.kernels._numba import kernel

STRING, INTEGER, FLOAT, GT = 0, 1, 2, 3
"""Codes of a FORMAT key's type (String and Character are not checked)."""

_TAB, _COLON, _COMMA, _DOT, _SLASH, _PIPE = 9, 58, 44, 46, 47, 124
_PLUS, _MINUS, _NEWLINE = 43, 45, 10
_NAN, _INF, _INFINITY = (np.frombuffer(w, dtype=np.uint8) for w in (b"nan", b"inf", b"infinity"))


@kernel
def _digits(text: np.ndarray, p: int, e: int) -> int:
    """The offset after the ASCII digits from ``p`` (at most ``e``)."""
    while p < e and 48 <= text[p] <= 57:
        p += 1
    return p


@kernel
def _is_word(text: np.ndarray, p: int, e: int, word: np.ndarray) -> bool:
    """Whether ``text[p:e]`` is ``word`` (uint8, lower case ASCII), in any case."""
    if e - p != len(word):
        return False
    for k in range(e - p):
        if text[p + k] | 32 != word[k]:
            return False
    return True


@kernel
def _number_ok(text: np.ndarray, p: int, e: int, code: int) -> bool:
    """Whether ``text[p:e]`` is one INTEGER or FLOAT value (or missing)."""
    if e == p or e - p == 1 and text[p] == _DOT:
        return True
    if text[p] == _PLUS or text[p] == _MINUS:
        p += 1
    if code == FLOAT and (_is_word(text, p, e, _NAN) or _is_word(text, p, e, _INF)
                         or _is_word(text, p, e, _INFINITY)):
        return True
    q = _digits(text, p, e)
    n_digits = q - p
    if code == INTEGER:
        return n_digits > 0 and q == e
    if q < e and text[q] == _DOT:
        r = _digits(text, q + 1, e)
        n_digits += r - q - 1
        q = r
    if n_digits == 0:
        return False
    if q < e and text[q] | 32 == 101:  # e or E
        q += 1
        if q < e and (text[q] == _PLUS or text[q] == _MINUS):
            q += 1
        r = _digits(text, q, e)
        if r == q:
            return False
        q = r
    return q == e


@kernel
def _gt_ok(text: np.ndarray, p: int, e: int) -> bool:
    """Whether ``text[p:e]`` is a GT value (or missing)."""
    if p < e and (text[p] == _SLASH or text[p] == _PIPE):
        p += 1
        if p == e:
            return False
    while p < e:
        if text[p] == _DOT:
            q = p + 1
        else:
            q = _digits(text, p, e)
            if q == p:
                return False
        if q < e and not (text[q] == _SLASH or text[q] == _PIPE) or q == e - 1:
            return False
        p = q + 1
    return True


@kernel
def _value_ok(text: np.ndarray, p: int, e: int, code: int) -> bool:
    """Whether the value ``text[p:e]`` of a key of type ``code`` is one htslib parses."""
    if code == GT:
        return _gt_ok(text, p, e)
    if code == STRING:
        return True
    q = p
    while q <= e:
        if q == e or text[q] == _COMMA:
            if not _number_ok(text, p, q, code):
                return False
            p = q + 1
        q += 1
    return True


@kernel
def first_bad_value(text: np.ndarray, begin: np.ndarray, end: np.ndarray,
                    code_start: np.ndarray, n_codes: np.ndarray,
                    codes: np.ndarray) -> np.ndarray:
    """int64 (4,): the first bad value of the lines (see the module docstring): its line's
    index, the sample's index, the value's start and end offsets in ``text``; all -1 when
    every value parses. ``n_codes`` int64 (m,): how many FORMAT keys each line has."""
    found = np.full(4, -1, dtype=np.int64)
    for j in range(len(begin)):
        sample, key, p, start = 0, 0, begin[j], begin[j]
        e = end[j]
        while p <= e:
            at_end = p == e or text[p] == _TAB or text[p] == _NEWLINE
            if at_end or text[p] == _COLON:
                code = codes[code_start[j] + key] if key < n_codes[j] else STRING
                if not _value_ok(text, start, p, code):
                    found[0], found[1], found[2], found[3] = j, sample, start, p
                    return found
                key += 1
                start = p + 1
                if at_end:
                    sample += 1
                    key = 0
                    if p == e or text[p] == _NEWLINE:
                        break
            p += 1
    return found
