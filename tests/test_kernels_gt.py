"""GT decoding (allele indices -> ALT dosage, half-call modes, split multi-allelics) and sex-aware
ploidy against naive pure-Python twins."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cohortgen.kernels.gt import (
    HALF_CALL_MODES,
    HALF_HAPLOID,
    HALF_MISSING,
    HALF_REFERENCE,
    MISSING,
    REGION_DIPLOID,
    REGION_MT,
    REGION_X,
    REGION_Y,
    apply_ploidy,
    check_gt_text,
    decode_biallelic,
    decode_calls,
)


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


def naive_check_gt_text(text: str) -> tuple[int, int]:
    """check_gt_text by regex, one cell at a time."""
    offset = 0
    cells = text.split("\t")
    for number, cell in enumerate(cells, start=1):
        if not re.fullmatch(r"(\.|[0-9]+)([/|](\.|[0-9]+))*", cell):
            return number, offset
        offset += len(cell) + 1
    return len(cells), -1


@settings(deadline=None, max_examples=300)
@given(st.text(alphabet="01./|\t2x", max_size=24))
def test_check_gt_text__matches_naive_twin(text):
    got = check_gt_text(np.frombuffer(text.encode(), dtype=np.uint8))
    assert tuple(int(v) for v in got) == naive_check_gt_text(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0/0\t1|12\t.\t./.", (4, -1)), ("0/0\t1//", (2, 4)), ("0/1\t\t1", (2, 4)),
     ("0.\t1", (1, 0)), ("0/1\t", (2, 4))],
)
def test_check_gt_text__documented_cases(text, expected):
    got = check_gt_text(np.frombuffer(text.encode(), dtype=np.uint8))
    assert tuple(int(v) for v in got) == expected
