"""Counts of cohortgen.kernels.stats against NumPy twins on unpacked dosages."""

import numba
import numpy as np
import pytest

from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.stats import (
    PASS_TASKS,
    fisher_exact_2x2,
    genotype_counts,
    sample_missing_counts,
    variant_sample_counts,
)


def masked_pass(packed: np.ndarray, n_samples: int, variant_mask: np.ndarray):
    """:func:`variant_sample_counts` with one group: the variants where ``variant_mask``."""
    return variant_sample_counts(packed, n_samples, np.where(variant_mask, 0, -1), 1)


def sample_het_counts(packed: np.ndarray, n_samples: int, variant_mask: np.ndarray) -> np.ndarray:
    """Heterozygous calls per sample over the variants where ``variant_mask`` is True.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)); variant_mask: bool, (n_variants,).
    Returns int64, shape (n_samples,).
    """
    return masked_pass(packed, n_samples, variant_mask).het[0]


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


def naive_sample_counts(dosage, group, n_groups, weight):
    """(missing, het, weighted missing) per group and sample, one group at a time."""
    missing, het, weighted = (np.zeros((n_groups, dosage.shape[1])) for _ in range(3))
    for g in range(n_groups):
        rows = dosage[group == g]
        missing[g] = (rows == MISSING).sum(axis=0)
        het[g] = (rows == 1).sum(axis=0)
        weighted[g] = ((rows == MISSING) * weight[group == g, None]).sum(axis=0)
    return missing, het, weighted


@pytest.mark.parametrize("n_samples", [1, 5, 32, 33, 131])
def test_variant_sample_counts__naive_twin(n_samples):
    """Enough variants per task and group (> 255) to pass through every counter spill."""
    rng = np.random.default_rng(n_samples + 7)
    m = PASS_TASKS * 300
    dosage = random_dosages(rng, m, n_samples)
    group = rng.choice([-1, 0, 1], size=m, p=[0.03, 0.95, 0.02])
    weight = rng.random(m)
    got = variant_sample_counts(pack_dosages(dosage), n_samples, group, 2, weight)
    np.testing.assert_array_equal(got.variant,
                                  naive_genotype_counts(dosage, np.ones(n_samples, dtype=bool)))
    missing, het, weighted = naive_sample_counts(dosage, group, 2, weight)
    assert got.missing.dtype == got.het.dtype == np.int64
    np.testing.assert_array_equal(got.missing, missing)
    np.testing.assert_array_equal(got.het, het)
    np.testing.assert_allclose(got.missing_weight, weighted, rtol=1e-12)


def test_variant_sample_counts__without_weights_gives_zero_weight_sums():
    dosage = random_dosages(np.random.default_rng(8), 40, 9)
    got = variant_sample_counts(pack_dosages(dosage), 9, np.zeros(40, dtype=np.int64), 1)
    np.testing.assert_array_equal(got.missing_weight, np.zeros((1, 9)))


def test_variant_sample_counts__same_for_any_thread_count():
    rng = np.random.default_rng(9)
    dosage = random_dosages(rng, 700, 301)
    args = (pack_dosages(dosage), 301, rng.integers(-1, 2, size=700), 2, rng.random(700))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = variant_sample_counts(*args)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, variant_sample_counts(*args), strict=True):
        np.testing.assert_array_equal(a, b)


def test_variant_sample_counts__rejects_group_out_of_range():
    with pytest.raises(ValueError, match="variant_group"):
        variant_sample_counts(np.zeros((2, 1), dtype=np.uint8), 3, np.array([0, 2]), 2)


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
