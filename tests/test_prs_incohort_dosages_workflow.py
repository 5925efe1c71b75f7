"""The workflow builds the in-cohort scores from the dosage chunks when the cohort has
``imputed`` (a real run on test_imputed_workflow's tiny cohort), and the report says so."""

from pathlib import Path

import pytest
from test_imputed_workflow import bcftools, imputed_cohort  # noqa: F401 (fixtures)
from test_workflow import PRS_CONFIG, run_snakemake, write_config

pytestmark = pytest.mark.slow

TARGETS = ("results/imp/prs/incohort_performance.tsv", "results/imp/report/index.html")


@pytest.fixture(scope="module")
def incohort_run(tmp_path_factory, imputed_cohort) -> tuple[Path, Path]:  # noqa: F811
    workdir = tmp_path_factory.mktemp("incohort_imputed_run")
    config = write_config(workdir / "config.yaml", {"imp": imputed_cohort},
                          imputed_qc={"min_r2": 0.5}, prs=PRS_CONFIG)
    result = run_snakemake(workdir, config, *TARGETS)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, config


def test_incohort_workflow__folds_read_the_dosage_chunks(incohort_run):
    """Every fold job read the imputed dosages (its log), and its command passes the dosage
    chunks as --pgens (a dry run of the fold jobs)."""
    workdir, config = incohort_run
    logs = sorted((workdir / "results/imp/logs/build_incohort_fold").glob("*.log"))
    assert len(logs) == PRS_CONFIG["incohort"]["folds"] + 1
    for log in logs:
        assert "variants (imputed dosages)" in log.read_text(), log.name
    dry = run_snakemake(workdir, config, "--dry-run", "--printshellcmds", "--forcerun",
                        "build_incohort_fold", TARGETS[0])
    assert dry.returncode == 0, dry.stderr[-3000:]
    commands = [line for line in dry.stdout.splitlines() if "prs-incohort-fold " in line]
    assert commands
    assert all("--pgens results/imp/imputed/" in c for c in commands)


def test_incohort_workflow__report_says_dosages(incohort_run):
    """Both languages' reports say the in-cohort scores used the imputed dosages."""
    workdir, _ = incohort_run
    pages = [p.read_text(encoding="utf-8") for p in (workdir / "results/imp/report").glob("*.html")]
    assert any("were built and evaluated on the imputed dosages" in page for page in pages)
    assert any("대치한 유전형 용량(dosage)으로 만들고 평가했습니다" in page for page in pages)
