"""Per-job start-up cost: wall time of CLI stages with a cold vs a warm Numba cache.

Every Snakemake job is a fresh process, so import and compile time count once per job.
Usage: python bench/bench_startup.py [n_samples] [n_variants]
Prints one row per stage: cold-cache seconds (compile included), warm-cache seconds.
"""

import os
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


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    n_samples = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    n_variants = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prefix = tmp / "g"
        sheet = write_random_bed(prefix, n_samples, n_variants)
        env = {**os.environ, "COHORTGEN_NUMBA_CACHE": str(tmp / "cache")}
        env.pop("NUMBA_CACHE_DIR", None)
        stage = [str(BIN / "cohortgen"), "variant-stats", "--bfile", str(prefix),
                 "--phenotypes", str(sheet), "--genome-build", "GRCh38", "--variants",
                 str(tmp / "v.tsv"), "--sample-partials", str(tmp / "p.npz")]
        help_only = [str(BIN / "cohortgen"), "--help"]
        rows = [("cohortgen --help (imports only)", timed(help_only, env), timed(help_only, env)),
                (f"variant-stats {n_samples}x{n_variants}", timed(stage, env), timed(stage, env))]
    print(f"{'stage':45s} {'cold_s':>8s} {'warm_s':>8s}")
    for name, cold, warm in rows:
        print(f"{name:45s} {cold:8.2f} {warm:8.2f}")


if __name__ == "__main__":
    main()
