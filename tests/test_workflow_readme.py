"""The README's own-cohort command, run exactly as written in a shell whose PATH lacks the venv,
on a tiny cohort with an ordinary but minimal configuration: no covariates, no PCs, sex NA for
everyone (no chrX), published and in-cohort PRS; and the refusal of a ``sex`` covariate that is
NA for everyone."""

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import DISEASES, PRS_CONFIG, write_config

from cohortgen.simulate import simulate_cohort

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
SYSTEM_PATH = "/usr/bin:/bin"

pytestmark = pytest.mark.slow


def readme_command() -> str:
    """The shell command of the README's "Your own cohort" section."""
    section = (REPO / "README.md").read_text().split("## Your own cohort", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.DOTALL).group(1).strip()


def run_as_in_readme(workdir: Path, cohort: Path, **overrides) -> subprocess.CompletedProcess:
    """Write ``my.yaml`` (the cohort in ``cohort``, with its sheet's sex set to NA) and run the
    README's command in ``workdir``, which holds the checkout's Snakefile, workflow/, config/,
    envs/ and .venv as a user's clone does, under ``env -i`` with only HOME and a system PATH."""
    for name in ("Snakefile", "workflow", "config", "envs"):
        (workdir / name).symlink_to(REPO / name)
    (workdir / ".venv").symlink_to(VENV)
    sheet = pd.read_csv(cohort / "phenotypes.tsv", sep="\t", dtype=str)
    sheet["sex"] = "NA"
    sheet.to_csv(workdir / "phenotypes.tsv", sep="\t", index=False)
    cohorts = {"mine": {"genotypes": str(cohort / "genotypes.vcf.gz"),
                        "phenotypes": str(workdir / "phenotypes.tsv")}}
    write_config(workdir / "my.yaml", cohorts, **overrides)
    assert shutil.which("cohortgen", path=SYSTEM_PATH) is None
    env = ["env", "-i", f"HOME={os.environ['HOME']}", f"PATH={SYSTEM_PATH}"]
    return subprocess.run([*env, "bash", "-c", readme_command()], cwd=workdir,
                          capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def autosomal_cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("autosomal")
    simulate_cohort(out, n_samples=300, n_chromosomes=2, chromosome_mb=5.0, seed=8)
    return out


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory, autosomal_cohort) -> Path:
    workdir = tmp_path_factory.mktemp("readme")
    score = workdir / "pgs.txt.gz"
    subprocess.run([sys.executable, "-m", "cohortgen", "prs-demo-score", "--truth",
                    str(autosomal_cohort / "truth.json"), "--disease", "hypertension",
                    "--genome-build", "GRCh38", "--seed", "1", "--out", str(score)], check=True)
    prs = {**PRS_CONFIG, "scores": {"pgs": {"file": str(score), "diseases": ["hypertension"]}}}
    result = run_as_in_readme(workdir, autosomal_cohort, covariates=[], pca={"n_pcs": 0},
                              prs=prs)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir / "results" / "mine"


def test_readme_command__runs_without_the_venv_on_path(readme_run):
    assert readme_command().startswith(".venv/bin/snakemake ")
    assert (readme_run / "report" / "index.html").is_file()
    assert (readme_run / "provenance.json").is_file()


def test_readme_command__no_covariates_no_pcs_no_sex(readme_run):
    """Null models with the intercept only, pcs.tsv without PC columns, every disease tested,
    Z_norm1 = Z_norm2 (plain standardisation), published and in-cohort PRS evaluated."""
    null = json.loads((readme_run / "assoc/null_model.json").read_text())
    assert null["covariates"] == []
    assert not null["sex_added_for_chrX"]
    assert [info["status"] for info in null["diseases"].values()] == ["OK"] * len(DISEASES)
    assert (readme_run / "qc/pcs.tsv").read_text().splitlines()[0] == "sample_id\tpca"
    assert json.loads((readme_run / "qc/pca.json").read_text())["eigenvalues"] == []
    summary = pd.read_csv(readme_run / "gwas/summary.tsv", sep="\t")
    assert summary["disease"].tolist() == DISEASES
    with gzip.open(readme_run / "prs/scores/pgs.tsv.gz", "rt") as handle:
        scores = pd.read_csv(io.StringIO(handle.read()), sep="\t")
    assert np.max(np.abs(scores["Z_norm1"] - scores["Z_norm2"])) < 1e-8
    performance = pd.read_csv(readme_run / "prs/performance.tsv", sep="\t")
    assert performance["status"].str.startswith("OK").all()
    incohort = pd.read_csv(readme_run / "prs/incohort_performance.tsv", sep="\t")
    assert set(incohort["disease"]) == set(DISEASES)


def test_readme_command__sex_covariate_all_na_is_refused(tmp_path, autosomal_cohort):
    """covariates [age, sex] with sex NA for everyone: the first job stops, its log names the
    sheet and says to drop sex from covariates."""
    result = run_as_in_readme(tmp_path, autosomal_cohort)
    assert result.returncode != 0
    log = (tmp_path / "results/mine/logs/validate_inputs.log").read_text()
    assert f"{tmp_path / 'phenotypes.tsv'}: covariate 'sex' is NA for every sample" in log
    assert "remove 'sex' from 'covariates' in the config" in log
    assert yaml.safe_load((tmp_path / "my.yaml").read_text())["covariates"] == ["age", "sex"]
