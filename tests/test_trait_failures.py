"""One trait whose gathering fails: its files are written with no rows and a FAILED status that
the summary and the report carry, while the other traits' results are untouched; a system error
(a file that cannot be read, a full disk) still stops the job."""

import pandas as pd
import pytest
from test_chunk_tables import chunk_frame, write_chunk_frame

from cohortgen.assoc.gather import gather_gwas, gather_gwas_or_failure, summarize_gwas
from cohortgen.io.files import write_json, write_tsv
from cohortgen.io.sumstats import read_gwas_ssf, untested_path_for
from cohortgen.report.catalogue import Catalogue
from cohortgen.report.render import status_text


@pytest.fixture
def gathered(tmp_path):
    """Traits d (good chunk table) and e (a chunk table without its columns) gathered, their
    loci tables written, and the summary."""
    write_chunk_frame(tmp_path / "d.chunk.columns", chunk_frame("d"))
    (tmp_path / "e.chunk.columns").write_text("a truncated table\n")
    write_json(tmp_path / "null.json", {"covariates": ["age"], "diseases": {
        name: {"status": "OK", "n_cases": 200, "n_controls": 300} for name in "de"}})
    for name in "de":
        gather_gwas_or_failure(name, [tmp_path / f"{name}.chunk.columns"], tmp_path / "null.json",
                               "GRCh38", tmp_path / f"{name}.tsv.gz")
        write_tsv(tmp_path / f"{name}.loci.tsv", pd.DataFrame({"p_value": [0.2]}).iloc[:0])
    summary = summarize_gwas(["d", "e"], [tmp_path / "d.tsv.gz", tmp_path / "e.tsv.gz"],
                             [tmp_path / "d.loci.tsv", tmp_path / "e.loci.tsv"],
                             tmp_path / "null.json", tmp_path / "summary.tsv")
    return tmp_path, summary


def test_gather_gwas_or_failure__the_failed_trait_is_written_empty_with_why(gathered):
    root, summary = gathered
    assert len(read_gwas_ssf(root / "d.tsv.gz")) == 2
    assert len(read_gwas_ssf(root / "e.tsv.gz")) == 0
    assert pd.read_csv(untested_path_for(root / "e.tsv.gz"), sep="\t").empty
    meta = (root / "e.tsv.gz-meta.yaml").read_text()
    assert "cohortgen_status: 'FAILED: gather_gwas: " in meta
    statuses = dict(zip(summary["disease"], summary["status"], strict=True))
    assert statuses["d"] == "OK"
    assert statuses["e"].startswith("FAILED: gather_gwas: ")
    assert str(root / "e.chunk.columns") in statuses["e"]
    assert "rerun the step" in statuses["e"]
    assert summary.loc[summary["disease"] == "e", "n_variants"].item() == 0


def test_gather_gwas__the_error_itself_names_the_file(tmp_path):
    (tmp_path / "e.chunk.columns").write_text("a truncated table\n")
    write_json(tmp_path / "null.json", {"covariates": [], "diseases": {
        "e": {"status": "OK", "n_cases": 200, "n_controls": 300}}})
    with pytest.raises(Exception, match="e.chunk.columns: no column"):
        gather_gwas("e", [tmp_path / "e.chunk.columns"], tmp_path / "null.json", "GRCh38",
                    tmp_path / "e.tsv.gz")


def test_gather_gwas_or_failure__a_system_error_stops_the_job(tmp_path):
    write_json(tmp_path / "null.json", {"covariates": [], "diseases": {
        "e": {"status": "OK", "n_cases": 200, "n_controls": 300}}})
    with pytest.raises(FileNotFoundError):
        gather_gwas_or_failure("e", [tmp_path / "missing.tsv"], tmp_path / "null.json",
                               "GRCh38", tmp_path / "e.tsv.gz")
    assert list(tmp_path.iterdir()) == [tmp_path / "null.json"]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_status_text__a_failed_step_in_plain_words(lang):
    text = status_text(Catalogue(lang), "FAILED: gather_gwas: bad table")
    assert "gather_gwas" in text
    assert "bad table" in text
    assert text != "FAILED: gather_gwas: bad table"
