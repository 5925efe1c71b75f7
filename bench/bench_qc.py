"""QC kernels (fresh Python driver process, start-up included) vs PLINK 2, side by side.

Usage: ``.venv/bin/python bench/bench_qc.py [--sizes 2000,5000,21000] [--variants 100000]
[--threads 2] [--max-seconds 600] [--ops all,prune]``

Random cohort per size N: M variants (MAF uniform on [0.01, 0.5], Hardy-Weinberg genotypes, 1%
missing), generated and packed in variant blocks with ``pack_dosages`` and written with
``write_bed``. Operations, each run by both tools on the same fileset with the same thread count:

- ``freq``, ``missing``, ``hardy``, ``het`` and all four at once (``all``): our driver reads the
  .bed with ``read_bed``, makes one ``variant_sample_counts`` pass (genotype counts per variant,
  missing and het calls per sample), then calls ``hwe_exact_midp`` and ``het_f`` (a second pass,
  which needs the frequencies); PLINK 2 runs ``--freq``, ``--missing``, ``--hardy midp``,
  ``--het`` (one at a time, then all in one call).
- ``king``: ``king_counts`` + ``king_kinship`` vs ``--make-king-table`` on 20,000 random variants.
- ``king_related``: the workflow's path, ``king_related_pairs`` (tiled, no n×n matrix) at the
  2nd-degree cut-off 0.0884, vs ``--make-king-table --king-table-filter 0.0884``, same variants.
- ``pca``: ``randomized_pca`` k=10 vs ``--pca approx 10`` on the same 20,000 variants.
- ``prune``: ``ld_prune`` 50 5 0.2 vs ``--indep-pairwise 50 5 0.2`` on all M variants.

Each run is one child process timed for wall seconds, CPU seconds (user + system: less
sensitive than wall time to other jobs on a shared machine) and peak RSS with
``/usr/bin/time -v`` (see :func:`timed` without it). Our driver runs under the ``cohortgen``
console script's garbage-collector policy (:func:`cohortgen.cli.run`) and
saves its results with ``np.save`` (binary); PLINK 2 writes text tables. A warm-up on a tiny
cohort fills the Numba cache first (its wall time is printed: the one-off compile cost). Each new
fileset is flushed to disk and read once before the runs, so both tools read from the page
cache. A run predicted to exceed ``--max-seconds`` (from the previous size, scaled by N and M;
N² for KING) or, for KING, to need more than ``--king-max-gb`` of n×n matrices, is skipped and
says so.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import n_bytes, pack_dosages

M_SUBSET = 20_000
BLOCK = 2_000
TIME = Path("/usr/bin/time")

DRIVER = textwrap.dedent(
    """
    import gc
    import sys
    from pathlib import Path

    from cohortgen.cli import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)  # the console script's process policy (cli.run)

    import numpy as np

    from cohortgen.io.bed import read_bed

    op, prefix, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    packed, bim, fam = read_bed(prefix)
    n, m = len(fam), len(bim)
    if op in ("freq", "missing", "hardy", "het", "all"):
        from cohortgen.kernels.stats import variant_sample_counts

        counts = variant_sample_counts(packed, n, np.zeros(m, dtype=np.int64), 1)
        hom_alt, het, hom_ref = counts.variant[:, 0], counts.variant[:, 1], counts.variant[:, 2]
        called = hom_alt + het + hom_ref
        freq = (het + 2.0 * hom_alt) / (2.0 * called)
        np.save(out / "freq.npy", freq)
        if op in ("missing", "all"):
            np.save(out / "smiss.npy", counts.missing[0])
        if op in ("hardy", "all"):
            from cohortgen.kernels.hwe import hwe_exact_midp

            np.save(out / "hardy.npy", hwe_exact_midp(het, hom_alt, hom_ref))
        if op in ("het", "all"):
            from cohortgen.kernels.heterozygosity import het_f

            np.save(out / "het.npy", het_f(packed, n, np.ones(m, dtype=bool), freq)[3])
    elif op == "king":
        from cohortgen.kernels.relatedness import king_counts, king_kinship

        np.save(out / "king.npy", king_kinship(*king_counts(packed, n)))
    elif op == "king_related":
        from cohortgen.kernels.relatedness import king_related_pairs

        np.save(out / "pairs.npy", king_related_pairs(packed, n, 0.0884).kinship)
    elif op == "pca":
        from cohortgen.kernels.pca import randomized_pca

        np.save(out / "pcs.npy", randomized_pca(packed, n, n_components=10)[1])
    elif op == "prune":
        from cohortgen.kernels.ld import ld_prune

        np.save(out / "keep.npy", ld_prune(packed, n, bim["pos"].to_numpy(), 50, 5, 0.2))
    else:
        raise SystemExit(f"unknown op {op}")
    gc.freeze()
    """
)

PLINK_FLAGS = {
    "freq": ["--freq"],
    "missing": ["--missing"],
    "hardy": ["--hardy", "midp"],
    "het": ["--het"],
    "all": ["--freq", "--missing", "--hardy", "midp", "--het"],
    "king": ["--make-king-table"],
    "king_related": ["--make-king-table", "--king-table-filter", "0.0884"],
    "pca": ["--pca", "approx", "10"],
    "prune": ["--indep-pairwise", "50", "5", "0.2"],
}
OPERATIONS = ["freq", "missing", "hardy", "het", "all", "king", "king_related", "pca", "prune"]
SUBSET_OPS = {"king", "king_related", "pca"}
COUNT_OPS = {"freq", "missing", "hardy", "het", "all"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,5000,21000",
                        help="comma-separated sample counts")
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--king-max-gb", type=float, default=8.0)
    parser.add_argument("--ops", default=",".join(OPERATIONS),
                        help="comma-separated operations to run (default: all)")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.ops = [op for op in args.ops.split(",") if op]
    unknown = set(args.ops) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    return args


def write_cohort(prefix: Path, n: int, m: int, seed: int) -> None:
    """Random bed/bim/fam: MAF ~ U(0.01, 0.5) (A1 = minor), HWE genotypes, 1% missing."""
    rng = np.random.default_rng(seed)
    packed = np.empty((m, n_bytes(n)), dtype=np.uint8)
    maf = rng.uniform(0.01, 0.5, m)
    for lo in range(0, m, BLOCK):
        hi = min(lo + BLOCK, m)
        p = maf[lo:hi, None].astype(np.float32)
        u = rng.random((hi - lo, n), dtype=np.float32)
        # u < 0.01 missing; then 0.99 * (p², 2pq, q²) for dosages 2, 1, 0
        hom_alt = 0.01 + 0.99 * p * p
        het = hom_alt + 0.99 * 2 * p * (1 - p)
        dosage = (u < het).astype(np.int8) + (u < hom_alt)
        dosage[u < 0.01] = -1
        packed[lo:hi] = pack_dosages(dosage)
    ids = [f"s{i:06d}" for i in range(n)]
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{i}" for i in range(m)], "cm": 0.0,
                        "pos": np.arange(1, m + 1) * 100, "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": "-9"})
    write_bed(prefix, packed, bim, fam)
    pick = np.sort(rng.choice(m, size=min(M_SUBSET, m), replace=False))
    write_bed(prefix.with_name(prefix.name + "_sub"), packed[pick],
              bim.iloc[pick].reset_index(drop=True), fam)


def timed(command: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds (user + system), peak RSS MB) of one child process.

    With ``/usr/bin/time -v`` all three are the child's own; without it, CPU comes from
    ``os.wait4`` and the peak RSS is not reported (nan): Linux counts the bench's own memory,
    inherited at fork, in a child's ``ru_maxrss``.
    """
    timer = [str(TIME), "-v"] if TIME.exists() else []
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([*timer, *command], stdout=subprocess.DEVNULL, stderr=err,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        report = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{report[-2000:]}")
    if not timer:
        return wall, usage.ru_utime + usage.ru_stime, float("nan")
    fields = {key: float(re.search(rf"{pattern}: ([0-9.]+)", report).group(1)) for key, pattern in
              (("user", r"User time \(seconds\)"), ("system", r"System time \(seconds\)"),
               ("rss_kb", r"Maximum resident set size \(kbytes\)"))}
    return wall, fields["user"] + fields["system"], fields["rss_kb"] / 1024


def ours_command(op: str, prefix: Path, out: Path, driver: Path) -> list[str]:
    out.mkdir(exist_ok=True)
    return [sys.executable, str(driver), op, str(prefix), str(out)]


def plink_command(op: str, prefix: Path, out: Path, threads: int) -> list[str]:
    return ["plink2", "--bfile", str(prefix), *PLINK_FLAGS[op], "--threads", str(threads),
            "--out", str(out)]


def king_gb(n: int) -> float:
    """n×n matrices alive in king_counts + king_kinship: 4 int64 counts + the float64 result."""
    return 5 * 8 * n * n / 1e9


def predicted(op: str, tool: str, n: int, previous: dict) -> float | None:
    """Seconds predicted from the last measured size: the tool's fastest run so far (start-up)
    plus the rest scaled by N (N² for KING)."""
    if (op, tool) not in previous:
        return None
    n0, wall0 = previous[op, tool]
    start = min(wall for (_, t), (_, wall) in previous.items() if t == tool)
    return start + (wall0 - start) * (n / n0) ** (2 if op.startswith("king") else 1)


def settle_page_cache(prefix: Path) -> None:
    """Flush the new filesets to disk and read each once, so both tools read from the page cache
    without write-back running beside them (PLINK 2 reads the .bed, cohortgen maps it)."""
    os.sync()
    for path in sorted(prefix.parent.glob(f"{prefix.name}*.bed")):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def main() -> None:
    args = parse_args()
    threads = str(args.threads)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
           "NUMBA_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if shutil.which("plink2") is None:
        raise SystemExit("plink2 not found on PATH")
    rows, previous = [], {}
    with tempfile.TemporaryDirectory(prefix="bench_qc.") as tmp:
        tmp = Path(tmp)
        driver = tmp / "driver.py"
        driver.write_text(DRIVER)
        warm = tmp / "warm"
        write_cohort(warm, 200, 2_000, seed=0)
        start = time.perf_counter()
        for op in sorted({"all" if op in COUNT_OPS else op for op in args.ops}):
            prefix = warm.with_name("warm_sub") if op in SUBSET_OPS else warm
            timed(ours_command(op, prefix, tmp / "warm_out", driver), env)
        warm_wall = time.perf_counter() - start
        for n in args.sizes:
            prefix = tmp / f"g{n}"
            start = time.perf_counter()
            write_cohort(prefix, n, args.variants, seed=n)
            settle_page_cache(prefix)
            print(f"N={n}: cohort written in {time.perf_counter() - start:.1f} s", flush=True)
            for op in args.ops:
                m = min(M_SUBSET, args.variants) if op in SUBSET_OPS else args.variants
                bfile = prefix.with_name(prefix.name + "_sub") if op in SUBSET_OPS else prefix
                result = {}
                for tool in ("ours", "plink2"):
                    guess = predicted(op, tool, n, previous)
                    if op == "king" and tool == "ours" and king_gb(n) > args.king_max_gb:
                        result[tool] = f"skip ~{king_gb(n):.0f}GB"
                    elif guess is not None and guess > args.max_seconds:
                        result[tool] = f"skip ~{guess:.0f}s"
                    else:
                        out = tmp / f"{tool}_{op}_{n}"
                        command = (ours_command(op, bfile, out, driver) if tool == "ours"
                                   else plink_command(op, bfile, out, args.threads))
                        result[tool] = timed(command, env)
                        previous[op, tool] = (n, result[tool][0])
                rows.append((op, n, m, result["ours"], result["plink2"]))
                print(f"  {op} done", flush=True)
            for path in tmp.glob(f"*_{n}*"):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
            for path in tmp.glob(f"g{n}*"):
                path.unlink()
    print(f"\nthreads {args.threads}; Numba cache warm-up (tiny cohort, one run per op kind) "
          f"{warm_wall:.1f} s; ratio = cohortgen s / plink2 s; skip = predicted over "
          f"--max-seconds {args.max_seconds:.0f} or over --king-max-gb {args.king_max_gb:.0f}")
    print(f"{'operation':<10} {'N':>7} {'M':>8} {'cohortgen s':>12} {'plink2 s':>9} "
          f"{'ratio':>6} {'cohortgen cpu':>14} {'plink2 cpu':>11} {'cpu ratio':>10} "
          f"{'cohortgen MB':>13} {'plink2 MB':>10}")
    for op, n, m, ours, theirs in rows:
        cells = [(f"{v[0]:.2f}", f"{v[1]:.2f}", f"{v[2]:.0f}") if isinstance(v, tuple)
                 else (v, "-", "-") for v in (ours, theirs)]
        both = isinstance(ours, tuple) and isinstance(theirs, tuple)
        ratio = f"{ours[0] / theirs[0]:.2f}" if both else "-"
        cpu_ratio = f"{ours[1] / theirs[1]:.2f}" if both else "-"
        print(f"{op:<10} {n:>7} {m:>8} {cells[0][0]:>12} {cells[1][0]:>9} {ratio:>6} "
              f"{cells[0][1]:>14} {cells[1][1]:>11} {cpu_ratio:>10} {cells[0][2]:>13} "
              f"{cells[1][2]:>10}")


if __name__ == "__main__":
    main()
