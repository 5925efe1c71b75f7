"""Association chunk step (`cohortgen assoc`, process start included) vs `plink2 --glm`.

Usage: ``.venv/bin/python bench/bench_assoc.py [--sizes 2000 5000 21000] [--variants 10000]
[--threads 2] [--max-seconds 300]``

Random cohort per size: genotypes with MAF log-uniform on [0.005, 0.5], no missing calls,
9 diseases at ~8% prevalence with age/sex effects, 12 covariates (age, sex, 10 random PCs).
Both tools run on the same .bed with the same covariates and thread count, one after the
other in the same run (same machine load); wall time and peak RSS from ``/usr/bin/time -v``.

Extrapolation (marked ``*``): a tool predicted to exceed ``--max-seconds`` on ``--variants``
is timed on PILOT and PILOT/2 variants, and its time for ``--variants`` is the line through
those two points (start-up counted once, not scaled); its RSS is the pilot's.

Then, in-process with warm kernels: a per-step profile of our chunk step (cProfile, seconds
of wall time per step), and a roofline line: the score step's GFLOP/s (its BLAS product plus
Σwg²) and the decode's GB/s (.bed bytes read plus float64 dosages written), against this
machine's peaks measured here with the same threads: a large float64 matmul and a large
memory copy (bytes read plus written), best of a measurement before and one after the runs.
"""

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
N_DISEASES = 9
N_PCS = 10
PILOT = 1_000
PROFILE_STEPS = {
    "read": ("read_bed", "read_tsv", "read_json"),
    "decode": ("dosages_mean_imputed",),
    "score": ("score_statistics",),
    "counts": ("group_allele_counts",),
    "residualise": ("residualised",),
    "firth": ("firth_approx_batch", "firth_batch"),
    "write": ("write_tsv",),
}


def size_options(description: str, variants: int, threads: int) -> argparse.ArgumentParser:
    """The options of the association benches (this one and bench_assoc_dosages.py): cohort
    sizes, variants, threads and the time above which a tool is extrapolated."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 5_000, 21_000])
    parser.add_argument("--variants", type=int, default=variants)
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    return parser


def thread_env(threads: int) -> dict:
    """os.environ with the BLAS, OpenMP and Numba thread counts set to ``threads``, applied to
    this process too (before NumPy is imported) and returned for the timed commands."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "NUMBA_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    os.environ.update(env)
    return env


def parse_args() -> argparse.Namespace:
    return size_options(__doc__.splitlines()[0], variants=10_000, threads=2).parse_args()


def write_cohort(out: Path, n: int, m: int, seed: int) -> None:
    """bed/bim/fam, phenotypes.tsv, pcs.tsv, keep.txt, variant_qc.tsv under ``out``."""
    import numpy as np
    import pandas as pd

    from cohortgen.io.bed import write_bed
    from cohortgen.kernels.bed import pack_dosages

    rng = np.random.default_rng(seed)
    ids = [f"s{i:06d}" for i in range(n)]
    maf = np.exp(rng.uniform(np.log(0.005), np.log(0.5), size=(m, 1)))
    dosage = rng.binomial(2, maf, size=(m, n)).astype(np.int8)
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{i}" for i in range(m)], "cm": 0.0,
                        "pos": np.arange(1, m + 1) * 100, "a1": "T", "a2": "C"})
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": "-9"})
    write_bed(out / "g", pack_dosages(dosage), bim, fam)
    age = rng.uniform(20, 90, n)
    sex = rng.integers(1, 3, n)
    sheet = pd.DataFrame({"sample_id": ids, "sex": sex, "age": np.round(age, 1)})
    for k in range(N_DISEASES):
        eta = -2.6 + 0.03 * (age - 55) + 0.2 * (sex == 1)
        sheet[f"d{k}"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    sheet.to_csv(out / "pheno.tsv", sep="\t", index=False)
    pcs = pd.DataFrame(rng.normal(size=(n, N_PCS)) / np.sqrt(n),
                       columns=[f"PC{k + 1}" for k in range(N_PCS)])
    pcs.insert(0, "sample_id", ids)
    pcs.to_csv(out / "pcs.tsv", sep="\t", index=False, float_format="%.10g")
    (out / "keep.txt").write_text("".join(f"{s}\n" for s in ids))
    covar = pcs.rename(columns={"sample_id": "IID"})
    covar.insert(0, "#FID", ids)
    covar.insert(2, "age", sheet["age"])
    covar.insert(3, "sex", sheet["sex"])
    covar.to_csv(out / "covar.tsv", sep="\t", index=False, float_format="%.10g")
    pheno = sheet[["sample_id", *[f"d{k}" for k in range(N_DISEASES)]]].rename(
        columns={"sample_id": "IID"})
    pheno.iloc[:, 1:] += 1
    pheno.insert(0, "#FID", ids)
    pheno.to_csv(out / "plink_pheno.tsv", sep="\t", index=False)


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command via /usr/bin/time -v."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                            env=env, check=True)
    wall = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return wall, int(rss.group(1)) / 1024 if rss else float("nan")


def ours_command(out: Path, prefix: str) -> list[str]:
    return [str(BIN / "cohortgen"), "assoc", "--bfile", str(out / prefix), "--null-table",
            str(out / "null.tsv"), "--null-json", str(out / "null.json"), "--variant-qc",
            str(out / f"{prefix}.vqc.tsv"), "--out-dir", str(out / f"{prefix}.assoc")]


def plink_command(out: Path, prefix: str, threads: int) -> list[str]:
    return ["plink2", "--bfile", str(out / prefix), "--pheno", str(out / "plink_pheno.tsv"),
            "--covar", str(out / "covar.tsv"), "--covar-variance-standardize", "--glm",
            "firth-fallback", "hide-covar", "--threads", str(threads), "--out",
            str(out / f"plink_{prefix}")]


def subset(out: Path, m: int) -> str:
    """A bed set with the first ``m`` variants (prefix name); written once."""
    import pandas as pd

    from cohortgen.io.bed import read_bed, write_bed

    name = f"g{m}"
    if not (out / f"{name}.bed").exists():
        packed, bim, fam = read_bed(out / "g")
        write_bed(out / name, packed[:m], bim.iloc[:m], fam)
        pd.DataFrame({"pass": [True] * m}).to_csv(out / f"{name}.vqc.tsv", sep="\t",
                                                  index=False)
    return name


def run_tool(command_for, out: Path, m: int, env: dict, max_seconds: float):
    """(wall s for m variants, RSS MB, extrapolated?): pilots on PILOT/2 and PILOT variants."""
    half, pilot = PILOT // 2, PILOT
    wall_half, _ = timed(command_for(subset(out, half)), env)
    wall, rss = timed(command_for(subset(out, pilot)), env)
    slope = max(wall - wall_half, 0.0) / (pilot - half)
    predicted = wall + slope * (m - pilot)
    if m <= pilot or predicted <= max_seconds:
        wall, rss = timed(command_for(subset(out, m)), env)
        return wall, rss, False
    return predicted, rss, True


def profile_ours(out: Path, m: int) -> tuple[float, dict]:
    """(total s, seconds per step of PROFILE_STEPS + "other") of our chunk step, warm."""
    from cohortgen.assoc.chunk import association_chunk

    prefix = subset(out, m)
    args = (out / prefix, out / "null.tsv", out / "null.json", out / f"{prefix}.vqc.tsv",
            out / "profile")
    profiler = cProfile.Profile()
    with contextlib.redirect_stderr(io.StringIO()):  # the step's per-disease status table
        association_chunk(*args)
        profiler.enable()
        start = time.perf_counter()
        association_chunk(*args)
        total = time.perf_counter() - start
        profiler.disable()
    found = dict.fromkeys(PROFILE_STEPS, 0.0)
    for (_, _, func), (_, _, _, cumulative, _) in pstats.Stats(profiler).stats.items():
        for step, names in PROFILE_STEPS.items():
            if func in names:
                found[step] += cumulative
    found["other"] = total - sum(found.values())
    return total, found


def machine_peaks() -> tuple[float, float]:
    """(float64 matmul GFLOP/s, memory copy GB/s read + written), best of 3 each (BLAS threads
    as set from ``--threads`` before NumPy was imported)."""
    import numpy as np

    a = np.random.default_rng(0).random((3000, 3000))
    gflops = 2 * 3000**3 / _best_seconds(lambda: a @ a) / 1e9
    src = np.ones(64 * 2**20)  # 512 MiB
    dst = np.empty_like(src)
    gbps = 2 * src.nbytes / _best_seconds(lambda: np.copyto(dst, src)) / 1e9
    return gflops, gbps


def _best_seconds(func, repeats: int = 3) -> float:
    func()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def roofline(out: Path, n: int, m: int, threads: int) -> dict:
    """Score GFLOP/s and decode GB/s of one block (in-process, warm), as in the chunk step."""
    import numpy as np
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from cohortgen.assoc.chunk import BLOCK_VARIANTS
    from cohortgen.io.bed import read_bed
    from cohortgen.kernels.bed import dosages_mean_imputed
    from cohortgen.kernels.score import prepare_score, score_statistics

    packed, _, _ = read_bed(out / subset(out, m))
    packed = packed[:BLOCK_VARIANTS]
    rows = packed.shape[0]
    null = pd.read_csv(out / "null.tsv", sep="\t", dtype={"sample_id": str})
    names = [f"d{k}" for k in range(N_DISEASES)]
    X = null.filter(regex=r"^x\d+$").to_numpy(float)
    prep = prepare_score(X, null[[f"r_{d}" for d in names]].to_numpy(float),
                         null[[f"w_{d}" for d in names]].to_numpy(float))
    idx = np.arange(n)
    buffer = np.empty(rows * n)
    with threadpool_limits(1, user_api="blas"):
        decode_s = _best_seconds(lambda: dosages_mean_imputed(packed, n, idx, out=buffer))
        G = dosages_mean_imputed(packed, n, idx, out=buffer)
        score_s = _best_seconds(lambda: score_statistics(G, prep, projections=True,
                                                         threads=threads))
    flops = 2.0 * rows * n * (prep.C.shape[1] + N_DISEASES)
    decode_bytes = packed.nbytes + rows * n * 8
    return {"score_gflops": flops / score_s / 1e9, "decode_gbps": decode_bytes / decode_s / 1e9,
            "rows": rows}


def main() -> None:
    args = parse_args()
    env = thread_env(args.threads)
    from cohortgen.assoc.stage import fit_null_stage

    rows, profiles, lines = [], {}, {}
    peaks = [machine_peaks()]  # here and at the end: the machine is shared, keep the best
    with tempfile.TemporaryDirectory(prefix="bench_assoc.") as tmp:
        for n in args.sizes:
            out = Path(tmp) / str(n)
            out.mkdir()
            write_cohort(out, n, args.variants, seed=n)
            fit_null_stage(out / "g.fam", out / "keep.txt", out / "pheno.tsv",
                           [f"d{k}" for k in range(N_DISEASES)], ["age", "sex"], 20,
                           out / "null.tsv", out / "null.json", out / "pcs.tsv")
            ours = run_tool(lambda p, o=out: ours_command(o, p), out, args.variants, env,
                            args.max_seconds)
            theirs = run_tool(lambda p, o=out: plink_command(o, p, args.threads), out,
                              args.variants, env, args.max_seconds)
            m_profile = min(args.variants, 2 * PILOT) if ours[2] else args.variants
            profiles[n] = (m_profile, *profile_ours(out, m_profile))
            lines[n] = roofline(out, n, m_profile, args.threads)
            rows.append((n, ours, theirs))
        peaks.append(machine_peaks())
    peak_gflops, peak_gbps = (max(values) for values in zip(*peaks, strict=True))
    m = args.variants
    print(f"\n{m} variants, {N_DISEASES} diseases, {N_PCS + 2} covariates, {args.threads} "
          f"threads; * = extrapolated from {PILOT // 2} and {PILOT} variants (RSS: pilot's)")
    print(f"{'N':>7} {'ours s':>9} {'ours MB':>8} {'plink2 s':>10} {'plink2 MB':>10} "
          f"{'speed-up':>9} {'ours 100k s':>12} {'plink2 100k s':>14}")
    for n, (w1, r1, e1), (w2, r2, e2) in rows:
        print(f"{n:>7} {w1:>8.1f}{'*' if e1 else ' '} {r1:>8.0f} {w2:>9.1f}{'*' if e2 else ' '}"
              f" {r2:>10.0f} {w2 / w1:>9.1f} {w1 * 100_000 / m:>12.0f} "
              f"{w2 * 100_000 / m:>14.0f}")
    print("\nprofile of our step (in-process, warm kernels), wall seconds per step:")
    for n, (m_profile, total, parts) in profiles.items():
        print(f"{n:>7} x {m_profile} variants: total {total:.2f}  "
              + "  ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    print(f"\nroofline (peaks measured here, {args.threads} threads: float64 matmul "
          f"{peak_gflops:.0f} GFLOP/s, memory copy {peak_gbps:.1f} GB/s):")
    for n, line in lines.items():
        print(f"{n:>7} x {line['rows']} variants: score {line['score_gflops']:.1f} GFLOP/s "
              f"({100 * line['score_gflops'] / peak_gflops:.0f}% of peak), decode "
              f"{line['decode_gbps']:.1f} GB/s ({100 * line['decode_gbps'] / peak_gbps:.0f}% "
              "of peak)")


if __name__ == "__main__":
    main()
