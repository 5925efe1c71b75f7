"""Wall time of scoring 9 scores at once (cohortgen kernel) vs ``plink2 --score``, same data.

Usage: ``.venv/bin/python bench/bench_prs.py [--threads 2] [--variants 200000]
[--samples 2000 21000] [--block 20000]``

A PLINK 1 fileset is written per sample size (rows tiled from 2,000 realistic variants: allele
frequencies 0.01-0.5, 1% missing calls), with one scoring file holding 9 weight columns over
every variant. cohortgen's time covers what the stage does per chunk: read ``--block`` .bed
rows (memory map), count genotypes for the imputation mean, score; plink2's is its whole run
(``--score ... cols=+scoresums --score-col-nums 3-11``). Both use ``--threads``. Times are
extrapolated linearly to 1M variants. The first call's Numba compile/cache-load time is shown
separately. Results agree to plink2's printed precision (checked on the first 100 samples).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_SCORES = 9
TILE = 2_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", type=int, default=200_000)
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 21_000])
    parser.add_argument("--block", type=int, default=20_000)
    return parser.parse_args()


def write_fileset(prefix: Path, n_variants: int, n_samples: int, rng) -> None:
    """Fileset with ``n_variants`` rows tiled from :data:`TILE` packed random rows."""
    import numpy as np
    import pandas as pd

    from cohortgen.io.bed import BED_MAGIC
    from cohortgen.kernels.bed import pack_dosages

    freq = rng.uniform(0.01, 0.5, TILE)
    dosage = rng.binomial(2, freq[:, None], (TILE, n_samples)).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.01] = -1
    tile = pack_dosages(dosage)
    with open(f"{prefix}.bed", "wb") as out:
        out.write(BED_MAGIC)
        for start in range(0, n_variants, TILE):
            out.write(tile[: min(TILE, n_variants - start)].tobytes())
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{i}" for i in range(n_variants)], "cm": 0,
                        "pos": np.arange(n_variants) + 1, "a1": "A", "a2": "G"})
    bim.to_csv(f"{prefix}.bim", sep="\t", header=False, index=False)
    ids = [f"S{i}" for i in range(n_samples)]
    pd.DataFrame({"f": ids, "i": ids, "p": 0, "m": 0, "s": 1, "y": -9}).to_csv(
        f"{prefix}.fam", sep="\t", header=False, index=False)


def write_weights(path: Path, n_variants: int, rng):
    import numpy as np
    import pandas as pd

    weights = rng.normal(size=(n_variants, N_SCORES))
    effect_is_alt = rng.random(n_variants) < 0.5
    table = pd.DataFrame(weights, columns=[f"s{k}" for k in range(N_SCORES)])
    table.insert(0, "allele", np.where(effect_is_alt, "A", "G"))
    table.insert(0, "id", [f"v{i}" for i in range(n_variants)])
    table.to_csv(path, sep="\t", index=False, float_format="%.8g")
    return table[[f"s{k}" for k in range(N_SCORES)]].to_numpy(), effect_is_alt


def cohortgen_scores(prefix: Path, weights, effect_is_alt, block: int):
    """Per-chunk work of the stage: read rows, imputation means, score; (sums, seconds)."""
    import numpy as np

    from cohortgen.io.bed import read_bed
    from cohortgen.kernels.prs import code_values, score_sums
    from cohortgen.kernels.stats import genotype_counts

    alt = np.repeat(effect_is_alt[:, None], N_SCORES, axis=1)
    additive = np.zeros(weights.shape, dtype=np.int8)
    start_time = time.perf_counter()
    total = None
    for start in range(0, weights.shape[0], block):
        rows = slice(start, start + block)
        packed, _, fam = read_bed(prefix, rows)
        n = len(fam)
        counts = genotype_counts(packed, n, np.ones(n, dtype=bool))
        called = counts[:, :3].sum(axis=1)
        mean = (2 * counts[:, 0] + counts[:, 1]) / np.maximum(called, 1)
        values = code_values(weights[rows], alt[rows], additive[rows], mean)
        part = score_sums(packed, n, values)
        total = part if total is None else total + part
    return total, time.perf_counter() - start_time


def plink2_scores(plink2: str, prefix: Path, weights_path: Path, threads: int):
    import pandas as pd

    start = time.perf_counter()
    subprocess.run([plink2, "--bfile", str(prefix), "--score", str(weights_path), "1", "2",
                    "header", "cols=+scoresums", "--score-col-nums", f"3-{2 + N_SCORES}",
                    "--threads", str(threads), "--memory", "8000", "--out", f"{prefix}.ref"],
                   check=True, capture_output=True)
    seconds = time.perf_counter() - start
    ref = pd.read_csv(f"{prefix}.ref.sscore", sep="\t")
    return ref[[f"SCORE{k + 1}_SUM" for k in range(N_SCORES)]].to_numpy(), seconds


def compile_seconds() -> float:
    """Time of the first kernel call in this process (cache load or compile)."""
    import numpy as np

    from cohortgen.kernels.bed import pack_dosages
    from cohortgen.kernels.prs import score_sums

    packed = pack_dosages(np.zeros((2, 8), dtype=np.int8))
    start = time.perf_counter()
    score_sums(packed, 8, np.zeros((2, 4, 1)))
    return time.perf_counter() - start


def main() -> int:
    args = parse_args()
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import numpy as np

    plink2 = shutil.which("plink2")
    if plink2 is None:
        print("plink2 not on PATH", file=sys.stderr)
        return 1
    print(f"first kernel call (compile or cache load): {compile_seconds():.2f} s")
    rng = np.random.default_rng(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights_path = Path(tmp) / "weights.tsv"
        weights, effect_is_alt = write_weights(weights_path, args.variants, rng)
        for n in args.samples:
            prefix = Path(tmp) / f"n{n}"
            write_fileset(prefix, args.variants, n, rng)
            ours, t_ours = cohortgen_scores(prefix, weights, effect_is_alt, args.block)
            ref, t_ref = plink2_scores(plink2, prefix, weights_path, args.threads)
            np.testing.assert_allclose(ours[:100], ref[:100], rtol=1e-5, atol=1e-3)
            scale = 1_000_000 / args.variants
            rows.append((n, t_ours, t_ref, t_ours * scale, t_ref * scale, t_ours / t_ref))
            for path in Path(tmp).glob(f"n{n}*"):
                path.unlink()
    print(f"{N_SCORES} scores x {args.variants:,} variants, {args.threads} threads")
    print(f"{'samples':>8} {'cohortgen s':>12} {'plink2 s':>9} {'cg @1M s':>9} "
          f"{'p2 @1M s':>9} {'ratio':>6}")
    for n, t1, t2, e1, e2, ratio in rows:
        print(f"{n:>8,} {t1:>12.2f} {t2:>9.2f} {e1:>9.1f} {e2:>9.1f} {ratio:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
