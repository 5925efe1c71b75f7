"""End-to-end runs of the Snakemake workflow on a tiny simulated cohort (VCF and PLINK inputs)."""

import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pandas as pd
import pysam
import pytest
import yaml

from cohortgen.io.sumstats import GWAS_SSF_MANDATORY, read_gwas_ssf
from cohortgen.simulate import simulate_cohort

REPO = Path(__file__).resolve().parents[1]
DISEASES = ["hypertension", "type2_diabetes", "obesity", "stroke"]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def run_snakemake(workdir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--configfile", str(config), "--cores", "2", *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def write_config(path: Path, cohorts: dict, **overrides) -> Path:
    # A 10 Mb genome makes KING kinship noisy (hundreds of unrelated pairs exceed the 2nd-degree
    # cutoff 0.0884, as in PLINK 2); the 1st-degree cutoff keeps enough stroke cases to test.
    config = {"cohorts": cohorts, "diseases": DISEASES, "covariates": ["age", "sex"],
              "chunks": {"variants_per_chunk": 1500}, "assoc": {"min_cases": 10},
              "qc": {"kinship_threshold": 0.177}, **overrides}
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    simulate_cohort(out, n_samples=300, n_chromosomes=2, chromosome_mb=5.0, seed=7, x_mb=5.0)
    return out


@pytest.fixture(scope="module")
def plink_prefix(tiny_cohort, plink2) -> Path:
    prefix = tiny_cohort / "plinkset"
    subprocess.run([plink2, "--vcf", str(tiny_cohort / "genotypes.vcf.gz"), "--make-bed",
                    "--out", str(prefix), "--threads", "1"], check=True, capture_output=True)
    return prefix


@pytest.fixture(scope="module")
def demo_score(tiny_cohort) -> Path:
    out = tiny_cohort / "pgs_hypertension.txt.gz"
    subprocess.run([str(BIN / "cohortgen"), "prs-demo-score", "--truth",
                    str(tiny_cohort / "truth.json"), "--disease", "hypertension",
                    "--genome-build", "GRCh38", "--seed", "1", "--out", str(out)], check=True)
    return out


PRS_CONFIG = {"incohort": {"enabled": True, "folds": 2, "ct": {"r2_grid": [0.2],
                                                               "p_thresholds": [1e-4, 0.01]},
                           "ldpred2": {"n_chains": 2, "burn_in": 30, "num_iter": 30}}}


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory, tiny_cohort, plink_prefix, demo_score) -> Path:
    workdir = tmp_path_factory.mktemp("run")
    cohorts = {
        "vcf": {"genotypes": str(tiny_cohort / "genotypes.vcf.gz"),
                "phenotypes": str(tiny_cohort / "phenotypes.tsv")},
        "plink": {"genotypes": str(plink_prefix),
                  "phenotypes": str(tiny_cohort / "phenotypes.tsv")},
    }
    prs = {**PRS_CONFIG, "scores": {"pgs_demo": {"file": str(demo_score),
                                                  "diseases": ["hypertension"]}}}
    config = write_config(workdir / "config.yaml", cohorts, prs=prs)
    result = run_snakemake(workdir, config)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def results(workdir: Path, cohort: str = "vcf") -> Path:
    return workdir / "results" / cohort


def test_workflow__every_output_exists_and_parses(workflow_run):
    res = results(workflow_run)
    manifest = json.loads((res / "input/manifest.json").read_text())
    assert manifest["samples"]["both"] == 300
    summary = json.loads((res / "qc/summary.json").read_text())
    ingest = summary["ingest"]
    assert ingest["records_in"] == ingest["records_kept"] + sum(ingest["records_excluded"].values())
    assert summary["samples"]["in"] == summary["samples"]["kept"] + sum(
        summary["samples"]["removed"].values())
    assert summary["samples"]["removed"]["low_call_rate"] == 10
    variants = pd.read_csv(res / "qc/variants.tsv.gz", sep="\t")
    split = ingest["multiallelic_split"]
    assert ingest["variants_written"] == (ingest["records_kept"] - split["records"]
                                          + split["variants"])
    assert len(variants) == summary["variants"]["in"] == ingest["variants_written"]
    gwas_summary = pd.read_csv(res / "gwas/summary.tsv", sep="\t")
    assert gwas_summary["disease"].tolist() == DISEASES
    for disease in DISEASES:
        path = res / f"gwas/{disease}.tsv.gz"
        table = read_gwas_ssf(path)
        assert table.columns[: len(GWAS_SSF_MANDATORY)].tolist() == GWAS_SSF_MANDATORY
        untested = pd.read_csv(res / f"gwas/{disease}.untested.tsv.gz", sep="\t")
        assert len(table) + len(untested) == summary["variants"]["kept"]
        assert (table["p_value"].dropna() > 0).all()
        meta = yaml.safe_load(Path(f"{path}-meta.yaml").read_text())
        assert meta["data_file_md5sum"] == hashlib.md5(path.read_bytes()).hexdigest()
        first = table.iloc[0]
        rows = list(pysam.TabixFile(str(path)).fetch(
            str(first["chromosome"]), int(first["base_pair_location"]) - 1,
            int(first["base_pair_location"])))
        assert rows
    performance = pd.read_csv(res / "prs/performance.tsv", sep="\t")
    assert performance["score"].tolist() == ["pgs_demo"]
    assert 0.5 < performance["auc"].iloc[0] <= 1
    incohort = pd.read_csv(res / "prs/incohort_performance.tsv", sep="\t")
    assert set(incohort["disease"]) == set(DISEASES)
    provenance = json.loads((res / "provenance.json").read_text())
    schema = yaml.safe_load((REPO / "workflow/schemas/provenance.schema.yaml").read_text())
    jsonschema.validate(provenance, schema)
    assert provenance["steps"]["sample_qc"]["qc"]["kinship_threshold"] == 0.177
    html = (res / "report/index.en.html").read_text(encoding="utf-8")
    assert "Polygenic risk scores" in html
    assert "incohort_ldpred2" in html
    assert (res / "report/index.html").read_text(encoding="utf-8").startswith(
        '<!DOCTYPE html>\n<html lang="ko">')


def test_workflow__private_files_are_owner_only(workflow_run, tiny_cohort):
    res = results(workflow_run)
    # Individual-level: genotypes, sample IDs or per-person values (.bim files list variants
    # only). Then every other file naming a sample, as text, gzip text or a NumPy string array.
    individual = ["qc/samples.tsv", "qc/keep.txt", "qc/pcs.tsv", "qc/related_pairs.tsv",
                  "qc/genotypes.bed", "qc/genotypes.fam", "qc/pruned.bed", "qc/pruned.fam",
                  "assoc/null_model.tsv", "prs/scores/pgs_demo.tsv.gz", "prs/incohort/folds.tsv",
                  "prs/incohort/hypertension.scores.tsv.gz", "chunks/*/genotypes.bed",
                  "chunks/*/genotypes.fam", "chunks/*/sex_partials.npz"]
    assert [pattern for pattern in individual if not any(res.glob(pattern))] == []
    paths = [path for pattern in individual for path in sorted(res.glob(pattern))]
    ids = pd.read_csv(tiny_cohort / "phenotypes.tsv", sep="\t", dtype=str)["sample_id"]
    named = re.compile(b"|".join(re.escape(s.encode(code)) for s in ids
                                 for code in ("utf-8", "utf-32-le")))
    for path in sorted(p for p in res.rglob("*") if p.is_file() and p not in paths):
        data = path.read_bytes()
        if named.search(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data):
            paths.append(path)
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.relative_to(res)} has mode {oct(mode)}"


def test_workflow__report_and_logs_hold_no_sample_ids(workflow_run, tiny_cohort):
    samples = pd.read_csv(tiny_cohort / "phenotypes.tsv", sep="\t", dtype=str)["sample_id"]
    res = results(workflow_run)
    shareable = [*sorted((res / "report").glob("*.html")), res / "qc/summary.json",
                 res / "gwas/summary.tsv",
                 res / "provenance.json", res / "input/manifest.json",
                 res / "prs/performance.tsv", res / "prs/incohort_performance.tsv",
                 *sorted((res / "logs").rglob("*.log"))]
    for path in shareable:
        text = path.read_text(encoding="utf-8")
        leaked = [s for s in samples if s in text]
        assert not leaked, f"{path} names samples {leaked[:3]}"


def test_workflow__plink_input_gives_the_same_associations(workflow_run):
    for disease in DISEASES:
        from_vcf = read_gwas_ssf(results(workflow_run, "vcf") / f"gwas/{disease}.tsv.gz")
        from_bed = read_gwas_ssf(results(workflow_run, "plink") / f"gwas/{disease}.tsv.gz")
        pd.testing.assert_frame_equal(from_vcf, from_bed)


def test_workflow__rerun_is_byte_identical(workflow_run, tmp_path):
    shutil.copy(workflow_run / "config.yaml", tmp_path / "config.yaml")
    result = run_snakemake(tmp_path, tmp_path / "config.yaml", "--until", "render_report")
    assert result.returncode == 0, result.stderr[-4000:]
    for name in ["qc/summary.json", "qc/variants.tsv.gz", "gwas/summary.tsv",
                 "gwas/stroke.tsv.gz", "gwas/stroke.tsv.gz.tbi", "prs/performance.tsv",
                 "prs/incohort_performance.tsv", "report/index.html"]:
        first = (results(workflow_run) / name).read_bytes()
        again = (results(tmp_path) / name).read_bytes()
        assert first == again, f"{name} differs between identical runs"


def test_workflow__broken_config_names_the_key(tmp_path, tiny_cohort):
    cohorts = {"vcf": {"genotypes": str(tiny_cohort / "genotypes.vcf.gz"),
                       "phenotypes": str(tiny_cohort / "phenotypes.tsv")}}
    config = write_config(tmp_path / "config.yaml", cohorts, qc={"maf": "one percent"})
    result = run_snakemake(tmp_path, config, "--dry-run")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "['qc']['maf']" in output
    assert "one percent" in output


def test_workflow__broken_phenotype_sheet_names_the_row(tmp_path, tiny_cohort):
    sheet = (tiny_cohort / "phenotypes.tsv").read_text().splitlines()
    fields = sheet[5].split("\t")
    fields[3] = "2"  # hypertension coded 1/2 instead of 0/1
    sheet[5] = "\t".join(fields)
    (tmp_path / "pheno.tsv").write_text("\n".join(sheet) + "\n")
    cohorts = {"vcf": {"genotypes": str(tiny_cohort / "genotypes.vcf.gz"),
                       "phenotypes": str(tmp_path / "pheno.tsv")}}
    config = write_config(tmp_path / "config.yaml", cohorts)
    result = run_snakemake(tmp_path, config)
    assert result.returncode != 0
    log = (results(tmp_path) / "logs/validate_inputs.log").read_text()
    assert "line 6" in log
    assert "hypertension" in log
    assert "Traceback" not in log


def test_workflow__results_tree_is_gzip_clean(workflow_run):
    with gzip.open(results(workflow_run) / "gwas/obesity.tsv.gz", "rt") as handle:
        assert handle.readline().startswith("chromosome\tbase_pair_location")


def test_workflow__an_edited_key_changes_the_params_of_the_steps_using_it_only(workflow_run,
                                                                                 tmp_path):
    # qc.pca_outlier_sd is read by sample QC alone: no other job's params change (the rules
    # pass each step only its own keys), so pruning is not rerun (downstream jobs still rerun
    # because sample QC rewrites their inputs); provenance records the whole config.
    config = yaml.safe_load((workflow_run / "config.yaml").read_text())
    config["qc"]["pca_outlier_sd"] = 5
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config))
    result = run_snakemake(workflow_run, edited, "--dry-run", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-4000:]
    reasons = re.search(r"params have changed since last execution:\n\s*(.+)\n",
                        result.stdout + result.stderr)
    assert reasons, result.stdout + result.stderr
    assert set(reasons.group(1).split(", ")) == {"qc_samples", "write_provenance"}


# Per-chunk intermediates that nothing reads after their gather: temp() unless keep_intermediates.
INTERMEDIATES = ["chunks/*/sample_partials.npz", "chunks/*/assoc/*.columns",
                 "prs/incohort/fold*.npz"]


def test_workflow__intermediates_are_deleted_by_default(workflow_run):
    for cohort in ("vcf", "plink"):
        res = results(workflow_run, cohort)
        assert [path for pattern in INTERMEDIATES for path in res.glob(pattern)] == []
        assert list(res.glob("chunks/*/genotypes.bed"))
        assert (res / "gwas/summary.tsv").exists()
        assert (res / "prs/incohort_performance.tsv").exists()
    # their absence reruns nothing: Snakemake makes a temp file again only for a job that runs
    result = run_snakemake(workflow_run, workflow_run / "config.yaml", "--dry-run")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_workflow__keep_intermediates_keeps_them_private(tmp_path, tiny_cohort):
    cohorts = {"vcf": {"genotypes": str(tiny_cohort / "genotypes.vcf.gz"),
                       "phenotypes": str(tiny_cohort / "phenotypes.tsv")}}
    config = write_config(tmp_path / "config.yaml", cohorts, keep_intermediates=True)
    result = run_snakemake(tmp_path, config, "results/vcf/gwas/stroke.tsv.gz")
    assert result.returncode == 0, result.stderr[-4000:]
    res = results(tmp_path)
    chunks = sorted(res.glob("chunks/c*/"))
    assert len(chunks) > 1
    for chunk in chunks:
        partials = chunk / "sample_partials.npz"
        assert stat.S_IMODE(partials.stat().st_mode) & 0o077 == 0
        assert sorted(path.stem for path in (chunk / "assoc").glob("*.columns")) == sorted(DISEASES)


def shareable_outputs(workdir: Path) -> list[Path]:
    """The files the rules register for ``snakemake --report`` in the run of ``workflow_run``."""
    names = ["gwas/summary.tsv", "prs/performance.tsv",
             "prs/deciles.tsv", "prs/match/pgs_demo.json", "prs/incohort_performance.tsv",
             "report/index.html", "report/index.ko.html", "report/index.en.html",
             "report/provenance.json",
             *[f"gwas/{disease}.loci.tsv" for disease in DISEASES]]
    cross_cohort = ["index.html", "index.ko.html", "index.en.html"]
    return ([results(workdir, cohort) / name for cohort in ("vcf", "plink") for name in names]
            + [workdir / "results/report" / name for name in cross_cohort])


def test_workflow__report_zip_holds_the_shareable_files_only(workflow_run, tiny_cohort):
    report = workflow_run / "report.zip"
    result = run_snakemake(workflow_run, workflow_run / "config.yaml", "--report", str(report))
    assert result.returncode == 0, result.stderr[-4000:]
    with zipfile.ZipFile(report) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()
                 if name.startswith("report/data/raw/")}
        everything = [bundle.read(name) for name in bundle.namelist()]
    bundled = sorted((Path(name).name, hashlib.sha256(data).hexdigest())
                     for name, data in files.items())
    expected = sorted((path.name, hashlib.sha256(path.read_bytes()).hexdigest())
                      for path in shareable_outputs(workflow_run))
    assert bundled == expected
    ids = pd.read_csv(tiny_cohort / "phenotypes.tsv", sep="\t", dtype=str)["sample_id"]
    named = re.compile("|".join(re.escape(sample) for sample in ids).encode())
    assert not any(named.search(data) for data in everything)


def test_workflow__the_vcf_index_is_an_input_of_the_steps_reading_the_vcf(workflow_run,
                                                                          tiny_cohort):
    targets = [f"results/{cohort}/chunks/c0001/genotypes.bed" for cohort in ("vcf", "plink")]
    result = run_snakemake(workflow_run, workflow_run / "config.yaml", "--dry-run", "--forceall",
                           *targets)
    assert result.returncode == 0, result.stderr[-4000:]
    jobs = re.findall(r"(?:rule|checkpoint) (plan_chunks|ingest_chunk):\n\s+input: (.+)\n",
                      result.stdout + result.stderr)
    assert sorted(rule for rule, _ in jobs) == ["ingest_chunk"] * 2 + ["plan_chunks"] * 2
    index = f"{tiny_cohort / 'genotypes.vcf.gz'}.tbi"
    for rule, inputs in jobs:
        from_vcf = "results/vcf/" in inputs
        assert from_vcf or "results/plink/" in inputs, inputs
        assert (index in inputs.split(", ")) == from_vcf, (rule, inputs)
