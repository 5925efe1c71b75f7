"""Wall time, CPU time, peak memory and FLOP rate of ``cohortgen wgr-step1`` (whole-genome
regression step 1) for 9 traits at once.

Usage: ``.venv/bin/python bench/bench_wgr.py [--samples 2000 5000] [--variants 20000]
[--chromosomes 4] [--block-size 1000] [--folds 5] [--threads 2] [--quantitative 0]
[--level0-chromosomes C]``

Per sample size, a PLINK 1 fileset of random genotypes (allele frequencies 0.05-0.5, 1% missing
calls, ``--variants`` split evenly over ``--chromosomes``, generated and written in chunks), a
sheet with 9 − ``--quantitative`` diseases (prevalence 0.02-0.3) and ``--quantitative``
quantitative traits, age and sex, a keep list of every sample and 4 PCs are written to a
temporary directory (``$TMPDIR``); the command then runs in a child process (``--threads`` worker
threads, ``$OMP_NUM_THREADS`` the same), whose wall time, user + system CPU time and peak
resident set size are shown (sizes run in increasing order: the peak is the largest of the
children so far). On a shared machine only the CPU time means anything. The child also records
its CPU time at the start of level 0 and of level 1 (:func:`child`), so each level's CPU
seconds and GFLOP per CPU second are shown.

``--level0-chromosomes C`` (for the largest sizes): level 0 is fitted on the blocks of the
first C chromosomes only; the other blocks get random standardised predictions (the .bed still
holds every variant, read by the allele-frequency pass), level 1 and LOCO run in full on every
block's columns, and the level-0 CPU time is scaled to every block (``all CPU s``). The peak RSS
is that of the real run: level 0 holds no more at once whatever C is.

FLOPs: the level-0 count of :func:`level0_flops` (per block: covariate residualisation, the
per-fold XᵀX and XᵀY, K·r Cholesky factorisations at p³/3 each and their solves, the
out-of-fold predictions) and the level-1 flops counted in the child (every XᵀWX at rows·P²,
every Cholesky factorisation at P³/3; the O(n·P) products between them left out), against one
core's float64 matmul rate in GFLOP per CPU second (:func:`core_dgemm_rate`, measured in this
process with BLAS on one thread, best of before and after the runs). ``ns/(n·m·t)``: CPU
nanoseconds per sample × variant × trait, to compare with other implementations.

Measured at 500k variants (December 2026, 22 chromosomes, 9 diseases, block 1000, 5 folds, 2
threads; a 2-core machine shared with other jobs, so CPU seconds, user + system; one core's
float64 matmul 51.6 GFLOP per CPU s):

- 2,000 samples, full run: 628 CPU s (70 ns per sample × variant × trait), peak RSS 1,416 MiB;
  loading and the allele-frequency pass 7 CPU s; level 0 350 CPU s (0.70 CPU s per block, 15.8
  GFLOP per CPU s, 31% of the matmul rate); level 1 270 CPU s (3,916 GFLOP counted, 14.5 GFLOP
  per CPU s: at P = 2,500 columns its P³ Cholesky factorisations do not shrink with n).
- 21,000 samples, ``--level0-chromosomes 1`` (23 of 500 blocks fitted): peak RSS 3,173 MiB
  (VmHWM in level 1; before step 1 read the .bed with pread, the touched pages of its memory
  map, 2,503 MiB, came on top: about 5.5 GiB); loading and the allele-frequency pass about
  75 CPU s (before that pass counted alleles on the packed bytes; 20 times less since); level 0
  2.1 CPU s per block, 15 GFLOP per CPU s (29% of the matmul rate: the K·r = 25 Cholesky
  factorisations per block run at about 13 GFLOP per CPU s in NumPy), 1,050 CPU s for 500
  blocks (extrapolated); level 1 more than 580 CPU s (still running when the session ended).

REGENIE (Mbatchou et al. 2021; its documentation's performance page: 16 vCPU of a 2.1 GHz
AMD EPYC 7571) took 111 CPU hours for step 1 of 50 quantitative traits and 777 CPU hours for 50
binary traits (leave-one-out CV), on about 407,000 UK Biobank samples × 469,336 variants: 42 and
293 CPU ns per sample × variant × trait. Here, at 21,000 samples, level 0 alone costs
1,050 / (21,000 × 500,000 × 9) = 11 ns and step 1 at least 18 ns per sample × variant × trait
(level 1 unfinished): below both of REGENIE's figures, but not like for like: REGENIE shares
level 0 among 50 traits, spreads its p³ terms over 20 times the samples, includes reading its
genotype files, and ran on other hardware.
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

N_TRAITS = 9
GENERATE_CHUNK = 5_000
"""Variants generated and packed at a time."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 5_000])
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--chromosomes", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=1_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quantitative", type=int, default=0,
                        help="quantitative traits among the 9 (the rest are diseases)")
    parser.add_argument("--level0-chromosomes", type=int, default=0,
                        help="fit level 0 on the blocks of the first this many chromosomes only "
                             "(the others get random predictions) and extrapolate its CPU time "
                             "to every block; level 1 runs in full (0: every chromosome)")
    parser.add_argument("--parts", type=int, nargs="+", default=[],
                        help="instead: at these sample sizes, CPU seconds of one level-0 block "
                             "and one disease's level 1, extrapolated to 9 diseases")
    return parser.parse_args()


def trait_names(n_quantitative: int) -> tuple[list[str], list[str]]:
    """(diseases, quantitative traits), 9 names in all."""
    n_diseases = N_TRAITS - n_quantitative
    return ([f"d{k + 1}" for k in range(n_diseases)],
            [f"q{k + 1}" for k in range(n_quantitative)])


def write_packed(bed: Path, n_samples: int, n_variants: int, n_genuine: int, rng):
    """Write the .bed of random genotypes (1% missing calls) a GENERATE_CHUNK of variants at a
    time, owner-only; return dosages int8 (200, n) of the first 200 variants. Only the first
    ``n_genuine`` variants (rounded up to a chunk) are drawn; the rest repeat the first chunk's
    bytes (read only by the allele-frequency pass of a ``--level0-chromosomes`` run)."""
    import numpy as np

    from cohortgen.io.bed import BED_MAGIC
    from cohortgen.kernels.bed import pack_dosages

    first = chunk = None
    fd = os.open(bed, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(BED_MAGIC)
        for start in range(0, n_variants, GENERATE_CHUNK):
            stop = min(start + GENERATE_CHUNK, n_variants)
            if start < n_genuine or chunk is None:
                freq = rng.uniform(0.05, 0.5, stop - start)
                dosage = rng.binomial(2, freq[:, None], (stop - start, n_samples)).astype(np.int8)
                dosage[rng.random(dosage.shape, dtype=np.float32) < 0.01] = -1
                chunk = pack_dosages(dosage)
                if first is None:
                    first = dosage[:200].copy()
            handle.write(chunk[:stop - start].tobytes())
    return first


def chromosome_of(n_variants: int, n_chromosomes: int):
    """int64 (m,): chromosome 1..``n_chromosomes`` of each variant (consecutive, even split)."""
    import numpy as np

    return np.arange(n_variants) * n_chromosomes // n_variants + 1


def write_inputs(out: Path, n_samples: int, n_variants: int, n_chromosomes: int,
                 n_quantitative: int, n_genuine: int, rng) -> None:
    """genotypes.{bed,bim,fam}, phenotypes.tsv, keep.txt and pcs.tsv under ``out`` (genotypes
    drawn for the first ``n_genuine`` variants: :func:`write_packed`)."""
    import numpy as np
    import pandas as pd

    from cohortgen.io.bed import BIM_COLUMNS, FAM_COLUMNS, table_text
    from cohortgen.io.files import write_bytes_atomic, write_tsv
    from cohortgen.qc.keep import write_keep

    dosage = write_packed(out / "genotypes.bed", n_samples, n_variants, n_genuine, rng)
    ids = [f"S{i}" for i in range(n_samples)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": -9})
    chrom = chromosome_of(n_variants, n_chromosomes).astype(str)
    bim = pd.DataFrame({"chrom": chrom, "id": [f"v{i}" for i in range(n_variants)], "cm": 0.0,
                        "pos": np.arange(n_variants) + 1, "a1": "A", "a2": "G"})
    for suffix, table, columns in (("bim", bim, BIM_COLUMNS), ("fam", fam, FAM_COLUMNS)):
        path = out / f"genotypes.{suffix}"
        write_bytes_atomic(path, table_text(table, columns, path).encode(), private=True)
    write_keep(out / "keep.txt", ids)
    pcs = pd.DataFrame(rng.normal(size=(n_samples, 4)), columns=[f"PC{k}" for k in range(1, 5)])
    write_tsv(out / "pcs.tsv", pcs.assign(sample_id=ids)[["sample_id", *pcs.columns]])
    genetic = np.where(dosage[:200] >= 0, dosage[:200], 1).T @ rng.normal(size=200) * 0.1
    sheet = pd.DataFrame({"sample_id": ids, "sex": rng.integers(1, 3, n_samples),
                          "age": rng.integers(30, 81, n_samples)})
    diseases, quantitative = trait_names(n_quantitative)
    for prevalence, name in zip(np.linspace(0.02, 0.3, len(diseases)), diseases, strict=True):
        liability = genetic + rng.normal(size=n_samples)
        sheet[name] = (liability > np.quantile(liability, 1.0 - prevalence)).astype(int)
    for name in quantitative:
        sheet[name] = np.round(genetic + rng.normal(size=n_samples), 6)
    sheet.to_csv(out / "phenotypes.tsv", sep="\t", index=False)


def level0_flops(n: int, m: int, block_size: int, folds: int, n_traits: int,
                 n_shrinkage: int = 5, n_covariates: int = 7) -> float:
    """Floating-point operations of level 0 over m variants in blocks of p = block_size:
    per block 4·n·q·p (residualise on q covariates), n·p² + 2·n·p·t (fold cross-products, XᵀX
    as a symmetric rank-k update),
    K·r·(p³/3 + 2p²t) (Cholesky factorisations and solves) and 2·n·p·r·t (out-of-fold
    predictions)."""
    p, t, r, k = block_size, n_traits, n_shrinkage, folds
    per_block = (4 * n * n_covariates * p + n * p * p + 2 * n * p * t
                 + k * r * (p**3 / 3 + 2 * p * p * t) + 2 * n * p * r * t)
    return per_block * m / p


def core_dgemm_rate() -> float:
    """One core's float64 matmul rate, GFLOP per CPU second (2000 × 2000 products, BLAS on one
    thread, best of 3; CPU time, so other processes on the machine do not lower it)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((2000, 2000))
    best = float("inf")
    with threadpool_limits(1, user_api="blas"):
        for _ in range(3):
            start = time.process_time()
            a @ a
            best = min(best, time.process_time() - start)
    return 2 * 2000**3 / best / 1e9


def measured_parts(n: int, block_size: int, folds: int, n_columns: int,
                   rng) -> tuple[float, float, int]:
    """In this process, BLAS on one thread: (CPU s of one level-0 block, n samples ×
    ``block_size`` random genotypes, 9 traits; CPU s of one disease's level 1 on n samples ×
    ``n_columns`` correlated level-0-like columns at 10% prevalence; the XᵀWX products it formed,
    K + 1 of them the folds' first curvatures on n/K or n samples)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    import cohortgen.kernels.ridge as ridge
    import cohortgen.wgr.model as model
    from cohortgen.wgr.model import (
        assign_folds,
        covariate_basis,
        level0_block,
        level1_disease,
        shrinkage_grid,
        standardise_predictions,
        standardised_genotypes,
    )

    fold = assign_folds(n, folds, 1)
    dosage = rng.binomial(2, rng.uniform(0.05, 0.5, block_size), (n, block_size)) * 1.0
    Y = rng.normal(size=(n, N_TRAITS))
    basis = covariate_basis(rng.normal(size=(n, 6)))
    columns = np.repeat(rng.normal(size=(n, n_columns // 5)), 5, axis=1)
    X = columns + 0.3 * rng.normal(size=columns.shape)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    liability = X[:, ::5] @ rng.normal(scale=0.1, size=n_columns // 5) + rng.normal(size=n)
    y = (liability > np.quantile(liability, 0.9)) * 1.0
    grams, weighted_gram = [], ridge.weighted_gram

    def counted(*args):
        grams.append(1)
        return weighted_gram(*args)

    ridge.weighted_gram = model.weighted_gram = counted
    with threadpool_limits(1, user_api="blas"):
        start = time.process_time()
        G = standardised_genotypes(dosage, basis)
        lambda0 = shrinkage_grid(100 * block_size, np.array([0.01, 0.25, 0.5, 0.75, 0.99]))
        standardise_predictions(level0_block(G, Y, fold, folds, lambda0), np.ones_like(Y) > 0)
        level0 = time.process_time() - start
        start = time.process_time()
        level1_disease(X, y, np.full(n, np.log(1 / 9)), fold, folds,
                       shrinkage_grid(n_columns, scale=3 / np.pi**2))
        level1 = time.process_time() - start
    ridge.weighted_gram = model.weighted_gram = weighted_gram
    return level0, level1, len(grams)


def print_parts(args) -> None:
    """CPU seconds of one level-0 block and one disease's level 1 at 100k variants (P = 500),
    extrapolated to 9 diseases at 100k and 500k variants: level 0 linear in the blocks, level 1
    in P² (the XᵀWX products, at the measured count)."""
    import numpy as np

    rng = np.random.default_rng(2)
    p100k = 100_000 // args.block_size * 5
    print(f"{'samples':>8} {'L0 block CPU s':>15} {'L1 disease CPU s':>17} {'XᵀWX':>5} "
          f"{'9 diseases 100k CPU s':>22} {'500k CPU s (extrapolated)':>26}")
    for n in args.parts:
        level0, level1, grams = measured_parts(n, args.block_size, args.folds, p100k, rng)
        at_100k = 100 * level0 + 9 * level1
        at_500k = 500 * level0 + 9 * level1 * 25
        print(f"{n:>8} {level0:>15.2f} {level1:>17.2f} {grams:>5} {at_100k:>22.0f} "
              f"{at_500k:>26.0f}")


def child(spec: dict, argv: list[str]) -> None:
    """In the ``cohortgen wgr-step1`` child: run ``argv`` with CPU seconds (user + system, all
    threads) recorded when level 0 starts (after loading and the allele-frequency pass), when
    level 1 starts and at the end, and the level-1 flops counted (every XᵀWX at rows·P² and
    Cholesky factorisation at P³/3), written to ``spec["phases"]`` as JSON. Blocks whose first
    variant is at or after ``spec["computed"]`` are not fitted: their level-0 predictions are
    seeded standard normals (what level 1 then fits costs the same), so that level 0 runs on a
    part of the chromosomes and level 1 on all of them."""
    import numpy as np

    import cohortgen.kernels.ridge as ridge
    import cohortgen.wgr.model as model
    import cohortgen.wgr.stage as stage
    from cohortgen.cli import main as cohortgen_main

    marks, level1 = {}, {"flops": 0.0, "on": False}

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def marked(name, function):
        def wrapper(*args, **kwargs):
            marks[name] = cpu()
            level1["on"] = name == "level1"
            return function(*args, **kwargs)
        return wrapper

    def counted_gram(X, eta, gram=ridge.weighted_gram):
        level1["flops"] += X.shape[0] * X.shape[1] ** 2
        return gram(X, eta)

    def counted_cholesky(gram, shrinkage, factorise=ridge._shifted_cholesky):
        if level1["on"]:
            level1["flops"] += gram.shape[0] ** 3 / 3
        return factorise(gram, shrinkage)

    predictions = stage.Level0Data.predictions

    def partial(self, block_rows):
        if block_rows[0] < spec["computed"]:
            return predictions(self, block_rows)
        rng = np.random.default_rng(int(block_rows[0]))
        shape = (self.shrinkage.size, self.Y.shape[0], self.Y.shape[1])
        return model.standardise_predictions(rng.standard_normal(shape), self.mask)

    stage.fit_traits = marked("level0", stage.fit_traits)
    stage.level1_traits = marked("level1", stage.level1_traits)
    ridge.weighted_gram = model.weighted_gram = counted_gram
    ridge._shifted_cholesky = counted_cholesky
    stage.Level0Data.predictions = partial
    status = cohortgen_main(argv)
    marks["end"] = cpu()
    Path(spec["phases"]).write_text(json.dumps({**marks, "level1_flops": level1["flops"]}))
    sys.exit(status)


def run(out: Path, block_size: int, folds: int, threads: int, n_quantitative: int,
        computed: int) -> tuple[float, float, float, dict]:
    """(wall s, CPU s, peak RSS MiB, phases: :func:`child`) of one ``cohortgen wgr-step1``
    child process that fits level 0 on the variants before ``computed``."""
    diseases, quantitative = trait_names(n_quantitative)
    spec = {"phases": str(out / "phases.json"), "computed": computed}
    command = [sys.executable, __file__, "child", json.dumps(spec), "wgr-step1",
               "--bfile", str(out / "genotypes"), "--keep", str(out / "keep.txt"),
               "--phenotypes", str(out / "phenotypes.tsv"), "--pcs", str(out / "pcs.tsv"),
               "--options", json.dumps({
                   "diseases": diseases, "traits": {q: "quantitative" for q in quantitative},
                   "covariates": ["age", "sex"],
                   "assoc": {"wgr": {"block_size": block_size, "folds": folds}}}),
               "--threads", str(threads), "--loco", str(out / "loco.tsv.gz"),
               "--summary", str(out / "wgr.json")]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024.0, json.loads((out / "phases.json").read_text())


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(json.loads(sys.argv[2]), sys.argv[3:])
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    import numpy as np

    peaks = [core_dgemm_rate()]
    if args.parts:
        print(f"one core's float64 matmul: {peaks[0]:.1f} GFLOP per CPU s")
        print_parts(args)
        return
    rng = np.random.default_rng(1)
    diseases, quantitative = trait_names(args.quantitative)
    chrom = chromosome_of(args.variants, args.chromosomes)
    computed = int(np.sum(chrom <= (args.level0_chromosomes or args.chromosomes)))
    sizes = np.bincount(chrom)[1:]
    blocks = -(-sizes // args.block_size)
    fraction = blocks[:args.level0_chromosomes or args.chromosomes].sum() / blocks.sum()
    print(f"wgr-step1: {args.variants} variants on {args.chromosomes} chromosomes, "
          f"{len(diseases)} diseases + {len(quantitative)} quantitative traits, "
          f"block {args.block_size}, {args.folds} folds, {args.threads} threads; level 0 on "
          f"{computed} variants ({100 * fraction:.0f}% of the blocks); load average at start "
          f"{os.getloadavg()[0]:.1f}. CPU s are user + system of the child, all threads.")
    print(f"{'samples':>8} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8} {'load CPU':>9} "
          f"{'L0 CPU':>7} {'L0 GF/s':>8} {'L1 CPU':>7} {'L1 GFLOP':>9} {'L1 GF/s':>8} "
          f"{'all CPU s':>10} {'ns/(n·m·t)':>11}")
    rates = []
    for n_samples in sorted(args.samples):
        with tempfile.TemporaryDirectory() as tmp:
            write_inputs(Path(tmp), n_samples, args.variants, args.chromosomes,
                         args.quantitative, computed, rng)
            wall, cpu, rss, marks = run(Path(tmp), args.block_size, args.folds, args.threads,
                                        args.quantitative, computed)
        level0 = marks["level1"] - marks["level0"]
        level1 = marks["end"] - marks["level1"]
        total = cpu - level0 + level0 / fraction
        rates.append(level0_flops(n_samples, computed, args.block_size, args.folds,
                                  N_TRAITS) / level0 / 1e9)
        print(f"{n_samples:>8} {wall:>7.0f} {cpu:>7.0f} {rss:>8.0f} {marks['level0']:>9.0f} "
              f"{level0:>7.0f} {rates[-1]:>8.1f} {level1:>7.0f} "
              f"{marks['level1_flops'] / 1e9:>9.0f} {marks['level1_flops'] / level1 / 1e9:>8.1f} "
              f"{total:>10.0f} {total / (n_samples * args.variants * N_TRAITS) * 1e9:>11.2f}")
    peaks.append(core_dgemm_rate())
    print(f"one core's float64 matmul: {max(peaks):.1f} GFLOP per CPU s (best of before/after); "
          f"load average at end {os.getloadavg()[0]:.1f}. load CPU: loading and the "
          "allele-frequency pass; L0/L1 CPU: level 0 (blocks fitted) and level 1 with LOCO and "
          "writing; GF/s: GFLOP per CPU s (level 0: level0_flops; level 1: every XᵀWX and "
          "Cholesky counted); all CPU s: the run with level 0 scaled to every block "
          f"(extrapolated when --level0-chromosomes is below {args.chromosomes}).")

if __name__ == "__main__":
    main()
