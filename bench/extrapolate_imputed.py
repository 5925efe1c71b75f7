"""Extrapolate a measured ``bench_workflow.py --imputed`` run to 21,000 samples x 1 M and 10 M
imputed variants, on 2 cores and on a 100-node cluster: per stage, jobs x time per job.

Usage: ``.venv/bin/python bench/extrapolate_imputed.py RESULTS [RESULTS ...] [--samples 21000]
[--variants 1e6 1e7] [--cores 2] [--nodes 100] [--chunk-records 50000] [--prs-variants 1.1e6]
[--start-up S] [--measured RULE SAMPLES RECORDS CPU_S ...]``

``RESULTS`` is a run's ``results/<cohort>`` directory (``run<N>/results/n<N>`` under the bench's
``--work``). Per rule, the largest run (most kept samples) that ran it gives its measured CPU
seconds per job (``cpu_time`` of the rules' ``benchmark:`` files, so the machine's load does
not enter; a run cut short counts for the jobs it finished);
with two runs or more, each rule's peak RSS is also fitted linearly (least squares over the
runs, :func:`memory_fit`): in the samples, printed at ``--samples``; for ``gather_gwas``, which
streams (it reads, formats and appends one chunk's table at a time: about 210 MB at 20 chunks x
50,000 records, against 1.95 GB when it held them all), in the records per dosage chunk, printed
at ``--chunk-records``; for the per-variant summaries (``summarize_imputed_qc``,
``summarize_gwas``, ``render_report``: tens of bytes per variant) in all imputed records,
printed at each ``--variants``.

Model. A job's time is its CPU seconds (every job of this workflow runs on one thread or close
to it): a constant start-up ``s0`` (the process start and a stage's imports, measured here as
the CPU seconds of ``python -c <a stage's imports>`` unless ``--start-up``) plus its compute,
the measured CPU minus ``s0``, scaled by ``(N / n) ** a`` in samples and linearly, ``V / v``,
in the variants the rule's work counts, where per rule (:data:`RULES`):

- the number of jobs is the measured one, except for the dosage chunk rules
  (``ingest_imputed_chunk``, ``test_association_imputed_chunk``): ``ceil(V / --chunk-records)``
  jobs (the schema default ``chunks.imputed_variants_per_chunk``, 50,000), each
  ``--chunk-records`` records, linear in samples x records (a chunk's dosages are read,
  decoded and tested once, in blocks); and
  ``build_incohort_fold``: ``--folds`` + 1 jobs (the refit), 5 + 1 by default;
- ``v`` and ``V`` count: nothing for the array stages (validate's array part, array ingest, QC,
  whole-genome regression, null models: the array does not grow with imputation); all imputed
  records for the jobs that read every chunk's variant table or results
  (``checksum_imputed_file``: one job per imputed file and index, the measured number, each
  hashing a file that grows with the records; ``summarize_imputed_qc``, ``gather_gwas``,
  ``summarize_gwas``,
  ``score_published_prs`` matching the score against every chunk's .pvar, ``render_report``;
  ``find_loci`` reads the dosages of the windows around its hits, which hold more variants as
  the density grows); the in-cohort PRS variants for ``build_incohort_fold`` and
  ``evaluate_incohort_prs``: measured, the QC-passing imputed variants with MAF >= ``min_maf``
  (read from the folds' logs); at the target, a HapMap3-like ``prs.incohort.variants`` list of
  ``--prs-variants`` (1.1 M) variants, what a user of 8-12 M imputed variants sets (the LD and
  the sampler are linear in variants at a fixed density per Mb);
- ``a`` is 1 for every rule that reads genotypes or dosages of every sample (and for
  ``checksum_imputed_file``: the imputed files grow with the samples), 2 for ``qc_samples`` (KING
  over sample pairs), 0 for the gathers and the report (per-variant tables), 0.5 for
  ``build_incohort_fold`` (LDpred2's sweeps go over variants, not samples; measured on the
  array path, a fold job took about 80 CPU s at 5,000 x 100k and 1,602 at 21,000 x 1 M: 1.8x
  for 4.2x the samples, an exponent of 0.4), as :data:`RULES` lists.

``--measured RULE SAMPLES RECORDS CPU_S`` replaces a rule's measured point by a job measured
elsewhere (e.g. ``ingest_imputed_chunk`` / ``test_association_imputed_chunk``: one
``cohortgen ingest-dosages`` or ``cohortgen assoc --pfile`` job of RECORDS records on SAMPLES
samples at 21,000, CPU_S CPU seconds, start-up included). Rules without a benchmark file
(``validate_inputs``, the plans, the summaries, the report) count as start-up only, with the
jobs the run's Snakemake logs (``*.log`` beside ``results/``) saw finish.

Wall. Jobs run in waves of ``slots`` (2 on 2 cores; ``--nodes`` on the cluster, one job per
node: a node's other cores would serve a second job the same way): a rule takes
``ceil(jobs / slots)`` x its time per job and rules run one after the other, so the stage walls
and their sum are upper bounds (Snakemake overlaps independent stages) and queueing latency on
the cluster is not counted (add it per wave).
"""

import argparse
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_workflow import PYTHON, STAGE_IMPORTS, STAGE_OF, STAGES, job_spans  # noqa: E402
from stage_times import stage_table  # noqa: E402

SCALING = {
    # (sample exponent a, what the variant scaling counts: None, "chunk", "all", "prs"): rules
    (0, None): ["plan_chunks", "plan_imputed_chunks", "summarize_qc", "write_provenance",
                "render_cohort_index"],
    (1, None): ["validate_inputs", "ingest_chunk", "compute_variant_stats", "select_pruned_set",
                "list_repeated_ids", "qc_variants_chunk", "write_qc_genotypes",
                "fit_whole_genome_regression", "fit_null_models", "fit_loco_null_models",
                "test_association_chunk", "evaluate_published_prs", "assign_incohort_folds"],
    (2, None): ["qc_samples"],
    (1, "chunk"): ["ingest_imputed_chunk", "test_association_imputed_chunk"],
    (1, "all"): ["checksum_imputed_file", "find_loci", "score_published_prs"],
    (0, "all"): ["summarize_imputed_qc", "gather_gwas", "summarize_gwas", "render_report"],
    (0.5, "prs"): ["build_incohort_fold"],
    (1, "prs"): ["evaluate_incohort_prs"],
}
RULES = {rule: model for model, rules in SCALING.items() for rule in rules}
"""rule: (sample exponent a, what its variant scaling counts), as the module docstring says."""
CHUNKED = {rule for rule, (_, count) in RULES.items() if count == "chunk"}
FOLD_VARIANTS = re.compile(r"^fold \d+: (\d+) variants", re.M)
"""A fold log's line naming its variant count (``prs-incohort-fold``)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="results/<cohort> of runs")
    parser.add_argument("--samples", type=int, default=21_000)
    parser.add_argument("--variants", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--chunk-records", type=int, default=50_000)
    parser.add_argument("--prs-variants", type=float, default=1.1e6)
    parser.add_argument("--folds", type=int, default=5, help="prs.incohort.folds")
    parser.add_argument("--start-up", type=float, help="CPU s per job (default: measured)")
    parser.add_argument("--measured", nargs=4, action="append", default=[],
                        metavar=("RULE", "SAMPLES", "RECORDS", "CPU_S"),
                        help="a rule's per-job point measured elsewhere")
    return parser.parse_args()


def start_up_cpu(runs: int = 3) -> float:
    """Median CPU seconds of a process that imports what a stage imports and stops."""
    from bench_workflow import run_measured

    return float(np.median([run_measured([PYTHON, "-c", STAGE_IMPORTS])[2]
                            for _ in range(runs)]))


def kept_samples(results: Path) -> int:
    """QC-kept samples of a run (lines of ``qc/keep.txt``)."""
    return sum(1 for line in (results / "qc/keep.txt").read_text().splitlines() if line)


def imputed_records(results: Path) -> tuple[int, int]:
    """(imputed records, dosage chunks) of a run's imputed plan."""
    plan = pd.read_csv(results / "imputed/plan.tsv", sep="\t")
    return int(plan["n_variants"].sum()), len(plan)


def prs_variants(results: Path) -> float:
    """The in-cohort PRS variant count of a run: the largest count a fold log names (NaN when
    no log names one)."""
    logs = (results / "logs/build_incohort_fold").glob("*.log")
    counts = [int(m) for log in logs for m in FOLD_VARIANTS.findall(log.read_text())]
    return float(max(counts)) if counts else math.nan


def measured_runs(paths: list[Path]) -> list[dict]:
    """Per run: samples, imputed records and chunks, PRS variants, the per-rule table."""
    runs = []
    for results in paths:
        records, chunks = imputed_records(results)
        runs.append({"results": results, "samples": kept_samples(results), "records": records,
                     "chunks": chunks, "prs": prs_variants(results),
                     "rules": stage_table(results).set_index("rule")})
    return sorted(runs, key=lambda run: run["samples"])


def finished_jobs(results: Path) -> pd.Series:
    """Jobs per rule that the run's Snakemake logs (``*.log`` two levels above ``results``, one
    per invocation of a run resumed) saw finish."""
    logs = sorted(results.parents[1].glob("*.log"))
    spans = pd.concat([job_spans(log.read_text()) for log in logs], ignore_index=True)
    return spans["rule"].value_counts()


def per_job_points(runs: list[dict], overrides: list[list[str]]) -> pd.DataFrame:
    """Per rule, from the largest run that has it: jobs, samples, variants its scaling counts,
    CPU s per job (a run cut short still counts for the rules it finished)."""
    rows = {}
    for rule, (_, count) in RULES.items():
        having = [run for run in runs if rule in run["rules"].index]
        if not having:
            jobs = finished_jobs(runs[-1]["results"]).get(rule, 0)
            if jobs:  # no benchmark file: start-up only
                rows[rule] = {"jobs": int(jobs), "samples": runs[-1]["samples"],
                              "variants": 1.0, "cpu_per_job": math.nan}
            continue
        run = having[-1]
        measured = run["rules"].loc[rule]
        variants = {None: 1.0, "all": run["records"], "prs": run["prs"],
                    "chunk": run["records"] / run["chunks"]}[count]
        rows[rule] = {"jobs": int(measured["jobs"]), "samples": run["samples"],
                      "variants": variants, "cpu_per_job": measured["cpu_s"] / measured["jobs"]}
    for rule, samples, records, cpu in overrides:
        if rule not in RULES:
            raise SystemExit(f"--measured: unknown rule {rule!r}")
        rows[rule] = {**rows.get(rule, {"jobs": 1}), "samples": int(samples),
                      "variants": float(records), "cpu_per_job": float(cpu)}
    return pd.DataFrame.from_dict(rows, orient="index")


def extrapolated(points: pd.DataFrame, samples: int, variants: float, args,
                 start_up: float) -> pd.DataFrame:
    """Per rule at ``samples`` x ``variants``: jobs, CPU s per job (start-up included), wall
    on ``args.cores`` and on ``args.nodes`` (seconds)."""
    rows = []
    for rule, point in points.iterrows():
        exponent, count = RULES[rule]
        target = {None: 1.0, "all": variants, "prs": min(args.prs_variants, variants),
                  "chunk": min(args.chunk_records, variants)}[count]
        jobs = (math.ceil(variants / args.chunk_records) if rule in CHUNKED
                else args.folds + 1 if rule == "build_incohort_fold" else point["jobs"])
        compute = max(np.nan_to_num(point["cpu_per_job"] - start_up), 0.0)
        per_job = start_up + compute * (samples / point["samples"]) ** exponent * (
            target / point["variants"])
        rows.append({"stage": STAGE_OF[rule], "rule": rule, "jobs": jobs, "s_per_job": per_job,
                     "cpu_s": jobs * per_job, "start_up_s": jobs * start_up,
                     "wall_cores_s": math.ceil(jobs / args.cores) * per_job,
                     "wall_nodes_s": math.ceil(jobs / args.nodes) * per_job})
    return pd.DataFrame(rows)


def stage_totals(rules: pd.DataFrame) -> pd.DataFrame:
    """Per stage (in workflow order) and in total: jobs, CPU, start-up and walls (hours)."""
    order = {stage: i for i, stage in enumerate(STAGES)}
    table = (rules.groupby("stage", sort=False)[["jobs", "cpu_s", "start_up_s", "wall_cores_s",
                                                 "wall_nodes_s"]].sum()
             .sort_index(key=lambda s: s.map(order)))
    table.loc["total"] = table.sum()
    table["s_per_job"] = table["cpu_s"] / table["jobs"]
    return table


def memory_axis(rule: str) -> str | None:
    """What a rule's peak RSS is fitted in (module docstring): "chunk records" for
    ``gather_gwas`` (it streams chunk by chunk), "records" for the other rules that read every
    record whatever the samples (exponent 0 on all records), None for the other rules that
    follow the variants (their memory depends on both), else "samples"."""
    exponent, count = RULES.get(rule, (1, None))
    if rule == "gather_gwas":
        return "chunk records"
    if count == "all" and exponent == 0:
        return "records"
    return None if count in ("all", "prs") else "samples"


def memory_fit(runs: list[dict], samples: int, variants: list[float],
               chunk_records: int) -> pd.DataFrame:
    """Per rule: peak RSS (MB) of each run and, where the runs differ in the rule's
    :func:`memory_axis`, its least-squares line in it: slope per 1,000 samples or per million
    records and the line at ``samples``, at each of ``variants`` or at ``chunk_records``."""
    rules = sorted(set.intersection(*(set(run["rules"].index) for run in runs)),
                   key=lambda rule: list(STAGE_OF).index(rule) if rule in STAGE_OF
                   else len(STAGE_OF))  # workflow order
    axes = {  # axis: (per run, points, slope unit, slope column, point column)
        "samples": ([run["samples"] for run in runs], [samples], 1000, "mb_per_1000_samples",
                    "rss_mb_n{:g}"),
        "records": ([run["records"] for run in runs], variants, 1e6, "mb_per_million_records",
                    "rss_mb_v{:g}"),
        "chunk records": ([run["records"] / run["chunks"] for run in runs], [chunk_records],
                          1e6, "mb_per_million_records", "rss_mb_chunk{:g}"),
    }
    rows = []
    for rule in rules:
        y = np.array([run["rules"].loc[rule, "peak_rss_mb"] for run in runs], dtype=float)
        row = {"rule": rule, **{f"rss_mb_n{run['samples']}": v
                                for run, v in zip(runs, y, strict=True)}}
        axis = memory_axis(rule)
        if axis is not None and len(set(axes[axis][0])) > 1:
            x, points, unit, slope_name, point_name = axes[axis]
            slope, intercept = np.polyfit(np.asarray(x, dtype=float), y, 1)
            row |= {slope_name: slope * unit,
                    **{point_name.format(at): intercept + slope * at for at in points}}
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    args = parse_args()
    runs = measured_runs(args.results)
    start_up = args.start_up if args.start_up is not None else start_up_cpu()
    points = per_job_points(runs, args.measured)
    for run in runs:
        print(f"# measured: {run['results']}: {run['samples']} kept samples, {run['records']} "
              f"imputed records in {run['chunks']} chunks, {run['prs']:.0f} in-cohort PRS "
              f"variants")
    print(f"# start-up {start_up:.2f} CPU s per job; per rule, the largest run that ran it:")
    print(points.to_string(float_format=lambda x: f"{x:.1f}"))
    fmt = {"jobs": "{:.0f}".format}
    for variants in args.variants:
        rules = extrapolated(points, args.samples, variants, args, start_up)
        totals = stage_totals(rules)
        hours = totals[["cpu_s", "start_up_s", "wall_cores_s", "wall_nodes_s"]] / 3600
        table = pd.concat([totals[["jobs", "s_per_job"]], hours], axis=1)
        table.columns = ["jobs", "CPU s per job", "CPU h", "start-up h",
                         f"wall h, {args.cores} cores", f"wall h, {args.nodes} nodes"]
        print(f"\n## {args.samples} samples x {variants:g} imputed variants "
              f"({args.chunk_records} records per dosage chunk, in-cohort PRS on "
              f"{min(args.prs_variants, variants):g} variants)")
        print(table.to_string(formatters=fmt, float_format=lambda x: f"{x:.2f}"))
    print(f"\n## peak RSS per rule (MB), fitted linearly in samples, at {args.samples} (the "
          f"summaries: in imputed records; gather_gwas: in records per chunk, at "
          f"{args.chunk_records})")
    print(memory_fit(runs, args.samples, args.variants, args.chunk_records).to_string(
        index=False, float_format=lambda x: f"{x:.0f}"))


if __name__ == "__main__":
    main()
