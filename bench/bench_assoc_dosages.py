"""Association on imputed dosages: ``cohortgen assoc --pfile`` (one process per chunk, start-up
included) vs ``plink2 --glm firth-fallback`` on the same .pgen files, nine diseases.

Usage: ``.venv/bin/python bench/bench_assoc_dosages.py [--sizes 2000 5000 21000]
[--variants 20000] [--chunk 10000] [--threads 1] [--max-seconds 300] [--p-value score]``

``--p-value`` sets our ``assoc.p_value``: ``score`` (the default settings), ``spa``, or ``wald``
(PLINK 2's own test, ML logistic Wald on every row, with the Firth fallback that PLINK 2 takes:
``firth_mode: full``, ``firth_p_value: wald``).

Data, per sample size n (seeded; in a temporary directory, never in the repo): ``--variants``
autosomal variants written directly as PLINK 2 filesets with pgenlib, one per chunk of
``--chunk`` variants (as ``cohortgen ingest-dosages`` writes a chunk: INFO ``R2``, ``TYPED``).
True genotypes have MAF log-uniform on [0.002, 0.5]; 90% of the sites are imputed with the
demo's error model (:func:`cohortgen.simulate_imputed.posteriors`: per-variant quality, GP from
the truth and the HWE prior; DS = GP₁ + 2 GP₂), 10% typed. Nine diseases with prevalences 4% to
30% (age and sex effects, no genetic effect), covariates age and sex.

Both tools run on every chunk file with the same samples, covariates and thread count, one
after the other in the same run (same machine load): wall, CPU (user + system) seconds and
peak RSS of each process from ``/usr/bin/time -v``, summed over chunks (RSS: the largest).
plink2 reads the nine diseases as one ``--pheno`` of nine columns. When plink2 is predicted to
exceed ``--max-seconds`` on a chunk, it runs on the first PILOT/2 and PILOT variants of the
first chunk (``--from-bp/--to-bp``) and its time per chunk is the line through those two
points (start-up counted once per chunk); marked ``*``.

Then our step on the first chunk under cProfile (a separate process, ``python -m cProfile``),
its time split into start-up (imports, null table, .pvar), read (pgenlib), decode (float64
mean-imputed G, group dosage sums), score, Firth, assemble (per-disease result
frames) and write, against this machine's limits measured here on one core: DGEMM GFLOP/s
(3000², float64) and memory copy GB/s (512 MiB, bytes read plus written).

Last, the extrapolation to 21,000 (the largest size run) × 1 M and × 10 M variants: chunk jobs
of ``--chunk`` variants, each the measured per-job wall and CPU time at that size, on 2 cores
(2 jobs at a time) and on a 100-node cluster (100 jobs at a time); plink2 as one job per core or
node on its share of the variants, its measured per-variant CPU time plus its start-up.
Each number is printed with the 1-minute load average (``uptime``) when it was taken: the
machine is shared, so compare CPU seconds.
"""

import argparse
import contextlib
import json
import math
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_assoc

BIN = Path(sys.executable).parent
N_DISEASES = 9
PREVALENCES = [0.04 + k * (0.30 - 0.04) / (N_DISEASES - 1) for k in range(N_DISEASES)]
IMPUTED_SHARE = 0.9
PILOT = 1_000
BP_STEP = 100


def parse_args() -> argparse.Namespace:
    parser = bench_assoc.size_options(__doc__.splitlines()[0], variants=20_000, threads=1)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--p-value", choices=["score", "spa", "wald"], default="score")
    return parser.parse_args()


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def write_cohort(out: Path, n: int, m: int, chunk: int, seed: int) -> list[Path]:
    """Chunk filesets ``out/c<k>.pgen/.pvar/.psam``, the null model's inputs (g.fam, keep.txt,
    pheno.tsv) and plink2's (plink_pheno.tsv, covar.tsv) under ``out``; returns the chunk
    prefixes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ids = [f"s{i:06d}" for i in range(n)]
    age = np.round(rng.uniform(20, 90, n), 1)
    sex = rng.integers(1, 3, n)
    sheet = pd.DataFrame({"sample_id": ids, "sex": sex, "age": age})
    for k, prevalence in enumerate(PREVALENCES):
        eta = math.log(prevalence / (1 - prevalence)) + 0.03 * (age - 55) + 0.2 * (sex == 1)
        sheet[f"d{k}"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    sheet.to_csv(out / "pheno.tsv", sep="\t", index=False)
    (out / "keep.txt").write_text("".join(f"{s}\n" for s in ids))
    (out / "g.fam").write_text("".join(f"{s}\t{s}\t0\t0\t{x}\t-9\n"
                                       for s, x in zip(ids, sex.tolist(), strict=True)))
    covar = sheet[["sample_id", "age", "sex"]].rename(columns={"sample_id": "IID"})
    covar.to_csv(out / "covar.tsv", sep="\t", index=False)
    pheno = sheet[["sample_id", *[f"d{k}" for k in range(N_DISEASES)]]].rename(
        columns={"sample_id": "IID"})
    pheno.iloc[:, 1:] += 1
    pheno.to_csv(out / "plink_pheno.tsv", sep="\t", index=False)
    psam = "#IID\tSEX\n" + "".join(f"{s}\t{x}\n" for s, x in zip(ids, sex.tolist(), strict=True))
    prefixes = []
    for first in range(0, m, chunk):
        prefix = out / f"c{first // chunk:04d}"
        Path(f"{prefix}.psam").write_text(psam)
        write_chunk(prefix, rng, first, min(chunk, m - first), n)
        prefixes.append(prefix)
    return prefixes


def write_chunk(prefix: Path, rng, first: int, m: int, n: int) -> None:
    """``m`` simulated variants (module docstring) as ``prefix``.pgen/.pvar."""
    import numpy as np
    import pgenlib

    from cohortgen.ingest.dosages import PVAR_HEADER
    from cohortgen.simulate_imputed import QUALITY_COMMON, QUALITY_RARE, RARE_MAF, posteriors

    haploid = np.zeros(n, bool)
    lines = []
    writer = pgenlib.PgenWriter(bytes(Path(f"{prefix}.pgen")), n, variant_ct=m,
                                nonref_flags=False, dosage_present=True)
    with contextlib.closing(writer):
        for i in range(first, first + m):
            maf = math.exp(rng.uniform(math.log(0.002), math.log(0.5)))
            copies = rng.binomial(2, maf, n).astype(np.int8)
            typed = rng.random() >= IMPUTED_SHARE
            quality = 1.0 if typed else rng.beta(*(QUALITY_COMMON if maf >= RARE_MAF
                                                   else QUALITY_RARE))
            gp = posteriors(copies, haploid, quality, rng)
            dosage = (gp[:, 1] + 2 * gp[:, 2]).astype(np.float32)
            writer.append_dosages(dosage)
            info = f"R2={quality:.6g}" + (";TYPED" if typed else "")
            lines.append(f"1\t{(i + 1) * BP_STEP}\tv{i}\tC\tT\t{info}\n")
    Path(f"{prefix}.pvar").write_text(PVAR_HEADER + "".join(lines))


def timed(command: list[str], env: dict) -> dict:
    """wall s, cpu s (user + system), rss MB (peak) and load of one command (/usr/bin/time)."""
    load_before = load()
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                            env=env, check=False)
    wall = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    field = {key: float(re.search(rf"{key}: ([\d.]+)", result.stderr).group(1))
             for key in ("User time \\(seconds\\)", "System time \\(seconds\\)",
                         "Maximum resident set size \\(kbytes\\)")}
    values = list(field.values())
    return {"wall": wall, "cpu": values[0] + values[1], "rss": values[2] / 1024,
            "load": (load_before + load()) / 2}


def ours_command(out: Path, prefix: Path, p_value: str) -> list[str]:
    """``cohortgen assoc`` on one chunk with ``assoc.p_value`` ``p_value`` (``wald``: with
    PLINK 2's Firth fallback, full mode and Wald p)."""
    settings = {"p_value": p_value}
    if p_value == "wald":
        settings |= {"firth_mode": "full", "firth_p_value": "wald"}
    return [str(BIN / "cohortgen"), "assoc", "--pfile", str(prefix), "--null-table",
            str(out / "null.tsv"), "--null-json", str(out / "null.json"), "--out-dir",
            str(out / f"{prefix.name}.assoc"), "--options", json.dumps({"assoc": settings})]


def plink_command(out: Path, prefix: Path, threads: int, bp_range: tuple | None = None
                  ) -> list[str]:
    region = (["--chr", "1", "--from-bp", str(bp_range[0]), "--to-bp", str(bp_range[1])]
              if bp_range else [])
    return ["plink2", "--pfile", str(prefix), *region, "--pheno", str(out / "plink_pheno.tsv"),
            "--covar", str(out / "covar.tsv"), "--covar-variance-standardize", "--glm",
            "firth-fallback", "hide-covar", "--threads", str(threads), "--memory", "2000",
            "--out", str(out / f"plink_{prefix.name}")]


def summed(runs: list[dict]) -> dict:
    return {"wall": sum(r["wall"] for r in runs), "cpu": sum(r["cpu"] for r in runs),
            "rss": max(r["rss"] for r in runs), "load": sum(r["load"] for r in runs) / len(runs),
            "jobs": len(runs), "extrapolated": False}


def run_plink(out: Path, prefixes: list[Path], chunk_sizes: list[int], threads: int, env: dict,
              max_seconds: float) -> dict:
    """plink2 on every chunk, or extrapolated from pilots on the first chunk (docstring)."""
    first = prefixes[0]
    half = timed(plink_command(out, first, threads, (1, PILOT // 2 * BP_STEP)), env)
    pilot = timed(plink_command(out, first, threads, (1, PILOT * BP_STEP)), env)
    per_variant = {k: max(pilot[k] - half[k], 0.0) / (PILOT - PILOT // 2) for k in ("wall", "cpu")}
    start = {k: pilot[k] - per_variant[k] * PILOT for k in ("wall", "cpu")}
    if pilot["wall"] + per_variant["wall"] * (chunk_sizes[0] - PILOT) <= max_seconds:
        return summed([timed(plink_command(out, p, threads), env) for p in prefixes])
    return {**{k: sum(start[k] + per_variant[k] * m for m in chunk_sizes) for k in ("wall", "cpu")},
            "rss": pilot["rss"], "load": (half["load"] + pilot["load"]) / 2, "jobs": len(prefixes),
            "extrapolated": True}


PROFILE_DRIVER = """
import cProfile, runpy, sys, time
stats_path, sys.argv = sys.argv[1], ["cohortgen", *sys.argv[2:]]
profiler = cProfile.Profile(time.process_time)
profiler.enable()
try:
    runpy.run_module("cohortgen", run_name="__main__")
except SystemExit:
    pass
profiler.disable()
profiler.dump_stats(stats_path)
"""
"""``python -c`` program: ``cohortgen <args>`` under cProfile with the process's CPU clock,
statistics to the first argument."""


def profile_ours(out: Path, prefix: Path, env: dict, p_value: str) -> tuple[float, dict]:
    """(process wall s, CPU seconds per step) of our step on one chunk, under cProfile (CPU
    clock: the machine is shared) in its own process. Steps (cumulative times of named
    functions): read = the block reader's ``_read_into`` (pgenlib's float64 dosages straight
    into the block); decode = missing_counts + mean_impute_rows + the group sums (GroupSums);
    score = score_statistics + score_test_results; Firth = firth_approx_batch + firth_batch;
    Wald = logistic_wald_batch (``--p-value wald``); assemble = disease_block without Firth and
    Wald; write = write_trait_tables; start-up = everything
    outside the block loop (_view_results) and the writes: imports, null table, .pvar,
    concatenation."""
    stats_path = out / "profile.pstats"
    command = [sys.executable, "-c", PROFILE_DRIVER, str(stats_path),
               *ours_command(out, prefix, p_value)[1:]]
    wall = timed(command, env)["wall"]
    stats = pstats.Stats(str(stats_path)).stats

    def cumulative(names: tuple, file_part: str = "") -> float:
        return sum(values[3] for (filename, _, func), values in stats.items()
                   if func in names and file_part in filename)

    firth = cumulative(("firth_approx_batch", "firth_batch"))
    wald = cumulative(("logistic_wald_batch",))
    parts = {"read": cumulative(("_read_into",), "assoc/genotypes.py"),
             "decode": cumulative(("missing_counts", "mean_impute_rows"))
             + cumulative(("__call__",), "assoc/genotypes.py"),
             "score": cumulative(("score_statistics", "score_test_results")),
             "firth": firth, "wald": wald,
             "assemble": cumulative(("disease_block",)) - firth - wald,
             "write": cumulative(("write_trait_tables",))}
    loop = cumulative(("_view_results",))
    total = max(values[3] for values in stats.values())
    parts["other in loop"] = loop - sum(v for k, v in parts.items() if k != "write")
    parts["start-up"] = total - loop - parts["write"]
    parts["(Numba cache loads, inside the steps)"] = cumulative(("_compile_for_args",))
    return wall, parts


def machine_peaks() -> tuple[float, float]:
    """(float64 DGEMM GFLOP/s, memory copy GB/s read + written) on one core, best of 3 each:
    bench_assoc's measurement with BLAS limited to one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return bench_assoc.machine_peaks()


def main() -> None:
    args = parse_args()
    env = bench_assoc.thread_env(args.threads)
    from cohortgen.assoc.stage import fit_null_stage

    peaks = [(*machine_peaks(), load())]
    results, profiles = {}, {}
    sizes = [min(args.chunk, args.variants - f) for f in range(0, args.variants, args.chunk)]
    with tempfile.TemporaryDirectory(prefix="bench_assoc_dosages.") as tmp:
        for n in args.sizes:
            out = Path(tmp) / str(n)
            out.mkdir()
            start = time.perf_counter()
            prefixes = write_cohort(out, n, args.variants, args.chunk, seed=n)
            print(f"n={n}: simulated in {time.perf_counter() - start:.0f} s", file=sys.stderr)
            with contextlib.redirect_stderr(open(os.devnull, "w")):
                fit_null_stage(out / "g.fam", out / "keep.txt", out / "pheno.tsv",
                               [f"d{k}" for k in range(N_DISEASES)], ["age", "sex"], 20,
                               out / "null.tsv", out / "null.json")
            timed(ours_command(out, prefixes[0], args.p_value), env)  # warm-up: Numba's cache
            ours = summed([timed(ours_command(out, p, args.p_value), env) for p in prefixes])
            theirs = run_plink(out, prefixes, sizes, args.threads, env, args.max_seconds)
            results[n] = (ours, theirs)
            profiles[n] = (*profile_ours(out, prefixes[0], env, args.p_value), load())
            print(f"n={n}: ours {ours}\n  plink2 {theirs}\n  profile {profiles[n]}",
                  file=sys.stderr)
        peaks.append((*machine_peaks(), load()))
    report(args, results, profiles, peaks, sizes)


def report(args, results: dict, profiles: dict, peaks: list, sizes: list[int]) -> None:
    gflops, gbps = max(p[0] for p in peaks), max(p[1] for p in peaks)
    print(f"\n{args.variants} variants in {len(sizes)} chunk jobs of <= {args.chunk}, "
          f"{N_DISEASES} diseases (prevalence 4-30%), covariates age + sex, {args.threads} "
          f"thread(s) each, our assoc.p_value {args.p_value}; * = plink2 extrapolated from "
          f"{PILOT // 2} and {PILOT} variants")
    print(f"{'N':>6} {'ours wall':>10} {'ours CPU':>9} {'ours MB':>8} {'load':>5} "
          f"{'plink2 wall':>12} {'plink2 CPU':>11} {'plink2 MB':>10} {'load':>5} "
          f"{'CPU speed-up':>13} {'wall speed-up':>14}")
    for n, (o, t) in results.items():
        star = "*" if t["extrapolated"] else " "
        print(f"{n:>6} {o['wall']:>10.1f} {o['cpu']:>9.1f} {o['rss']:>8.0f} {o['load']:>5.1f} "
              f"{t['wall']:>11.1f}{star} {t['cpu']:>10.1f}{star} {t['rss']:>10.0f} "
              f"{t['load']:>5.1f} {t['cpu'] / o['cpu']:>13.1f} {t['wall'] / o['wall']:>14.1f}")
    print(f"\nour step on one chunk of {sizes[0]} variants under cProfile (own process), "
          "CPU seconds:")
    for n, (wall, parts, at_load) in profiles.items():
        print(f"{n:>6}: process {wall:.1f} (load {at_load:.1f})  "
              + "  ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    print(f"\nthis machine, one core: DGEMM {gflops:.1f} GFLOP/s, memory copy {gbps:.1f} GB/s "
          f"(loads {', '.join(f'{p[2]:.1f}' for p in peaks)})")
    for n, (_, parts, _) in profiles.items():
        m = sizes[0]
        # score: G (m, n) times C (n, d + d·p) and Σ w g² (d columns), p = 3 (intercept, age,
        # sex); read + decode: the least traffic, 16-bit dosages in, float32 and float64 out
        flops = 2.0 * m * n * N_DISEASES * (3 + 2)
        moved = m * n * (2 + 4 + 8)
        score_rate = flops / parts["score"] / 1e9
        decode_rate = moved / (parts["read"] + parts["decode"]) / 1e9
        print(f"{n:>6}: score {score_rate:.2f} GFLOP/s ({100 * score_rate / gflops:.0f}% of "
              f"DGEMM); read + decode {decode_rate:.2f} GB/s ({100 * decode_rate / gbps:.0f}% "
              "of copy)")
    extrapolate(args, results, sizes)


def extrapolate(args, results: dict, sizes: list[int]) -> None:
    n = max(results)
    ours, theirs = results[n]
    job_wall, job_cpu = ours["wall"] / ours["jobs"], ours["cpu"] / ours["jobs"]
    plink_per_variant = theirs["cpu"] / args.variants
    print(f"\nextrapolated, N = {n}: our job = {args.chunk} variants, {job_cpu:.1f} CPU s "
          f"({job_wall:.1f} s wall at load {ours['load']:.1f}), peak RSS {ours['rss']:.0f} MB; "
          f"plink2 {1e3 * plink_per_variant:.2f} CPU ms per variant (9 diseases)")
    print(f"{'variants':>10} {'jobs':>6} {'ours 2 cores':>13} {'ours 100 nodes':>15} "
          f"{'plink2 2 cores':>15} {'plink2 100 nodes':>17}")
    for m in (1_000_000, 10_000_000):
        jobs = math.ceil(m / args.chunk)
        ours_2 = math.ceil(jobs / 2) * job_cpu
        ours_100 = math.ceil(jobs / 100) * job_cpu
        plink_2 = plink_per_variant * m / 2
        plink_100 = plink_per_variant * m / 100
        print(f"{m:>10} {jobs:>6} {hours(ours_2):>13} {hours(ours_100):>15} "
              f"{hours(plink_2):>15} {hours(plink_100):>17}")
    print("(CPU-bound: each job's CPU time on an unloaded core; our start-up per job included)")


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    main()
