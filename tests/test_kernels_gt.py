"""VCF record line parsing, GT decoding (allele indices -> ALT dosage, half-call modes, split
multi-allelics) and sex-aware ploidy against naive pure-Python twins."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cohortgen.kernels.gt import (
    GT_ALLELE_RANGE,
    GT_BAD_CELL,
    GT_CELL_COUNT,
    GT_OK,
    GT_PLOIDY_ABOVE_2,
    HALF_CALL_MODES,
    HALF_HAPLOID,
    HALF_MISSING,
    HALF_REFERENCE,
    LINE_ALT_END,
    LINE_CELL,
    LINE_FIRST_SAMPLE,
    LINE_MALFORMED,
    LINE_NO_GT,
    LINE_POS,
    LINE_STATUS,
    MISSING,
    REGION_DIPLOID,
    REGION_MT,
    REGION_X,
    REGION_Y,
    apply_ploidy,
    decode_calls,
    parse_record_lines,
)


def decode_biallelic(alleles: np.ndarray) -> np.ndarray:
    """ALT dosage int8 (n_variants, n_samples) of biallelic records, half-calls missing."""
    alt = np.ones(alleles.shape[0], dtype=np.int16)
    return decode_calls(alleles, alt, HALF_MISSING)[0]


def naive_decode(alleles: np.ndarray) -> np.ndarray:
    """The documented rules, one call at a time: a missing first allele or a half-call is missing;
    a haploid call (second slot -2) counts as homozygous; otherwise count ALT (index 1) alleles."""
    out = np.empty(alleles.shape[:2], dtype=np.int8)
    for j in range(alleles.shape[0]):
        for i in range(alleles.shape[1]):
            a, b = int(alleles[j, i, 0]), int(alleles[j, i, 1])
            if a < 0 or b == -1:
                out[j, i] = MISSING
            elif b == -2:
                out[j, i] = 2 * (a == 1)
            else:
                out[j, i] = (a == 1) + (b == 1)
    return out


@settings(deadline=None, max_examples=200)
@given(
    arrays(
        np.int16,
        st.tuples(st.integers(0, 6), st.integers(0, 9), st.just(2)),
        elements=st.integers(-2, 1),
    )
)
def test_decode_biallelic__matches_naive_twin(alleles):
    np.testing.assert_array_equal(decode_biallelic(alleles), naive_decode(alleles))


def test_decode_biallelic__matches_naive_twin_on_large_random_array():
    rng = np.random.default_rng(3)
    alleles = rng.integers(-2, 2, size=(400, 257, 2)).astype(np.int16)
    np.testing.assert_array_equal(decode_biallelic(alleles), naive_decode(alleles))


@pytest.mark.parametrize(
    ("call", "alleles", "dosage"),
    [
        ("0/0", (0, 0), 0),
        ("0/1", (0, 1), 1),
        ("1|0", (1, 0), 1),
        ("1/1", (1, 1), 2),
        ("./.", (-1, -1), MISSING),
        ("./1 (half-call)", (-1, 1), MISSING),
        ("1/. (half-call)", (1, -1), MISSING),
        ("0 (haploid)", (0, -2), 0),
        ("1 (haploid)", (1, -2), 2),
        (". (haploid)", (-1, -2), MISSING),
    ],
)
def test_decode_biallelic__documented_calls(call, alleles, dosage):
    decoded = decode_biallelic(np.array([[alleles]], dtype=np.int16))
    assert decoded.dtype == np.int8
    assert decoded[0, 0] == dosage, call


def naive_decode_calls(alleles, alt_index, mode):
    """decode_calls one call at a time: haploid homozygous, half-calls by ``mode``, the allele
    ``alt_index[j]`` counted as ALT and every other called allele as REF."""
    out = np.empty(alleles.shape[:2], dtype=np.int8)
    n_half = np.zeros(alleles.shape[0], dtype=np.int64)
    for j in range(alleles.shape[0]):
        k = int(alt_index[j])
        for i in range(alleles.shape[1]):
            a, b = int(alleles[j, i, 0]), int(alleles[j, i, 1])
            called = [x for x in (a, b) if x >= 0]
            if b == -2:
                out[j, i] = MISSING if a < 0 else 2 * (a == k)
            elif len(called) == 2:
                out[j, i] = called.count(k)
            elif not called:
                out[j, i] = MISSING
            else:
                n_half[j] += 1
                out[j, i] = {HALF_HAPLOID: 2 * (called[0] == k),
                             HALF_REFERENCE: int(called[0] == k)}.get(mode, MISSING)
    return out, n_half


@settings(deadline=None, max_examples=150)
@given(
    arrays(np.int16, st.tuples(st.integers(0, 5), st.integers(0, 9), st.just(2)),
           elements=st.integers(-2, 3)),
    st.integers(1, 3),
    st.sampled_from(sorted(HALF_CALL_MODES.values())),
)
def test_decode_calls__matches_naive_twin(alleles, alt, mode):
    alt_index = np.full(alleles.shape[0], alt, dtype=np.int16)
    got, got_half = decode_calls(alleles, alt_index, mode)
    want, want_half = naive_decode_calls(alleles, alt_index, mode)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_half, want_half)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("missing", [MISSING, MISSING]), ("haploid", [2, 0]), ("reference", [1, 0])],
)
def test_decode_calls__half_call_modes(mode, expected):
    alleles = np.array([[[-1, 1], [0, -1]]], dtype=np.int16)
    dosage, n_half = decode_calls(alleles, np.ones(1, np.int16), HALF_CALL_MODES[mode])
    assert dosage[0].tolist() == expected
    assert n_half.tolist() == [2]


def test_decode_calls__split_counts_other_alts_as_ref():
    """'1/2' is het in both split records; '2/2' is hom REF in the first (bcftools norm -m-)."""
    alleles = np.array([[[1, 2], [2, 2], [0, 1]]] * 2, dtype=np.int16)
    dosage, _ = decode_calls(alleles, np.array([1, 2], np.int16), HALF_MISSING)
    assert dosage.tolist() == [[1, 0, 1], [1, 2, 0]]


def naive_apply_ploidy(dosage, region, sex):
    out, counts = dosage.copy(), np.zeros((dosage.shape[0], 3), dtype=np.int64)
    for j, i in np.ndindex(dosage.shape):
        d, r, s = dosage[j, i], region[j], sex[i]
        if d == MISSING or r == REGION_DIPLOID:
            continue
        reason = None
        if r == REGION_Y and s == 2:
            reason = 1
        elif d == 1 and r == REGION_MT:
            reason = 2
        elif d == 1 and (r == REGION_Y or (r == REGION_X and s == 1)):
            reason = 0
        if reason is not None:
            out[j, i] = MISSING
            counts[j, reason] += 1
    return out, counts


def test_apply_ploidy__matches_naive_twin():
    rng = np.random.default_rng(7)
    dosage = rng.integers(-1, 3, size=(200, 37)).astype(np.int8)
    region = rng.integers(0, 4, size=200).astype(np.int8)
    sex = rng.integers(0, 3, size=37).astype(np.int8)
    want, want_counts = naive_apply_ploidy(dosage, region, sex)
    counts = apply_ploidy(dosage, region, sex)
    np.testing.assert_array_equal(dosage, want)
    np.testing.assert_array_equal(counts, want_counts)
    assert counts.sum() > 0


def test_apply_ploidy__documented_rules():
    """Samples: male, female, unknown. X non-PAR: only the male het goes; Y: every female call
    and every het; MT: every het."""
    dosage = np.array([[1, 1, 1], [2, 0, 1], [1, 1, 2]], dtype=np.int8)
    region = np.array([REGION_X, REGION_Y, REGION_MT], dtype=np.int8)
    counts = apply_ploidy(dosage, region, np.array([1, 2, 0], np.int8))
    assert dosage.tolist() == [[MISSING, 1, 1], [2, MISSING, MISSING], [MISSING, MISSING, 2]]
    assert counts.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 2]]


def naive_parse_gt_text(records: list[str], n_samples: int, n_alleles: list[int]):
    """parse_gt_text by regex, one cell at a time: (alleles (first two slots; None where the
    record is malformed), status, cell)."""
    alleles = np.zeros((len(records), n_samples, 2), dtype=np.int16)
    status, where = np.zeros(len(records), np.int64), np.zeros(len(records), np.int64)
    for j, text in enumerate(records):
        cells = text.split("\t")
        bad, high, beyond = [], [], []
        for i, cell in enumerate(cells):
            gt = cell.split(":")[0]
            if not re.fullmatch(r"(\.|[0-9]+)([/|](\.|[0-9]+))*", gt):
                bad.append(i)
                continue
            values = [-1 if a == "." else min(int(a), 32767) for a in re.split(r"[/|]", gt)]
            high += [i] if len(values) > 2 else []
            beyond += [i] if max(values) >= n_alleles[j] else []
            if i < n_samples:
                alleles[j, i] = (values + [-2])[:2]
        for code, found in ((GT_BAD_CELL, bad), (GT_CELL_COUNT, [len(cells)] * (len(cells)
                            != n_samples)), (GT_PLOIDY_ABOVE_2, high), (GT_ALLELE_RANGE, beyond)):
            if found:
                status[j], where[j] = code, found[0]
                break
    return alleles, status, where


def gt_line(cells: str, n_alleles: int) -> str:
    """A record line with ``cells`` as its sample columns and ``n_alleles`` alleles."""
    alt = ",".join(["C"] * (n_alleles - 1)) or "."
    return f"1\t100\t.\tA\t{alt}\t.\tPASS\t.\tGT\t{cells}"


def run_parse_record_lines(lines: list[bytes], n_samples: int):
    """parse_record_lines over ``lines`` joined by newlines: (alleles, facts)."""
    lengths = np.array([len(line) for line in lines], dtype=np.int64)
    ends = np.cumsum(lengths + 1) - 1
    alleles = np.full((len(lines), n_samples, 2), 99, dtype=np.int16)
    facts = parse_record_lines(np.frombuffer(b"\n".join(lines), dtype=np.uint8),
                               ends - lengths, ends, alleles)
    return alleles, facts


def run_parse_gt_text(records: list[str], n_samples: int, n_alleles: list[int]):
    lines = [gt_line(r, k).encode() for r, k in zip(records, n_alleles, strict=True)]
    alleles, facts = run_parse_record_lines(lines, n_samples)
    return alleles, facts[:, LINE_STATUS], facts[:, LINE_CELL]


def assert_parse_matches_naive(records, n_samples, n_alleles):
    got, got_status, got_cell = run_parse_gt_text(records, n_samples, n_alleles)
    want, want_status, want_cell = naive_parse_gt_text(records, n_samples, n_alleles)
    np.testing.assert_array_equal(got_status, want_status)
    np.testing.assert_array_equal(got_cell, want_cell)
    usable = np.isin(want_status, (GT_OK, GT_PLOIDY_ABOVE_2, GT_ALLELE_RANGE))
    np.testing.assert_array_equal(got[usable], want[usable])


ALLELE = st.one_of(st.sampled_from(["0", "1", "2", "."]), st.integers(0, 40000).map(str))
CELL = st.one_of(
    st.builds(lambda a, rest, extra: a + "".join(rest) + extra, ALLELE,
              st.lists(st.tuples(st.sampled_from("/|"), ALLELE).map("".join), max_size=3),
              st.sampled_from(["", ":7", ":.:1,2"])),
    st.text(alphabet="01./|:x", max_size=5),
)


@settings(deadline=None, max_examples=300)
@given(st.lists(st.lists(CELL, min_size=1, max_size=4).map("\t".join), min_size=1, max_size=4),
       st.integers(1, 4), st.integers(1, 4))
def test_parse_record_lines__gt_matches_naive_twin(records, n_samples, n_alleles):
    assert_parse_matches_naive(records, n_samples, [n_alleles] * len(records))


def test_parse_record_lines__gt_matches_naive_twin_on_large_random_records():
    rng = np.random.default_rng(11)
    cells = np.array(["0/0", "0|1", "1/1", "./.", "1", ".", "./1", "2/0", "10/1", "0/1:5"])
    records = ["\t".join(row) for row in cells[rng.integers(0, len(cells), (300, 257))]]
    assert_parse_matches_naive(records, 257, [11] * 300)


@pytest.mark.parametrize(
    ("text", "n_alleles", "status", "cell", "alleles"),
    [("0/1\t1|1\t.\t./1:5", 2, GT_OK, 0, [[0, 1], [1, 1], [-1, -2], [-1, 1]]),
     ("12/3\t0\t1|.\t.|.", 13, GT_OK, 0, [[12, 3], [0, -2], [1, -1], [-1, -1]]),
     ("0/0\t1//\t0/1\t0", 2, GT_BAD_CELL, 1, None),
     ("0/0\t\t0/1\t0", 2, GT_BAD_CELL, 1, None),
     ("0.\t1\t1\t1", 2, GT_BAD_CELL, 0, None),
     ("0/0\t0/1\t1", 2, GT_CELL_COUNT, 3, None),
     ("0/0\t0/1\t1\t1\t1", 2, GT_CELL_COUNT, 5, None),
     ("0/0\t0/1/1\t1/1\t0/5", 2, GT_PLOIDY_ABOVE_2, 1, None),
     ("0/0\t0/1\t1/1\t0/2", 2, GT_ALLELE_RANGE, 3, None),
     ("99999\t0\t0\t0", 2, GT_ALLELE_RANGE, 0, None)],
)
def test_parse_record_lines__documented_gt_cases(text, n_alleles, status, cell, alleles):
    got, got_status, got_cell = run_parse_gt_text([text], 4, [n_alleles])
    assert (int(got_status[0]), int(got_cell[0])) == (status, cell)
    if alleles is not None:
        assert got[0].tolist() == alleles


def naive_line_facts(line: bytes, n_samples: int) -> tuple[list[int], np.ndarray | None]:
    """parse_record_lines' facts of one line by splitting it (status and cell of the GT cells
    from naive_parse_gt_text), and the alleles where they are defined, else None."""
    fields = line.split(b"\t")
    if len(fields) < 10:
        return [-1, -1, -1, LINE_MALFORMED, 0], None
    first, alt_end = len(b"\t".join(fields[:9])) + 1, len(b"\t".join(fields[:5]))
    text = fields[1]
    pos = int(text) if text.isdigit() and 0 <= int(text) < 2**31 else -1
    keys = fields[8].split(b":")
    if not line[:first].isascii() or pos < 0 or b"GT" in keys[1:] and keys[0] != b"GT":
        return [first, alt_end, pos, LINE_MALFORMED, 0], None
    if keys[0] != b"GT":
        cells = len(fields) - 9
        return [first, alt_end, pos, LINE_NO_GT if cells == n_samples else LINE_MALFORMED,
                cells], None
    n_alleles = 1 if fields[4] == b"." else 2 + fields[4].count(b",")
    cells = b"\t".join(fields[9:]).decode()
    alleles, status, cell = naive_parse_gt_text([cells], n_samples, [n_alleles])
    usable = status[0] in (GT_OK, GT_PLOIDY_ABOVE_2, GT_ALLELE_RANGE)
    return [first, alt_end, pos, int(status[0]), int(cell[0])], alleles[0] if usable else None


FIXED_COLUMNS = [
    st.sampled_from(["1", "X", "", "\u00e9"]),
    st.sampled_from(["100", "0100", "0", "-1", "x", "", "2147483647", "2147483648"]),
    st.sampled_from([".", "rs1"]),
    st.sampled_from(["A", "GA"]),
    st.sampled_from([".", "C", "C,G", "", "<DEL>", "C,G,T"]),
    st.sampled_from([".", "50"]),
    st.sampled_from(["PASS", "q10"]),
    st.sampled_from([".", "DP=3", "N=\u00e9"]),
    st.sampled_from(["GT", "GT:DP", "DP", "DP:GT", "GTX", "GT:GT", "", "XGT:DP"]),
]


@settings(deadline=None, max_examples=300)
@given(st.tuples(*FIXED_COLUMNS), st.lists(CELL, min_size=0, max_size=4), st.integers(0, 12),
       st.integers(1, 4))
def test_parse_record_lines__facts_match_naive_twin(fixed, cells, n_columns, n_samples):
    """Fixed columns (POS, ALT count, FORMAT, non-ASCII bytes), cut to ``n_columns`` columns."""
    fields = [*fixed, *cells]
    line = "\t".join(fields[:max(n_columns, 1)]).encode()
    alleles, facts = run_parse_record_lines([line], n_samples)
    want_facts, want_alleles = naive_line_facts(line, n_samples)
    assert facts[0].tolist() == want_facts
    if want_alleles is not None:
        np.testing.assert_array_equal(alleles[0], want_alleles)


def test_parse_record_lines__documented_facts():
    lines = [b"1\t0100\trs1\tA\tC,G\t.\tPASS\t.\tGT:DP\t0/1:3\t2|2",
             b"1\t200\t.\tA\t.\t.\tPASS\t.\tDP\t3\t4",
             b"1\t300\t.\tA\tC\t.\tPASS\t.\tDP:GT\t3:0\t4:1",
             b"1\t400\t.\tA\tC\t.\tPASS",
             b"1\t2147483648\t.\tA\tC\t.\tPASS\t.\tGT\t0\t1"]
    want = [[32, 16, 100, GT_OK, 0], [24, 11, 200, LINE_NO_GT, 2], [27, 11, 300, LINE_MALFORMED, 0],
            [-1, -1, -1, LINE_MALFORMED, 0], [31, 18, -1, LINE_MALFORMED, 0]]
    columns = [LINE_FIRST_SAMPLE, LINE_ALT_END, LINE_POS, LINE_STATUS, LINE_CELL]
    for line, expected in zip(lines, want, strict=True):
        _, facts = run_parse_record_lines([line], 2)
        assert facts[0, columns].tolist() == expected
    assert run_parse_record_lines(lines[:1], 2)[0][0].tolist() == [[0, 1], [2, 2]]
