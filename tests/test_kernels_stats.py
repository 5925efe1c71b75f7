"""Counts of cohortgen.kernels.stats against NumPy twins on unpacked dosages."""

import numpy as np
import pytest

from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.stats import (
    fisher_exact_2x2,
    genotype_counts,
    sample_het_counts,
    sample_missing_counts,
)


def naive_genotype_counts(dosage, sample_mask):
    kept = dosage[:, sample_mask]
    return np.stack([(kept == value).sum(axis=1) for value in (2, 1, 0, MISSING)], axis=1)


def random_dosages(rng, n_variants, n_samples):
    dosage = rng.integers(0, 3, size=(n_variants, n_samples)).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.15] = MISSING
    return dosage


@pytest.mark.parametrize("n_samples", [1, 3, 4, 5, 17, 1027])
@pytest.mark.parametrize("mask_kind", ["all", "none", "random", "blocks"])
def test_genotype_counts__naive_twin(n_samples, mask_kind):
    rng = np.random.default_rng(n_samples)
    dosage = random_dosages(rng, 13, n_samples)
    mask = {
        "all": np.ones(n_samples, dtype=bool),
        "none": np.zeros(n_samples, dtype=bool),
        "random": rng.random(n_samples) < 0.6,
        "blocks": (np.arange(n_samples) // 8) % 2 == 0,
    }[mask_kind]
    got = genotype_counts(pack_dosages(dosage), n_samples, mask)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, naive_genotype_counts(dosage, mask))


@pytest.mark.parametrize("n_samples", [1, 6, 4 * 256 + 3, 4 * 600 + 1])
def test_sample_missing_counts__naive_twin(n_samples):
    rng = np.random.default_rng(n_samples)
    dosage = random_dosages(rng, 31, n_samples)
    mask = rng.random(31) < 0.7
    got = sample_missing_counts(pack_dosages(dosage), n_samples, mask)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, (dosage[mask] == MISSING).sum(axis=0))


@pytest.mark.parametrize("n_samples", [1, 6, 4 * 256 + 3, 4 * 600 + 1])
def test_sample_het_counts__naive_twin(n_samples):
    rng = np.random.default_rng(n_samples + 1)
    dosage = random_dosages(rng, 31, n_samples)
    mask = rng.random(31) < 0.7
    got = sample_het_counts(pack_dosages(dosage), n_samples, mask)
    np.testing.assert_array_equal(got, (dosage[mask] == 1).sum(axis=0))


def test_sample_missing_counts__no_variants_selected():
    dosage = np.full((3, 5), MISSING, dtype=np.int8)
    got = sample_missing_counts(pack_dosages(dosage), 5, np.zeros(3, dtype=bool))
    np.testing.assert_array_equal(got, np.zeros(5, dtype=np.int64))


def test_genotype_counts__wrong_mask_length_raises():
    with pytest.raises(ValueError, match="sample_mask"):
        genotype_counts(np.zeros((1, 2), dtype=np.uint8), 5, np.ones(4, dtype=bool))


def test_fisher_exact_2x2__matches_scipy():
    from scipy.stats import fisher_exact

    rng = np.random.default_rng(5)
    cells = rng.integers(0, 40, size=(4, 300))
    cells[:, :20] = rng.integers(0, 3, size=(4, 20))  # sparse tables and empty margins
    cells[0, 20:40] += 200  # very small p
    got = fisher_exact_2x2(*cells)
    want = [fisher_exact([[a, b], [c, d]]).pvalue for a, b, c, d in cells.T]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


def test_fisher_exact_2x2__negative_count_raises():
    with pytest.raises(ValueError, match="non-negative"):
        fisher_exact_2x2(np.array([-1]), np.array([1]), np.array([1]), np.array([1]))
