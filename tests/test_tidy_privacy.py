"""Shareable outputs mask small groups of people consistently: the PRS performance tables
(a small count of cases or controls and its complement), the error text of a FAILED score's
match log (sample IDs taken out), and the GWAS-SSF rows of a disease with few cases (its
per-group counts and allele frequencies left out, the file still valid GWAS-SSF)."""

import json
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import require_reference_env
from test_gwas_ssf import run  # noqa: F401 - the small association run, a fixture
from test_prs_published import THRESHOLDS, cohort  # noqa: F401 - cohort is a fixture
from test_report_i18n import build_pages

from cohortgen.assoc.gather import GROUP_COLUMNS, without_small_groups
from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.io.sumstats import read_gwas_ssf
from cohortgen.privacy import SAMPLE_ID_TEXT
from cohortgen.prs import stage
from cohortgen.prs.stage import score_published, status_row, write_performance


def _row(score: str, n_cases: int, n_controls: int) -> dict:
    return {"disease": "asthma", "score": score, "status": "OK", "n_cases": n_cases,
            "n_controls": n_controls, "auc": 0.6}


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("with_status_row", [False, True])
def test_write_performance__a_small_count_and_its_complement_are_hidden(tmp_path,
                                                                         with_status_row):
    """A row with 3 cases shows ``<5`` and NA controls (cases + controls are the people
    analysed, shown elsewhere); 2 of each: both ``<5``; large counts as they are; a status row
    (a failed method, as the in-cohort table mixes them in) has no counts and changes none."""
    rows = [_row("a", 3, 497), _row("b", 200, 300), _row("c", 2, 2)]
    if with_status_row:
        rows.insert(1, status_row("asthma", "d", "FAILED: fold 1: no convergence"))
    write_performance(tmp_path / "p.tsv", rows, 5)
    table = _read(tmp_path / "p.tsv").set_index("score")
    assert table.loc["a", ["n_cases", "n_controls"]].tolist() == ["<5", "NA"]
    assert table.loc["b", ["n_cases", "n_controls"]].tolist() == ["200", "300"]
    assert table.loc["c", ["n_cases", "n_controls"]].tolist() == ["<5", "<5"]
    if with_status_row:
        assert table.loc["d", ["n_cases", "n_controls"]].tolist() == ["NA", "NA"]


def test_build_report__prs_counts_as_masked_upstream(tmp_path):
    """The report's PRS table shows a masked count as ``<5``, the count hidden beside it as
    "not shown" and a status row's counts as NA (never ``nan``)."""
    rows = [_row("a", 3, 497), _row("b", 200, 300), status_row("asthma", "c", "SKIPPED: x")]
    write_performance(tmp_path / "performance.tsv", rows, 5)
    html = build_pages(tmp_path, languages=["en"],
                       prs_performance=[tmp_path / "performance.tsv"])["index.html"]
    cells = re.findall(r'<tr><td>[^<]*</td><td>([abc])</td><td class="num">([^<]*)</td>'
                       r'<td class="num">([^<]*)</td>', html)
    assert cells == [("a", "&lt;5", "not shown"), ("b", "200", "300"), ("c", "NA", "NA")]


def test_score_published__a_failed_score_log_holds_no_sample_id(cohort, tmp_path,  # noqa: F811
                                                               monkeypatch, capsys):
    """A score whose matching fails with an error naming a cohort sample (kept or removed in
    sample QC) has that ID as ``<sample ID>`` in ``match/<s>.json`` and in the job's log."""
    kept, removed = cohort["ids"][0], cohort["ids"][7]
    assert cohort["reason"][7] == "low_call_rate"

    def fail(*args, **kwargs):
        raise InputError(f"bad.txt line 4: weight {kept!r} is not a number (see {removed}.log)")

    monkeypatch.setattr(stage, "match_score", fail)
    root = cohort["root"]
    records = score_published(["bad"], [tmp_path / "bad.txt"], cohort["chunks"], cohort["qc"],
                              root / "samples.tsv", root / "pcs.tsv", "GRCh38", 0.5, False,
                              THRESHOLDS.call_rate, tmp_path / "prs")
    logged = json.loads((tmp_path / "prs" / "match" / "bad.json").read_text())
    assert logged == records["bad"]
    assert logged["status"] == "FAILED"
    assert logged["error"] == (f"bad.txt line 4: weight '{SAMPLE_ID_TEXT}' is not a number "
                               f"(see {SAMPLE_ID_TEXT}.log)")
    err = capsys.readouterr().err
    assert kept not in err
    assert removed not in err
    assert SAMPLE_ID_TEXT in err


def test_without_small_groups__rows_with_few_cases_or_controls_lose_their_group_columns():
    table = pd.DataFrame({
        "n": [500, 500, 499, 40], "n_cases": [3, 200, 199, np.nan],
        "n_controls": [497, 300, 300, np.nan], "beta": [0.1, 0.2, 0.3, 0.4],
        "effect_allele_frequency_cases": [1 / 6, 0.2, 0.3, np.nan],
        "effect_allele_frequency_controls": [0.1, 0.2, 0.3, np.nan]})
    shown = without_small_groups(table, 5)
    assert shown.loc[0, list(GROUP_COLUMNS)].isna().all()
    pd.testing.assert_frame_equal(shown.iloc[1:], table.iloc[1:].astype(shown.dtypes))
    pd.testing.assert_frame_equal(shown[["n", "beta"]], table[["n", "beta"]])
    pd.testing.assert_frame_equal(without_small_groups(table, 3), table)


@pytest.fixture(scope="module")
def few_cases(run):  # noqa: F811
    """Disease ``d`` of the small association run gathered again with ``report.min_cell_count``
    above its case count (as when ``assoc.min_cases`` is below ``report.min_cell_count``)."""
    null = json.loads((run / "null.json").read_text())["diseases"]["d"]
    options = {"genome_build": "GRCh38", "report": {"min_cell_count": null["n_cases"] + 1}}
    assert main(["gather-gwas", "--disease", "d", "--chunks", f"{run}/assoc/d.columns",
                 "--null-json", f"{run}/null.json", "--options", json.dumps(options),
                 "--out", f"{run}/few/d.tsv.gz"]) == 0
    return run / "few" / "d.tsv.gz"


def test_gather_gwas__few_cases_leave_their_counts_and_frequencies_out(
        run, few_cases):  # noqa: F811
    masked, usual = read_gwas_ssf(few_cases), read_gwas_ssf(run / "gwas" / "d.tsv.gz")
    assert len(masked) == len(usual) > 0
    assert masked[list(GROUP_COLUMNS)].isna().all().all()
    assert usual[list(GROUP_COLUMNS)].notna().all().all()
    unchanged = [c for c in masked.columns if c not in GROUP_COLUMNS]
    pd.testing.assert_frame_equal(masked[unchanged], usual[unchanged])


def test_gather_gwas__few_cases_file_passes_the_official_validator(few_cases):
    """``gwas-ssf validate`` (``--min-rows 1``: the default wants 100,000 rows) accepts the file
    with ``#NA`` in the case and control columns."""
    result = subprocess.run(
        [require_reference_env("gwas-ssf", "gwas-ssf"), "validate", str(few_cases),
         "--min-rows", "1"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation status: True" in result.stdout
