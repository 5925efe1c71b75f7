"""Heterozygosity F kernels: naive NumPy twin, PLINK 2 ``--het`` and plink1.9 ``--check-sex``.

PLINK 2 (2.00a3.5) prints E(HOM) and F with 6 significant digits, so E(HOM) (< 1,000 here) is
compared to within 5e-4 and F to within 5e-6 relative (+1e-7 absolute); O(HOM) and OBS_CT are
exact. plink1.9 ``--check-sex`` prints F with 4 significant digits (allowance 5e-5 absolute for
|F| < 1).
"""

import subprocess

import numba
import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.heterozygosity import alt_freq, het_f


def naive_alt_freq(dosage, sample_mask):
    sub = dosage[:, sample_mask].astype(np.float64)
    called = sub != MISSING
    return np.where(called, sub, 0).sum(axis=1) / (2 * called.sum(axis=1))


def naive_het_f(dosage, variant_mask, freq, allele_ct=None):
    """Twin of het_f on int8 (m, n) dosages, one sample at a time."""
    use = variant_mask & (freq > 0) & (freq < 1)
    expected_het = 2 * freq * (1 - freq)
    if allele_ct is not None:
        expected_het = expected_het * allele_ct / (allele_ct - 1.0)
    n = dosage.shape[1]
    o_hom, e_hom, n_nm = np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64)
    for s in range(n):
        called = use & (dosage[:, s] != MISSING)
        o_hom[s] = np.sum(called & (dosage[:, s] != 1))
        e_hom[s] = np.sum(1 - expected_het[called])
        n_nm[s] = called.sum()
    return o_hom, e_hom, n_nm, (o_hom - e_hom) / (n_nm - e_hom)


def random_dosages(rng, n_variants, n_samples, missing_rate=0.05):
    freq = rng.uniform(0.02, 0.5, size=(n_variants, 1))
    dosage = (rng.random((n_variants, n_samples)) < freq).astype(np.int8)
    dosage += rng.random((n_variants, n_samples)) < freq
    dosage[rng.random(dosage.shape) < missing_rate] = MISSING
    dosage[0] = 0  # monomorphic: skipped
    dosage[1] = 2  # monomorphic ALT: skipped
    return dosage


def test_alt_freq__matches_naive_twin():
    dosage = random_dosages(np.random.default_rng(1), 300, 41)
    mask = np.arange(41) % 3 != 0
    np.testing.assert_allclose(
        alt_freq(pack_dosages(dosage), 41, mask), naive_alt_freq(dosage, mask), rtol=1e-15
    )


@pytest.mark.parametrize("small_sample", [False, True])
def test_het_f__matches_naive_twin(small_sample):
    rng = np.random.default_rng(2)
    dosage = random_dosages(rng, 500, 43)
    packed = pack_dosages(dosage)
    variant_mask = rng.random(500) < 0.8
    freq = naive_alt_freq(dosage, np.ones(43, dtype=bool))
    allele_ct = 2 * np.sum(dosage != MISSING, axis=1) if small_sample else None
    got = het_f(packed, 43, variant_mask, freq, allele_ct=allele_ct)
    want = naive_het_f(dosage, variant_mask, freq, allele_ct)
    # Counts exact; sums differ from NumPy's pairwise sum by rounding only.
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[2], want[2])
    assert got[0].dtype == np.int64
    assert got[2].dtype == np.int64
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    np.testing.assert_allclose(got[3], want[3], rtol=0, atol=1e-12)


def test_het_f__same_for_any_thread_count():
    dosage = random_dosages(np.random.default_rng(3), 400, 1001)
    packed = pack_dosages(dosage)
    freq = naive_alt_freq(dosage, np.ones(1001, dtype=bool))
    mask = np.ones(400, dtype=bool)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = het_f(packed, 1001, mask, freq)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, het_f(packed, 1001, mask, freq), strict=True):
        np.testing.assert_array_equal(a, b)


def test_het_f__sample_without_calls_gives_nan():
    dosage = random_dosages(np.random.default_rng(4), 50, 6)
    dosage[:, 2] = MISSING
    freq = naive_alt_freq(dosage, np.ones(6, dtype=bool))
    o_hom, e_hom, n_nm, f = het_f(pack_dosages(dosage), 6, np.ones(50, dtype=bool), freq)
    assert (o_hom[2], e_hom[2], n_nm[2]) == (0, 0.0, 0)
    assert np.isnan(f[2])


def test_het_f__rejects_non_finite_frequency_with_variant():
    dosage = random_dosages(np.random.default_rng(5), 10, 8)
    freq = np.full(10, 0.3)
    freq[7] = np.nan
    with pytest.raises(ValueError, match="variant 7"):
        het_f(pack_dosages(dosage), 8, np.ones(10, dtype=bool), freq)


def test_het_f__rejects_mask_of_wrong_length():
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        het_f(np.zeros((10, 2), np.uint8), 8, np.ones(9, dtype=bool), np.full(10, 0.3))


def write_fileset(prefix, dosage, chrom, sex, father):
    n_variants, n = dosage.shape
    ids = [f"s{k}" for k in range(n)]
    bim = pd.DataFrame(
        {
            "chrom": chrom,
            "id": [f"v{k}" for k in range(n_variants)],
            "cm": 0.0,
            "pos": 3_000_000 + np.arange(n_variants) * 1000,
            "a1": "T",
            "a2": "C",
        }
    )
    fam = pd.DataFrame(
        {"fid": "f", "iid": ids, "father": father, "mother": "0", "sex": sex, "pheno": "-9"}
    )
    write_bed(prefix, pack_dosages(dosage), bim, fam)


@pytest.mark.reference
@pytest.mark.parametrize("small_sample", [False, True])
def test_het_f__matches_plink2_het(plink2, tmp_path, small_sample):
    """Frequencies from founders (PLINK's default), autosomes only, monomorphic skipped."""
    rng = np.random.default_rng(6)
    n, n_variants = 150, 1000
    dosage = random_dosages(rng, n_variants, n)
    chrom = np.where(np.arange(n_variants) < 950, "1", "23")
    founder = np.arange(n) < 110
    father = np.where(founder, "0", "s0")
    write_fileset(tmp_path / "h", dosage, chrom, np.where(np.arange(n) % 2, 1, 2), father)
    modifiers = ["small-sample"] if small_sample else []
    subprocess.run(
        [plink2, "--bfile", str(tmp_path / "h"), "--het", *modifiers, "--out", str(tmp_path / "h")],
        check=True,
        capture_output=True,
    )
    ref = pd.read_csv(tmp_path / "h.het", sep="\t")
    packed = pack_dosages(dosage)
    freq = alt_freq(packed, n, founder)
    allele_ct = 2 * np.sum(dosage[:, founder] != MISSING, axis=1) if small_sample else None
    o_hom, e_hom, n_nm, f = het_f(packed, n, chrom == "1", freq, allele_ct=allele_ct)
    np.testing.assert_array_equal(o_hom, ref["O(HOM)"])
    np.testing.assert_array_equal(n_nm, ref["OBS_CT"])
    np.testing.assert_allclose(e_hom, ref["E(HOM)"], rtol=0, atol=5e-4)
    np.testing.assert_allclose(f, ref["F"], rtol=5e-6, atol=1e-7)


@pytest.mark.reference
def test_het_f__on_chrx_matches_plink19_check_sex(plink19, tmp_path):
    """The sex check's F is het_f on non-PAR chrX, with ALT frequencies that count each male
    once (hemizygous) and each female twice, no n/(n-1) factor."""
    rng = np.random.default_rng(7)
    n, n_variants = 120, 600
    male = np.arange(n) % 2 == 0
    dosage = random_dosages(rng, n_variants, n, missing_rate=0.02)
    male_het = (dosage == 1) & male[None, :]
    dosage[male_het] = 2 * (rng.random(male_het.sum()) < 0.5)  # males hemizygous
    write_fileset(tmp_path / "x", dosage, "23", np.where(male, 1, 2), "0")
    subprocess.run(
        [plink19, "--bfile", str(tmp_path / "x"), "--check-sex", "--out", str(tmp_path / "x")],
        check=True,
        capture_output=True,
    )
    ref = pd.read_csv(tmp_path / "x.sexcheck", sep=r"\s+")
    g = dosage.astype(np.float64)
    female_calls = g[:, ~male]
    male_calls = g[:, male]
    alt = np.where(female_calls >= 0, female_calls, 0).sum(axis=1) + np.sum(male_calls == 2, 1)
    total = 2 * np.sum(female_calls >= 0, axis=1) + np.sum(male_calls >= 0, axis=1)
    *_, f = het_f(pack_dosages(dosage), n, np.ones(n_variants, dtype=bool), alt / total)
    np.testing.assert_allclose(f, ref["F"], rtol=0, atol=5e-5)
