"""Wall time, CPU time and peak memory of ``cohortgen wgr-step1`` (whole-genome regression
step 1) for 9 traits at once.

Usage: ``.venv/bin/python bench/bench_wgr.py [--samples 2000 5000] [--variants 20000]
[--chromosomes 4] [--block-size 1000] [--folds 5] [--threads 2]``

Per sample size, a PLINK 1 fileset of random genotypes (allele frequencies 0.05-0.5, 1% missing
calls, ``--variants`` split evenly over ``--chromosomes``), a sheet with 6 diseases (prevalence
0.1-0.3) and 3 quantitative traits, age and sex, a keep list of every sample and 4 PCs are
written to a temporary directory; the command then runs in a child process (``$OMP_NUM_THREADS``
= ``--threads``), whose wall time, user + system CPU time and peak resident set size are
shown (sizes run in increasing order: the peak is the largest of the children so far).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DISEASES = ["d1", "d2", "d3", "d4", "d5", "d6"]
QUANTITATIVE = ["q1", "q2", "q3"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 5_000])
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--chromosomes", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=1_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def write_inputs(out: Path, n_samples: int, n_variants: int, n_chromosomes: int, rng) -> None:
    """genotypes.{bed,bim,fam}, phenotypes.tsv, keep.txt and pcs.tsv under ``out``."""
    import numpy as np
    import pandas as pd

    from cohortgen.io.bed import write_bed
    from cohortgen.io.files import write_tsv
    from cohortgen.kernels.bed import pack_dosages
    from cohortgen.qc.keep import write_keep

    freq = rng.uniform(0.05, 0.5, n_variants)
    dosage = rng.binomial(2, freq[:, None], (n_variants, n_samples)).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.01] = -1
    ids = [f"S{i}" for i in range(n_samples)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": -9})
    chrom = (np.arange(n_variants) * n_chromosomes // n_variants + 1).astype(str)
    bim = pd.DataFrame({"chrom": chrom, "id": [f"v{i}" for i in range(n_variants)], "cm": 0.0,
                        "pos": np.arange(n_variants) + 1, "a1": "A", "a2": "G"})
    write_bed(out / "genotypes", pack_dosages(dosage), bim, fam)
    write_keep(out / "keep.txt", ids)
    pcs = pd.DataFrame(rng.normal(size=(n_samples, 4)), columns=[f"PC{k}" for k in range(1, 5)])
    write_tsv(out / "pcs.tsv", pcs.assign(sample_id=ids)[["sample_id", *pcs.columns]])
    genetic = np.where(dosage[:200] >= 0, dosage[:200], 1).T @ rng.normal(size=200) * 0.1
    sheet = pd.DataFrame({"sample_id": ids, "sex": rng.integers(1, 3, n_samples),
                          "age": rng.integers(30, 81, n_samples)})
    for k, name in enumerate(DISEASES):
        liability = genetic + rng.normal(size=n_samples)
        sheet[name] = (liability > np.quantile(liability, 0.9 - 0.04 * k)).astype(int)
    for name in QUANTITATIVE:
        sheet[name] = np.round(genetic + rng.normal(size=n_samples), 6)
    sheet.to_csv(out / "phenotypes.tsv", sep="\t", index=False)


def run(out: Path, block_size: int, folds: int, threads: int) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one ``cohortgen wgr-step1`` child process."""
    command = [sys.executable, "-m", "cohortgen", "wgr-step1",
               "--bfile", str(out / "genotypes"), "--keep", str(out / "keep.txt"),
               "--phenotypes", str(out / "phenotypes.tsv"), "--pcs", str(out / "pcs.tsv"),
               "--options", json.dumps({
                   "diseases": DISEASES, "traits": dict.fromkeys(QUANTITATIVE, "quantitative"),
                   "covariates": ["age", "sex"],
                   "assoc": {"wgr": {"block_size": block_size, "folds": folds}}}),
               "--loco", str(out / "loco.tsv.gz"), "--summary", str(out / "wgr.json")]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024.0


def main() -> None:
    import numpy as np

    args = parse_args()
    rng = np.random.default_rng(1)
    print(f"wgr-step1: {args.variants} variants on {args.chromosomes} chromosomes, "
          f"{len(DISEASES)} diseases + {len(QUANTITATIVE)} quantitative traits, "
          f"block {args.block_size}, {args.folds} folds, {args.threads} threads")
    print(f"{'samples':>8} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13}")
    for n_samples in sorted(args.samples):
        with tempfile.TemporaryDirectory() as tmp:
            write_inputs(Path(tmp), n_samples, args.variants, args.chromosomes, rng)
            wall, cpu, rss = run(Path(tmp), args.block_size, args.folds, args.threads)
        print(f"{n_samples:>8} {wall:>8.1f} {cpu:>8.1f} {rss:>13.0f}")


if __name__ == "__main__":
    main()
