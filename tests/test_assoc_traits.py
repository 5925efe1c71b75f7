"""Quantitative traits (vs statsmodels OLS and PLINK 2 --glm), categorical covariates (vs
statsmodels with C(batch)) and sex as a covariate on chrX only (vs statsmodels score tests)."""

import subprocess

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
import yaml

from cohortgen.assoc.chunk import FallbackSettings, association_chunk
from cohortgen.assoc.gather import read_chunk_table
from cohortgen.assoc.stage import fit_null_stage, level_indicators
from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_json
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.io.sumstats import read_gwas_ssf
from cohortgen.kernels.bed import pack_dosages

N = 600
M = 60


def write_cohort(tmp, seed, chrom=("1",)):
    """A .bed of M variants × N samples (chromosomes cycling over ``chrom``), a sheet with sex,
    age, batch (codes 1-3), a disease ``d`` (sex and batch effects) and a trait ``q``; returns
    (dosage (M, N), sheet)."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(N)]
    dosage = rng.binomial(2, rng.uniform(0.05, 0.5, (M, 1)), size=(M, N)).astype(np.int8)
    sex = rng.integers(1, 3, N)
    age = rng.normal(50, 10, N)
    batch = rng.choice([1, 2, 3], N, p=[0.5, 0.3, 0.2])
    eta = -1.0 + 1.2 * (sex == 2) + 0.02 * (age - 50) + 0.7 * (batch == 3)
    d = (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float)
    q = 0.03 * age + 0.5 * (batch == 2) + 0.6 * dosage[0] + rng.normal(size=N)
    sheet = pd.DataFrame({"sample_id": ids, "sex": sex, "age": age, "batch": batch, "d": d,
                          "q": q})
    sheet.to_csv(tmp / "pheno.tsv", sep="\t", index=False, float_format="%.17g")
    bim = pd.DataFrame({"chrom": [chrom[j % len(chrom)] for j in range(M)],
                        "id": [f"v{j}" for j in range(M)], "cm": 0.0,
                        "pos": np.arange(1, M + 1) * 1000, "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": sex,
                        "pheno": "-9"})
    write_bed(tmp / "g", pack_dosages(dosage), bim, fam)
    (tmp / "keep.txt").write_text("".join(f"{s}\n" for s in ids))
    pd.DataFrame({"pass": np.ones(M, bool)}).to_csv(tmp / "vqc.tsv", sep="\t", index=False)
    return dosage, sheet


def run_stage(tmp, covariates, categorical=(), quantitative=("q",), settings=None):
    """Null models and the chunk step; returns (results, null json)."""
    fit_null_stage(tmp / "g.fam", tmp / "keep.txt", tmp / "pheno.tsv", ["d"], list(covariates),
                   10, tmp / "null.tsv", tmp / "null.json", None, list(quantitative),
                   list(categorical), 10)
    out = association_chunk(tmp / "g", tmp / "null.tsv", tmp / "null.json", tmp / "vqc.tsv",
                            tmp / "assoc", settings or FallbackSettings(firth_p_threshold=0.0,
                                                                        firth_min_carriers=0))
    return out, read_json(tmp / "null.json")


def score_chisq(formula, sheet, g):
    """statsmodels' GLM (binomial) score statistic of g added to ``formula``."""
    fitted = smf.glm(formula, sheet, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    return fitted.score_test(exog_extra=g[:, None]).statistic[0]


def test_association_chunk__quantitative_trait_matches_statsmodels_ols(tmp_path):
    """beta, SE and p of every variant equal OLS of q on age, sex and g (1e-8 relative); the
    GWAS-SSF case/control columns are NA; the trait has its own file."""
    dosage, sheet = write_cohort(tmp_path, 1)
    out, null = run_stage(tmp_path, ["age", "sex"])
    assert null["diseases"]["q"] == {"type": "quantitative", "status": "OK", "n": N}
    q = read_chunk_table(tmp_path / "assoc" / "q.columns", "q")  # InputError unless q's table
    assert len(q) == M
    assert q[["n_cases", "n_controls", "effect_allele_frequency_cases"]].isna().all().all()
    assert (q["status"] == "OK").all()
    assert (q["n"] == N).all()
    for j in range(M):
        exog = sm.add_constant(np.column_stack([sheet["age"], sheet["sex"], dosage[j]]))
        fit = sm.OLS(sheet["q"].to_numpy(), exog).fit()
        np.testing.assert_allclose(q.loc[j, ["beta", "standard_error", "p_value"]].to_numpy(float),
                                   [fit.params[3], fit.bse[3], fit.pvalues[3]], rtol=1e-8)
    assert q.loc[0, "p_value"] < 1e-6


@pytest.mark.reference
def test_association_chunk__quantitative_trait_matches_plink2_glm(tmp_path, plink2):
    """PLINK 2 --glm on the same trait and covariates: BETA, SE to its 6 printed digits, P."""
    _, sheet = write_cohort(tmp_path, 2)
    out, _ = run_stage(tmp_path, ["age", "sex"])
    table = sheet.assign(FID=sheet["sample_id"]).rename(columns={"FID": "#FID",
                                                                 "sample_id": "IID"})
    table[["#FID", "IID", "q"]].to_csv(tmp_path / "q.pheno", sep="\t", index=False,
                                       float_format="%.17g")
    table[["#FID", "IID", "age", "sex"]].to_csv(tmp_path / "q.covar", sep="\t", index=False,
                                                float_format="%.17g")
    subprocess.run([plink2, "--bfile", str(tmp_path / "g"), "--pheno", str(tmp_path / "q.pheno"),
                    "--covar", str(tmp_path / "q.covar"), "--covar-variance-standardize",
                    "--glm", "hide-covar", "omit-ref", "--threads", "1",
                    "--out", str(tmp_path / "ref")], check=True, capture_output=True)
    ref = pd.read_csv(tmp_path / "ref.q.glm.linear", sep="\t").set_index("ID")
    mine = out[out["disease"] == "q"].set_index("variant_id").loc[ref.index]
    assert (ref["A1"] == mine["effect_allele"]).all()
    assert (ref["OBS_CT"] == mine["n"]).all()
    np.testing.assert_allclose(mine["beta"], ref["BETA"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(mine["standard_error"], ref["SE"], rtol=1e-5)
    np.testing.assert_allclose(mine["p_value"], ref["P"], rtol=1e-4)


def test_fit_null_stage__categorical_batch_matches_statsmodels(tmp_path):
    """Indicators of batch levels 2 and 3 (level 1 the reference): the disease's score
    statistic equals statsmodels' with C(batch) (1e-7 relative), and differs without batch;
    the quantitative trait's OLS p equals statsmodels' with C(batch)."""
    dosage, sheet = write_cohort(tmp_path, 3)
    out, null = run_stage(tmp_path, ["age", "sex"], categorical=["batch"])
    assert null["covariates"] == ["age", "sex", "batch=2", "batch=3"]
    assert null["categorical_covariates"]["batch"]["reference"] == "1"
    d = out[out["disease"] == "d"].set_index("variant_id")
    q = out[out["disease"] == "q"].set_index("variant_id")
    for j in range(0, M, 6):
        g = dosage[j].astype(float)
        ours = (d.loc[f"v{j}", "beta"] / d.loc[f"v{j}", "standard_error"]) ** 2
        expected = score_chisq("d ~ age + sex + C(batch)", sheet, g)
        np.testing.assert_allclose(ours, expected, rtol=1e-7)
        assert abs(ours - score_chisq("d ~ age + sex", sheet, g)) > 1e-4 * expected
        fit = smf.ols("q ~ age + sex + C(batch) + g", sheet.assign(g=g)).fit()
        np.testing.assert_allclose(q.loc[f"v{j}", "p_value"], fit.pvalues["g"], rtol=1e-8)


def test_fit_null_stage__rare_batch_level_names_column_and_level(tmp_path):
    write_cohort(tmp_path, 4)
    sheet = pd.read_csv(tmp_path / "pheno.tsv", sep="\t", dtype={"sample_id": str})
    sheet.loc[:3, "batch"] = 7
    sheet.to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"pheno.tsv: categorical covariate 'batch' has "
                                         r"level\(s\) 7 \(4\) with fewer than"):
        run_stage(tmp_path, ["age", "sex"], categorical=["batch"])


def test_association_chunk__sex_added_on_chrx_only(tmp_path):
    """Covariates without sex: chr1 variants are tested on age alone, chrX variants on age and
    sex (statsmodels score statistics, 1e-7 relative), and the two designs differ."""
    dosage, sheet = write_cohort(tmp_path, 5, chrom=("1", "X"))
    out, null = run_stage(tmp_path, ["age"], quantitative=())
    assert null["sex_added_for_chrX"]
    assert null["covariates"] == ["age"]
    d = out[out["disease"] == "d"].set_index("variant_id")
    for j in range(M):
        g = dosage[j].astype(float)
        ours = (d.loc[f"v{j}", "beta"] / d.loc[f"v{j}", "standard_error"]) ** 2
        formula = "d ~ age + C(sex)" if j % 2 else "d ~ age"
        np.testing.assert_allclose(ours, score_chisq(formula, sheet, g), rtol=1e-7)
        other = "d ~ age" if j % 2 else "d ~ age + C(sex)"
        assert abs(ours - score_chisq(other, sheet, g)) > 1e-6 * ours
    meta_sex = run_stage(tmp_path, ["age", "sex"], quantitative=())[1]
    assert not meta_sex["sex_added_for_chrX"]


def test_cli__traits_categorical_and_per_trait_tables(tmp_path):
    """``cohortgen null-model`` / ``assoc`` / ``gather-gwas`` with a quantitative trait and a
    categorical covariate: the same rows as the Python calls, one table per trait, and a
    GWAS-SSF sidecar with the trait's sample size instead of case/control counts."""
    write_cohort(tmp_path, 6)
    t = str(tmp_path)
    assert main(["null-model", "--fam", f"{t}/g.fam", "--keep", f"{t}/keep.txt",
                 "--phenotypes", f"{t}/pheno.tsv", "--options",
                 '{"diseases": ["d"], "covariates": ["age", "sex"], "traits": {"q":'
                 ' "quantitative"}, "categorical_covariates": ["batch"], "assoc":'
                 ' {"min_cases": 10, "min_level_count": 10}}', "--out-table", f"{t}/cli.tsv",
                 "--out-json", f"{t}/cli.json"]) == 0
    assert main(["assoc", "--bfile", f"{t}/g", "--null-table", f"{t}/cli.tsv", "--null-json",
                 f"{t}/cli.json", "--variant-qc", f"{t}/vqc.tsv", "--out-dir", f"{t}/cli",
                 "--options", '{"assoc": {"p_value": "spa"}}']) == 0
    out, _ = run_stage(tmp_path, ["age", "sex"], categorical=["batch"],
                       settings=FallbackSettings(p_value="spa"))
    for trait in ("d", "q"):
        table = read_chunk_table(tmp_path / "cli" / f"{trait}.columns", trait)
        expected = out[out["disease"] == trait].reset_index(drop=True)
        pd.testing.assert_frame_equal(table[["beta", "p_value"]], expected[["beta", "p_value"]],
                                      rtol=1e-9)
    assert main(["gather-gwas", "--disease", "q", "--chunks", f"{t}/cli/q.columns", "--null-json",
                 f"{t}/cli.json", "--options", '{"genome_build": "GRCh38"}', "--out",
                 f"{t}/q.tsv.gz"]) == 0
    meta = yaml.safe_load((tmp_path / "q.tsv.gz-meta.yaml").read_text())
    assert meta["samples"] == [{"sample_size": N, "case_control_study": False}]
    assert read_gwas_ssf(tmp_path / "q.tsv.gz")["n_cases"].isna().all()


def test_level_indicators__text_labels_from_the_sheet(tmp_path):
    """Text levels (site names) are read as labels: the first sorted is the reference, NA
    stays missing in every indicator."""
    path = tmp_path / "sheet.tsv"
    path.write_text("sample_id\tsex\tsite\nA\t1\tnorth\nB\t2\tsouth\nC\t1\tNA\nD\t2\teast\n"
                    "E\t1\tsouth\n")
    sheet = read_phenotypes(path, [], [], ["site"])
    indicators, info = level_indicators(sheet["site"], "site", 1, path)
    assert info == {"reference": "east", "counts": {"east": 1, "north": 1, "south": 2}}
    assert indicators.columns.tolist() == ["site=north", "site=south"]
    np.testing.assert_array_equal(indicators["site=south"].to_numpy(),
                                  [0.0, 1.0, np.nan, 0.0, 1.0])
