"""bench/extrapolate_imputed.py: the jobs x time-per-job model on hand-computed small cases."""

import sys
from argparse import Namespace
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from extrapolate_imputed import extrapolated, memory_fit, stage_totals  # noqa: E402

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


def test_memory_fit__line_through_two_runs():
    runs = [{"samples": n, "records": 1000, "rules": pd.DataFrame(
        {"peak_rss_mb": [rss]}, index=["ingest_imputed_chunk"])}
            for n, rss in ((2000, 300.0), (5000, 450.0))]
    row = memory_fit(runs, 21_000, [1e6]).iloc[0]
    assert row["mb_per_1000_samples"] == pytest.approx(50.0)
    assert row["rss_mb_n21000"] == pytest.approx(1250.0)


def test_memory_fit__gathers_in_records_others_that_follow_variants_not_at_all():
    # gather_gwas: 200 MB at 30k records, 300 MB at 130k: 1 kB per record, 1,170 MB at 1 M
    runs = [{"samples": n, "records": records, "rules": pd.DataFrame(
        {"peak_rss_mb": [rss, rss, rss]}, index=["gather_gwas", "qc_samples", "find_loci"])}
            for n, records, rss in ((2000, 130_000, 300.0), (5000, 30_000, 200.0))]
    rows = memory_fit(runs, 21_000, [1e6]).set_index("rule")
    assert pd.isna(rows.loc["gather_gwas", "rss_mb_n21000"])
    assert rows.loc["gather_gwas", "mb_per_million_records"] == pytest.approx(1000.0)
    assert rows.loc["gather_gwas", "rss_mb_v1e+06"] == pytest.approx(1170.0)
    assert rows.loc["qc_samples", "mb_per_1000_samples"] == pytest.approx(-100 / 3)
    assert rows.loc[["find_loci"]].drop(columns=["rss_mb_n2000", "rss_mb_n5000"]).isna().all(
        axis=None)
