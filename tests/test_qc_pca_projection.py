"""Relatives projected onto the ancestry PCs: projected_scores against a NumPy twin, the fitted
samples (which must project onto their own eigenvectors) and PLINK 2's projection
(``--pca allele-wts`` + ``--score ... no-mean-imputation variance-standardize``, frequencies of
the fitted samples via ``--read-freq``).

PLINK 2 writes the allele weights of PC k as ``-sqrt(M)/2`` times the unit-norm loadings (both
alleles of a variant listed, so a sum over both lines counts each variant twice): its
``PCk_SUM`` divided by ``M sqrt(λ_k)`` is the projected eigenvector entry up to the PC's sign
(M = variants polymorphic among the fitted samples, λ_k = ``.eigenval``). ``no-mean-imputation``
makes a missing call add 0, which is mean imputation on the standardized scale, as in the fit;
PLINK's default mean imputation of ``--score`` does not (a 20%-missing sample moved by ~80% of
its value), and its AVG column divides by each sample's own allele count, so SUM is compared.
"""

import subprocess

import numpy as np
import pandas as pd
import pytest
import test_prs_published as published
from conftest import slope_and_max_abs_diff
from test_kernels_pca import structured_dosages

from cohortgen.assoc.stage import covariate_table
from cohortgen.io.bed import read_bed
from cohortgen.io.files import read_tsv
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.pca import projected_scores, randomized_pca
from cohortgen.prs.stage import design_rows, score_published
from cohortgen.prs.standardize import z_norm1
from cohortgen.qc.pca import PcaSettings, pca_scores, read_pcs, write_pcs

N_PCS = 6
cohort, scored = published.cohort, published.scored  # the published-score fixtures


def naive_projection(dosage, fit, others, loadings, eigenvalues):
    """NumPy twin: standardize ``others`` with the ``fit`` columns' frequencies (missing → 0)
    and project on the loadings, divided by sqrt(M λ)."""
    called = dosage[:, fit] >= 0
    p = np.where(called, dosage[:, fit], 0).sum(axis=1) / (2.0 * called.sum(axis=1))
    poly = (p > 0) & (p < 1)
    g = dosage[:, others].astype(float)
    x = np.zeros_like(g)
    sd = np.sqrt(2 * p[poly] * (1 - p[poly]))[:, None]
    x[poly] = np.where(g[poly] >= 0, (g[poly] - 2 * p[poly, None]) / sd, 0.0)
    return x.T @ loadings / np.sqrt(eigenvalues * poly.sum())


def test_projected_scores__matches_naive_twin_and_fitted_eigenvectors():
    dosage = structured_dosages(np.random.default_rng(21), n_samples=200, n_variants=900)
    packed = pack_dosages(dosage)
    fit, others = np.arange(0, 200, 3), np.setdiff1d(np.arange(200), np.arange(0, 200, 3))
    values, scores, loadings = randomized_pca(packed, 200, fit, n_components=N_PCS, seed=4)
    ours = projected_scores(packed, 200, fit, others, values, loadings, block_variants=97)
    np.testing.assert_allclose(ours, naive_projection(dosage, fit, others, loadings, values),
                               rtol=1e-10, atol=1e-12)
    # a fitted sample projects onto its own eigenvector entry: same scale as pcs.tsv
    again = projected_scores(packed, 200, fit, fit, values, loadings)
    np.testing.assert_allclose(again, scores, atol=1e-6)
    assert projected_scores(packed, 200, fit, np.zeros(0, np.int64), values, loadings).shape \
        == (0, N_PCS)


def test_pca_scores__fitted_scores_unchanged_by_projection_and_zero_pcs():
    dosage = structured_dosages(np.random.default_rng(22), n_samples=90, n_variants=400)
    packed = pack_dosages(dosage)
    fit, others = np.arange(0, 90, 2), np.arange(1, 90, 2)
    settings = PcaSettings(n_pcs=4, seed=3)
    values, scores, projected = pca_scores(packed, 90, fit, settings, others)
    alone = randomized_pca(packed, 90, fit, n_components=4, seed=3)
    np.testing.assert_array_equal(values, alone[0])
    np.testing.assert_array_equal(scores, alone[1])
    assert projected.shape == (45, 4)
    values0, scores0, projected0 = pca_scores(packed, 90, fit, PcaSettings(n_pcs=0), others)
    assert [a.shape for a in (values0, scores0, projected0)] == [(0,), (45, 0), (45, 0)]


def test_write_pcs__lists_fitted_then_projected_and_read_pcs_keeps_pc_columns(tmp_path):
    scores, projected = np.array([[0.5, -0.25], [0.125, 1.0]]), np.array([[0.75, 0.0]])
    write_pcs(["a", "b"], np.ones(2), scores, 10, tmp_path / "pcs.tsv", tmp_path / "pca.json",
              projected_ids=["c"], projected=projected)
    lines = (tmp_path / "pcs.tsv").read_text().splitlines()
    assert lines == ["sample_id\tpca\tPC1\tPC2", "a\tfitted\t0.5\t-0.25",
                     "b\tfitted\t0.125\t1", "c\tprojected\t0.75\t0"]
    assert (tmp_path / "pcs.tsv").stat().st_mode & 0o777 == 0o600
    pcs = read_pcs(tmp_path / "pcs.tsv")
    assert pcs.columns.tolist() == ["PC1", "PC2"]
    np.testing.assert_array_equal(pcs.loc[["a", "b", "c"]].to_numpy(),
                                  np.vstack([scores, projected]))
    write_pcs(["a"], np.zeros(0), np.zeros((1, 0)), 10, tmp_path / "none.tsv",
              tmp_path / "none.json", projected_ids=["c"], projected=np.zeros((1, 0)))
    assert (tmp_path / "none.tsv").read_text().splitlines() == [
        "sample_id\tpca", "a\tfitted", "c\tprojected"]
    assert read_pcs(tmp_path / "none.tsv").shape == (2, 0)


def plink2_projection(plink2, bfile, fit_ids, weights, n_pcs, out):
    """PLINK 2 PCk_SUM (samples × n_pcs, in .fam order) of ``weights`` (an allele-weight file
    with PCs in columns 6..), frequencies of the fitted samples from ``--read-freq``."""
    command = [plink2, "--bfile", bfile, "--threads", "2", "--read-freq", f"{out}.acount",
               "--score", weights, "2", "5", "header-read", "no-mean-imputation",
               "variance-standardize", "cols=+scoresums", "--score-col-nums", f"6-{5 + n_pcs}",
               "--out", out]
    subprocess.run([str(c) for c in command], check=True, capture_output=True)
    table = pd.read_csv(f"{out}.sscore", sep="\t", dtype={"IID": str})
    return table, table[[f"PC{k + 1}_SUM" for k in range(n_pcs)]].to_numpy()


@pytest.mark.reference
@pytest.mark.parametrize("mode", ["meanimpute", "approx"])
def test_projected_scores__matches_plink2_score_projection(simulated_bfile, plink2, mode,
                                                           tmp_path):
    packed, bim, fam = read_bed(simulated_bfile)
    n = len(fam)
    ids = fam["iid"].astype(str).tolist()
    others = np.sort(np.random.default_rng(8).choice(n, 60, replace=False))
    fit = np.setdiff1d(np.arange(n), others)
    keep = tmp_path / "fit.txt"
    keep.write_text("".join(f"{ids[i]}\n" for i in fit))
    out = tmp_path / "ref"
    subprocess.run([str(c) for c in [plink2, "--bfile", simulated_bfile, "--keep", keep,
                                     "--freq", "counts", "--pca", N_PCS, mode, "allele-wts",
                                     "--seed", 1, "--out", out, "--threads", "2"]],
                   check=True, capture_output=True)
    values, scores, loadings = randomized_pca(packed, n, fit, n_components=N_PCS, seed=1)
    ours = projected_scores(packed, n, fit, others, values, loadings)
    n_used = int(np.count_nonzero(loadings.any(axis=1)))

    # 1. The projection step alone: PLINK 2 scores our own loadings (A1 = ALT, one line per
    # variant). PLINK prints 6 significant digits of sums up to ~1e3: observed slope 1 ± 5e-7,
    # max |diff| ≤ 2.8e-7 (≤ 3e-6 of the largest |value|).
    ours_wts = tmp_path / "ours.allele"
    alleles = pd.DataFrame({"#CHROM": bim["chrom"], "ID": bim["id"], "REF": bim["a2"],
                            "ALT": bim["a1"], "A1": bim["a1"]})
    pd.concat([alleles,
               pd.DataFrame(loadings, columns=[f"PC{k + 1}" for k in range(N_PCS)])], axis=1
              ).to_csv(ours_wts, sep="\t", index=False, float_format="%.17g")
    table, sums = plink2_projection(plink2, simulated_bfile, fit, ours_wts, N_PCS, out)
    assert table["IID"].tolist() == ids
    reference = sums[others] / np.sqrt(values * n_used)
    for k in range(N_PCS):
        slope, max_diff = slope_and_max_abs_diff(reference[:, k], ours[:, k])
        assert abs(slope - 1) <= 1e-5, (k, slope)
        assert max_diff <= 1e-5 * np.abs(reference[:, k]).max(), (k, max_diff)

    # 2. PLINK 2's whole projection (its own fit and weights). Exact ``meanimpute``: every PC,
    # observed slope 1 ± 4e-6, max |diff| ≤ 2.3e-6 (≤ 2.4e-5 of the largest |value|). ``approx``
    # is itself approximate beyond PC1 (test_kernels_pca); observed (--seed 1) on PC1 slope
    # 1 - 1.4e-5, max |diff| 5.1e-6 (4.9e-5 relative), on PC2 1.4e-3 relative (up to 6e-3 with
    # other seeds): PC1-2 checked.
    _, sums = plink2_projection(plink2, simulated_bfile, fit, f"{out}.eigenvec.allele", N_PCS,
                                out)
    plink_values = np.loadtxt(f"{out}.eigenval")
    reference = sums[others] / (n_used * np.sqrt(plink_values))
    checks = [(k, 1e-5, 1e-4) for k in range(N_PCS)] if mode == "meanimpute" else [
        (0, 1e-4, 1e-4), (1, 1e-2, 1e-2)]
    for k, slope_tol, rel_tol in checks:
        aligned = reference[:, k] * np.sign(np.sum(reference[:, k] * ours[:, k]))
        slope, max_diff = slope_and_max_abs_diff(aligned, ours[:, k])
        assert abs(slope - 1) <= slope_tol, (k, slope)
        assert max_diff <= rel_tol * np.abs(aligned).max(), (k, max_diff)


def test_pcs_readers__use_pc_columns_of_fitted_and_projected_samples(tmp_path):
    """The association design and the PRS design read PCs of fitted and projected samples alike
    (the ``pca`` column is no covariate); a sample absent from pcs.tsv gets NaN in the PRS."""
    fitted, projected = np.array([[0.1, 0.2], [0.3, -0.4]]), np.array([[-0.5, 0.6]])
    write_pcs(["a", "b"], np.ones(2), fitted, 10, tmp_path / "pcs.tsv", tmp_path / "pca.json",
              projected_ids=["r"], projected=projected)
    sheet = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0]},
                         index=pd.Index(["a", "b", "r", "x"], dtype="string"))
    design, _ = covariate_table(sheet.loc[["r", "a"]], ["age"], tmp_path / "pcs.tsv")
    assert design.columns.tolist() == ["age", "PC1", "PC2"]
    np.testing.assert_array_equal(design.to_numpy(), [[50.0, -0.5, 0.6], [30.0, 0.1, 0.2]])
    rows, prs_design = design_rows(sheet, tmp_path / "pheno.tsv", ["age"], [],
                                   tmp_path / "pcs.tsv", ["r", "b", "x"])
    assert rows.index.tolist() == ["r", "b", "x"]
    np.testing.assert_array_equal(prs_design[:2], [[50.0, -0.5, 0.6], [40.0, 0.3, -0.4]])
    assert np.isnan(prs_design[2, 1:]).all()


def test_score_published__relatives_with_projected_pcs_get_z_scores(cohort, scored, tmp_path):
    """Published scores: with the relatives projected in pcs.tsv, every scored sample has
    Z_norm1/Z_norm2, and the unrelated samples' Z-scores are fitted as before on all samples
    with PCs (here: residuals on 1 + PCs over every scored sample)."""
    root = cohort["root"]
    pcs = read_tsv(root / "pcs.tsv", dtype={"sample_id": str})
    related = [s for s, r in zip(cohort["ids"], cohort["reason"], strict=True) if r == "related"]
    projected = np.random.default_rng(5).normal(size=(len(related), 2))
    write_pcs(pcs["sample_id"].tolist(), np.ones(2), pcs[["PC1", "PC2"]].to_numpy(), 10,
              tmp_path / "pcs.tsv", tmp_path / "pca.json", projected_ids=related,
              projected=projected)
    score_published(["additive"], [root / "additive.txt"], cohort["chunks"], cohort["qc"],
                    root / "samples.tsv", tmp_path / "pcs.tsv", "GRCh38", 0.5, False,
                    published.THRESHOLDS.call_rate, tmp_path / "prs")
    scores = read_tsv(tmp_path / "prs" / "scores" / "additive.tsv.gz", dtype={"sample_id": str})
    assert scores["sample_id"].isin(related).sum() == len(related) > 20
    assert scores[["Z_norm1", "Z_norm2"]].notna().all().all()
    design = read_pcs(tmp_path / "pcs.tsv").loc[scores["sample_id"]].to_numpy()
    np.testing.assert_allclose(scores["Z_norm1"], z_norm1(scores["SUM"].to_numpy(), design),
                               atol=1e-9)  # written with 10 significant digits
