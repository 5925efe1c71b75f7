"""Per-job start-up cost: wall time of CLI stages with a cold vs a warm Numba cache.

Every Snakemake job is a fresh process, so import and compile time count once per job.
Usage: python bench/bench_startup.py [n_samples] [n_variants] [warm_runs]
Prints one row per stage: cold-cache seconds (compile included) and warm-cache seconds (median of
``warm_runs`` runs, default 5), each as wall time and CPU time (user + system of the child
process: steadier than wall time on a shared machine).
"""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.ingest.chunk import fam_for_samples
from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import pack_dosages

BIN = Path(sys.executable).parent


def write_random_bed(prefix: Path, n_samples: int, n_variants: int, seed: int = 1) -> Path:
    """A random PLINK fileset with 1% missing calls and MAF spread over 0.05-0.5, and a
    phenotype sheet giving each sample a sex; returns the sheet's path."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, n_variants)[:, None]
    dosage = rng.binomial(2, freq, (n_variants, n_samples)).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.01] = -1
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{j}" for j in range(n_variants)], "cm": 0.0,
                        "pos": np.arange(1, n_variants + 1) * 1000, "a1": "A", "a2": "G"})
    samples = [f"S{i}" for i in range(n_samples)]
    write_bed(prefix, pack_dosages(dosage), bim, fam_for_samples(samples))
    sheet = prefix.with_name("phenotypes.tsv")
    rows = [f"{sample}\t{1 + k % 2}\n" for k, sample in enumerate(samples)]
    sheet.write_text("sample_id\tsex\n" + "".join(rows))
    return sheet


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cold_and_warm(command: list[str], env: dict, warm_runs: int) -> tuple[tuple, tuple]:
    """Timings of a first run (cold Numba cache) and the medians of ``warm_runs`` later runs."""
    cold = timed(command, env)
    warm = [timed(command, env) for _ in range(warm_runs)]
    return cold, tuple(statistics.median(values) for values in zip(*warm, strict=True))


def main() -> None:
    n_samples = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    n_variants = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    warm_runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prefix = tmp / "g"
        sheet = write_random_bed(prefix, n_samples, n_variants)
        env = {**os.environ, "COHORTGEN_NUMBA_CACHE": str(tmp / "cache")}
        env.pop("NUMBA_CACHE_DIR", None)
        stage = [str(BIN / "cohortgen"), "variant-stats", "--bfile", str(prefix),
                 "--phenotypes", str(sheet), "--options", '{"genome_build": "GRCh38"}',
                 "--variants", str(tmp / "v.tsv"), "--sample-partials", str(tmp / "p.npz")]
        help_only = [str(BIN / "cohortgen"), "--help"]
        rows = [("cohortgen --help (imports only)", *cold_and_warm(help_only, env, warm_runs)),
                (f"variant-stats {n_samples}x{n_variants}", *cold_and_warm(stage, env, warm_runs))]
    print(f"{'stage':45s} {'cold_s':>8s} {'cold_cpu':>8s} {'warm_s':>8s} {'warm_cpu':>8s}")
    for name, cold, warm in rows:
        print(f"{name:45s} {cold[0]:8.2f} {cold[1]:8.2f} {warm[0]:8.2f} {warm[1]:8.2f}")


if __name__ == "__main__":
    main()
