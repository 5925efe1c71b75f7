"""randomized_pca: against an exact SVD of the same standardized matrix, and against PLINK 2.

PLINK 2's default exact ``--pca`` drops missing calls pair by pair instead of mean-imputing
them; ``--pca approx`` and ``--pca meanimpute`` mean-impute, which is the model here. On the
simulated cohort (500 samples, ~4,000 variants, 10 samples with 12-20% missing calls) the
eigenvalues match ``meanimpute``/``approx`` to PLINK's 6 printed digits and every one of the 10
PCs has |r| > 0.9999; the test asserts |r| > 0.99 on PCs 1-2 (the population axes) and
eigenvalues to 1e-4.
"""

import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import slope_and_max_abs_diff

from cohortgen.io.bed import read_bed
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.pca import randomized_pca


def structured_dosages(rng, n_samples=300, n_variants=2000):
    """int8 (m, n): three Balding-Nichols populations (F_ST 0.05), 2% missing calls and a few
    monomorphic variants."""
    ancestral = rng.uniform(0.05, 0.5, size=n_variants)
    f = 0.05
    a = ancestral * (1 - f) / f
    b = (1 - ancestral) * (1 - f) / f
    pop_freq = rng.beta(a[:, None], b[:, None], size=(n_variants, 3))
    pop = rng.integers(0, 3, size=n_samples)
    dosage = rng.binomial(2, pop_freq[:, pop]).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.02] = MISSING
    dosage[:3] = 0
    return dosage


def exact_pca(dosage, k):
    """Top-k GRM eigenvalues / eigenvectors from numpy.linalg.svd of the standardized matrix."""
    called = dosage >= 0
    g = np.where(called, dosage, 0).astype(float)
    p = g.sum(axis=1) / (2 * called.sum(axis=1))
    poly = (p > 0) & (p < 1)
    x = (g[poly] - 2 * p[poly, None]) / np.sqrt(2 * p[poly, None] * (1 - p[poly, None]))
    x[~called[poly]] = 0.0
    u, s, _ = np.linalg.svd(x.T, full_matrices=False)
    return s[:k] ** 2 / poly.sum(), u[:, :k]


def abs_corr(a, b):
    return np.array([abs(np.corrcoef(a[:, i], b[:, i])[0, 1]) for i in range(a.shape[1])])


def test_randomized_pca__matches_exact_svd():
    rng = np.random.default_rng(11)
    dosage = structured_dosages(rng)
    m, n = dosage.shape
    values, scores, loadings = randomized_pca(pack_dosages(dosage), n, n_components=10, seed=5)
    exact_values, exact_scores = exact_pca(dosage, 10)
    assert values.shape == (10,)
    assert scores.shape == (n, 10)
    assert loadings.shape == (m, 10)
    np.testing.assert_allclose(values, exact_values, rtol=1e-3)
    assert (abs_corr(scores, exact_scores) > 0.999).all()
    np.testing.assert_allclose(np.linalg.norm(scores, axis=0), 1.0)
    np.testing.assert_allclose(np.linalg.norm(loadings, axis=0), 1.0)
    assert not loadings[:3].any()  # monomorphic variants


def test_randomized_pca__deterministic_with_fixed_signs():
    rng = np.random.default_rng(2)
    dosage = structured_dosages(rng, n_samples=120, n_variants=600)
    packed = pack_dosages(dosage)
    sample_idx = np.arange(0, 120, 2)
    first = randomized_pca(packed, 120, sample_idx, n_components=4, seed=9, block_variants=97)
    again = randomized_pca(packed, 120, sample_idx, n_components=4, seed=9, block_variants=97)
    other_seed = randomized_pca(packed, 120, sample_idx, n_components=4, seed=10)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    loadings = first[2]
    top = np.abs(loadings).argmax(axis=0)
    assert (loadings[top, np.arange(4)] > 0).all()
    # another seed: same components, same signs
    np.testing.assert_allclose(other_seed[0], first[0], rtol=1e-6)
    np.testing.assert_allclose(other_seed[1], first[1], atol=1e-5)


def test_randomized_pca__rejects_bad_arguments():
    packed = pack_dosages(structured_dosages(np.random.default_rng(0), 20, 50))
    with pytest.raises(ValueError, match="n_components"):
        randomized_pca(packed, 20, n_components=21)
    with pytest.raises(ValueError, match="repeat"):
        randomized_pca(packed, 20, np.array([0, 0, 1]), n_components=1)
    with pytest.raises(ValueError, match="lie in"):
        randomized_pca(packed, 20, np.array([0, 20]), n_components=1)



@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("mode", ["meanimpute", "approx"])
def test_randomized_pca__matches_plink2_pca(simulated_bfile, plink2, mode, tmp_path):
    out = tmp_path / "pca"
    subprocess.run(
        [plink2, "--bfile", simulated_bfile, "--pca", "10", mode, "--out", out, "--threads", "2"],
        check=True,
        capture_output=True,
    )
    plink_values = np.loadtxt(f"{out}.eigenval")
    vec = pd.read_csv(f"{out}.eigenvec", sep="\t", dtype={"IID": str})
    packed, _, fam = read_bed(simulated_bfile)
    assert list(vec["IID"]) == list(fam["iid"])
    values, scores, _ = randomized_pca(packed, len(fam), n_components=10, seed=1)
    plink_scores = vec[[f"PC{i}" for i in range(1, 11)]].to_numpy()
    corr = abs_corr(scores, plink_scores)
    # Slope and largest difference of the sign-aligned scores (unit-norm columns; PLINK 2 prints
    # 6 significant digits). Observed: slope 1 ± 3e-7, max |diff| ≤ 7.1e-6 (PC10), 5e-7 (PC1-2).
    aligned = scores * np.sign(np.sum(scores * plink_scores, axis=0))
    n_checked, tolerance = (10, 2e-5) if mode == "meanimpute" else (2, 1e-3)
    for k in range(n_checked):
        slope, max_diff = slope_and_max_abs_diff(plink_scores[:, k], aligned[:, k])
        assert abs(slope - 1) <= tolerance, (k, slope)
        assert max_diff <= tolerance, (k, max_diff)
    assert (corr[:2] > 0.99).all(), corr
    np.testing.assert_allclose(values[:2], plink_values[:2], rtol=1e-4)
    if mode == "meanimpute":  # exact reference: every PC and eigenvalue agrees
        assert (corr > 0.999).all(), corr
        np.testing.assert_allclose(values, plink_values, rtol=1e-4)
