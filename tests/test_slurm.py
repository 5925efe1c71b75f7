"""The workflow under a real SLURM: a one-node cluster on loopback, driven by the slurm profile.

The fixture installs Debian's ``slurm-wlm`` and ``munge`` when they are missing (as root), starts
``munged``, ``slurmctld`` and ``slurmd`` in the foreground as child processes (accounting off,
memory enforced by polling each job's processes), and stops them afterwards. Under ``CI=true`` a
cluster that cannot start fails the tests instead of skipping them.
"""

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cohortgen.simulate import simulate_cohort

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SLURM_PROFILE = REPO / "workflow/profiles/slurm"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "srun", "scancel")
NODE = "cohortgen-node"
# What a one-node loopback cluster needs beyond the profile: no accounts (accounting is off),
# job states from squeue (sacct needs accounting), and quick status checks for short jobs.
SLURM_ARGS = ("--slurm-no-account", "--slurm-status-command", "squeue",
              "--slurm-init-seconds-before-status-checks", "2",
              "--seconds-between-status-checks", "2", "--latency-wait", "10", "--jobs", "4")

pytestmark = pytest.mark.slow


def unavailable(message: str):
    """Skip, or fail under ``CI=true``: a CI run must not pass without a real SLURM."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def install_slurm() -> None:
    """Install Debian's slurm-wlm and munge when a daemon or client is missing (root only)."""
    if all(shutil.which(name) for name in DAEMONS):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable("SLURM is missing and this is not root with apt-get (.ci/run installs it)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            unavailable(f"{' '.join(command)} failed: {result.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def slurm_conf(root: Path, real_memory_mb: int) -> str:
    """slurm.conf of one node on loopback; every path under ``root``, memory limits enforced."""
    return "\n".join([
        "ClusterName=cohortgen",
        f"SlurmctldHost={socket.gethostname().split('.')[0]}",
        "SlurmctldAddr=127.0.0.1",
        f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root}/munge.socket",
        f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log",
        f"SlurmdLogFile={root}/slurmd.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU_Memory",
        "AccountingStorageType=accounting_storage/none",
        # a job step whose processes together exceed its --mem is killed (checked every second)
        "JobAcctGatherType=jobacct_gather/linux",
        "JobAcctGatherFrequency=task=1",
        "JobAcctGatherParams=OverMemoryKill",
        "MpiDefault=none",
        "ReturnToService=2",
        f"NodeName={NODE} NodeHostname={socket.gethostname().split('.')[0]} NodeAddr=127.0.0.1"
        f" CPUs={os.cpu_count()} RealMemory={real_memory_mb} State=UNKNOWN",
        f"PartitionName=batch Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def total_memory_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return kib // 1024


def wait_for_idle_node(env: dict, logs: list[Path], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "-h", "-n", NODE, "-o", "%T"], env=env,
                               capture_output=True, text=True, check=False).stdout.strip()
        if state == "idle":
            return
        time.sleep(1)
    tails = "\n".join(f"{log}:\n{log.read_text()[-1500:]}" for log in logs if log.exists())
    unavailable(f"the SLURM node did not become idle in {timeout:.0f} s:\n{tails}")


@contextlib.contextmanager
def local_slurm(root: Path):
    """Environment (``SLURM_CONF``, ``PATH``) of a one-node SLURM running with its state under
    ``root`` (an empty directory); stopped on exit. Also used by ``bench/bench_slurm.py``.

    The SLURM executor's job step drops ``SLURM_*`` variables before its nested ``srun``, which
    then looks for /etc/slurm/slurm.conf as on a real cluster; a ``srun`` shim first on ``PATH``
    points it to this cluster's configuration instead, leaving /etc alone.
    """
    install_slurm()
    for name in ("state", "spool", "bin"):
        (root / name).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, real_memory_mb=min(8000, total_memory_mb() // 2)))
    shim = root / "bin" / "srun"
    shim.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which("srun")} "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "SLURM_CONF": str(conf),
           "PATH": f"{root / 'bin'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}
    commands = [
        ["munged", "--foreground", "--force", f"--socket={root}/munge.socket",
         f"--key-file={key}", f"--pid-file={root}/munged.pid", f"--seed-file={root}/munge.seed",
         f"--log-file={root}/munged.log"],
        ["slurmctld", "-D", "-i", "-f", str(conf)],
        ["slurmd", "-D", "-f", str(conf), "-N", NODE],
    ]
    daemons = []
    try:
        for command in commands:
            daemons.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.STDOUT))
            time.sleep(1)
            if daemons[-1].poll() is not None:
                unavailable(f"{command[0]} exited with {daemons[-1].returncode}; see {root}")
        wait_for_idle_node(env, [root / "slurmctld.log", root / "slurmd.log"])
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--user", "root"], env=env, capture_output=True,
                       check=False)
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """Environment of a running one-node SLURM (:func:`local_slurm`); stopped afterwards."""
    with local_slurm(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def run_snakemake(workdir: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    command = [str(BIN / "snakemake"), "--directory", str(workdir), *extra]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    (workdir / "snakemake.log").write_text(result.stdout + result.stderr)
    return result


# provenance.json fields that legitimately differ between two runs of the same inputs
RUN_FIELDS = {"run", "created", "started", "finished", "host", "hostname", "user", "elapsed"}


def manifest(results: Path) -> dict[str, str]:
    """sha256 of every output under ``results`` except logs, benchmarks and provenance.json's
    run-specific fields (times, host), which are compared as parsed JSON without them."""
    digests = {}
    for path in sorted(results.rglob("*")):
        relative = path.relative_to(results)
        if not path.is_file() or {"logs", "benchmarks"} & set(relative.parts):
            continue
        content = path.read_bytes()
        if path.name == "provenance.json":
            record = {k: v for k, v in json.loads(content).items() if k not in RUN_FIELDS}
            content = json.dumps(record, sort_keys=True).encode()
        digests[str(relative)] = hashlib.sha256(content).hexdigest()
    return digests


def write_small_cohort(out: Path, n_samples: int = 300) -> Path:
    """Simulate ``n_samples`` samples, two 5 Mb autosomes and a 5 Mb chrX under ``out`` with a
    config of 1,500-variant chunks and the in-cohort PRS (kept small); return the config path.
    Also used by ``bench/bench_slurm.py``."""
    simulate_cohort(out / "cohort", n_samples=n_samples, n_chromosomes=2, chromosome_mb=5.0,
                    seed=7, x_mb=5.0)
    config = {
        "cohorts": {"small": {"genotypes": str(out / "cohort/genotypes.vcf.gz"),
                              "phenotypes": str(out / "cohort/phenotypes.tsv")}},
        "diseases": ["hypertension", "type2_diabetes", "obesity", "stroke"],
        "covariates": ["age", "sex"], "chunks": {"variants_per_chunk": 1500},
        "assoc": {"min_cases": 10}, "qc": {"kinship_threshold": 0.177},
        "prs": {"incohort": {"enabled": True, "folds": 2,
                             "ct": {"r2_grid": [0.2], "p_thresholds": [1e-4, 0.01]},
                             "ldpred2": {"n_chains": 2, "burn_in": 30, "num_iter": 30}}},
    }
    (out / "config.yaml").write_text(yaml.safe_dump(config))
    return out / "config.yaml"


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory) -> Path:
    """300 samples, two 5 Mb autosomes and a 5 Mb chrX; 1,500-variant chunks; in-cohort PRS."""
    out = tmp_path_factory.mktemp("slurm_cohort")
    write_small_cohort(out)
    return out


def test_slurm_profile__outputs_match_a_local_run_byte_for_byte(slurm, small_cohort, tmp_path):
    config = str(small_cohort / "config.yaml")
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    workflow = ("--snakefile", str(REPO / "Snakefile"), "--configfile", config)
    result = run_snakemake(local, slurm, *workflow, "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    result = run_snakemake(cluster, slurm, *workflow, "--workflow-profile", str(SLURM_PROFILE),
                           *SLURM_ARGS)
    assert result.returncode == 0, result.stderr[-4000:]
    # every job went through SLURM, and the per-chunk steps in groups of chunks
    submitted = (cluster / "snakemake.log").read_text()
    assert "has been submitted with SLURM jobid" in submitted
    assert "Group job chunk_ingest" in submitted
    assert "Group job chunk_test" in submitted
    assert "Group job chunk_qc" in submitted
    # and the chains of later steps, each one SLURM job
    for group in ("sample_qc", "step1", "gwas_report"):
        assert f"Group job {group}" in submitted
    ours, theirs = manifest(cluster / "results"), manifest(local / "results")
    assert ours.keys() == theirs.keys()
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert any(name.endswith("gwas/hypertension.tsv.gz") for name in ours)


HOG_SNAKEFILE = """
configfile: "config.yaml"
include: "{common}"

rule all:
    input: "results/toy/hog.done"

rule hog:
    output: "results/{{cohort}}/hog.done"
    resources:
        mem_mb=scaled({base_mb}),
        runtime=scaled(5),
    shell:
        "{python} -c 'import time; block = bytearray({hog_mb} * 2**20); "
        "block[::4096] = bytes(len(block[::4096])); time.sleep(4)' && touch {{output}}"
"""


def test_slurm_profile__job_killed_for_memory_reruns_with_more(slurm, tmp_path):
    """A real kill by SLURM's memory enforcement: the job asks for ``scaled(300)`` MB and
    allocates 250 MB (plus the executor's Snakemake wrapper), so attempt 1 is killed; attempt 2
    asks for 600 MB and completes."""
    sheet = tmp_path / "phenotypes.tsv"
    sheet.write_text("sample_id\tsex\n" + "".join(f"s{i}\t1\n" for i in range(10)))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"cohorts": {"toy": {"genotypes": "unused.vcf.gz", "phenotypes": str(sheet)}}}))
    (tmp_path / "Snakefile").write_text(HOG_SNAKEFILE.format(
        common=REPO / "workflow/rules/common.smk", base_mb=300, hog_mb=250,
        python=sys.executable))
    result = run_snakemake(tmp_path, slurm, "--snakefile", str(tmp_path / "Snakefile"),
                           "--workflow-profile", str(SLURM_PROFILE), *SLURM_ARGS)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "results/toy/hog.done").exists()
    log = (tmp_path / "snakemake.log").read_text()
    assert "mem_mb=300," in log
    assert "mem_mb=600," in log
    slurm_logs = "".join(path.read_text() for path in
                         (tmp_path / ".snakemake/slurm_logs/rule_hog").rglob("*.log"))
    assert "exceeded memory limit" in slurm_logs
