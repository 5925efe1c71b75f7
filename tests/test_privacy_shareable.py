"""Shareable outputs carry no small counts of people and no sample IDs: the gwas/summary.tsv
counts and the GWAS-SSF sidecar masked as the report masks them, a FAILED status with the
sample IDs of its error taken out, and the provenance copy the report bundle holds without
the run's host and directory."""

import json
import re
import socket
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from test_chunk_tables import chunk_frame, write_chunk_frame

from cohortgen.assoc import gather
from cohortgen.assoc.gather import gather_gwas_or_failure, summarize_gwas
from cohortgen.cli import main
from cohortgen.io.files import write_json, write_tsv
from cohortgen.privacy import SAMPLE_ID_TEXT, shareable_counts, without_sample_ids
from cohortgen.provenance import RUN_SECTION, comparable_record, write_provenance
from cohortgen.report.render import case_control_counts, mask_small_count
from cohortgen.report.stage import build_cohort_index, read_gwas_summary
from cohortgen.wgr.stage import level1_fallbacks


def test_shareable_counts__a_small_count_and_its_complement_are_hidden():
    assert shareable_counts({"cases": 3, "controls": 497}, 5) == {"cases": "<5", "controls": None}
    assert shareable_counts({"cases": 30, "controls": 470}, 5) == {"cases": 30, "controls": 470}
    assert shareable_counts({"cases": 0, "controls": 4}, 5) == {"cases": 0, "controls": "<5"}
    assert shareable_counts({"cases": 2, "controls": 3}, 5) == {"cases": "<5", "controls": "<5"}


def test_without_sample_ids__whole_ids_only_longest_first():
    ids = ["S7", "S70", "FAM-1_S7"]
    text = "sample S70 and FAM-1_S7 (S7): S7x S77 no; S7.tsv, sample S7."
    x = SAMPLE_ID_TEXT
    assert without_sample_ids(text, ids) == (
        f"sample {x} and {x} ({x}): S7x S77 no; {x}.tsv, sample {x}.")
    assert without_sample_ids("nothing here", ids) == "nothing here"


@pytest.fixture
def failing_gather(tmp_path, monkeypatch):
    """gather_gwas failing with an error message that names sample ID00042; qc/samples.tsv
    lists it."""
    def fail(*args, **kwargs):
        raise ValueError("phenotype of sample ID00042 is not 0/1 at line 7")

    monkeypatch.setattr(gather, "gather_gwas", fail)
    write_json(tmp_path / "null.json", {"covariates": ["age"], "diseases": {
        "d": {"status": "OK", "n_cases": 200, "n_controls": 300}}})
    write_tsv(tmp_path / "samples.tsv", pd.DataFrame({"sample_id": ["ID00042", "ID00043"],
                                                      "keep": [True, False]}))
    return tmp_path


def test_gather_gwas_or_failure__the_failed_status_holds_no_sample_id(failing_gather, capsys):
    root = failing_gather
    gather_gwas_or_failure("d", [root / "d.chunk.tsv"], root / "null.json", "GRCh38",
                           root / "d.tsv.gz", samples_tsv=root / "samples.tsv")
    meta = yaml.safe_load((root / "d.tsv.gz-meta.yaml").read_text())
    assert meta["cohortgen_status"] == (
        f"FAILED: gather_gwas: ValueError: phenotype of sample {SAMPLE_ID_TEXT} is not 0/1 at "
        "line 7")
    assert "ID00042" not in capsys.readouterr().err


@pytest.fixture
def small_disease(tmp_path):
    """Disease ``rare`` with 3 cases and 497 controls and disease ``common`` with 200 / 300,
    gathered and summarised (min_cell_count 5)."""
    counts = {"rare": (3, 497), "common": (200, 300)}
    write_json(tmp_path / "null.json", {"covariates": ["age"], "diseases": {
        name: {"status": "OK", "n_cases": c, "n_controls": n} for name, (c, n) in counts.items()}})
    for name in counts:
        write_chunk_frame(tmp_path / f"{name}.chunk.columns", chunk_frame(name).assign(
            n_cases=counts[name][0], n_controls=counts[name][1]))
        gather_gwas_or_failure(name, [tmp_path / f"{name}.chunk.columns"], tmp_path / "null.json",
                               "GRCh38", tmp_path / f"{name}.tsv.gz", min_cell_count=5)
        write_tsv(tmp_path / f"{name}.loci.tsv", pd.DataFrame({"p_value": [0.2]}).iloc[:0])
    summarize_gwas(list(counts), [tmp_path / f"{n}.tsv.gz" for n in counts],
                   [tmp_path / f"{n}.loci.tsv" for n in counts], tmp_path / "null.json",
                   tmp_path / "summary.tsv", min_cell_count=5)
    return tmp_path


def test_summarize_gwas__small_counts_masked_as_in_the_report(small_disease):
    rows = pd.read_csv(small_disease / "summary.tsv", sep="\t", dtype=str,
                       keep_default_na=False).set_index("disease")
    assert rows.loc["rare", ["n_cases", "n_controls", "n_samples"]].tolist() == [
        "<5", "NA", "500"]
    assert rows.loc["rare", ["detectable_or_maf05", "detectable_or_maf20"]].tolist() == [
        "NA", "NA"]
    assert rows.loc["common", ["n_cases", "n_controls", "n_samples"]].tolist() == [
        "200", "300", "500"]
    assert float(rows.loc["common", "detectable_or_maf05"]) > 1


def test_gather_gwas__the_sidecar_leaves_small_counts_out(small_disease):
    rare = yaml.safe_load((small_disease / "rare.tsv.gz-meta.yaml").read_text())
    assert rare["samples"] == [{"sample_size": 500, "case_control_study": True}]
    assert rare["cohortgen_counts_not_shown"] == ["case_count", "control_count"]
    common = yaml.safe_load((small_disease / "common.tsv.gz-meta.yaml").read_text())
    assert common["samples"] == [{"sample_size": 500, "case_count": 200, "control_count": 300,
                                  "case_control_study": True}]
    assert "cohortgen_counts_not_shown" not in common


def test_read_gwas_summary__the_report_shows_masked_counts(small_disease):
    summary = read_gwas_summary(small_disease / "summary.tsv").set_index("disease")
    rare, common = summary.loc["rare"], summary.loc["common"]
    assert case_control_counts(rare["n_cases"], rare["n_controls"], 5, "hidden") == (
        "<5", "hidden")
    assert case_control_counts(common["n_cases"], common["n_controls"], 5, "hidden") == (
        "200", "300")
    assert mask_small_count(rare["n_samples"], 5) == "500"


def test_write_provenance__the_shareable_copy_has_no_host_or_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "manifest.json", {"files": [{"path": "g.vcf.gz", "sha256": "ab"}]})
    record = write_provenance({"cohorts": {}}, tmp_path / "manifest.json",
                              tmp_path / "provenance.json", tmp_path / "shareable.json")
    shareable = (tmp_path / "shareable.json").read_text()
    assert RUN_SECTION not in json.loads(shareable)
    assert json.loads(shareable) == comparable_record(record)
    assert str(tmp_path) not in shareable
    assert socket.gethostname() not in shareable
    assert RUN_SECTION in json.loads((tmp_path / "provenance.json").read_text())


def test_level1_fallbacks__the_reason_holds_no_count_of_people():
    """wgr.json (bundled by ``snakemake --report``) and gwas/summary.tsv's ``method_note`` carry
    this reason: 3 cases and 497 controls must not show."""
    y = np.r_[np.ones(3), np.zeros(497)][:, None]
    inputs = SimpleNamespace(is_disease=np.array([True]), values=y, traits=["rare"],
                             sample_ids=[f"s{i}" for i in range(500)])
    reason = level1_fallbacks(inputs, 5)["rare"]
    assert reason.startswith("fewer than 10 cases or controls among the 500 step-1 samples")
    assert not re.search(r"\b(3|497)\b", reason)


def registered_outputs() -> set[str]:
    """The paths the rules register for ``snakemake --report`` (``report("path", ...)``)."""
    rules = Path(__file__).parents[1] / "workflow" / "rules"
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(rules.glob("*.smk")))
    return set(re.findall(r'report\(\s*"([^"]+)"', text))


def test_workflow__the_report_bundle_holds_no_exact_small_counts_or_run_facts():
    """qc/summary.json, qc/pca.json and wgr.json keep exact counts (the report reads them and
    masks); provenance.json keeps host and directory: only report/provenance.json is bundled."""
    registered = registered_outputs()
    assert "results/{cohort}/report/provenance.json" in registered
    for exact in ("qc/summary.json", "qc/pca.json", "wgr/wgr.json", "provenance.json"):
        assert f"results/{{cohort}}/{exact}" not in registered
    assert "results/{cohort}/gwas/summary.tsv" in registered


def test_cli_gather_gwas__samples_and_min_cell_count_reach_the_sidecar(tmp_path):
    """``cohortgen gather-gwas --samples`` as the workflow calls it: a chunk table named by a
    sample ID that cannot be read as a table; the FAILED status names the file without the ID,
    and ``report.min_cell_count`` 10 hides 7 cases."""
    (tmp_path / "ID00042.tsv").write_text("a truncated table\n")
    write_tsv(tmp_path / "samples.tsv", pd.DataFrame({"sample_id": ["ID00042"]}))
    write_json(tmp_path / "null.json", {"covariates": [], "diseases": {
        "d": {"status": "OK", "n_cases": 7, "n_controls": 493}}})
    assert main(["gather-gwas", "--disease", "d", "--chunks", str(tmp_path / "ID00042.tsv"),
                 "--null-json", str(tmp_path / "null.json"), "--samples",
                 str(tmp_path / "samples.tsv"), "--options",
                 '{"genome_build": "GRCh38", "report": {"min_cell_count": 10}}',
                 "--out", str(tmp_path / "d.tsv.gz")]) == 0
    meta = yaml.safe_load((tmp_path / "d.tsv.gz-meta.yaml").read_text())
    assert meta["cohortgen_status"].startswith(f"FAILED: gather_gwas: {tmp_path}/{SAMPLE_ID_TEXT}")
    assert "ID00042" not in meta["cohortgen_status"]
    assert meta["samples"] == [{"sample_size": 500, "case_control_study": True}]


def test_build_cohort_index__masked_summary_counts_show_as_masked(small_disease):
    build_cohort_index(["c"], [small_disease / "summary.tsv"], 5, small_disease / "index.html",
                       ["en"])
    html = (small_disease / "index.html").read_text(encoding="utf-8")
    assert "&lt;5" in html
    assert ">3<" not in html
    assert ">497<" not in html
