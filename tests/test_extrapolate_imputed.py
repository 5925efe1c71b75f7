"""bench/extrapolate_imputed.py: the jobs x time-per-job model on hand-computed small cases."""

import re
import sys
from argparse import Namespace
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_workflow import STAGE_OF  # noqa: E402
from extrapolate_imputed import RULES, extrapolated, memory_fit, stage_totals  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

ARGS = Namespace(cores=2, nodes=100, chunk_records=50_000, prs_variants=1.1e6, folds=5)


def points(rows: dict) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index")


def test_extrapolated__dosage_chunks_scale_jobs_with_variants_and_time_with_samples():
    # measured: 10 chunk jobs of 10,000 records on 5,000 samples, 21 CPU s each, 1 s start-up;
    # at 21,000 x 1 M: 20 jobs of 50,000 records, 1 + 20 x (21000/5000) x 5 = 421 s each
    measured = points({"test_association_imputed_chunk": {
        "jobs": 10, "samples": 5000, "variants": 10_000.0, "cpu_per_job": 21.0}})
    row = extrapolated(measured, 21_000, 1e6, ARGS, start_up=1.0).iloc[0]
    assert row["jobs"] == 20
    assert row["s_per_job"] == pytest.approx(421.0)
    assert row["start_up_s"] == pytest.approx(20.0)
    assert row["wall_cores_s"] == pytest.approx(10 * 421.0)  # 10 waves of 2
    assert row["wall_nodes_s"] == pytest.approx(421.0)  # one wave of 100
    at_10m = extrapolated(measured, 21_000, 1e7, ARGS, start_up=1.0).iloc[0]
    assert at_10m["jobs"] == 200
    assert at_10m["wall_nodes_s"] == pytest.approx(2 * 421.0)


def test_extrapolated__fixed_jobs_follow_their_exponents():
    # KING is quadratic in samples and independent of imputation; a fold job grows as the
    # square root of the samples and linearly in the in-cohort PRS variants, capped at the
    # listed 1.1 M; a gather is linear in all imputed records and independent of samples
    measured = points({
        "qc_samples": {"jobs": 1, "samples": 1000, "variants": 1.0, "cpu_per_job": 3.0},
        "build_incohort_fold": {"jobs": 6, "samples": 1000, "variants": 1e5, "cpu_per_job": 11.0},
        "gather_gwas": {"jobs": 1, "samples": 1000, "variants": 1e5, "cpu_per_job": 2.0},
    })
    rules = extrapolated(measured, 4000, 1e7, ARGS, start_up=1.0).set_index("rule")
    assert rules.loc["qc_samples", "s_per_job"] == pytest.approx(1 + 2 * 16)
    assert rules.loc["build_incohort_fold", "s_per_job"] == pytest.approx(1 + 10 * 2 * 11)
    assert rules.loc["build_incohort_fold", "wall_cores_s"] == pytest.approx(3 * 221)
    assert rules.loc["gather_gwas", "s_per_job"] == pytest.approx(1 + 1 * 100)
    totals = stage_totals(rules.reset_index())
    assert totals.loc["total", "jobs"] == 8
    assert totals.loc["total", "cpu_s"] == pytest.approx(33 + 6 * 221 + 101)
    assert list(totals.index) == ["QC", "association", "in-cohort PRS", "total"]


def test_extrapolated__one_checksum_job_per_imputed_file_grows_with_the_file():
    # 8 files (4 VCFs and their .tbi) hashed at 2,000 x 100,000 records, 2 CPU s each with 1 s
    # of start-up: at 21,000 x 10 M still 8 jobs, 1 + 1 x 10.5 x 100 = 1,051 s each, in one
    # wave on the cluster; validate_inputs (the array and the sheet) follows the samples only
    measured = points({
        "checksum_imputed_file": {"jobs": 8, "samples": 2000, "variants": 1e5, "cpu_per_job": 2.0},
        "validate_inputs": {"jobs": 1, "samples": 2000, "variants": 1.0, "cpu_per_job": 3.0}})
    rules = extrapolated(measured, 21_000, 1e7, ARGS, start_up=1.0).set_index("rule")
    columns = ["jobs", "s_per_job", "wall_cores_s", "wall_nodes_s"]
    assert rules.loc["checksum_imputed_file", columns].tolist() == pytest.approx(
        [8, 1051.0, 4 * 1051.0, 1051.0])
    assert rules.loc["validate_inputs", columns].tolist() == pytest.approx([1, 22.0, 22.0, 22.0])


def test_rules__every_workflow_rule_has_a_model_and_a_stage():
    text = "".join(path.read_text() for path in (REPO / "workflow/rules").glob("*.smk"))
    rules = set(re.findall(r"^\s*(?:rule|checkpoint) (\w+):", text, flags=re.M)) - {"all"}
    assert set(RULES) == rules == set(STAGE_OF)


def test_memory_fit__line_through_two_runs():
    runs = [{"samples": n, "records": 1000, "chunks": 1, "rules": pd.DataFrame(
        {"peak_rss_mb": [rss]}, index=["ingest_imputed_chunk"])}
            for n, rss in ((2000, 300.0), (5000, 450.0))]
    row = memory_fit(runs, 21_000, [1e6], 50_000).iloc[0]
    assert row["mb_per_1000_samples"] == pytest.approx(50.0)
    assert row["rss_mb_n21000"] == pytest.approx(1250.0)


def test_memory_fit__gather_in_records_per_chunk_summaries_in_records_others_not_at_all():
    # gather_gwas streams: 150 MB at 10,000 records per chunk, 190 MB at 30,000: 2 kB per
    # record of a chunk, 230 MB at 50,000 whatever the variant count. summarize_gwas holds
    # every record: 200 MB at 30k records, 300 MB at 130k: 1 kB per record, 1,170 MB at 1 M.
    runs = [{"samples": n, "records": records, "chunks": chunks, "rules": pd.DataFrame(
        {"peak_rss_mb": [gather, summary, summary, summary]},
        index=["gather_gwas", "summarize_gwas", "qc_samples", "find_loci"])}
            for n, records, chunks, gather, summary in ((2000, 130_000, 13, 150.0, 300.0),
                                                         (5000, 30_000, 1, 190.0, 200.0))]
    rows = memory_fit(runs, 21_000, [1e6, 1e7], 50_000).set_index("rule")
    assert list(rows.index) == ["qc_samples", "gather_gwas", "find_loci", "summarize_gwas"]
    assert rows.loc["gather_gwas", "mb_per_million_records"] == pytest.approx(2000.0)
    assert rows.loc["gather_gwas", "rss_mb_chunk50000"] == pytest.approx(230.0)
    assert rows.loc["gather_gwas", ["rss_mb_n21000", "rss_mb_v1e+06", "rss_mb_v1e+07"]].isna(
    ).all()
    assert rows.loc["summarize_gwas", "mb_per_million_records"] == pytest.approx(1000.0)
    assert rows.loc["summarize_gwas", "rss_mb_v1e+06"] == pytest.approx(1170.0)
    assert rows.loc["summarize_gwas", "rss_mb_v1e+07"] == pytest.approx(10170.0)
    assert pd.isna(rows.loc["summarize_gwas", "rss_mb_chunk50000"])
    assert rows.loc["qc_samples", "mb_per_1000_samples"] == pytest.approx(-100 / 3)
    assert rows.loc[["find_loci"]].drop(columns=["rss_mb_n2000", "rss_mb_n5000"]).isna().all(
        axis=None)


def test_memory_fit__runs_with_equal_chunks_give_no_line():
    runs = [{"samples": n, "records": 50_000 * chunks, "chunks": chunks, "rules": pd.DataFrame(
        {"peak_rss_mb": [rss]}, index=["gather_gwas"])}
            for n, chunks, rss in ((2000, 2, 200.0), (5000, 4, 210.0))]
    assert list(memory_fit(runs, 21_000, [1e6], 50_000).columns) == [
        "rule", "rss_mb_n2000", "rss_mb_n5000"]
