"""X inheritance in the simulator: a child's first X from the mother (a recombinant of her two),
the second from the father (his single X, unrecombined outside PAR), and women's chrX
heterozygosity as their allele frequencies predict."""

from pathlib import Path

import cyvcf2
import numpy as np

from cohortgen.simulate import PAR1, plan_cohort, simulate_cohort, written_haplotypes, x_parents


def labelled_haplotypes(n_sites: int, n_individuals: int) -> np.ndarray:
    """int8 (n_sites, 2 n_individuals): every simulated haplotype holds its own column number, so
    a written haplotype shows where each site was copied from."""
    return np.tile(np.arange(2 * n_individuals, dtype=np.int8), (n_sites, 1))


def test_written_haplotypes__x_one_haplotype_from_each_parent():
    rng = np.random.default_rng(4)
    plan = plan_cohort(rng, 50, 3, 0)  # parent-offspring, full and half siblings
    n_individuals = sum(plan.n_per_population)
    assert 2 * n_individuals < 128
    length = 4_000_000
    positions = np.sort(rng.choice(length, size=400, replace=False))
    non_par = positions + 1 > PAR1[1]
    written_parent = next(c for c in plan.children if c.parent1 in plan.sim_index)
    for father_is_written in (False, True):
        male = np.zeros(50, dtype=bool)
        male[np.flatnonzero(plan.sim_index == written_parent.parent1)] = father_is_written
        haplotypes, _ = written_haplotypes(rng, plan, labelled_haplotypes(400, n_individuals),
                                           positions, length, male)
        for child in plan.children:
            mother, father = x_parents(plan, child, male)
            assert {mother, father} == {child.parent1, child.parent2}
            first, second = haplotypes[:, 2 * child.sample], haplotypes[:, 2 * child.sample + 1]
            assert np.isin(first, [2 * mother, 2 * mother + 1]).all()
            assert (second[non_par] == 2 * father).all()  # the father's single X
            assert np.isin(second[~non_par], [2 * father, 2 * father + 1]).all()
        mother, father = x_parents(plan, written_parent, male)
        assert (father == written_parent.parent1) == father_is_written


def test_simulate_cohort__women_chrx_heterozygosity_as_expected(tmp_path: Path):
    """The reported case (seed 5, 200 samples, x_mb 4): S00009, a daughter, had two identical
    non-PAR X (her parents' transmitted X were identical by descent there, one of them her
    father's recombined "X" pair). Women's non-PAR het rate: near 2p(1-p) on average, none 0."""
    summary = simulate_cohort(tmp_path, n_samples=200, n_chromosomes=1, chromosome_mb=1.0,
                              seed=5, x_mb=4.0)
    reader = cyvcf2.VCF(summary["vcf"])
    samples = reader.samples
    rows = []
    for record in reader:
        if record.CHROM == "X" and record.POS > PAR1[1]:
            rows.append(record.genotype.array()[:, :2])
    reader.close()
    genotypes = np.stack(rows)  # (m, n, 2); -2 pads a haploid call, -1 missing
    female = (genotypes[:, :, 1] != -2).all(axis=0)
    calls = genotypes[:, female]
    called = (calls >= 0).all(axis=2)
    het = called & (calls[:, :, 0] != calls[:, :, 1])
    p = np.where(called, calls.sum(axis=2), 0).sum(axis=1) / (2 * called.sum(axis=1))
    expected = (2 * p * (1 - p))[:, None] * called
    per_woman = het.sum(axis=0) / expected.sum(axis=0)
    assert female.sum() > 80
    assert 0.9 < het.sum() / expected.sum() < 1.1
    assert per_woman.min() > 0.5, dict(zip(np.array(samples)[female], per_woman, strict=True))
    assert het[:, list(np.array(samples)[female]).index("S00009")].sum() > 0
