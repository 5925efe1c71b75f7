"""``assoc.p_value: wald``: the ML logistic Wald test of PLINK 2 ``--glm firth-fallback``, with
its Firth fallback, against statsmodels (exact, small cases) and PLINK 2 (same dosages)."""

import subprocess

import numba
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from scipy import special
from test_assoc_chunk import null_arrays, small_bim
from test_assoc_dosages import (  # noqa: F401 - glm_inputs: the shared fixture
    DISEASES,
    glm_inputs,
    log10_p_agreement,
)

from cohortgen.assoc.chunk import (
    FallbackSettings,
    association_chunk,
    chunk_results,
    dosage_association_chunk,
)
from cohortgen.assoc.gather import gather_gwas, trait_test
from cohortgen.assoc.loco import offset_null_table
from cohortgen.assoc.stage import fit_null_stage
from cohortgen.io.bed import write_bed
from cohortgen.io.sumstats import meta_path_for
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.logistic_wald import logistic_wald_batch
from cohortgen.kernels.score import pinv_sqrt

WALD = FallbackSettings(p_value="wald", firth_mode="full", firth_p_value="wald")


def statsmodels_wald(y, X, g, offset=None):
    """(beta, SE, p) of g in statsmodels' ML Logit of y on [1 | X | g] (Newton to 1e-12)."""
    design = np.column_stack([np.ones(len(y)), X, g])
    fit = sm.Logit(y, design, offset=offset).fit(disp=0, method="newton", tol=1e-12,
                                                maxiter=200)
    return fit.params[-1], fit.bse[-1], fit.pvalues[-1]


def assert_matches_statsmodels(row, expected):
    """beta and SE within 1e-7 (relative to 1 + |x|), −log10 p within 1e-7."""
    beta, se, p = expected
    assert row["beta"] == pytest.approx(beta, abs=1e-7 * (1 + abs(beta)))
    assert row["standard_error"] == pytest.approx(se, abs=1e-7 * (1 + se))
    assert -np.log10(row["p_value"]) == pytest.approx(-np.log10(p), abs=1e-7)


def cohort(seed=5, n=700):
    """Covariates (n, 2), a 25% disease driven by them and by variant 0, hard calls int8 (7, n)
    with -1 missing: common, causal, rare (MAC ~12), 5% missing calls, a strong rare effect."""
    rng = np.random.default_rng(seed)
    covariates = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)])
    dosage = rng.binomial(2, [[0.3], [0.2], [0.01], [0.4], [0.03], [0.15], [0.5]],
                          size=(7, n)).astype(np.int8)
    logit = -1.4 + 0.5 * covariates[:, 0] - 0.4 * covariates[:, 1] + 0.6 * dosage[1]
    logit += 1.5 * dosage[4]
    y = (rng.random(n) < special.expit(logit)).astype(float)
    dosage[3, rng.random(n) < 0.05] = -1
    return covariates, dosage, y


def mean_imputed(dosage):
    """float64 (m, n): missing calls (-1) replaced by the variant's mean over called samples."""
    g = dosage.astype(float)
    g[dosage < 0] = np.nan
    return np.where(np.isnan(g), np.nanmean(g, axis=1, keepdims=True), g)


def test_chunk_results__wald_equals_statsmodels_logit():
    """OK rows of the .bed path: beta, SE, p of the ML fit with the covariates refitted, for a
    common, a causal, a rare, a mean-imputed and a strong-effect variant; a second disease
    that excludes 50 samples (its rows use its samples only)."""
    covariates, dosage, y = cohort()
    y2 = y.copy()
    y2[:50] = np.nan
    ids, null, names = null_arrays(covariates, np.column_stack([y, y2]))
    out = chunk_results(pack_dosages(dosage), small_bim(len(dosage)), ids, null, names, WALD)
    g = mean_imputed(dosage)
    for name, phenotype in zip(names, (y, y2), strict=True):
        mine = out[out["disease"] == name].reset_index(drop=True)
        assert (mine["status"] == "OK").all()
        keep = ~np.isnan(phenotype)
        for j in range(len(dosage)):
            expected = statsmodels_wald(phenotype[keep], covariates[keep], g[j, keep])
            assert_matches_statsmodels(mine.loc[j], expected)


def test_chunk_results__wald_differs_from_score_test():
    """The two modes give different numbers on a causal variant (the Wald rows are not the
    score rows relabelled)."""
    covariates, dosage, y = cohort()
    ids, null, names = null_arrays(covariates, y[:, None])
    wald = chunk_results(pack_dosages(dosage), small_bim(7), ids, null, names, WALD)
    score = chunk_results(pack_dosages(dosage), small_bim(7), ids, null, names,
                          FallbackSettings(firth_p_threshold=0.0))
    assert abs(wald.loc[4, "beta"] - score.loc[4, "beta"]) > 0.05


def test_chunk_results__wald_keeps_the_loco_offset():
    """With the null model refitted on a LOCO offset (``o_`` column), the per-variant fit
    keeps that offset: statsmodels Logit with the same offset."""
    covariates, dosage, y = cohort(seed=8)
    ids, null, names = null_arrays(covariates, y[:, None])
    offsets = np.random.default_rng(9).normal(0, 0.6, (len(y), 1))
    with_offset = offset_null_table(null, names, [], offsets)
    out = chunk_results(pack_dosages(dosage), small_bim(7), ids, with_offset, names, WALD)
    g = mean_imputed(dosage)
    for j in range(len(dosage)):
        assert out.loc[j, "status"] == "OK"
        assert_matches_statsmodels(out.loc[j], statsmodels_wald(y, covariates, g[j],
                                                                offsets[:, 0]))


def kernel_inputs(covariates, y, G):
    """(G, y, eta0, (GA, XB)) for :func:`logistic_wald_batch` from statsmodels' null fit."""
    X = np.column_stack([np.ones(len(y)), covariates])
    eta0 = X @ sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12).params
    w = special.expit(eta0) * special.expit(-eta0)
    XB = X @ pinv_sqrt(X.T @ (X * w[:, None]))
    return G, y, eta0, ((G * w) @ XB, XB)


@pytest.mark.parametrize("start", ["zero", "far"])
def test_logistic_wald_batch__dosages_equal_statsmodels(start):
    """Non-integer dosages (common, rare, a strong effect), from γ = 0 or from a start far
    off (step halving): the same ML estimates as statsmodels."""
    rng = np.random.default_rng(2)
    n = 1500
    covariates = np.column_stack([rng.normal(size=n), rng.normal(size=n)])
    G = np.vstack([rng.uniform(0, 2, n), np.minimum(rng.exponential(0.02, n), 2),
                   rng.binomial(2, 0.05, n) * rng.uniform(0.7, 1, n)])
    y = (rng.random(n) < special.expit(-1 + 0.4 * covariates[:, 1] + 1.2 * G[2])).astype(float)
    args = kernel_inputs(covariates, y, G)
    beta, se, p, ok = logistic_wald_batch(*args, np.full(3, 0.0 if start == "zero" else 40.0))
    assert ok.all()
    for j in range(3):
        assert_matches_statsmodels({"beta": beta[j], "standard_error": se[j], "p_value": p[j]},
                                   statsmodels_wald(y, covariates, G[j]))


def test_logistic_wald_batch__separation_does_not_converge():
    """Quasi-complete separation (every carrier a case, and no case among the others with
    g = 0 would be complete): γ̂ = +∞, reported as not converged (NaN), never a number."""
    rng = np.random.default_rng(4)
    n = 400
    covariates = rng.normal(size=(n, 1))
    y = (rng.random(n) < 0.3).astype(float)
    g = np.where((y == 1) & (rng.random(n) < 0.2), 1.0, 0.0)
    beta, se, p, ok = logistic_wald_batch(*kernel_inputs(covariates, y, g[None]), np.zeros(1))
    assert not ok[0]
    assert np.isnan([beta[0], se[0], p[0]]).all()


def test_chunk_results__wald_falls_back_to_firth_as_plink2():
    """No ALT allele in the controls (or in the cases): Firth, as PLINK 2 firth-fallback
    (full mode, Wald p: the numbers of the full Firth fit); other rows OK."""
    covariates, dosage, y = cohort(seed=6)
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    dosage[2] = 0
    dosage[2, cases[:9]] = 1  # carriers all cases
    dosage[5] = 0
    dosage[5, controls[:12]] = 1  # carriers all controls
    ids, null, names = null_arrays(covariates, y[:, None])
    out = chunk_results(pack_dosages(dosage), small_bim(7), ids, null, names, WALD)
    assert list(out["status"]) == ["OK", "OK", "FIRTH", "OK", "OK", "FIRTH", "OK"]
    firth_only = chunk_results(pack_dosages(dosage), small_bim(7), ids, null, names,
                               FallbackSettings(firth_mode="full", firth_p_value="wald",
                                                firth_p_threshold=1.0))
    for j in (2, 5):
        assert out.loc[j, "beta"] == firth_only.loc[j, "beta"]
        assert out.loc[j, "p_value"] == firth_only.loc[j, "p_value"]
    assert out.loc[2, "beta"] > 1
    assert out.loc[5, "beta"] < -1


def test_chunk_results__wald_identical_on_one_and_two_threads():
    """Byte-identical rows run to run and on 1 vs 2 threads."""
    covariates, dosage, y = cohort(seed=7, n=1500)
    dosage = np.vstack([dosage] * 8)
    ids, null, names = null_arrays(covariates, y[:, None])
    runs = []
    for threads in (1, 2, 1):
        numba.set_num_threads(threads)
        try:
            runs.append(chunk_results(pack_dosages(dosage), small_bim(len(dosage)), ids, null,
                                      names, WALD))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0], other, check_exact=True)


def test_trait_test__names_the_wald_test():
    """The GWAS-SSF sidecar names the test (``cohortgen_method.test``)."""
    null = {"diseases": {"d": {"type": "binary"}, "q": {"type": "quantitative"}}}
    assert "Wald test (maximum likelihood" in trait_test(null, "d", WALD)["test"]
    assert "score test" in trait_test(null, "d", FallbackSettings())["test"]
    assert "t-test" in trait_test(null, "q", WALD)["test"]
    assert trait_test(null, "d", None) == {}


@pytest.fixture(scope="module")
def wald_run(glm_inputs):  # noqa: F811 - the imported fixture
    """Our dosage chunk step in wald mode (Firth fallback full, Wald p, as PLINK 2) on the
    shared PLINK 2 comparison data, and PLINK 2's reports."""
    tmp, prefixes, reports = glm_inputs
    ours = pd.concat([dosage_association_chunk(p, tmp / "null.tsv", tmp / "null.json",
                                               tmp / f"wald_{p.name}", WALD)
                      for p in prefixes], ignore_index=True)
    return ours, reports


@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("disease", DISEASES)
def test_dosage_association__wald_rows_match_plink2_firth_fallback(wald_run, disease):
    """Standard rows (OK; PLINK 2 did not fall back) with MAC ≥ 20 against PLINK 2 ``--glm
    firth-fallback`` on the same dosages: −log10 p r ≥ 0.9999 and max |Δ| ≤ 1e-3 (tighter than
    the required 0.01; observed 4.5e-5 and 7.1e-5: PLINK 2.00a3.5 fits in single precision),
    slope within 1e-3; beta and SE within 1e-4 relative to 1 + |value| (observed 2.8e-6 and
    1.6e-5). chrX rows included. PLINK 2 falls back to
    Firth on the same rows as we (none here: no variant lacks carriers among the cases)."""
    ours, reports = wald_run
    mine = ours[ours["disease"] == disease].set_index("variant_id")
    ref = reports[("firth-fallback", disease)].loc[mine.index]
    tested = mine["status"].isin(["OK", "FIRTH"])
    pd.testing.assert_series_equal(mine.loc[tested, "status"] == "FIRTH",
                                   ref.loc[tested, "FIRTH?"] == "Y", check_names=False)
    rows = (mine["status"] == "OK") & (mine["mac"] >= 20)
    r, slope, max_diff, median = log10_p_agreement(mine, ref, rows)
    beta_diff = (np.abs(mine.loc[rows, "beta"] - ref.loc[rows, "BETA"])
                 / (1 + ref.loc[rows, "BETA"].abs())).max()
    se_diff = (np.abs(mine.loc[rows, "standard_error"] - ref.loc[rows, "SE"])
               / (1 + ref.loc[rows, "SE"])).max()
    print(f"{disease}: r {r:.8f} slope {slope:.6f} max |Δ -log10 p| {max_diff:.2e} median "
          f"{median:.1e}; max rel |Δ beta| {beta_diff:.1e}, "
          f"|Δ SE| {se_diff:.1e} over {rows.sum()} rows")
    assert r >= 0.9999
    assert abs(slope - 1) <= 1e-3
    assert max_diff <= 1e-3
    assert beta_diff <= 1e-4
    assert se_diff <= 1e-4


@pytest.mark.slow
@pytest.mark.reference
def test_gather_gwas__sidecar_names_the_wald_test(wald_run, glm_inputs, tmp_path):  # noqa: F811
    """The gathered GWAS-SSF file of a wald-mode run: its ``-meta.yaml`` names the test."""
    tmp, prefixes, _ = glm_inputs
    out = tmp_path / "common_d.tsv.gz"
    gather_gwas("common_d", [tmp / f"wald_{p.name}" / "common_d.columns" for p in prefixes],
                tmp / "null.json", "GRCh37", out, settings=WALD)
    meta = yaml.safe_load(meta_path_for(out).read_text())
    assert meta["cohortgen_method"]["test"].startswith("logistic regression Wald test")


@pytest.fixture(scope="module")
def bed_run(plink2, tmp_path_factory):
    """Hard calls (.bed) of 1,200 samples × 400 variants, many rare (MAC 5-40, where a 12%
    disease often has no carrier among cases), covariates age and sex: our array chunk step in
    wald mode and PLINK 2 ``--glm firth-fallback`` on the same .bed."""
    tmp = tmp_path_factory.mktemp("wald_bed")
    rng = np.random.default_rng(21)
    n, m = 1200, 400
    freq = np.exp(rng.uniform(np.log(0.002), np.log(0.5), (m, 1)))
    dosage = rng.binomial(2, freq, size=(m, n)).astype(np.int8)
    ids = [f"p{i:04d}" for i in range(n)]
    age = rng.integers(30, 80, n)
    sex = rng.integers(1, 3, n)
    logit = -2.3 + 0.03 * (age - 55) + 0.3 * (sex - 1.5) + 0.5 * dosage[:4].sum(axis=0)
    disease = (rng.random(n) < special.expit(logit)).astype(int)
    bim = small_bim(m).assign(chrom="22", a1="G", a2="A")
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": sex,
                        "pheno": -9})
    write_bed(tmp / "g", pack_dosages(dosage), bim, fam)
    pd.DataFrame({"sample_id": ids, "sex": sex, "age": age, "d": disease}).to_csv(
        tmp / "sheet.tsv", sep="\t", index=False)
    (tmp / "keep.txt").write_text("".join(f"{s}\n" for s in ids))
    pd.DataFrame({"pass": np.ones(m, bool)}).to_csv(tmp / "vqc.tsv", sep="\t", index=False)
    fit_null_stage(tmp / "g.fam", tmp / "keep.txt", tmp / "sheet.tsv", ["d"], ["age", "sex"],
                   10, tmp / "null.tsv", tmp / "null.json")
    ours = association_chunk(tmp / "g", tmp / "null.tsv", tmp / "null.json", tmp / "vqc.tsv",
                             tmp / "assoc", WALD)
    plink_ids = {"#FID": ids, "IID": ids}
    pd.DataFrame(plink_ids | {"age": age, "sex": sex}).to_csv(tmp / "covar.tsv", sep="\t",
                                                              index=False)
    pd.DataFrame(plink_ids | {"d": disease + 1}).to_csv(tmp / "pheno.tsv", sep="\t",
                                                        index=False)
    subprocess.run([plink2, "--bfile", str(tmp / "g"), "--pheno", str(tmp / "pheno.tsv"),
                    "--covar", str(tmp / "covar.tsv"), "--covar-variance-standardize",
                    "--glm", "firth-fallback", "hide-covar", "omit-ref",
                    "cols=+a1count,+a1freq,+beta", "--threads", "1", "--out", str(tmp / "ref")],
                   check=True, capture_output=True)
    ref = pd.read_csv(tmp / "ref.d.glm.logistic.hybrid", sep="\t", dtype={"ID": str},
                      na_values=["NA"]).set_index("ID")
    return ours.set_index("variant_id"), ref


@pytest.mark.slow
@pytest.mark.reference
def test_association_chunk__wald_on_hard_calls_is_plink2_firth_fallback(bed_run):
    """The .bed path in wald mode: we fall back to Firth exactly where PLINK 2 did (its
    ``FIRTH?`` column: no minor allele in the cases), those rows' beta and SE equal its Firth
    fit's within 1e-3 (PLINK 2 stops its single-precision Firth iteration at
    max|Δβ| ≤ 1e-4), and the ML rows its ML fit's within 2e-4; −log10 p within 1e-3."""
    mine, ref = bed_run
    ref = ref.loc[mine.index]
    tested = mine["status"].isin(["OK", "FIRTH"])
    assert (mine.loc[~tested, "status"] == "LOW_MAC").all()
    ours_firth = mine.loc[tested, "status"] == "FIRTH"
    theirs_firth = ref.loc[tested, "FIRTH?"] == "Y"
    pd.testing.assert_series_equal(ours_firth, theirs_firth, check_names=False)
    assert ours_firth.sum() >= 15
    assert (~ours_firth).sum() > 200
    firth = ours_firth[ours_firth].index
    ml = ours_firth[~ours_firth].index
    for rows, bound in ((firth, (1e-3, 1e-3)), (ml, (2e-4, 2e-4))):
        for column, theirs, limit in (("beta", "BETA", bound[0]),
                                      ("standard_error", "SE", bound[1])):
            diff = np.abs(mine.loc[rows, column] - ref.loc[rows, theirs]).max()
            print(f"{'Firth' if rows is firth else 'ML'} rows ({len(rows)}): max |Δ {column}| "
                  f"{diff:.1e}")
            assert diff <= limit
        lp_diff = np.abs(np.log10(mine.loc[rows, "p_value"]) - np.log10(ref.loc[rows, "P"]))
        assert lp_diff.max() <= 1e-3
