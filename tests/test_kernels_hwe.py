"""HWE exact tests against exact enumeration of the het-count distribution."""

import math
from fractions import Fraction

import numpy as np
import pytest

from cohortgen.kernels.hwe import hwe_exact_midp, hwe_exact_p


def exact_het_distribution(n: int, n_rare: int) -> dict[int, Fraction]:
    """P(het = h | n genotypes, n_rare copies of one allele) under HWE, as exact fractions.

    Levene/Haldane: P(h) = n! / (h! r_hom! c_hom!) * 2^h * r! c! / (2n)!.
    """
    n_common = 2 * n - n_rare
    weights = {}
    for het in range(n_rare % 2, min(n_rare, n_common) + 1, 2):
        hom_rare = (n_rare - het) // 2
        hom_common = n - het - hom_rare
        weights[het] = (
            math.factorial(n)
            // (math.factorial(het) * math.factorial(hom_rare) * math.factorial(hom_common))
            * 2**het
        )
    total = sum(weights.values())
    return {het: Fraction(weight, total) for het, weight in weights.items()}


def oracle_p(n_het: int, n_hom1: int, n_hom2: int, midp: bool) -> float:
    """p (or mid-p) by definition: strictly less likely mass plus (half) the ties, exactly."""
    n = n_het + n_hom1 + n_hom2
    n_rare = n_het + 2 * min(n_hom1, n_hom2)
    probs = exact_het_distribution(n, n_rare)
    observed = probs[n_het]
    less = sum((p for p in probs.values() if p < observed), Fraction(0))
    tie = sum((p for p in probs.values() if p == observed), Fraction(0))
    return float(less + (tie / 2 if midp else tie))


def small_cases():
    return [
        (het, hom1, hom2)
        for het in range(0, 13)
        for hom1 in range(0, 11)
        for hom2 in range(0, 11)
        if het + hom1 + hom2 <= 24
    ]


@pytest.mark.parametrize("midp", [True, False])
def test_hwe_exact_midp__exact_enumeration(midp):
    cases = np.array(small_cases(), dtype=np.int64)
    function = hwe_exact_midp if midp else hwe_exact_p
    got = function(cases[:, 0], cases[:, 1], cases[:, 2])
    expected = np.array([oracle_p(*map(int, case), midp) for case in cases])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_hwe_exact_midp__medium_n_enumeration():
    cases = [(120, 300, 80), (0, 250, 250), (500, 0, 0), (3, 990, 7), (60, 420, 20)]
    arrays = np.array(cases, dtype=np.int64).T
    got = hwe_exact_midp(*arrays)
    expected = [oracle_p(*case, True) for case in cases]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)


def test_hwe_exact_midp__monomorphic_and_empty_are_one_tied_table():
    """One possible table: p = 1 and mid-p = 1/2 (what ``plink2 --hardy [midp]`` prints)."""
    n_het = np.array([0, 0, 0])
    n_hom1 = np.array([0, 40, 0])
    n_hom2 = np.array([0, 0, 7])
    cases = list(zip(n_het, n_hom1, n_hom2, strict=True))
    np.testing.assert_array_equal(hwe_exact_midp(n_het, n_hom1, n_hom2),
                                  [oracle_p(*c, True) for c in cases])
    np.testing.assert_array_equal(hwe_exact_midp(n_het, n_hom1, n_hom2), [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(hwe_exact_p(n_het, n_hom1, n_hom2), [1.0, 1.0, 1.0])


def test_hwe_exact_midp__symmetric_in_homozygotes():
    rng = np.random.default_rng(3)
    het, hom1, hom2 = rng.integers(0, 400, size=(3, 200))
    np.testing.assert_array_equal(hwe_exact_midp(het, hom1, hom2), hwe_exact_midp(het, hom2, hom1))


def test_hwe_exact_midp__large_n_stable():
    rng = np.random.default_rng(5)
    n = 50_000
    freq = rng.uniform(0.0, 0.5, size=300)
    inbreeding = rng.choice([0.0, 0.0, 0.02, -0.02, 0.5, -0.9], size=300)
    pq = freq * (1 - freq)
    genotype_freqs = np.stack(
        [freq**2 + inbreeding * pq, 2 * pq * (1 - inbreeding), (1 - freq) ** 2 + inbreeding * pq],
        axis=1,
    ).clip(0, None)
    genotype_freqs /= genotype_freqs.sum(axis=1, keepdims=True)
    n_hom1, n_het, n_hom2 = np.array([rng.multinomial(n, row) for row in genotype_freqs]).T
    for function in (hwe_exact_midp, hwe_exact_p):
        got = function(n_het, n_hom1, n_hom2)
        assert np.isfinite(got).all()
        assert ((got >= 0) & (got <= 1)).all()
    assert (hwe_exact_midp(n_het, n_hom1, n_hom2) <= hwe_exact_p(n_het, n_hom1, n_hom2)).all()


def test_hwe_exact_midp__mismatched_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        hwe_exact_midp(np.array([1, 2]), np.array([1]), np.array([1, 2]))
