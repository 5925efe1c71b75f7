"""Faults on a tiny workflow run: kills of the whole workflow and of single jobs, a stale lock, a
full disk, a config edit, serial vs parallel runs. After each, the results must be byte-identical
to an uninterrupted run (sha256 of every file under results/, logs and benchmarks aside, and
provenance.json without its ``run`` section)."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cohortgen.io.files import FAULT_ENV
from cohortgen.provenance import comparable_record
from cohortgen.simulate import simulate_cohort

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COHORT = "tiny"
DISEASES = ["hypertension", "obesity"]
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS")

pytestmark = pytest.mark.slow


def environment(threads: int = 2, **extra: str) -> dict:
    """The run's environment: ``threads`` for Numba and BLAS, a fixed GWAS-SSF metadata date."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "SOURCE_DATE_EPOCH": "1767225600",
            **dict.fromkeys(THREAD_VARIABLES, str(threads)), **extra}


def snakemake_command(workdir: Path, *extra: str, config: str = "config.yaml") -> list[str]:
    return [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory",
            str(workdir), "--configfile", str(workdir / config), *extra]


def run_snakemake(workdir: Path, *extra: str, cores: int = 2,
                  env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_command(workdir, "--cores", str(cores), *extra),
                          capture_output=True, text=True, env=env or environment(), check=False)


def manifest(workdir: Path) -> dict:
    """{path under results/: sha256} of every output; provenance.json without ``run``."""
    root = workdir / "results"
    sums = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or {"logs", "benchmarks"} & set(relative.parts):
            continue
        data = path.read_bytes()
        if path.name == "provenance.json":
            data = json.dumps(comparable_record(json.loads(data)), sort_keys=True).encode()
        sums[str(relative)] = hashlib.sha256(data).hexdigest()
    return sums


def differences(expected: dict, got: dict) -> list[str]:
    return sorted(name for name in expected.keys() | got.keys()
                  if expected.get(name) != got.get(name))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    simulate_cohort(out, n_samples=200, n_chromosomes=2, chromosome_mb=3.0, seed=5)
    return out


def new_workdir(base: Path, cohort: Path, **overrides) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    config = {"cohorts": {COHORT: {"genotypes": str(cohort / "genotypes.vcf.gz"),
                                   "phenotypes": str(cohort / "phenotypes.tsv")}},
              "diseases": DISEASES, "covariates": ["age", "sex"],
              "chunks": {"variants_per_chunk": 600}, "assoc": {"min_cases": 10},
              "qc": {"kinship_threshold": 0.177}, **overrides}
    (base / "config.yaml").write_text(yaml.safe_dump(config))
    return base


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, cohort) -> Path:
    """An uninterrupted run: 2 cores, 2 Numba and BLAS threads."""
    workdir = new_workdir(tmp_path_factory.mktemp("reference"), cohort)
    result = run_snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.fixture(scope="module")
def reference(reference_run) -> dict:
    sums = manifest(reference_run)
    assert len(list((reference_run / "results" / COHORT / "chunks").glob("c*/"))) >= 3
    return sums


def descendants(pid: int) -> set[int]:
    """Process ids of every process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the workflow ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)


def start_workflow(workdir: Path, *extra: str) -> subprocess.Popen:
    """Snakemake in its own process group (its jobs too), output to files of ``workdir``."""
    with (workdir / "snakemake.out").open("a") as out, (workdir / "snakemake.err").open("a") as err:
        return subprocess.Popen(snakemake_command(workdir, "--cores", "2", *extra),
                                env=environment(), stdout=out, stderr=err,
                                start_new_session=True)


def kill_workflow_when(workdir: Path, log: str, *extra: str) -> None:
    """Start the workflow and SIGKILL snakemake with all its jobs once job log ``log`` (under
    results/<cohort>/logs/) exists, i.e. once that job has started."""
    target = workdir / "results" / COHORT / "logs" / log
    assert not target.exists()
    process = start_workflow(workdir, *extra)
    wait_for(target.exists, process, f"job log {log}")
    below = descendants(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    for pid in below:  # any job that left the process group
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def kill_one_job(workdir: Path, command: str, *extra: str) -> int:
    """Run the workflow and SIGKILL the first job running ``cohortgen <command>``; snakemake
    goes on with the other jobs and ends with an error: its exit status."""
    process = start_workflow(workdir, *extra)
    pattern = re.compile(rf"-m\x00cohortgen\x00{command}\x00")

    def job() -> int | None:
        for pid in descendants(process.pid):
            try:
                if pattern.search((Path("/proc") / str(pid) / "cmdline").read_text()):
                    return pid
            except OSError:
                continue
        return None

    wait_for(lambda: job() is not None, process, f"a cohortgen {command} job")
    os.kill(job(), signal.SIGKILL)
    return process.wait()


def test_faults__kills_at_several_points_then_resume_give_identical_outputs(
        tmp_path, cohort, reference):
    workdir = new_workdir(tmp_path, cohort)
    kill_workflow_when(workdir, "ingest_chunk/c0002.log")
    # the killed snakemake left its lock: a rerun stops and says so; --unlock removes it
    locked = run_snakemake(workdir, "--rerun-incomplete")
    assert locked.returncode != 0
    assert "cannot be locked" in locked.stderr
    assert run_snakemake(workdir, "--unlock").returncode == 0
    assert kill_one_job(workdir, "assoc", "--rerun-incomplete") != 0
    assert "Error in rule test_association_chunk" in (workdir / "snakemake.err").read_text()
    for log in ("gather_gwas/obesity.log", "render_report.log"):
        kill_workflow_when(workdir, log, "--rerun-incomplete")
        assert run_snakemake(workdir, "--unlock").returncode == 0
    resumed = run_snakemake(workdir, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert differences(reference, manifest(workdir)) == []
    assert list((workdir / "results").rglob(".*.tmp")) == []


def test_faults__disk_full_in_a_job_keeps_no_output_and_says_so(tmp_path, reference_run,
                                                                 reference):
    workdir = tmp_path / "run"
    shutil.copytree(reference_run, workdir, symlinks=True)
    summary = workdir / "results" / COHORT / "gwas" / "summary.tsv"
    summary.unlink()  # as if the run had got as far as the summary
    shutil.rmtree(workdir / "results" / COHORT / "report")
    full = run_snakemake(workdir, env=environment(**{FAULT_ENV: "summary.tsv"}))
    assert full.returncode != 0
    log = (workdir / "results" / COHORT / "logs" / "summarize_gwas.log").read_text()
    assert "no space left on the disk writing" in log
    assert "Traceback" not in log
    assert not summary.exists()
    assert list(summary.parent.glob(".*")) == []
    again = run_snakemake(workdir)
    assert again.returncode == 0, again.stderr[-4000:]
    assert differences(reference, manifest(workdir)) == []


def test_faults__one_core_one_thread_gives_identical_outputs(tmp_path, cohort, reference):
    workdir = new_workdir(tmp_path, cohort)
    result = run_snakemake(workdir, cores=1, env=environment(threads=1))
    assert result.returncode == 0, result.stderr[-4000:]
    assert differences(reference, manifest(workdir)) == []


def dry_run_after_edit(workdir: Path, section: str, key: str, value) -> str:
    """Output of a dry run (only the params trigger besides missing files, so no other reason
    masks it) after config ``section.key`` is set to ``value``."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config.setdefault(section, {})[key] = value
    edited = workdir / f"edited_{key}.yaml"
    edited.write_text(yaml.safe_dump(config))
    command = snakemake_command(workdir, "--cores", "1", "--dry-run", "--rerun-triggers",
                                "params", config=edited.name)
    result = subprocess.run(command, capture_output=True, text=True, env=environment(),
                            check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout + result.stderr


# Snakemake names one reason per job in its summary: the variant-QC chunks' params change with
# qc.hwe_midp too, but they are listed as "input files updated" (the pruned set reruns first).
# The per-chunk variant statistics rerun because their outputs are temp() and the pruned set
# reads them again; ingest and everything before it never reruns.
@pytest.mark.parametrize(("section", "key", "value", "changed", "untouched"), [
    ("qc", "hwe_midp", 1e-8, {"select_pruned_set", "write_provenance"},
     {"validate_inputs", "plan_chunks", "ingest_chunk", "list_repeated_ids"}),
    ("assoc", "firth_p_threshold", 0.01, {"test_association_chunk", "write_provenance"},
     {"ingest_chunk", "compute_variant_stats", "select_pruned_set", "qc_samples",
      "qc_variants_chunk", "write_qc_genotypes", "summarize_qc", "fit_null_models"}),
])
def test_faults__a_changed_key_reruns_only_the_steps_using_it(reference_run, section, key,
                                                              value, changed, untouched):
    output = dry_run_after_edit(reference_run, section, key, value)
    reasons = re.findall(r"params have changed since last execution:\n\s*(.+)\n", output)
    assert {rule for line in reasons for rule in line.split(", ")} == changed
    jobs = set(re.findall(r"^(?:local)?rule (\w+):$", output, flags=re.MULTILINE))
    assert changed <= jobs
    assert not jobs & untouched


def test_faults__a_failed_trait_does_not_stop_the_others_and_the_report_says_why(
        tmp_path, reference_run):
    workdir = tmp_path / "run"
    shutil.copytree(reference_run, workdir, symlinks=True)
    chunks = run_snakemake(workdir, "--forcerun", "test_association_chunk", "--until",
                           "test_association_chunk", "--notemp")
    assert chunks.returncode == 0, chunks.stderr[-4000:]
    results = workdir / "results" / COHORT
    broken = results / "chunks" / "c0002" / "assoc" / "obesity.columns"
    written = broken.stat()
    broken.write_bytes(broken.read_bytes()[:-100])  # a table cut short
    os.utime(broken, ns=(written.st_atime_ns, written.st_mtime_ns))
    result = run_snakemake(workdir, "--keep-going")
    assert result.returncode == 0, result.stderr[-4000:]
    summary = (results / "gwas" / "summary.tsv").read_text().splitlines()
    status = {line.split("\t")[0]: line.split("\t")[2] for line in summary[1:]}
    assert status["hypertension"] == "OK"
    assert status["obesity"].startswith("FAILED: gather_gwas: ")
    assert "c0002/assoc/obesity.columns: column table cut short" in status["obesity"]
    for page, words in (("index.en.html", "step gather_gwas failed"),
                        ("index.ko.html", "gather_gwas 단계 실패")):
        assert words in (results / "report" / page).read_text()
    for name in ("hypertension.tsv.gz", "hypertension.loci.tsv"):
        assert (results / "gwas" / name).read_bytes() == (
            reference_run / "results" / COHORT / "gwas" / name).read_bytes()
