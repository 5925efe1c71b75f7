"""Wall time of the batched score test (prepare_score + score_statistics) on random data.

Usage: ``.venv/bin/python bench/bench_score.py [--threads 2] [--variants 10000] [--block 1024]``

BLAS threads are fixed through OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS, set
before NumPy is imported (threadpoolctl limits inside the chunk step apply on top). d = 9
diseases, p = 13 (intercept + 12 covariates), genotypes 0/1/2. A size whose first block
predicts more than ``--max-seconds`` in total is skipped and reported as such.
"""

import argparse
import os
import sys
import time

SAMPLE_SIZES = (2_000, 5_000, 21_000)
N_DISEASES = 9
N_COVARIATES = 12


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--block", type=int, default=1_024)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    return parser.parse_args()


def set_blas_threads(threads: int) -> None:
    """Pin BLAS threads; must run before NumPy is first imported."""
    if "numpy" in sys.modules:
        raise RuntimeError("set BLAS threads before importing numpy")
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)


def random_null(rng, n: int):
    """X (n, 13), R (n, 9), W (n, 9) shaped like real null models, 10% missing per disease."""
    import numpy as np

    X = np.column_stack([np.ones(n), rng.normal(size=(n, N_COVARIATES))])
    mu = rng.uniform(0.05, 0.5, size=(n, N_DISEASES))
    y = (rng.random((n, N_DISEASES)) < mu).astype(np.float64)
    included = rng.random((n, N_DISEASES)) > 0.1
    return X, np.where(included, y - mu, 0.0), np.where(included, mu * (1 - mu), 0.0)


def time_size(n: int, args: argparse.Namespace, rng) -> tuple[float, float, str]:
    """(prepare seconds, score seconds for all variants, note)."""
    import numpy as np

    from cohortgen.kernels.score import prepare_score, score_statistics

    X, R, W = random_null(rng, n)
    start = time.perf_counter()
    prep = prepare_score(X, R, W)
    prepare_s = time.perf_counter() - start
    G = rng.binomial(2, 0.3, size=(args.block, n)).astype(np.float64)
    n_blocks = -(-args.variants // args.block)
    score_s = 0.0
    for b in range(n_blocks):
        rows = min(args.block, args.variants - b * args.block)
        start = time.perf_counter()
        score_statistics(G[:rows], prep)
        score_s += time.perf_counter() - start
        if b == 0 and score_s * n_blocks > args.max_seconds:
            return prepare_s, score_s * n_blocks, "skipped (extrapolated from 1 block)"
    return prepare_s, score_s, ""


def main() -> None:
    args = parse_args()
    set_blas_threads(args.threads)
    import numpy as np

    rng = np.random.default_rng(2024)
    print(
        f"score test: m={args.variants} variants in blocks of {args.block}, "
        f"d={N_DISEASES}, p={N_COVARIATES + 1}, BLAS threads={args.threads}"
    )
    print(f"{'n':>7} {'prepare_s':>10} {'score_s':>9} {'variants/s':>11}  note")
    for n in SAMPLE_SIZES:
        prepare_s, score_s, note = time_size(n, args, rng)
        rate = args.variants / score_s
        print(f"{n:>7} {prepare_s:>10.3f} {score_s:>9.3f} {rate:>11.0f}  {note}")


if __name__ == "__main__":
    main()
