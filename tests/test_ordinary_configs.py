"""Ordinary configurations that must work: ``python -m cohortgen`` without the venv on PATH,
``covariates: []``, a sheet whose sex is NA for everyone, ``pca.n_pcs: 0`` (null models and
score tests against statsmodels; Z_norm against scipy), and the clear refusal of a covariate that
is NA for every sample."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml
from scipy import stats
from snakemake.utils import validate
from test_assoc_traits import M, N, score_chisq, write_cohort

from cohortgen.assoc.chunk import FallbackSettings, association_chunk
from cohortgen.assoc.gather import read_chunk_table
from cohortgen.assoc.stage import fit_null_stage
from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.ingest.validate import validate_inputs
from cohortgen.io.files import read_json, read_tsv
from cohortgen.kernels.bed import pack_dosages
from cohortgen.prs.stage import design_rows, z_norm1, z_norm2
from cohortgen.qc.pca import PcaSettings, pca_scores, write_pcs

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
NO_FIRTH = FallbackSettings(firth_p_threshold=0.0, firth_min_carriers=0)


def set_sex(tmp: Path, sex) -> pd.DataFrame:
    """Rewrite pheno.tsv with the ``sex`` column replaced (NaN written as NA); return it."""
    sheet = pd.read_csv(tmp / "pheno.tsv", sep="\t", dtype={"sample_id": str})
    sheet["sex"] = sex
    sheet.to_csv(tmp / "pheno.tsv", sep="\t", index=False, na_rep="NA", float_format="%.17g")
    return sheet


def null_model_cli(tmp: Path, covariates: list[str], *extra: str) -> dict:
    """``cohortgen null-model`` (disease d, trait q, the chunk's .bim) then ``association_chunk``;
    returns the null-model json."""
    t = str(tmp)
    status = main(["null-model", "--fam", f"{t}/g.fam", "--keep", f"{t}/keep.txt",
                   "--phenotypes", f"{t}/pheno.tsv", "--options",
                   json.dumps({"diseases": ["d"], "covariates": covariates,
                               "assoc": {"min_cases": 10}, "traits": {"q": "quantitative"}}),
                   "--out-table", f"{t}/null.tsv", "--out-json", f"{t}/null.json",
                   "--bims", f"{t}/g.bim", *extra])
    assert status == 0
    association_chunk(tmp / "g", tmp / "null.tsv", tmp / "null.json", tmp / "vqc.tsv",
                      tmp / "assoc", NO_FIRTH)
    return read_json(tmp / "null.json")


def chisq_by_variant(tmp: Path, trait: str) -> pd.Series:
    table = read_chunk_table(tmp / "assoc" / f"{trait}.columns", trait)
    return ((table["beta"] / table["standard_error"]) ** 2).set_axis(table["variant_id"])


def test_python_m_cohortgen__runs_without_the_venv_on_path(tmp_path):
    """The rules start ``<python> -m cohortgen``: it must work with a PATH lacking the venv."""
    result = subprocess.run([sys.executable, "-m", "cohortgen", "--version"], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("cohortgen ")


def test_config_schema__accepts_no_covariates_and_no_pcs():
    schema = yaml.safe_load(SCHEMA.read_text())
    config = {"cohorts": {"a": {"genotypes": "g.vcf.gz", "phenotypes": "p.tsv"}},
              "covariates": [], "pca": {"n_pcs": 0}}
    validate(config, str(SCHEMA))
    assert config["covariates"] == []
    assert config["pca"]["n_pcs"] == 0
    assert schema["properties"]["pca"]["properties"]["n_pcs"]["minimum"] == 0


def test_null_model__no_covariates_is_intercept_only(tmp_path):
    """``--covariates`` with no value (config ``covariates: []``): the disease's score statistic
    equals statsmodels' for d ~ 1 (1e-7 relative) and the trait's p its OLS q ~ g."""
    dosage, sheet = write_cohort(tmp_path, 11)
    null = null_model_cli(tmp_path, [])
    assert null["covariates"] == []
    assert null["diseases"]["d"]["status"] == "OK"
    ours = chisq_by_variant(tmp_path, "d")
    expected = np.array([score_chisq("d ~ 1", sheet, dosage[j].astype(float))
                         for j in range(M)])
    np.testing.assert_allclose(ours.loc[[f"v{j}" for j in range(M)]], expected, rtol=1e-7)
    q = read_chunk_table(tmp_path / "assoc" / "q.columns", "q").set_index("variant_id")
    for j in range(0, M, 7):
        fit = smf.ols("q ~ g", sheet.assign(g=dosage[j].astype(float))).fit()
        np.testing.assert_allclose(q.loc[f"v{j}", ["beta", "p_value"]].to_numpy(float),
                                   [fit.params["g"], fit.pvalues["g"]], rtol=1e-8)


def test_null_model__sex_na_for_everyone_without_chrx(tmp_path):
    """Sex NA for every sample, covariates without sex, no chrX variants: no chrX models, and
    every variant's score statistic equals statsmodels' d ~ age (1e-7 relative)."""
    dosage, _ = write_cohort(tmp_path, 12)
    sheet = set_sex(tmp_path, np.nan)
    null = null_model_cli(tmp_path, ["age"])
    assert not null["sex_added_for_chrX"]
    assert "chrX_note" not in null
    assert not [c for c in read_tsv(tmp_path / "null.tsv").columns if c.startswith("X_")]
    ours = chisq_by_variant(tmp_path, "d")
    for j in range(M):
        np.testing.assert_allclose(ours[f"v{j}"],
                                   score_chisq("d ~ age", sheet, dosage[j].astype(float)),
                                   rtol=1e-7)


def test_null_model__sex_na_for_everyone_with_chrx_says_so(tmp_path):
    """Sex NA for every sample and chrX variants: chrX is tested with the autosomal models
    (statsmodels d ~ age for every variant) and null_model.json says why."""
    dosage, _ = write_cohort(tmp_path, 13, chrom=("1", "X"))
    sheet = set_sex(tmp_path, np.nan)
    null = null_model_cli(tmp_path, ["age"])
    assert not null["sex_added_for_chrX"]
    assert "sex is NA for every kept sample" in null["chrX_note"]
    ours = chisq_by_variant(tmp_path, "d")
    for j in range(1, M, 2):  # the chrX variants
        np.testing.assert_allclose(ours[f"v{j}"],
                                   score_chisq("d ~ age", sheet, dosage[j].astype(float)),
                                   rtol=1e-7)


def test_null_model__sex_unknown_for_some_keeps_sex_on_chrx(tmp_path):
    """Sex unknown for 50 samples (as before this change): chrX variants get d ~ age + sex on
    the samples of known sex, autosomal ones d ~ age on all (statsmodels, 1e-7 relative)."""
    dosage, sheet = write_cohort(tmp_path, 14, chrom=("1", "X"))
    sex = sheet["sex"].to_numpy(float, copy=True)
    sex[:50] = np.nan
    sheet = set_sex(tmp_path, sex)
    null = null_model_cli(tmp_path, ["age"])
    assert null["sex_added_for_chrX"]
    ours = chisq_by_variant(tmp_path, "d")
    known = sheet[sheet["sex"].notna()]
    for j in range(M):
        g = dosage[j].astype(float)
        expected = (score_chisq("d ~ age + C(sex)", known, g[sheet["sex"].notna().to_numpy()])
                    if j % 2 else score_chisq("d ~ age", sheet, g))
        np.testing.assert_allclose(ours[f"v{j}"], expected, rtol=1e-7)


def test_sex_covariate_na_for_everyone__refused_naming_sheet_and_fix(tmp_path):
    """``sex`` listed as a covariate but NA for every sample: input validation and the null
    model stop with an InputError naming the sheet and saying to drop sex from covariates."""
    write_cohort(tmp_path, 15)
    set_sex(tmp_path, np.nan)
    message = (r"pheno.tsv: covariate 'sex' is NA for every (kept )?sample.*remove 'sex' from "
               r"'covariates' in the config")
    with pytest.raises(InputError, match=message):
        validate_inputs(str(tmp_path / "g"), str(tmp_path / "pheno.tsv"), ["d"],
                        ["age", "sex"], tmp_path / "manifest.json")
    with pytest.raises(InputError, match=message):
        fit_null_stage(tmp_path / "g.fam", tmp_path / "keep.txt", tmp_path / "pheno.tsv", ["d"],
                       ["age", "sex"], 10, tmp_path / "null.tsv", tmp_path / "null.json",
                       bim_paths=[tmp_path / "g.bim"])


def test_pca__zero_pcs_writes_sample_ids_only(tmp_path):
    """n_pcs 0: no eigenvalues, a (samples, 0) score array, pcs.tsv with sample_id and pca; the
    null model reads it and adjusts for the covariates alone."""
    rng = np.random.default_rng(16)
    packed = pack_dosages(rng.binomial(2, 0.3, (40, 30)).astype(np.int8))
    eigenvalues, scores, _ = pca_scores(packed, 30, np.arange(25), PcaSettings(n_pcs=0))
    assert eigenvalues.shape == (0,)
    assert scores.shape == (25, 0)
    write_cohort(tmp_path, 16)
    ids = [f"s{i:03d}" for i in range(N)]
    write_pcs(ids, np.zeros(0), np.zeros((N, 0)), 40, tmp_path / "pcs.tsv", tmp_path / "pca.json")
    assert (tmp_path / "pcs.tsv").read_text().splitlines()[:2] == ["sample_id\tpca",
                                                                    "s000\tfitted"]
    assert read_json(tmp_path / "pca.json")["eigenvalues"] == []
    with_pcs = null_model_cli(tmp_path, ["age"], "--pcs", str(tmp_path / "pcs.tsv"))
    assert with_pcs["covariates"] == ["age"]


def test_prs__no_covariates_no_pcs_design_and_plain_z(tmp_path):
    """No covariates, no categorical covariates, a pcs.tsv without PCs: the PRS design has no
    columns, and Z_norm1 = Z_norm2 = the plainly standardised score (scipy zscore, ddof 0)."""
    _, sheet = write_cohort(tmp_path, 17)
    ids = sheet["sample_id"].tolist()
    write_pcs(ids, np.zeros(0), np.zeros((N, 0)), 40, tmp_path / "pcs.tsv", tmp_path / "pca.json")
    indexed = sheet.set_index(sheet["sample_id"].astype("string"))
    rows, design = design_rows(indexed, tmp_path / "pheno.tsv", [], [], tmp_path / "pcs.tsv",
                               ids[::2])
    assert design.shape == (len(rows), 0) == (N // 2, 0)
    score = np.random.default_rng(17).gamma(2.0, 3.0, N)
    plain = stats.zscore(score)
    assert np.max(np.abs(z_norm1(score, np.zeros((N, 0))) - plain)) < 1e-12
    assert np.max(np.abs(z_norm2(score, np.zeros((N, 0))) - plain)) < 1e-12


def test_null_model__no_covariates_with_pcs(tmp_path):
    """``covariates: []`` with PCs: the disease's score statistic equals statsmodels' for
    d ~ PC1 + PC2 (1e-7 relative)."""
    dosage, sheet = write_cohort(tmp_path, 18)
    pcs = np.random.default_rng(18).normal(size=(N, 2)) / np.sqrt(N)
    write_pcs(sheet["sample_id"].tolist(), np.ones(2), pcs, 40, tmp_path / "pcs.tsv",
              tmp_path / "pca.json")
    null = null_model_cli(tmp_path, [], "--pcs", str(tmp_path / "pcs.tsv"))
    assert null["covariates"] == ["PC1", "PC2"]
    ours = chisq_by_variant(tmp_path, "d")
    with_pcs = sheet.assign(PC1=pcs[:, 0], PC2=pcs[:, 1])
    for j in range(0, M, 3):
        np.testing.assert_allclose(ours[f"v{j}"], score_chisq("d ~ PC1 + PC2", with_pcs,
                                                              dosage[j].astype(float)),
                                   rtol=1e-7)
