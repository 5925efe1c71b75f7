"""Tests for the family-rich cohort simulator (simulate.simulate_family_cohort): relatives'
kinship against the repository's KING-robust kernel, Mendelian transmission, prevalence,
familial aggregation and fine-scale structure."""

import numpy as np
import pytest

from cohortgen.errors import InputError
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.relatedness import king_counts, king_kinship
from cohortgen.simulate import simulate_family_cohort

SMALL = {"n_samples": 600, "n_variants": 8_000, "n_chromosomes": 4, "n_causal": 100,
         "family_fraction": 0.3, "cousin_fraction": 0.06}


@pytest.fixture(scope="module")
def cohort():
    """600 samples × 8,000 unlinked variants on 4 chromosomes, seed 3."""
    return simulate_family_cohort(3, **SMALL)


@pytest.fixture(scope="module")
def king(cohort) -> np.ndarray:
    """KING-robust kinship (n, n) of the simulated genotypes, from the repository kernel."""
    n = cohort.genotypes.shape[1]
    return king_kinship(*king_counts(pack_dosages(cohort.genotypes), n))


def test_simulate_family_cohort__deterministic():
    a = simulate_family_cohort(5, n_samples=200, n_variants=1_000, n_causal=20)
    b = simulate_family_cohort(5, n_samples=200, n_variants=1_000, n_causal=20)
    assert np.array_equal(a.genotypes, b.genotypes)
    assert np.array_equal(a.status, b.status)
    assert a.pairs == b.pairs


def test_simulate_family_cohort__family_share(cohort):
    """At least 20% of the samples are in nuclear families (a written parent or child)."""
    has_parent = (cohort.father >= 0) | (cohort.mother >= 0)
    is_parent = np.isin(np.arange(has_parent.size), np.r_[cohort.father, cohort.mother])
    assert np.mean(has_parent | is_parent) >= 0.2
    kinds = {relationship for *_, relationship in cohort.pairs}
    assert kinds == {"parent_offspring", "full_siblings", "first_cousins"}


def test_simulate_family_cohort__kinship_matches_king(cohort, king):
    """Per relationship the mean KING-robust kinship is within 0.01 of its expectation; every
    parent-offspring pair within 0.03 and other pairs within 0.08 (their realised kinship varies
    with the crossovers: SD about 0.02 over 35 Morgans); unrelated pairs stay below KING's
    3rd-degree bound."""
    i, j, expected = (np.array(c) for c in list(zip(*cohort.pairs, strict=True))[:3])
    relationship = np.array([r for *_, r in cohort.pairs])
    for kind in np.unique(relationship):
        rows = relationship == kind
        diff = king[i[rows], j[rows]] - expected[rows]
        assert abs(diff.mean()) < 0.01, (kind, diff.mean())
        assert np.abs(diff).max() < (0.03 if kind == "parent_offspring" else 0.08), kind
    related = np.zeros_like(king, dtype=bool)
    related[i, j] = related[j, i] = True
    upper = np.triu(~related, k=1)
    assert king[upper].max() < 0.0442  # below KING's 3rd-degree threshold


def test_simulate_family_cohort__mendelian(cohort):
    """Every written child's dosage can come from its written parents' dosages."""
    g = cohort.genotypes.astype(np.int64)
    trios = np.flatnonzero((cohort.father >= 0) & (cohort.mother >= 0))
    assert trios.size > 0
    dad, mum, child = g[:, cohort.father[trios]], g[:, cohort.mother[trios]], g[:, trios]
    low = (dad == 2).astype(np.int64) + (mum == 2)
    high = (dad >= 1).astype(np.int64) + (mum >= 1)
    assert np.all((child >= low) & (child <= high))
    assert np.mean(child == 1) > 0.2  # not a degenerate copy


def test_simulate_family_cohort__prevalence_and_aggregation(cohort):
    """Prevalence exact to one sample; siblings of cases are cases more often than the
    population (recurrence ratio > 1.5 at 4%)."""
    n = cohort.status.shape[0]
    assert np.allclose(cohort.status.mean(axis=0), cohort.prevalence, atol=1.0 / n)
    sibs = [(a, b) for a, b, _, kind in cohort.pairs if kind == "full_siblings"]
    a, b = (np.array(c) for c in zip(*sibs, strict=True))
    y = cohort.status[:, 0]
    both = np.r_[y[a] * y[b], y[a] * y[b]].sum()
    recurrence = both / np.r_[y[a], y[b]].sum()
    assert recurrence / cohort.prevalence[0] > 1.5


def test_simulate_family_cohort__fine_scale_structure(cohort):
    """Hudson-style Fst among the subpopulations' founders-and-descendants is near the
    simulated 0.005 (within a factor 2) and well below between-continent values."""
    freq = np.stack([cohort.genotypes[:, cohort.subpop == k].mean(axis=1) / 2
                     for k in np.unique(cohort.subpop)])
    sizes = np.bincount(cohort.subpop)
    p = freq.mean(axis=0)
    between = freq.var(axis=0) - np.mean(freq * (1 - freq) / (2 * sizes[:, None] - 1), axis=0)
    fst = between.sum() / (p * (1 - p)).sum()
    assert 0.0025 < fst < 0.01


def test_simulate_family_cohort__too_many_families():
    with pytest.raises(InputError, match="family_fraction"):
        simulate_family_cohort(1, n_samples=100, n_variants=500, n_causal=10,
                               family_fraction=0.9, cousin_fraction=0.2)
