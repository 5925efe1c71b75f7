"""Association chunk step: statuses, Firth fallback, and agreement with PLINK 2 firth-fallback."""

import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import slope_and_max_abs_diff

from cohortgen.assoc.chunk import (
    FallbackSettings,
    association_chunk,
    chunk_results,
    disease_models,
)
from cohortgen.assoc.null_model import fit_null_models
from cohortgen.assoc.stage import fit_null_stage, null_model_table
from cohortgen.errors import InputError
from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.files import read_json, read_tsv
from cohortgen.kernels.bed import pack_dosages, unpack_dosages
from cohortgen.kernels.firth import firth_approx_batch
from cohortgen.kernels.score import (
    covariate_basis,
    prepare_score,
    residualise_row,
    score_statistics,
)
from cohortgen.simulate import simulate_cohort

DISEASES = ["hypertension", "type2_diabetes"]
N_PCS = 10


def small_bim(m: int) -> pd.DataFrame:
    return pd.DataFrame({"chrom": "1", "id": [f"v{i}" for i in range(m)], "cm": 0.0,
                         "pos": np.arange(1, m + 1) * 100, "a1": "T", "a2": "C"})


def null_arrays(covariates, phenotypes):
    """(ids, null table, names) of in-memory covariates (n, c) and phenotypes (n, d)."""
    n = covariates.shape[0]
    models = fit_null_models(covariates, phenotypes)
    names = [f"d{k}" for k in range(phenotypes.shape[1])]
    ids = [f"s{i}" for i in range(n)]
    null = null_model_table(ids, models, pd.DataFrame(phenotypes, columns=names),
                            ["OK"] * len(names))
    return ids, null, names


def run_arrays(dosage, covariates, phenotypes, settings=None):
    """chunk_results on in-memory arrays: dosage int8 (m, n), covariates (n, c), phenotypes
    (n, d) 0/1/NaN; every disease tested."""
    ids, null, names = null_arrays(covariates, phenotypes)
    return chunk_results(pack_dosages(dosage), small_bim(len(dosage)), ids, null, names,
                         settings or FallbackSettings())


def naive_residualised(G, X, w):
    """Clarity twin of :func:`residualise_row`: g − X(XᵀWX)⁻¹XᵀWg, one solve per variant (the
    formula the chunk step used before the score projections were reused)."""
    info = X.T @ (X * w[:, None])
    return np.array([g - X @ np.linalg.solve(info, X.T @ (w * g)) for g in G])


def test_chunk_results__statuses_and_no_zero_p():
    rng = np.random.default_rng(3)
    n = 400
    covariates = rng.normal(size=(n, 2))
    y = (rng.random(n) < 0.2).astype(float)
    dosage = rng.binomial(2, 0.3, size=(6, n)).astype(np.int8)
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    dosage[0] = 0  # monomorphic
    dosage[1] = 0
    dosage[1, controls[:3]] = 1  # MAC 3 < 5
    dosage[2] = 0
    dosage[2, cases[:8]] = 1  # every carrier a case: separation, Firth
    dosage[3] = np.where(y == 1, 2, 0)  # perfect separation, common
    dosage[4, :5] = -1  # missing calls, imputed
    out = run_arrays(dosage, covariates, y[:, None])
    assert out["status"].tolist()[:3] == ["MONOMORPHIC", "LOW_MAC", "FIRTH"]
    # complete separation of a common variant: Firth or, if it fails, the score test's numbers
    assert out.loc[3, "status"] in ("FIRTH", "FIRTH_CONVERGE_FAIL")
    assert out.loc[:1, ["beta", "standard_error", "p_value"]].isna().all().all()
    tested = out.iloc[2:]
    assert np.isfinite(tested[["beta", "standard_error", "p_value"]].to_numpy()).all()
    assert (tested["p_value"] > 0).all()
    assert (out.loc[2:3, "beta"] > 2).all()
    assert out.loc[4, "n"] == n - 5
    assert out.loc[2, "mac"] == 8
    assert out.loc[2, "effect_allele_frequency_controls"] == 0


def test_chunk_results__firth_only_below_threshold_or_few_carriers():
    rng = np.random.default_rng(4)
    n = 1000
    y = (rng.random(n) < 0.3).astype(float)
    dosage = rng.binomial(2, 0.4, size=(300, n)).astype(np.int8)
    out = run_arrays(dosage, rng.normal(size=(n, 1)), y[:, None])
    firth = out["status"] == "FIRTH"
    assert set(out["status"]) <= {"OK", "FIRTH"}
    assert 0 < firth.sum() < 60
    assert (out.loc[firth, "p_value"] < 0.1).all()
    # above the threshold the row is the score test: beta = U/V has the sign of the Firth beta
    never = run_arrays(dosage, rng.normal(size=(n, 1)) * 0, y[:, None],
                       FallbackSettings(firth_p_threshold=0.0, firth_min_carriers=0))
    assert (never["status"] == "OK").all()


def test_fallback_settings__wald_needs_full_mode():
    with pytest.raises(InputError, match="firth_p_value 'wald' needs assoc.firth_mode 'full'"):
        FallbackSettings(firth_p_value="wald")
    with pytest.raises(InputError, match="firth_mode"):
        FallbackSettings(firth_mode="exact")
    assert FallbackSettings(firth_p_value="wald", firth_mode="full").firth_mode == "full"


def test_residualised__matches_naive_twin_and_is_orthogonal_in_null_weights():
    """From the score projections, on a disease's samples only (w = 0 elsewhere) and with a
    covariate constant on them (pseudo-inverse): equal to the per-variant solve to 1e-10."""
    rng = np.random.default_rng(5)
    n = 300
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3)), np.repeat([1.0, 2.0], n // 2)])
    W = rng.uniform(0.05, 0.25, (n, 2))
    W[n // 2:, 1] = 0.0
    R = rng.normal(size=(n, 2)) * W
    G = rng.binomial(2, 0.2, size=(6, n)).astype(float)
    prep = prepare_score(X, R, W)
    _, _, GA = score_statistics(G, prep, projections=True)
    for d, rows, cols in ((0, np.arange(n), [0, 1, 2, 3, 4]), (1, np.arange(n // 2), [0, 1, 2, 3])):
        XB = covariate_basis(X, prep, d)[rows]
        XB_t = np.ascontiguousarray(XB.T)
        G_res = np.empty((len(G), rows.size))
        for j in range(len(G)):
            residualise_row(G[j], rows, np.ascontiguousarray(GA[j, d]), XB_t, G_res[j])
        Xd, w = X[np.ix_(rows, cols)], W[rows, d]
        expected = naive_residualised(G[:, rows], Xd, w)
        np.testing.assert_allclose(G_res, expected, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(G_res @ (Xd * w[:, None]), 0.0, atol=1e-9)
        assert G_res.flags.c_contiguous


def test_chunk_results__approximate_firth_matches_naive_residualisation():
    """Firth rows of the chunk step equal firth_approx_batch on the per-variant-solve residuals
    (1e-10 relative), for a disease on all samples and one with excluded samples."""
    rng = np.random.default_rng(11)
    n = 800
    covariates = rng.normal(size=(n, 3))
    dosage = rng.binomial(2, rng.uniform(0.005, 0.3, size=(120, 1)), size=(120, n)).astype(
        np.int8)
    eta = -2.2 + covariates @ [0.3, -0.2, 0.1]
    y = (rng.random((n, 2)) < 1 / (1 + np.exp(-eta[:, None]))).astype(float)
    y[rng.random(n) < 0.3, 1] = np.nan
    ids, null, names = null_arrays(covariates, y)
    out = chunk_results(pack_dosages(dosage), small_bim(len(dosage)), ids, null, names,
                        FallbackSettings(firth_min_carriers=10))
    idx = np.arange(n)
    G = dosage.astype(float)
    for model in disease_models(null, names, idx, n):
        res = out[out["disease"] == model.name].reset_index(drop=True)
        rows = np.flatnonzero(res["status"] == "FIRTH")
        assert rows.size >= 5
        G_res = naive_residualised(G[np.ix_(rows, model.rows)], model.X, model.w)
        beta, se, p, ok = firth_approx_batch(G_res, model.y, model.firth_offset)
        assert ok.all()
        for column, expected in (("beta", beta), ("standard_error", se), ("p_value", p)):
            np.testing.assert_allclose(res.loc[rows, column].to_numpy(), expected, rtol=1e-10)


def test_chunk_results__approximate_firth_close_to_full():
    """Same rows get Firth in both modes; on Firth rows with MAC ≥ 50 (n = 1,500, 10% cases,
    3 covariates) |Δ −log10 p| ≤ 0.05 and |Δbeta| ≤ 0.02 (measured 0.019 and 0.011: approximate
    Firth fixes the covariate effects at their Firth null values, an O(1/n) shift)."""
    rng = np.random.default_rng(6)
    n = 1500
    covariates = rng.normal(size=(n, 3))
    dosage = rng.binomial(2, rng.uniform(0.01, 0.4, size=(400, 1)), size=(400, n)).astype(np.int8)
    eta = -2.4 + covariates @ [0.3, -0.2, 0.1] + 0.25 * (dosage[:40] - dosage[:40].mean(1,
                                                                         keepdims=True)).sum(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    approx = run_arrays(dosage, covariates, y[:, None], FallbackSettings(firth_min_carriers=10))
    full = run_arrays(dosage, covariates, y[:, None],
                      FallbackSettings(firth_mode="full", firth_min_carriers=10))
    assert (approx["status"] == full["status"]).all()
    rows = (approx["status"] == "FIRTH") & (approx["mac"] >= 50)
    assert rows.sum() > 30
    lp = [-np.log10(out.loc[rows, "p_value"].to_numpy()) for out in (approx, full)]
    assert np.abs(lp[0] - lp[1]).max() <= 0.05
    b = [out.loc[rows, "beta"].to_numpy() for out in (approx, full)]
    np.testing.assert_allclose(b[0], b[1], rtol=0, atol=0.02)


def test_fit_null_stage__out_of_range_age_names_the_sample(tmp_path):
    sheet = pd.DataFrame({"sample_id": ["a1", "a2", "a3"], "sex": [1, 2, 1],
                          "age": [40, 150, 30], "d": [0, 1, 0]})
    sheet.to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    (tmp_path / "keep.txt").write_text("a1\na2\na3\n")
    fam = tmp_path / "g.fam"
    fam.write_text("".join(f"{s} {s} 0 0 0 -9\n" for s in sheet["sample_id"]))
    with pytest.raises(InputError, match=r"sample 'a2' has age = 150"):
        fit_null_stage(fam, tmp_path / "keep.txt", tmp_path / "pheno.tsv", ["d"], ["age"], 1,
                       tmp_path / "n.tsv", tmp_path / "n.json")


def top_pcs(dosage: np.ndarray, k: int) -> np.ndarray:
    """(n, k) PCs of mean-imputed standardised dosages (test covariates, any PCA will do)."""
    G = dosage.astype(float)
    G[G < 0] = np.nan
    mean = np.nanmean(G, axis=1, keepdims=True)
    sd = np.nanstd(G, axis=1, keepdims=True)
    Z = np.where(np.isnan(G), 0.0, (G - mean) / np.where(sd > 0, sd, 1.0))
    return np.linalg.svd(Z.T, full_matrices=False)[0][:, :k]


@pytest.fixture(scope="module")
def plink2_glm(plink2, tmp_path_factory):
    """msprime cohort of 500 (no relatives, no low-call samples), our chunk step and PLINK 2
    ``--glm`` with the same samples and covariates (age, sex, 10 PCs): ``firth-fallback`` (ML
    logistic unless it fails) and ``firth`` (Firth everywhere)."""
    tmp = tmp_path_factory.mktemp("glm")
    sim = simulate_cohort(tmp / "sim", 500, 1, 5.0, seed=7, n_related_pairs=0,
                          n_low_call_samples=0)
    subprocess.run([plink2, "--vcf", sim["vcf"], "--make-bed", "--out", str(tmp / "vcf")],
                   check=True, capture_output=True)
    packed, bim, fam = read_bed(tmp / "vcf")
    dosage = unpack_dosages(packed, len(fam))
    dosage[dosage < 0] = 0  # no missing calls: PLINK 2 would drop them, we would impute them
    write_bed(tmp / "g", pack_dosages(dosage), bim, fam)
    ids = fam["iid"].astype(str).tolist()
    pcs = pd.DataFrame(top_pcs(dosage, N_PCS),
                       columns=[f"PC{k + 1}" for k in range(N_PCS)])
    pcs.insert(0, "sample_id", ids)
    pcs.to_csv(tmp / "pcs.tsv", sep="\t", index=False, float_format="%.10g")
    (tmp / "keep.txt").write_text("".join(f"{s}\n" for s in ids))
    pd.DataFrame({"pass": np.ones(len(bim), bool)}).to_csv(tmp / "vqc.tsv", sep="\t",
                                                           index=False)
    fit_null_stage(tmp / "g.fam", tmp / "keep.txt", sim["phenotypes"], DISEASES, ["age", "sex"],
                   10, tmp / "null.tsv", tmp / "null.json", tmp / "pcs.tsv")
    # Firth also on few expected carriers (not the default): > 100 Firth rows to compare.
    ours = association_chunk(tmp / "g", tmp / "null.tsv", tmp / "null.json", tmp / "vqc.tsv",
                             tmp / "assoc",
                             FallbackSettings(firth_p_value="wald", firth_mode="full",
                                              firth_min_carriers=10))
    sheet = read_tsv(sim["phenotypes"], dtype={"sample_id": str}).set_index("sample_id").loc[ids]
    covar = pcs.rename(columns={"sample_id": "IID"})
    covar.insert(1, "age", sheet["age"].to_numpy())
    covar.insert(2, "sex", sheet["sex"].to_numpy())
    covar.to_csv(tmp / "covar.tsv", sep="\t", index=False, float_format="%.10g", na_rep="NA")
    pheno = pd.DataFrame({"IID": ids} | {d: sheet[d].map({0: 1, 1: 2}).fillna(-9).astype(int)
                                         .to_numpy() for d in DISEASES})
    pheno.to_csv(tmp / "pheno.tsv", sep="\t", index=False)
    reports = {}
    for mode, suffix in (("firth-fallback", "logistic.hybrid"), ("firth", "firth")):
        subprocess.run([plink2, "--bfile", str(tmp / "g"), "--pheno", str(tmp / "pheno.tsv"),
                        "--covar", str(tmp / "covar.tsv"), "--covar-variance-standardize",
                        "--glm", mode, "hide-covar", "omit-ref", "cols=+a1count,+a1freq,+beta",
                        "--threads", "1", "--out", str(tmp / mode)],
                       check=True, capture_output=True)
        reports[mode] = {d: pd.read_csv(tmp / f"{mode}.{d}.glm.{suffix}", sep="\t",
                                        dtype={"ID": str}, na_values=["NA"]) for d in DISEASES}
    return ours, reports, read_json(tmp / "null.json")


def matched_reference(reports: dict, mine: pd.DataFrame, disease: str) -> pd.DataFrame:
    """PLINK 2 rows by our variant order, from ``--glm firth`` where we used Firth and from
    ``--glm firth-fallback`` elsewhere (the same estimator on both sides)."""
    columns = ["A1", "BETA", "SE", "P", "OBS_CT"]
    fallback = reports["firth-fallback"][disease].set_index("ID").loc[mine.index, columns]
    firth = reports["firth"][disease].set_index("ID").loc[mine.index, columns]
    used_firth = (mine["status"] == "FIRTH").to_numpy()
    return fallback.where(pd.Series(~used_firth, index=fallback.index), firth, axis=0)


@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("disease", DISEASES)
def test_association_chunk__matches_plink2(plink2_glm, disease):
    """MAC ≥ 20: −log10 p correlation ≥ 0.999, slope 1 ± 0.01 and max |diff| ≤ 0.1, beta slope
    1 ± 0.02 and max |diff| ≤ 0.35, and beta signs agree ≥ 99.9% against PLINK 2 with
    the same estimator per row (Firth rows vs ``--glm firth``, score-test rows vs ML logistic
    Wald); Firth beta and SE within 1e-3. Against plain ``firth-fallback`` (ML wherever it
    converges) the correlation is lower, ≥ 0.99: at n = 500 with 13 parameters Firth shrinks
    betas, by design. (Missing calls are filled in the fixture: with them, PLINK 2 drops the
    sample and we impute the mean, and on rare variants the two differ by more than 1e-3.)"""
    ours, reports, null = plink2_glm
    assert null["diseases"][disease]["status"] == "OK"
    mine = ours[ours["disease"] == disease].set_index("variant_id")
    ref = matched_reference(reports, mine, disease)
    assert (ref["A1"] == mine["effect_allele"]).all()
    assert (ref["OBS_CT"] == mine["n"]).all()
    both = (mine["mac"] >= 20) & ref["P"].notna() & mine["p_value"].notna()
    assert both.sum() > 500
    ours_lp = -np.log10(mine.loc[both, "p_value"])
    ref_lp = -np.log10(ref.loc[both, "P"])
    assert np.corrcoef(ours_lp, ref_lp)[0, 1] >= 0.999
    # Slope and largest difference too (a correlation accepts any rescaling). Observed on this
    # fixture: −log10 p slope 1.002, max |diff| 0.054; beta slope 0.995, max |diff| 0.22 (the
    # one-step score beta U/V against ML's on the rows PLINK 2 fits without Firth).
    slope, max_diff = slope_and_max_abs_diff(ref_lp, ours_lp)
    assert abs(slope - 1) <= 0.01
    assert max_diff <= 0.1
    beta_slope, beta_diff = slope_and_max_abs_diff(ref.loc[both, "BETA"], mine.loc[both, "beta"])
    assert abs(beta_slope - 1) <= 0.02
    assert beta_diff <= 0.35
    plain = reports["firth-fallback"][disease].set_index("ID").loc[both[both].index]
    assert np.corrcoef(ours_lp, -np.log10(plain["P"]))[0, 1] >= 0.99
    signs = np.sign(mine.loc[both, "beta"]) == np.sign(ref.loc[both, "BETA"])
    assert signs.mean() >= 0.999
    firth = mine["status"] == "FIRTH"
    assert firth.sum() > 100
    for column, theirs in (("beta", "BETA"), ("standard_error", "SE")):
        np.testing.assert_allclose(mine.loc[firth, column], ref.loc[firth, theirs], atol=1e-3)
