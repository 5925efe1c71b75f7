"""Wall time of the in-cohort PRS stage (9 diseases, k-fold C+T + LDpred2-auto), per step.

Usage: ``.venv/bin/python bench/bench_incohort.py [--samples 2000 5000 21000]
[--variants 10000] [--folds 5] [--n-chains 6] [--burn-in 300] [--num-iter 300]
[--causal-fraction 0.01] [--ld-window-kb 3000] [--jobs 1] [--old-src DIR] [--threads 2]``

A cohort is simulated per sample size: genotypes tiled from one block of 2,000 variants with
LD (latent AR(1) haplotypes in runs of 50 variants, allele frequencies 0.05-0.5, 1% missing),
one tile per 60 Mb stretch of an autosome (30 kb apart, about the density of 100k array
variants over the genome). Each copy of the tile gets its own random order of the samples, so
copies keep the tile's LD and frequencies but are independent of each other, as different
regions of a genome are. Nine diseases come from one liability (h² 0.3 spread evenly over a
fraction ``--causal-fraction`` of all variants, default 1%, plus age and sex) at the config's
prevalences; two random PCs. Written as one .bed chunk per chromosome with its
variant_qc.tsv, as the workflow's chunks.

The new path runs the three steps as the workflow does, one after the other in this process:
folds, each fold job (every disease at once) and the all-sample refit, evaluation; with
``--jobs J``, the fold jobs and the refit run J at a time in their own processes with
``--threads`` shared out among them (as Snakemake runs the rule's jobs when ``threads`` is that
share), timed together. With
``--old-src`` (a ``src`` directory of the earlier tree, e.g. ``git archive``d), the earlier
per-disease ``build_incohort`` runs once per disease in a subprocess on the same files (at
the first sample size only, as it is slow). Each step's wall and CPU seconds are printed (CPU
time, of all threads, is the fairer figure on a shared machine); old jobs include process start
and imports (about 1-2 s each), new steps do not. Times grow linearly with variants (GWAS, LD,
clumping and the sampler all do, at a fixed causal fraction), so the last column extrapolates
wall time to 100k variants (except :data:`FIXED_STEPS`, which read no genotypes).
The sampler's cost does not depend on the sample size; the GWAS, LD and clumping do. It grows
with the fraction of nonzero effects that LDpred2-auto estimates (each change of an effect adds
an LD row update), so ``--causal-fraction`` sets how dense the genetic architecture is: the
line after each sample size gives LDpred2-auto's estimates of p over all its runs.
"""

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

TILE = 2_000
SPACING_BP = 30_000
TARGET_VARIANTS = 100_000
PREVALENCE = {"hypertension": 0.30, "type2_diabetes": 0.12, "dyslipidemia": 0.20,
              "obesity": 0.35, "chronic_kidney_disease": 0.08, "coronary_artery_disease": 0.06,
              "stroke": 0.04, "osteoporosis": 0.10, "asthma": 0.07}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 5_000, 21_000])
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--r2-grid", type=float, nargs="+", default=[0.1, 0.2, 0.5, 0.8])
    parser.add_argument("--p-thresholds", type=float, nargs="+",
                        default=[5e-8, 1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.5, 1.0])
    parser.add_argument("--n-chains", type=int, default=6)
    parser.add_argument("--burn-in", type=int, default=300)
    parser.add_argument("--num-iter", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--causal-fraction", type=float, default=0.01)
    parser.add_argument("--ld-window-kb", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=1,
                        help="fold jobs run side by side (processes), threads shared out")
    parser.add_argument("--old-src", type=Path, default=None)
    return parser.parse_args()


def tile_dosages(n: int, rng) -> np.ndarray:
    """int8 (TILE, n) ALT dosages with LD in runs of 50 variants; -1 = missing (1%)."""
    cut = stats.norm.ppf(rng.uniform(0.05, 0.5, TILE))
    G = np.empty((TILE, n), dtype=np.int8)
    h = rng.standard_normal(2 * n)
    for j in range(TILE):
        if j % 50:
            h = 0.9 * h + np.sqrt(1 - 0.81) * rng.standard_normal(2 * n)
        else:
            h = rng.standard_normal(2 * n)
        alleles = h < cut[j]
        G[j] = alleles[:n].astype(np.int8) + alleles[n:]
    G[rng.random(G.shape) < 0.01] = -1
    return G


def write_cohort(root: Path, n: int, m: int, seed: int, causal_fraction: float) -> list[Path]:
    """Chunks, keep.txt, pcs.tsv and phenotypes.tsv of a simulated cohort; the chunk prefixes."""
    from cohortgen.io.bed import write_bed
    from cohortgen.io.files import write_tsv
    from cohortgen.kernels.bed import pack_dosages
    from cohortgen.qc.keep import write_keep

    rng = np.random.default_rng(seed)
    tile = tile_dosages(n, rng)
    n_tiles = -(-m // TILE)
    orders = [rng.permutation(n) for _ in range(n_tiles)]  # one sample order per tile copy
    ids = [f"S{i:06d}" for i in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": -9})
    called = np.maximum((tile >= 0).sum(axis=1), 1)
    freq = np.where(tile >= 0, tile, 0).sum(axis=1) / (2.0 * called)
    genetic = np.zeros(n)
    for c in rng.choice(m, max(1, round(causal_fraction * m)), replace=False):
        x = tile[c % TILE, orders[c // TILE]].astype(float)
        x[x < 0] = 2 * freq[c % TILE]
        genetic += rng.standard_normal() * (x - x.mean()) / max(x.std(), 1e-9)
    genetic *= np.sqrt(0.3) / genetic.std()
    prefixes = []
    by_chrom: dict[int, list[int]] = {}
    for t in range(n_tiles):
        by_chrom.setdefault(t % 22 + 1, []).append(t)
    for chrom, tiles in sorted(by_chrom.items()):
        rows = [(t, j) for t in tiles for j in range(min(TILE, m - t * TILE))]
        offset = np.array([(t // 22) * TILE * SPACING_BP for t, _ in rows])
        pos = offset + np.array([j for _, j in rows]) * SPACING_BP + 1
        packed = np.concatenate([pack_dosages(tile[:min(TILE, m - t * TILE)][:, orders[t]])
                                 for t in tiles])
        variants = pd.DataFrame({"chrom": str(chrom), "pos": pos, "ref": "A", "alt": "G",
                                 "alt_freq": freq[[j for _, j in rows]], "pass": True})
        variants["id"] = variants["chrom"] + ":" + variants["pos"].astype(str)
        bim = pd.DataFrame({"chrom": variants["chrom"], "id": variants["id"], "cm": 0.0,
                            "pos": pos, "a1": "G", "a2": "A"})
        prefix = root / f"c{chrom:04d}"
        write_bed(prefix, packed, bim, fam)
        write_tsv(Path(f"{prefix}.variant_qc.tsv"),
                  variants[["chrom", "pos", "id", "ref", "alt", "alt_freq", "pass"]])
        prefixes.append(prefix)
    sex = rng.integers(1, 3, n)
    age = rng.uniform(20, 80, n)
    sheet = pd.DataFrame({"sample_id": ids, "sex": sex, "age": np.round(age, 1)})
    for disease, k in PREVALENCE.items():
        liability = genetic + 0.02 * (age - 50) + 0.1 * (sex == 1) + rng.normal(size=n) * 0.8
        sheet[disease] = (liability > np.quantile(liability, 1 - k)).astype(int)
    sheet.to_csv(root / "phenotypes.tsv", sep="\t", index=False)
    write_keep(root / "keep.txt", ids)
    pcs = pd.DataFrame({"sample_id": ids, "PC1": rng.normal(size=n), "PC2": rng.normal(size=n)})
    write_tsv(root / "pcs.tsv", pcs)
    return prefixes


def options(args) -> dict:
    return {"folds": args.folds, "min_maf": 0.01, "r2_grid": args.r2_grid,
            "p_thresholds": args.p_thresholds, "n_chains": args.n_chains,
            "burn_in": args.burn_in, "num_iter": args.num_iter, "ld_window_kb": args.ld_window_kb,
            "threads": args.threads}


class Timer:
    """Wall and CPU seconds (this process and its threads, or its children) of a block."""

    def __init__(self, children: bool = False):
        self.who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF

    def cpu(self) -> float:
        usage = resource.getrusage(self.who)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self):
        self.wall, self.start_cpu = time.perf_counter(), self.cpu()
        return self

    def __exit__(self, *exc):
        self.seconds = (time.perf_counter() - self.wall, self.cpu() - self.start_cpu)


def record_p_estimates(store: list) -> None:
    """Make every LDpred2-auto run of this process append its estimate of p to ``store``."""
    import cohortgen.prs.ldpred as ldpred

    run = ldpred.ldpred2_auto

    def recorded(*args, **kwargs):
        result = run(*args, **kwargs)
        store.append(result.p_est)
        return result

    ldpred.ldpred2_auto = recorded


FIXED_STEPS = {"assign folds"}
"""Steps whose time does not grow with the number of variants (not extrapolated)."""


def run_new(root: Path, prefixes: list[Path], args) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per step of the new path (folds, each fold, refit, evaluate)."""
    from cohortgen.prs.incohort import assign_folds, evaluate_all, load_cohort, run_fold

    opts = options(args)
    qc = [Path(f"{p}.variant_qc.tsv") for p in prefixes]
    times = {}
    with Timer() as timer:
        cohort = load_cohort(prefixes[0], root / "keep.txt", root / "phenotypes.tsv",
                             list(PREVALENCE), ["age", "sex"], root / "pcs.tsv")
        assign_folds(cohort, args.folds, 42, root / "folds.tsv")
    times["assign folds"] = timer.seconds
    files = [root / f"fold{f}.npz" for f in range(args.folds + 1)]
    jobs = list(range(1, args.folds + 1)) + [0]
    if args.jobs > 1:  # as Snakemake runs the fold jobs side by side: one process each
        context = multiprocessing.get_context("spawn")
        job_opts = {**opts, "threads": max(1, args.threads // args.jobs)}
        with Timer(children=True) as timer, ProcessPoolExecutor(args.jobs, context) as pool:
            runs = [pool.submit(run_fold, f, prefixes, qc, cohort, root / "folds.tsv", 10, 42,
                                job_opts, files[f]) for f in jobs]
            for run in runs:
                run.result()
        times[f"folds + refit, {args.jobs} jobs at a time"] = timer.seconds
    for f in jobs if args.jobs == 1 else []:
        with Timer() as timer:
            run_fold(f, prefixes, qc, cohort, root / "folds.tsv", 10, 42, opts, files[f])
        times[f"fold {f}" if f else "refit"] = timer.seconds
    with Timer() as timer:
        evaluate_all(cohort, qc, root / "folds.tsv", files[1:], files[0], "GRCh38", PREVALENCE,
                     10, 5, opts, root, root / "performance.tsv")
    times["evaluate"] = timer.seconds
    return times


OLD_SCRIPT = """
import ast, sys
from pathlib import Path
from cohortgen.prs.incohort import build_incohort
root, disease = Path(sys.argv[1]), sys.argv[2]
opts = ast.literal_eval(sys.argv[3])
prefixes = sorted(p.with_suffix("") for p in root.glob("c*.bed"))
build_incohort(disease, prefixes, [Path(f"{p}.variant_qc.tsv") for p in prefixes],
               root / "keep.txt", root / "pcs.tsv", root / "phenotypes.tsv", ["age", "sex"],
               "GRCh38", None, 10, 5, 42, opts, root / "old")
"""


def run_old(root: Path, args) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per disease of the earlier per-disease path (one process each, as
    its jobs; process start and imports included)."""
    (root / "old").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(args.old_src)}
    times = {}
    for disease in PREVALENCE:
        with Timer(children=True) as timer:
            subprocess.run([sys.executable, "-c", OLD_SCRIPT, str(root), disease,
                            repr(options(args))], env=env, check=True, capture_output=True)
        times[f"old {disease}"] = timer.seconds
    return times


def main() -> None:
    args = parse_args()
    scale = TARGET_VARIANTS / args.variants
    print(f"# {args.variants} variants, {args.folds} folds, r2 grid {args.r2_grid}, "
          f"{len(args.p_thresholds)} p thresholds, {args.n_chains} chains x "
          f"({args.burn_in} + {args.num_iter}), {args.threads} threads; "
          f"x{scale:g} extrapolates to {TARGET_VARIANTS} variants")
    p_estimates: list[float] = []
    record_p_estimates(p_estimates)
    print("| samples | step | wall s | CPU s | wall s at 100k variants |")
    print("|---|---|---|---|---|")
    for i, n in enumerate(args.samples):
        with tempfile.TemporaryDirectory(prefix="bench_incohort_") as tmp:
            root = Path(tmp)
            prefixes = write_cohort(root, n, args.variants, n, args.causal_fraction)
            times = run_new(root, prefixes, args)
            if args.old_src is not None and i == 0:
                times.update(run_old(root, args))
            rows = {step: (wall, cpu, wall if step in FIXED_STEPS else wall * scale)
                    for step, (wall, cpu) in times.items()}
            for label, old in (("TOTAL new", False), ("TOTAL old", True)):
                parts = [v for k, v in rows.items() if k.startswith("old ") == old]
                if parts:
                    rows[label] = tuple(float(x) for x in np.sum(parts, axis=0))
            for step, (wall, cpu, wall_target) in rows.items():
                print(f"| {n} | {step} | {wall:.1f} | {cpu:.1f} | {wall_target:.0f} |",
                      flush=True)
        if not p_estimates:  # the runs were in other processes (--jobs > 1)
            continue
        print(f"# N={n}: LDpred2-auto p estimate median {np.nanmedian(p_estimates):.3g}, range "
              f"{np.nanmin(p_estimates):.3g}-{np.nanmax(p_estimates):.3g} over "
              f"{len(p_estimates)} runs (causal fraction {args.causal_fraction:g})", flush=True)
        p_estimates.clear()


if __name__ == "__main__":
    main()
