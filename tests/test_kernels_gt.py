"""decode_biallelic (VCF GT allele indices -> ALT dosage) against a naive pure-Python twin."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cohortgen.kernels.gt import MISSING, decode_biallelic


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
