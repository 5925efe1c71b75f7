"""chrX HWE (Graffelman-Weir) mid-p against exact enumeration and PLINK 2 ``--hardy midp``.

PLINK 2 prints MIDP with 6 significant digits: ours must round to the printed value, i.e. lie
within half a unit of its sixth digit (at most 5e-6 relative).
"""

import math
import subprocess
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.hwe import hwe_exact_midp
from cohortgen.kernels.hwe_x import hwe_x_midp


def naive_x_table_probs(n_f: int, n_m: int, n1: int) -> dict[tuple[int, int], Fraction]:
    """P(het, m1) of every table with n_f females, n_m males and n1 copies of allele 1, exactly:
    n1! n2! n_f! n_m! 2^het / (hom1! het! hom2! m1! m2! N!) (Graffelman & Weir 2016, eq. 4)."""
    f = math.factorial
    n_total = 2 * n_f + n_m
    n2 = n_total - n1
    probs = {}
    for m1 in range(max(0, n1 - 2 * n_f), min(n_m, n1) + 1):
        a1 = n1 - m1
        for het in range(a1 % 2, min(a1, 2 * n_f - a1) + 1, 2):
            hom1, hom2 = (a1 - het) // 2, n_f - het - (a1 - het) // 2
            probs[het, m1] = Fraction(
                f(n1) * f(n2) * f(n_f) * f(n_m) * 2**het,
                f(hom1) * f(het) * f(hom2) * f(m1) * f(n_m - m1) * f(n_total))
    return probs


def naive_x_midp(het: int, hom1: int, hom2: int, m1: int, m2: int) -> float:
    """Mid-p by definition: the strictly less likely mass plus half the ties, exactly."""
    n_f = het + hom1 + hom2
    n1 = het + 2 * hom1 + m1
    probs = naive_x_table_probs(n_f, m1 + m2, n1)
    observed = probs[het, m1]
    less = sum((p for p in probs.values() if p < observed), Fraction(0))
    tie = sum((p for p in probs.values() if p == observed), Fraction(0))
    return float(less + tie / 2)


def test_naive_x_table_probs__sum_to_one():
    for n_f, n_m, n1 in [(3, 2, 4), (5, 7, 6), (1, 4, 3), (6, 0, 5)]:
        assert sum(naive_x_table_probs(n_f, n_m, n1).values()) == 1


def test_hwe_x_midp__matches_exact_enumeration_on_small_counts():
    cases = np.array([(het, hom1, hom2, m1, m2)
                      for het in range(0, 5) for hom1 in range(0, 4) for hom2 in range(0, 4)
                      for m1 in range(0, 4) for m2 in range(0, 4)], dtype=np.int64)
    got = hwe_x_midp(*cases.T)
    want = np.array([naive_x_midp(*map(int, c)) for c in cases])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_hwe_x_midp__matches_exact_enumeration_on_larger_counts():
    rng = np.random.default_rng(5)
    cases = rng.integers(0, 30, size=(40, 5)).astype(np.int64)
    cases[:5, 3:] = [[20, 20], [0, 25], [30, 0], [7, 7], [1, 29]]
    got = hwe_x_midp(*cases.T)
    want = np.array([naive_x_midp(*map(int, c)) for c in cases])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)


def test_hwe_x_midp__near_the_underflow_floor():
    cases = np.array([(0, 490, 490, 1, 1), (0, 500, 500, 2, 0)], dtype=np.int64)
    got = hwe_x_midp(*cases.T)
    want = [naive_x_midp(*map(int, c)) for c in cases]
    assert 1e-300 < want[0] < 1e-290
    np.testing.assert_allclose(got[0], want[0], rtol=1e-9)
    assert want[1] < 1e-300
    assert got[1] == 0.0  # observed table below 1e-300: reported as 0


def test_hwe_x_midp__without_males_is_the_autosomal_test():
    rng = np.random.default_rng(2)
    het, hom1, hom2 = rng.integers(0, 400, size=(3, 50))
    zeros = np.zeros(50, dtype=np.int64)
    np.testing.assert_allclose(hwe_x_midp(het, hom1, hom2, zeros, zeros),
                               hwe_exact_midp(het, hom1, hom2), rtol=1e-10)


def test_hwe_x_midp__rejects_bad_counts():
    with pytest.raises(ValueError, match="non-negative"):
        hwe_x_midp(*[np.array([1, -1])] * 5)
    with pytest.raises(ValueError, match="same length"):
        hwe_x_midp(np.ones(2), np.ones(2), np.ones(2), np.ones(2), np.ones(3))


def simulated_x_fileset(path, n_samples: int, n_variants: int, seed: int):
    """Non-PAR chrX PLINK fileset: sheet sex in the .fam (a few unknown), males hemizygous
    (0/2), a quarter of the variants off HWE (female het deficit) or with a sex difference in
    allele frequency, 1% missing calls. Returns the female/male count arrays."""
    rng = np.random.default_rng(seed)
    sex = rng.choice([1, 2], size=n_samples)
    sex[:3] = 0
    freq = rng.uniform(0.02, 0.5, size=(n_variants, 1))
    dosage = ((rng.random((n_variants, n_samples)) < freq).astype(np.int8)
              + (rng.random((n_variants, n_samples)) < freq))
    inbred = rng.random(n_variants) < 0.25
    hom = rng.random((n_variants, n_samples)) < freq
    dosage[inbred] = np.where(rng.random((inbred.sum(), n_samples)) < 0.3, 2 * hom[inbred],
                              dosage[inbred])
    male_freq = np.where(rng.random((n_variants, 1)) < 0.25, freq * 1.5, freq)
    males = sex == 1
    dosage[:, males] = 2 * (rng.random((n_variants, males.sum())) < male_freq)
    dosage[rng.random(dosage.shape) < 0.01] = MISSING
    bim = pd.DataFrame({"chrom": "X", "id": [f"x{k}" for k in range(n_variants)], "cm": 0.0,
                        "pos": 3_000_000 + 100 * np.arange(n_variants), "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": [f"S{k}" for k in range(n_samples)],
                        "iid": [f"S{k}" for k in range(n_samples)], "father": "0",
                        "mother": "0", "sex": sex, "pheno": "-9"})
    write_bed(path, pack_dosages(dosage), bim, fam)
    female = dosage[:, sex == 2]
    male = dosage[:, males]
    return ((female == 1).sum(1), (female == 2).sum(1), (female == 0).sum(1),
            (male == 2).sum(1), (male == 0).sum(1))


@pytest.mark.reference
def test_hwe_x_midp__matches_plink2_hardy_x(plink2, tmp_path):
    counts = simulated_x_fileset(tmp_path / "x", n_samples=3000, n_variants=300, seed=4)
    subprocess.run([plink2, "--bfile", tmp_path / "x", "--hardy", "midp", "--threads", "1",
                    "--out", tmp_path / "x"], check=True, capture_output=True)
    ref = pd.read_csv(tmp_path / "x.hardy.x", sep="\t")
    het, hom_alt, hom_ref, male_alt, male_ref = counts
    np.testing.assert_array_equal(ref["FEMALE_HET_A1_CT"], het)
    np.testing.assert_array_equal(ref["MALE_A1_CT"], male_ref)
    got = hwe_x_midp(het, hom_alt, hom_ref, male_alt, male_ref)
    want = ref["MIDP"].to_numpy()
    half_last_digit = 0.5 * 10.0 ** (np.floor(np.log10(want)) - 5)
    assert np.all(np.abs(got - want) <= half_last_digit * (1 + 1e-9))
    assert (got < 1e-6).sum() > 20  # the off-HWE variants are tested too
