"""Start-up CPU of every job of the workflow: each job's command rerun on a tiny cohort.

Usage: ``.venv/bin/python bench/bench_jobs_startup.py [--work DIR] [--runs 3]``

On a tiny cohort (300 samples, two 5 Mb autosomes and a 5 Mb chrX, chunks of 1,500 variants)
a job's CPU is almost all process start-up: interpreter, imports, option parsing, and loading
(or compiling) its Numba kernels. The workflow runs once with the default config (every stage,
a published score, the in-cohort PRS at a small size, intermediates kept), which also fills
the Numba cache; then each job's shell command (Snakemake's log) is rerun ``--runs`` times in
the work directory, and its CPU seconds (user + system of the child processes: wall time means
nothing on a shared machine) are taken as the median. Printed per subcommand: jobs, median CPU
seconds per job; then the mean over all jobs.
"""

import argparse
import re
import resource
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SHELL = re.compile(r"^Shell command: (.*)$", re.M)
SUBCOMMAND = re.compile(r"-m cohortgen ([a-z0-9-]+)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/cohortgen-bench-jobs"))
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args()


def cpu_seconds(command: str, cwd: Path) -> float:
    """User + system CPU seconds of ``command`` (a shell line) and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["bash", "-c", command], cwd=cwd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def tiny_cohort(root: Path) -> None:
    """A simulated cohort and a published score for hypertension under ``root`` (reused)."""
    if (root / "pgs_hypertension.txt.gz").exists():
        return
    cohortgen = [PYTHON, "-m", "cohortgen"]
    subprocess.run([*cohortgen, "simulate", "--out", str(root), "--samples", "300",
                    "--chromosomes", "2", "--chromosome-mb", "5", "--x-mb", "5", "--seed", "7"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*cohortgen, "prs-demo-score", "--truth", str(root / "truth.json"),
                    "--disease", "hypertension", "--genome-build", "GRCh38", "--seed", "1",
                    "--out", str(root / "pgs_hypertension.txt.gz")], check=True)


def write_config(root: Path, out: Path) -> None:
    """The default config with the tiny cohort, small chunks and a small in-cohort PRS."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["cohorts"] = {"tiny": {"genotypes": str(root / "genotypes.vcf.gz"),
                                  "phenotypes": str(root / "phenotypes.tsv")}}
    config["chunks"] = {"variants_per_chunk": 1500}
    config["assoc"] = {**config.get("assoc", {}), "min_cases": 10}
    config["qc"] = {**config.get("qc", {}), "kinship_threshold": 0.177}
    config["keep_intermediates"] = True
    config["prs"]["scores"] = {"pgs_hypertension": {
        "file": str(root / "pgs_hypertension.txt.gz"), "diseases": ["hypertension"]}}
    config["prs"]["incohort"] = {"enabled": True, "folds": 2,
                                 "ct": {"r2_grid": [0.2], "p_thresholds": [1e-4, 0.01]},
                                 "ldpred2": {"n_chains": 2, "burn_in": 30, "num_iter": 30}}
    out.write_text(yaml.safe_dump(config, sort_keys=False))


def run_workflow(work: Path, config: Path) -> str:
    """Snakemake's log of a whole run in ``work`` (the default profile prints shell lines)."""
    command = [PYTHON, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(work), "--configfile", str(config), "--workflow-profile",
               str(REPO / "workflow/profiles/default"), "--cores", "2", "--forceall"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout + result.stderr


def main() -> None:
    args = parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    tiny_cohort(work / "cohort")
    write_config(work / "cohort", work / "config.yaml")
    log = run_workflow(work, work / "config.yaml")
    per_command = defaultdict(list)
    for command in SHELL.findall(log):
        name = SUBCOMMAND.search(command)
        if name:
            per_command[name[1]].append(
                statistics.median(cpu_seconds(command, work) for _ in range(args.runs)))
    print(f"{'subcommand':24s} {'jobs':>5s} {'cpu_s':>7s}")
    for name, values in sorted(per_command.items()):
        print(f"{name:24s} {len(values):5d} {statistics.median(values):7.2f}")
    every = [v for values in per_command.values() for v in values]
    print(f"{'mean over jobs':24s} {len(every):5d} {statistics.mean(every):7.2f}")


if __name__ == "__main__":
    main()
