"""The whole-genome regression in the workflow: step-1 bad inputs that fall back rather than stop,
and a small Snakemake run with step 1 on and relatives kept (LOCO file, method reported in
gwas/summary.tsv, the GWAS-SSF sidecar and the report), and the rule graph with it off."""

import gzip
import json
import stat

import numpy as np
import pandas as pd
import pytest
import yaml
from test_wgr import _run, _write_inputs, cohort  # noqa: F401  (cohort is a fixture)
from test_workflow import REPO, run_snakemake, tiny_cohort, write_config  # noqa: F401

from cohortgen.assoc.loco import ALL_COLUMN
from cohortgen.io.files import read_json

pytestmark = pytest.mark.slow


def test_wgr_step1__chromosome_smaller_than_a_block_is_one_block(cohort, tmp_path):  # noqa: F811
    """150 variants per chromosome, blocks of 200: one shorter block each, listed."""
    _write_inputs(cohort, tmp_path)
    assert _run(tmp_path, block_size=200) == 0
    summary = read_json(tmp_path / "wgr.json")
    assert summary["n_blocks"] == 3
    assert summary["short_chromosomes"] == {"1": 150, "2": 150, "3": 150}


def test_wgr_step1__disease_with_too_few_cases_falls_back(cohort, tmp_path, capsys):  # noqa: F811
    """One case among the kept samples: hypertension leaves step 1 (warning, status fallback
    with the reason, no LOCO rows, so step 2 uses its covariates-only null model); ldl is
    fitted."""
    _write_inputs(cohort, tmp_path, cases_of="hypertension")
    assert _run(tmp_path) == 0
    assert "disease 'hypertension': fewer than 8 cases or controls" in capsys.readouterr().err
    entry = read_json(tmp_path / "wgr.json")["traits"]["hypertension"]
    assert entry["status"] == "fallback"
    assert "level 1 needs at least 8 of each" in entry["reason"]
    loco = pd.read_csv(tmp_path / "loco.tsv.gz", sep="\t")
    assert set(loco["trait"]) == {"ldl"}


@pytest.fixture(scope="module")
def wgr_run(tmp_path_factory, tiny_cohort):  # noqa: F811
    """The tiny cohort through the workflow with step 1 on (blocks of 200) and relatives kept
    (the schema's defaults), up to the report."""
    workdir = tmp_path_factory.mktemp("wgr_run")
    cohorts = {"tiny": {"genotypes": str(tiny_cohort / "genotypes.vcf.gz"),
                        "phenotypes": str(tiny_cohort / "phenotypes.tsv")}}
    config = write_config(workdir / "config.yaml", cohorts,
                          assoc={"min_cases": 10, "wgr": {"block_size": 200}})
    result = run_snakemake(workdir, config)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir / "results" / "tiny"


def test_workflow_wgr__loco_is_private_with_a_column_per_chromosome_and_chrx(wgr_run):
    path = wgr_run / "wgr/loco.tsv.gz"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header = gzip.decompress(path.read_bytes()).split(b"\n", 1)[0].decode()
    assert header.split("\t") == ["trait", "sample_id", "1", "2", "X", "ALL"]
    summary = read_json(wgr_run / "wgr/wgr.json")
    kept = (wgr_run / "qc/keep.txt").read_text().split()
    assert summary["n_samples"] == len(kept)
    assert not any(sample in json.dumps(summary) for sample in kept)


def test_workflow_wgr__loco_null_models_are_private_with_every_loco_column(wgr_run):
    """The cohort's LOCO null models: private, with every LOCO column's models."""
    path = wgr_run / "assoc/loco_null.npz"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with np.load(path) as data:
        assert {"sample_id", "traits", "columns", ALL_COLUMN} <= set(data.files)


def test_workflow_wgr__relatives_are_kept_and_counted(wgr_run):
    pairs = pd.read_csv(wgr_run / "qc/related_pairs.tsv", sep="\t", dtype=str)
    assert len(pairs) > 0
    kept = set((wgr_run / "qc/keep.txt").read_text().split())
    assert set(pairs["id1"]) | set(pairs["id2"]) <= kept
    samples = pd.read_csv(wgr_run / "qc/samples.tsv", sep="\t")
    assert "related" not in set(samples["reason"].dropna())


def test_workflow_wgr__method_in_summary_sidecar_and_report(wgr_run):
    summary = pd.read_csv(wgr_run / "gwas/summary.tsv", sep="\t", keep_default_na=False)
    fitted = read_json(wgr_run / "wgr/wgr.json")["traits"]
    for _, row in summary.iterrows():
        expected = "on" if fitted[row["disease"]]["status"] == "OK" else "fallback"
        assert row["whole_genome_regression"] == expected
        assert row["relatives"] == "kept"
        meta = yaml.safe_load((wgr_run / f"gwas/{row['disease']}.tsv.gz-meta.yaml").read_text())
        assert meta["cohortgen_method"]["whole_genome_regression"] == expected
    page = (wgr_run / "report/index.en.html").read_text()
    assert "whole-genome regression, as REGENIE" in page
    assert "relatives were kept in the analysis" in page


def test_workflow_wgr__off_gives_the_rule_graph_without_step1(wgr_run, tmp_path):
    """assoc.whole_genome_regression false: no step-1 job, no LOCO null models, no --loco /
    --wgr-summary."""
    config = yaml.safe_load((wgr_run.parents[1] / "config.yaml").read_text())
    config["assoc"]["whole_genome_regression"] = False
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump(config))
    result = run_snakemake(wgr_run.parents[1], off, "--dry-run", "--printshellcmds")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "test_association_chunk" in result.stdout
    for text in ("fit_whole_genome_regression", "wgr-step1", "fit_loco_null_models",
                 "loco-null", "--loco", "--wgr-summary"):
        assert text not in result.stdout
