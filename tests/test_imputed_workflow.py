"""The workflow with ``imputed:``: a tiny cohort whose imputed files (two, split by chromosome)
hold the array genotypes as dosages; association then reads the dosage chunks. A cohort without
``imputed`` keeps its jobs."""

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_workflow import run_snakemake, write_config

from cohortgen.io.sumstats import meta_path_for, read_gwas_ssf
from cohortgen.simulate import simulate_cohort

pytestmark = pytest.mark.slow

IMPUTED_RULES = {"plan_imputed_chunks", "ingest_imputed_chunk", "summarize_imputed_qc",
                 "test_association_imputed_chunk", "checksum_imputed_file"}


@pytest.fixture(scope="module")
def imputed_cohort(tmp_path_factory, plink2, bcftools) -> dict:
    """Genotypes, sheet and imputed files (chr1-2 and chrX: plink2's GT:DS export of the
    genotypes, so the dosages are the hard calls)."""
    out = tmp_path_factory.mktemp("imputed_cohort")
    simulate_cohort(out, n_samples=300, n_chromosomes=2, chromosome_mb=3.0, seed=7, x_mb=3.0)
    subprocess.run([plink2, "--vcf", str(out / "genotypes.vcf.gz"), "--export", "vcf",
                    "vcf-dosage=DS-force", "bgz", "--out", str(out / "all"), "--threads", "1"],
                   check=True, capture_output=True)
    subprocess.run([bcftools, "index", "-t", str(out / "all.vcf.gz")], check=True)
    files = []
    for name, regions in (("imp12", "1,2"), ("impX", "X")):
        path = out / f"{name}.vcf.gz"
        subprocess.run([bcftools, "view", "-r", regions, "-Oz", "-o", str(path),
                        str(out / "all.vcf.gz")], check=True)
        subprocess.run([bcftools, "index", "-t", str(path)], check=True)
        files.append(str(path))
    return {"genotypes": str(out / "genotypes.vcf.gz"),
            "phenotypes": str(out / "phenotypes.tsv"), "imputed": files}


@pytest.fixture(scope="module")
def bcftools() -> str:
    from conftest import require_tool

    return require_tool("bcftools")


@pytest.fixture(scope="module")
def imputed_run(tmp_path_factory, imputed_cohort) -> Path:
    workdir = tmp_path_factory.mktemp("imputed_run")
    config = write_config(workdir / "config.yaml", {"imp": imputed_cohort},
                          imputed_qc={"min_r2": 0.5})
    result = run_snakemake(workdir, config, "results/imp/gwas/summary.tsv",
                           "results/imp/qc/summary.json")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir / "results" / "imp"


def test_imputed_workflow__association_reads_the_dosage_chunks(imputed_run):
    """GWAS-SSF rows come from the dosage chunks (info, typed columns; chrX too), the sidecar
    says so, the array chunks were not tested, and the QC funnel has the imputed entry that
    the per-variant table adds up to."""
    gwas = read_gwas_ssf(imputed_run / "gwas" / "hypertension.tsv.gz")
    assert {"info", "typed"} <= set(gwas.columns)
    assert len(gwas) > 100
    assert "23" in set(gwas["chromosome"])
    meta = yaml.safe_load(meta_path_for(imputed_run / "gwas" / "hypertension.tsv.gz")
                          .read_text())
    assert meta["cohortgen_genotypes"] == "imputed dosages"
    assert meta["cohortgen_imputation_r2_filter"] == {"min_r2": 0.5, "r2_source": "mach"}
    assert not list((imputed_run / "chunks").glob("*/assoc"))
    assert list((imputed_run / "imputed").glob("c*/dosages.pgen"))
    funnel = json.loads((imputed_run / "qc" / "summary.json").read_text())["imputed"]
    table = pd.read_csv(imputed_run / "qc" / "imputed_variants.tsv.gz", sep="\t",
                        keep_default_na=False)
    assert funnel["variants_in"] == len(table)
    assert funnel["kept"] == (table["reason"] == "").sum()
    assert funnel["removed"]["low_maf"] == (table["reason"] == "low_maf").sum() > 0
    kept = len((imputed_run / "qc" / "keep.txt").read_text().split())
    assert funnel["samples_kept"] == kept < funnel["samples_in_files"] == 300
    assert (gwas["n"] <= kept).all()


def test_imputed_workflow__manifest_lists_the_imputed_files(imputed_run, imputed_cohort):
    """Provenance: the input manifest has each imputed file (and index) with its checksum."""
    manifest = json.loads((imputed_run / "input" / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"] if len(f["sha256"]) == 64}
    for path in imputed_cohort["imputed"]:
        assert {path, f"{path}.tbi"} <= listed


def dry_run_jobs(workdir: Path, config: Path) -> dict[str, int]:
    """{rule: jobs} of a dry run (jobs known before the checkpoints run)."""
    result = run_snakemake(workdir, config, "--dry-run", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M))
    return {rule: int(n) for rule, n in counts.items() if rule not in ("all", "total")}


def test_imputed_workflow__cohort_without_imputed_keeps_its_jobs(tmp_path, imputed_cohort):
    """A cohort without ``imputed`` plans no imputed job; beside one with ``imputed``, each
    cohort has the jobs the plain cohort has alone, and the imputed one its imputed jobs too
    (besides the cross-cohort index page)."""
    plain = {k: imputed_cohort[k] for k in ("genotypes", "phenotypes")}
    alone = dry_run_jobs(tmp_path, write_config(tmp_path / "a.yaml", {"plain": plain}))
    assert not IMPUTED_RULES & set(alone)
    both = dry_run_jobs(tmp_path, write_config(tmp_path / "b.yaml",
                                               {"plain": plain, "imp": imputed_cohort}))
    expected = {rule: 2 * n for rule, n in alone.items()}
    expected |= {"plan_imputed_chunks": 1, "summarize_imputed_qc": 1, "render_cohort_index": 1,
                 "checksum_imputed_file": 4}  # the two files and their .tbi
    assert both == expected
