"""The workflow through the slurm profile on a one-node SLURM on loopback against ``--cores 2``.

Usage: ``.venv/bin/python bench/bench_slurm.py [--samples 300] [--work DIR] [--cores 2]
[--modes local slurm] [--profile DIR] [-- EXTRA SNAKEMAKE ARGS FOR THE SLURM RUN]``

The cohort and config are those of ``tests/test_slurm.py`` (two 5 Mb autosomes and a 5 Mb chrX,
1,500-variant chunks, in-cohort PRS with 2 folds), and so is the cluster: ``local_slurm``
starts ``munged``, ``slurmctld`` and ``slurmd`` (one node, this machine's CPUs) as children of
this process, so it needs root and Debian's ``slurm-wlm``. The SLURM run uses
``workflow/profiles/slurm`` (or ``--profile``, e.g. an older one to compare) plus what a
cluster without accounting needs (``--slurm-no-account``, ``--slurm-status-command squeue``;
not the test's quicker status checks, so the profile's own are measured); arguments after
``--`` are added to it.

Printed per run: wall, jobs, and CPU seconds (user + system) of
- the submitting ``snakemake`` (for ``--cores``: the whole run, every job its descendant);
- the SLURM jobs: every ``slurmstepd`` with all it waited for (the job step's own Snakemake,
  which rebuilds the DAG, and the rule's command). slurmd detaches them; this process is made
  their child subreaper (``PR_SET_CHILD_SUBREAPER``) so their resource use can be collected;
- the daemons (``/proc/<pid>/stat``).
And, from slurmctld's log, the wall during which no SLURM job ran (the scheduler's and the
status polls' wait: not CPU), the sum of the jobs' wall and their queue wait (submit to start).
On a shared machine the wall times say little; compare CPU seconds.
"""

import argparse
import ctypes
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_slurm import SLURM_PROFILE, local_slurm, write_small_cohort  # noqa: E402

BIN = Path(sys.executable).parent
PR_SET_CHILD_SUBREAPER = 36
CLUSTER_ARGS = ("--slurm-no-account", "--slurm-status-command", "squeue")
"""What the loopback cluster needs beyond the profile: no accounts, job states from squeue."""
LOG_LINE = re.compile(r"^\[(\S+)\] (?:_slurm_rpc_submit_batch_job: JobId=(\d+)"
                      r"|sched: Allocate JobId=(\d+)|_job_complete: JobId=(\d+) done)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cohortgen-bench-slurm"))
    parser.add_argument("--modes", nargs="+", choices=("local", "slurm"),
                        default=["local", "slurm"])
    parser.add_argument("--profile", type=Path, default=SLURM_PROFILE,
                        help="the SLURM run's workflow profile directory")
    parser.add_argument("extra", nargs="*", help="added to the SLURM run's snakemake arguments")
    return parser.parse_args()


def cpu_seconds(rusage) -> float:
    return rusage.ru_utime + rusage.ru_stime


def run_snakemake(workdir: Path, env: dict, args: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s of snakemake and its waited-for descendants, log) of one run."""
    workdir.mkdir(parents=True)
    log = workdir / "snakemake.log"
    start = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen([str(BIN / "snakemake"), "--directory", str(workdir), *args],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, rusage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    text = log.read_text()
    if process.returncode != 0:
        sys.exit(f"snakemake failed ({process.returncode}); see {log}:\n{text[-3000:]}")
    return wall, cpu_seconds(rusage), text


def reap_orphans(settle: float = 5.0) -> tuple[int, float]:
    """(processes, CPU s) of the orphaned descendants (slurmstepd) reaped, until none has
    exited for ``settle`` seconds; the daemons, still running, are left alone."""
    count, cpu, quiet_since = 0, 0.0, time.monotonic()
    while time.monotonic() - quiet_since < settle:
        try:
            pid, _, rusage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.2)
            continue
        count, cpu, quiet_since = count + 1, cpu + cpu_seconds(rusage), time.monotonic()
    return count, cpu


def daemon_cpu_seconds() -> float:
    """CPU s so far of this process's running children (the SLURM daemons)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def controller_times(log: Path) -> dict:
    """From slurmctld's log: jobs, the sum of their wall and queue wait, and the wall between
    the first submission and the last completion during which none ran (s)."""
    events: dict[str, dict[str, datetime]] = {}
    for line in log.read_text().splitlines():
        match = LOG_LINE.match(line)
        if match:
            stamp = datetime.fromisoformat(match[1])
            job, kind = next((g, k) for g, k in zip(match.groups()[1:],
                                                     ("submit", "start", "end"), strict=True)
                             if g)
            events.setdefault(job, {})[kind] = stamp
    jobs = [e for e in events.values() if {"submit", "start", "end"} <= e.keys()]
    intervals = sorted((e["start"], e["end"]) for e in jobs)
    idle, reach = 0.0, min(e["submit"] for e in jobs)
    for start, end in intervals:
        idle += max(0.0, (start - reach).total_seconds())
        reach = max(reach, end)
    return {"jobs": len(jobs),
            "job_wall": sum((e["end"] - e["start"]).total_seconds() for e in jobs),
            "queue_wait": sum((e["start"] - e["submit"]).total_seconds() for e in jobs),
            "idle": idle, "span": (reach - min(e["submit"] for e in jobs)).total_seconds()}


def jobs_in(log: str) -> int:
    return len(re.findall(r"^Finished jobid: ", log, flags=re.M))


def main() -> None:
    args = parse_args()
    if args.work.exists():
        sys.exit(f"{args.work} exists: give a new --work directory")
    args.work.mkdir(parents=True)
    config = write_small_cohort(args.work, args.samples)
    workflow = ["--snakefile", str(REPO / "Snakefile"), "--configfile", str(config)]
    print(f"{args.samples} samples; CPU seconds are user + system; wall times on a shared "
          f"machine say little")
    if "local" in args.modes:
        wall, cpu, log = run_snakemake(args.work / "local", dict(os.environ),
                                       [*workflow, "--cores", str(args.cores)])
        print(f"local --cores {args.cores}: wall {wall:.0f} s, {jobs_in(log)} jobs, "
              f"CPU {cpu:.0f} s")
    if "slurm" in args.modes:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
        root = args.work / "cluster"
        root.mkdir()
        with local_slurm(root) as env:
            daemons_before = daemon_cpu_seconds()
            wall, cpu, log = run_snakemake(
                args.work / "slurm", env,
                [*workflow, "--workflow-profile", str(args.profile), *CLUSTER_ARGS,
                 *args.extra])
            steps, steps_cpu = reap_orphans()
            daemons = daemon_cpu_seconds() - daemons_before
        times = controller_times(root / "slurmctld.log")
        print(f"slurm profile: wall {wall:.0f} s, {jobs_in(log)} jobs in "
              f"{times['jobs']} SLURM jobs; CPU {cpu + steps_cpu + daemons:.0f} s = "
              f"submitting snakemake {cpu:.0f} + SLURM jobs {steps_cpu:.0f} ({steps} job and "
              f"step processes) + daemons {daemons:.0f}")
        print(f"  SLURM jobs' wall {times['job_wall']:.0f} s, their queue wait "
              f"{times['queue_wait']:.0f} s; wall with no SLURM job running "
              f"{times['idle']:.0f} s of {times['span']:.0f} s (first submission to last end)")


if __name__ == "__main__":
    main()
