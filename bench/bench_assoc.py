"""Association chunk step (`cohortgen assoc`, process start included) vs `plink2 --glm`.

Usage: ``.venv/bin/python bench/bench_assoc.py [--sizes 2000 5000 21000] [--variants 10000]
[--threads 2] [--max-seconds 300]``

Random cohort per size: genotypes with MAF log-uniform on [0.005, 0.5] (2% missing-free),
9 diseases at ~8% prevalence with age/sex effects, 12 covariates (age, sex, 10 random PCs).
Both tools run on the same .bed with the same covariates; wall time and peak RSS from
``/usr/bin/time -v``. A run predicted (from a 1,000-variant pilot) to exceed ``--max-seconds``
runs on 1,000 variants only and is extrapolated (marked ``*``). A profile of our step splits the
time into read/decode, score BLAS, Firth (full or approximate, the default, and its genotype
residualisation), counts and writing (cProfile, in-process, warm).
"""

import argparse
import cProfile
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 5_000, 21_000])
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    return parser.parse_args()


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
    pd.DataFrame({"pass": np.ones(m, bool)}).to_csv(out / "vqc.tsv", sep="\t", index=False)
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
            str(out / f"{prefix}.vqc.tsv"), "--out", str(out / f"{prefix}.assoc.tsv")]


def plink_command(out: Path, prefix: str, threads: int) -> list[str]:
    return ["plink2", "--bfile", str(out / prefix), "--pheno", str(out / "plink_pheno.tsv"),
            "--covar", str(out / "covar.tsv"), "--covar-variance-standardize", "--glm",
            "firth-fallback", "hide-covar", "--threads", str(threads), "--out",
            str(out / f"plink_{prefix}")]


def subset(out: Path, m: int) -> str:
    """A bed set with the first ``m`` variants (prefix name)."""
    import pandas as pd

    from cohortgen.io.bed import read_bed, write_bed

    packed, bim, fam = read_bed(out / "g")
    name = f"g{m}"
    write_bed(out / name, packed[:m], bim.iloc[:m], fam)
    pd.DataFrame({"pass": [True] * m}).to_csv(out / f"{name}.vqc.tsv", sep="\t", index=False)
    return name


def run_tool(command_for, out: Path, m: int, env: dict, max_seconds: float):
    """(wall s for m variants, RSS MB, extrapolated?) with a pilot on PILOT variants."""
    pilot = subset(out, PILOT)
    wall, rss = timed(command_for(pilot), env)
    if wall * m / PILOT > max_seconds:
        return wall * m / PILOT, rss, True
    full = subset(out, m)
    wall, rss = timed(command_for(full), env)
    return wall, rss, False


def profile_ours(out: Path, m: int) -> dict:
    """Seconds per part of the chunk step (in-process, kernels warm)."""
    from cohortgen.assoc.chunk import association_chunk

    prefix = f"g{m}"
    profiler = cProfile.Profile()
    args = (out / prefix, out / "null.tsv", out / "null.json", out / f"{prefix}.vqc.tsv",
            out / "profile.tsv")
    association_chunk(*args)
    profiler.enable()
    start = time.perf_counter()
    association_chunk(*args)
    total = time.perf_counter() - start
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    parts = {"read_bed": "read_bed", "decode": "dosages_mean_imputed",
             "score (BLAS)": "score_statistics", "firth": "firth_batch",
             "firth approx": "firth_approx_batch", "residualise": "residualised",
             "counts": "genotype_counts", "write": "write_tsv"}
    found = {name: 0.0 for name in parts}
    for (_, _, func), (_, _, _, cumulative, _) in stats.items():
        for name, target in parts.items():
            if func == target:
                found[name] += cumulative
    found["other"] = total - sum(found.values())
    return {"total": total, **found}


def main() -> None:
    args = parse_args()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(args.threads),
           "OMP_NUM_THREADS": str(args.threads), "NUMBA_NUM_THREADS": str(args.threads),
           "MKL_NUM_THREADS": str(args.threads)}
    os.environ.update(env)
    from cohortgen.assoc.stage import fit_null_stage

    rows, profiles = [], {}
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
            profiles[n] = profile_ours(out, PILOT if ours[2] else args.variants)
            rows.append((n, ours, theirs))
    m = args.variants
    print(f"\n{m} variants, {N_DISEASES} diseases, {N_PCS + 2} covariates, "
          f"{args.threads} threads (* = extrapolated from {PILOT} variants)")
    print(f"{'N':>7} {'ours s':>9} {'ours MB':>8} {'plink2 s':>10} {'plink2 MB':>10} "
          f"{'speed-up':>9} {'ours 100k s':>12} {'plink2 100k s':>14}")
    for n, (w1, r1, e1), (w2, r2, e2) in rows:
        print(f"{n:>7} {w1:>8.1f}{'*' if e1 else ' '} {r1:>8.0f} {w2:>9.1f}{'*' if e2 else ' '}"
              f" {r2:>10.0f} {w2 / w1:>9.1f} {w1 * 100_000 / m:>12.0f} "
              f"{w2 * 100_000 / m:>14.0f}")
    print("\nprofile of our step (in-process, warm kernels), seconds:")
    for n, parts in profiles.items():
        print(f"{n:>7} " + "  ".join(f"{k} {v:.2f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
