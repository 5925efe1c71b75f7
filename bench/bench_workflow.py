"""The whole workflow (``snakemake --cores 2``) on simulated cohorts: wall, memory, jobs, start-up.

Usage: ``.venv/bin/python bench/bench_workflow.py [--samples 2000 5000 21000]
[--chromosomes 10] [--chromosome-mb 23] [--x-mb 20] [--cores 2] [--work DIR] [--no-plink]
[--imputed [--site-share 1.0] [--mask-share 0.5]]``

Per sample size, ``cohortgen simulate`` writes a cohort (msprime, array density: about 400
variants per Mb, so the defaults give about 100k variants with chrX) and ``prs-demo-score`` a
published score for hypertension, as ``make demo`` does. The workflow then runs on it with the
default config (``config/config.yaml``: every stage, the published score) except the cohort and
the in-cohort PRS, which takes the schema defaults (5 folds, full C+T grid, 6 chains x 300 + 300
sweeps), under the default profile (``workflow/profiles/default``).

``--imputed`` adds imputed dosages, as ``make demo`` does: ``cohortgen simulate-imputed`` writes
one Minimac4-style VCF per chromosome (GT:DS:GP, INFO R2 and TYPED/IMPUTED) from the cohort's
true genotypes, keeping a share ``--site-share`` of the array sites (default 1: as many imputed
records as array variants, about 100k) of which ``--mask-share`` (default 0.5) are masked and
imputed with the error model; the config lists them under the cohort's ``imputed:``. The
workflow then also plans, ingests and QCs the dosage chunks (``chunks.imputed_variants_per_chunk``
records each, one chunk per chromosome at these sizes), tests association on them instead of
the array chunks, and builds the published and in-cohort scores from them. The in-cohort PRS
takes every QC-passing imputed variant with MAF >= ``min_maf`` (``prs.incohort.variants``
unset): with as many imputed records as array sites that set is the size of the HapMap3-like
list (about 1.1 M, about an array's count) a user of 8-12 M imputed variants would give there,
so the fold jobs do the work they would do on real imputed data with that list.
``bench/extrapolate_imputed.py`` turns such a run into the 21,000 x 1 M / 10 M table.

Printed per stage (ingest, QC, association, published PRS, in-cohort PRS, report): jobs, wall
(first job start to last job end, from Snakemake's log; stages overlap), the sum of the jobs'
seconds and the largest job's peak RSS (``max_rss`` of the rules' benchmark files; rules without
one count in the wall only). Then the run's wall, its jobs and their total process start-up:
jobs x the median wall of a no-op that imports what a stage imports (``python -m cohortgen
--help`` alone imports no stage and is printed too). The machine's load
(``uptime``) before and after each run is printed too: the machine may be shared.

Where a stage has a plink2 equivalent, plink2 runs on the same files after the workflow
(``--threads`` = ``--cores``): VCF to .bed, variant statistics (freq, missing, HWE mid-p, het),
LD pruning, KING + PCA on the workflow's pruned set and ``--glm firth-fallback`` of the nine
diseases on the QC'd autosomes (age, sex, the workflow's PCs; plink2 refuses sex as a covariate
on chrX), each with its wall, CPU and peak RSS,
and plink2's own start-up (``plink2 --version``) x its runs.

``--alone N M`` instead measures the memory-heaviest job alone, an in-cohort PRS fold job
(``cohortgen prs-incohort-fold``: the training LD, every disease, genotypes read a block at a
time), on a cohort of N samples x M variants written straight as .bed chunks (the LD-tiled
generator of ``bench_incohort.py``: fast at any size): wall and peak RSS of fold 1 and of the
refit (fold 0), with the schema defaults except ``--sweeps`` burn-in and iterations per chain
(the memory does not depend on them; the time of the sampler grows linearly with them).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from stage_times import stage_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
STAGES = {
    "ingest": ["checksum_imputed_file", "validate_inputs", "plan_chunks", "ingest_chunk",
               "plan_imputed_chunks", "ingest_imputed_chunk"],
    "QC": ["compute_variant_stats", "select_pruned_set", "qc_samples", "list_repeated_ids",
           "qc_variants_chunk", "write_qc_genotypes", "summarize_qc", "summarize_imputed_qc"],
    "whole-genome regression": ["fit_whole_genome_regression"],
    "association": ["fit_null_models", "fit_loco_null_models", "test_association_chunk",
                    "test_association_imputed_chunk", "gather_gwas", "find_loci",
                    "summarize_gwas"],
    "published PRS": ["score_published_prs", "evaluate_published_prs"],
    "in-cohort PRS": ["assign_incohort_folds", "build_incohort_fold", "evaluate_incohort_prs"],
    "report": ["write_provenance", "render_report", "render_cohort_index"],
}
STAGE_OF = {rule: stage for stage, rules in STAGES.items() for rule in rules}
STAGE_IMPORTS = "import cohortgen.cli, cohortgen.assoc.chunk, cohortgen.qc.variant_stats"
"""A job's start-up: ``cohortgen --help`` imports no stage (0.1 s of CPU); a stage's command
imports NumPy, pandas, SciPy and Numba and loads its cached kernels (about 1 s of CPU)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 5_000])
    parser.add_argument("--chromosomes", type=int, default=10)
    parser.add_argument("--chromosome-mb", type=float, default=23.0)
    parser.add_argument("--x-mb", type=float, default=20.0)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cohortgen-bench-workflow"))
    parser.add_argument("--no-plink", action="store_true", help="skip the plink2 runs")
    parser.add_argument("--alone", type=int, nargs=2, metavar=("N", "M"),
                        help="run only the in-cohort PRS fold jobs on N samples x M variants")
    parser.add_argument("--sweeps", type=int, default=300,
                        help="with --alone: LDpred2-auto burn-in and iterations per chain")
    parser.add_argument("--imputed", action="store_true",
                        help="add per-chromosome imputed VCFs (cohortgen simulate-imputed)")
    parser.add_argument("--site-share", type=float, default=1.0,
                        help="with --imputed: share of the array sites written as records")
    parser.add_argument("--mask-share", type=float, default=0.5,
                        help="with --imputed: share of those sites masked and imputed")
    return parser.parse_args()


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_measured(command: list[str], **kwargs) -> tuple[float, float, float]:
    """Run ``command`` to the end: (wall seconds, peak RSS in MB of the process itself, CPU
    seconds of it and the children it waited for)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, usage.ru_maxrss / 1024, cpu


def start_up(command: list[str], runs: int = 5) -> float:
    """Median wall seconds of ``command``, a no-op (process start and imports only)."""
    return statistics.median(
        run_measured(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)[0]
        for _ in range(runs))


def imputed_dir(root: Path, args) -> Path:
    """Where the cohort's imputed VCFs of these ``--site-share`` and ``--mask-share`` go."""
    return root / f"imputed_sites{args.site_share:g}_masked{args.mask_share:g}"


def imputed_vcfs(root: Path, args) -> list[Path]:
    """The cohort's imputed VCFs, one per chromosome, autosomes by number then chrX."""
    def order(path: Path) -> tuple[int, str]:
        contig = path.name.removeprefix("imputed.chr").removesuffix(".vcf.gz")
        return (0, f"{int(contig):03d}") if contig.isdigit() else (1, contig)

    return sorted(imputed_dir(root, args).glob("imputed.chr*.vcf.gz"), key=order)


def simulate_imputed(root: Path, args) -> float:
    """The imputed VCFs of ``root``'s cohort (reused when there); seconds taken (0 when
    reused)."""
    out = imputed_dir(root, args)
    if (out / "done").exists():
        return 0.0
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "cohortgen", "simulate-imputed", "--genotypes",
                    str(root / "genotypes.vcf.gz"), "--out", str(out), "--mask-share",
                    str(args.mask_share), "--site-share", str(args.site_share), "--seed", "42"],
                   check=True)
    (out / "done").touch()
    return time.perf_counter() - start


def simulate(root: Path, n: int, args) -> float:
    """Cohort files under ``root`` (reused when there); seconds taken (0 when reused)."""
    vcf = root / "genotypes.vcf.gz"
    if vcf.exists() and (root / "pgs_hypertension.txt.gz").exists():
        return simulate_imputed(root, args) if args.imputed else 0.0
    start = time.perf_counter()
    cohortgen = [PYTHON, "-m", "cohortgen"]
    subprocess.run([*cohortgen, "simulate", "--out", str(root), "--samples", str(n),
                    "--chromosomes", str(args.chromosomes), "--chromosome-mb",
                    str(args.chromosome_mb), "--x-mb", str(args.x_mb), "--seed", "42"],
                   check=True)
    subprocess.run([*cohortgen, "prs-demo-score", "--truth", str(root / "truth.json"),
                    "--disease", "hypertension", "--genome-build", "GRCh38", "--seed", "1",
                    "--out", str(root / "pgs_hypertension.txt.gz")], check=True)
    if args.imputed:
        simulate_imputed(root, args)
    return time.perf_counter() - start


def write_config(root: Path, cohort: str, out: Path, imputed: list[Path]) -> None:
    """The default config with this cohort (and its ``imputed`` VCFs, if any), its score and
    the in-cohort PRS schema defaults."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["cohorts"] = {cohort: {"genotypes": str(root / "genotypes.vcf.gz"),
                                  "phenotypes": str(root / "phenotypes.tsv")}}
    if imputed:
        config["cohorts"][cohort]["imputed"] = [str(path) for path in imputed]
    config["prs"]["scores"] = {"pgs_hypertension": {
        "file": str(root / "pgs_hypertension.txt.gz"), "diseases": ["hypertension"]}}
    config["prs"]["incohort"] = {"enabled": True}
    out.write_text(yaml.safe_dump(config, sort_keys=False))


def run_workflow(work: Path, config: Path, cores: int) -> tuple[float, float, str]:
    """Run the workflow in ``work``: (wall seconds, CPU seconds of Snakemake and every job,
    Snakemake's log text)."""
    log = work / "snakemake.log"
    command = [PYTHON, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(work), "--configfile", str(config), "--workflow-profile",
               str(REPO / "workflow/profiles/default"), "--cores", str(cores)]
    with log.open("w") as handle:
        wall, _, cpu = run_measured(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    return wall, cpu, log.read_text()


JOB_START = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]\n(?:local)?(?:rule|checkpoint) "
                       r"(\w+):\n(?:.*\n)*?    jobid: (\d+)", re.M)
JOB_END = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]\nFinished jobid: (\d+) "
                     r"\(Rule: (\w+)\)", re.M)


def job_spans(log: str) -> pd.DataFrame:
    """One row per job of Snakemake's log: rule, start and end (datetime, 1 s resolution)."""
    def when(text):
        return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")

    starts = {int(m[3]): (m[2], when(m[1])) for m in JOB_START.finditer(log)}
    rows = [{"rule": rule, "start": starts[int(job)][1], "end": when(stamp)}
            for stamp, job, rule in JOB_END.findall(log) if int(job) in starts]
    return pd.DataFrame(rows)


def stage_rows(results: Path, spans: pd.DataFrame) -> pd.DataFrame:
    """Per stage: jobs, wall (first start to last end), summed job wall and CPU seconds, peak
    RSS (MB)."""
    bench = stage_table(results).set_index("rule")
    spans = spans[spans["rule"].isin(STAGE_OF)].assign(stage=spans["rule"].map(STAGE_OF))
    rows = []
    for stage, jobs in spans.groupby("stage", sort=False):
        rules = bench.index.intersection(jobs["rule"].unique())
        rows.append({"stage": stage, "jobs": len(jobs),
                     "wall_s": (jobs["end"].max() - jobs["start"].min()).total_seconds(),
                     "job_s": bench.loc[rules, "total_s"].sum(),
                     "job_cpu_s": bench.loc[rules, "cpu_s"].sum(),
                     "peak_rss_mb": bench.loc[rules, "peak_rss_mb"].max(),
                     "largest_job": (bench.loc[rules, "peak_rss_mb"].idxmax()
                                     if len(rules) else "")})
    order = {stage: i for i, stage in enumerate(STAGES)}
    return pd.DataFrame(rows).sort_values("stage", key=lambda s: s.map(order))


def plink_pheno(results: Path, root: Path, out: Path) -> tuple[Path, Path, list[str]]:
    """plink2 phenotype and covariate files (FID/IID of the QC'd set): diseases 0/1, age, sex,
    the workflow's PCs. Returns their paths and the disease names."""
    fam = pd.read_csv(results / "qc/genotypes.fam", sep=r"\s+", header=None, dtype=str,
                      usecols=[0, 1], names=["#FID", "IID"])
    sheet = pd.read_csv(root / "phenotypes.tsv", sep="\t", dtype={"sample_id": str})
    pcs = pd.read_csv(results / "qc/pcs.tsv", sep="\t", dtype={"sample_id": str})
    table = fam.merge(sheet, left_on="IID", right_on="sample_id").merge(pcs, on="sample_id")
    diseases = yaml.safe_load((REPO / "config/config.yaml").read_text())["diseases"]
    pheno, covar = out / "pheno.tsv", out / "covar.tsv"
    table[["#FID", "IID", *diseases]].to_csv(pheno, sep="\t", index=False, na_rep="NA")
    covariates = ["age", "sex", *[c for c in pcs.columns if c.startswith("PC")]]
    table[["#FID", "IID", *covariates]].to_csv(covar, sep="\t", index=False, na_rep="NA")
    return pheno, covar, diseases


def plink_rows(results: Path, root: Path, out: Path, threads: int, n: int) -> list[dict]:
    """plink2 runs equivalent to workflow stages, on the same inputs: wall and peak RSS."""
    out.mkdir(parents=True, exist_ok=True)
    base = ["plink2", "--threads", str(threads), "--silent"]
    bed = str(out / "all")
    pheno, covar, _ = plink_pheno(results, root, out)
    pca = ["--pca", "approx", "10"] if n > 5000 else ["--pca", "10"]
    runs = {
        "ingest (VCF to .bed)": ["--vcf", str(root / "genotypes.vcf.gz"), "--make-bed",
                                 "--out", bed],
        "QC (freq, missing, hardy, het)": ["--bfile", bed, "--freq", "--missing", "--hardy",
                                           "midp", "--het", "--out", f"{bed}.stats"],
        "QC (LD pruning)": ["--bfile", bed, "--indep-pairwise", "50", "5", "0.2", "--out",
                            f"{bed}.prune"],
        "QC (KING + PCA, pruned set)": ["--bfile", str(results / "qc/pruned"),
                                        "--make-king-table", "--king-table-filter", "0.0884",
                                        *pca, "--out", str(out / "pruned")],
        "association (glm, 9 diseases, autosomes)": [
            "--bfile", str(results / "qc/genotypes"), "--autosome", "--pheno", str(pheno), "--1",
            "--covar",
            str(covar), "--covar-variance-standardize", "--glm", "firth-fallback",
            "hide-covar", "--out", str(out / "glm")],
    }
    rows = []
    for name, flags in runs.items():
        wall, rss, cpu = run_measured([*base, *flags], stdout=subprocess.DEVNULL)
        rows.append({"plink2": name, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss})
    return rows


def bench_one(n: int, args, cohortgen_start: float, plink_start: float) -> None:
    root = args.work / f"cohort{n}"
    cohort = f"n{n}"
    print(f"\n## {n} samples (load before simulation: {load()})", flush=True)
    seconds = simulate(root, n, args)
    variants = subprocess.run(["bcftools", "index", "--nrecords", str(root / "genotypes.vcf.gz")],
                              capture_output=True, text=True, check=True).stdout.strip()
    print(f"simulated in {seconds:.0f} s (0: reused); {variants} variants", flush=True)
    imputed = imputed_vcfs(root, args) if args.imputed else []
    if imputed:
        records = sum(int(subprocess.run(["bcftools", "index", "--nrecords", str(path)],
                                         capture_output=True, text=True,
                                         check=True).stdout) for path in imputed)
        print(f"imputed: {len(imputed)} VCFs, {records} records, "
              f"{sum(path.stat().st_size for path in imputed) / 1e6:.0f} MB bgzipped",
              flush=True)
    work = args.work / f"run{n}"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    config = work / "config.yaml"
    write_config(root, cohort, config, imputed)
    before = load()
    wall, cpu, log = run_workflow(work, config, args.cores)
    after = load()
    results = work / "results" / cohort
    spans = job_spans(log)
    table = stage_rows(results, spans)
    bench = stage_table(results)
    print(f"load (1/5/15 min) before {before}, after {after}")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(bench.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    largest = bench.loc[bench["peak_rss_mb"].idxmax()]
    print(f"TOTAL wall {wall:.0f} s, CPU {cpu:.0f} s (jobs and Snakemake); jobs {len(spans)}; "
          f"largest job {largest['rule']} {largest['peak_rss_mb']:.0f} MB; "
          f"start-up {len(spans)} x {cohortgen_start:.2f} s = "
          f"{len(spans) * cohortgen_start:.0f} s", flush=True)
    if not args.no_plink:
        rows = pd.DataFrame(plink_rows(results, root, work / "plink2", args.cores, n))
        print(rows.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
        print(f"plink2 total {rows['wall_s'].sum():.0f} s; start-up {len(rows)} x "
              f"{plink_start:.3f} s; load after {load()}", flush=True)


def bench_fold_jobs(n: int, m: int, args) -> None:
    """Wall and peak RSS of the fold-1 job and the refit job alone on N x M tiled genotypes."""
    from bench_incohort import write_cohort

    root = args.work / f"alone{n}x{m}"
    subprocess.run(["rm", "-rf", str(root)], check=True)
    root.mkdir(parents=True)
    start = time.perf_counter()
    prefixes = write_cohort(root, n, m, seed=n, causal_fraction=0.01)
    print(f"# {n} x {m}: {len(prefixes)} chunks written in {time.perf_counter() - start:.0f} s; "
          f"load {load()}", flush=True)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    options = {"diseases": config["diseases"], "covariates": ["age", "sex"],
               "prs": {"incohort": {"ldpred2": {"burn_in": args.sweeps,
                                                "num_iter": args.sweeps}}}}
    cohort = ["--bfiles", *map(str, prefixes), "--keep", str(root / "keep.txt"), "--pcs",
              str(root / "pcs.tsv"), "--phenotypes", str(root / "phenotypes.tsv"),
              "--options", json.dumps(options)]
    cohortgen = [PYTHON, "-m", "cohortgen"]
    folds = root / "folds.tsv"
    subprocess.run([*cohortgen, "prs-incohort-folds", *cohort, "--out", str(folds)], check=True)
    qc = [f"{prefix}.variant_qc.tsv" for prefix in prefixes]
    for fold in (1, 0):
        wall, rss, cpu = run_measured(
            [*cohortgen, "prs-incohort-fold", *cohort, "--variant-qc", *qc, "--folds-tsv",
             str(folds), "--fold", str(fold), "--threads", str(args.cores), "--out",
             str(root / f"fold{fold}.npz")])
        print(f"| {n} | {m} | {'refit' if fold == 0 else f'fold {fold}'} | {args.sweeps} | "
              f"{wall:.0f} | {cpu:.0f} | {rss:.0f} | {load()} |", flush=True)


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.alone:
        print("| samples | variants | job | sweeps | wall s | CPU s | peak RSS MB | load after |")
        print("|---|---|---|---|---|---|---|---|")
        bench_fold_jobs(*args.alone, args)
        return
    help_start = start_up([PYTHON, "-m", "cohortgen", "--help"])
    cohortgen_start = start_up([PYTHON, "-c", STAGE_IMPORTS])
    plink_start = start_up(["plink2", "--version"])
    print(f"# start-up: python -m cohortgen --help {help_start:.2f} s, with a stage's imports "
          f"{cohortgen_start:.2f} s (counted per job), plink2 --version {plink_start:.3f} s; "
          f"{args.cores} cores; {os.cpu_count()} CPUs on the machine")
    for n in args.samples:
        bench_one(n, args, cohortgen_start, plink_start)


if __name__ == "__main__":
    main()
