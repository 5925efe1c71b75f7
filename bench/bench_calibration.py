"""Calibration and power of step 1 with relatives kept, at several sample sizes: a table.

Usage: ``.venv/bin/python bench/bench_calibration.py [--samples 2000 5000] [--variants 40000]
[--seed 1] [--workdir DIR]``

Per sample size, the study of :mod:`cohortgen.wgr.calibration` (the one the calibration test
runs at N = 2,000): a simulated family-rich cohort (40% in nuclear families, 5% first cousins,
six subpopulations at Fst 0.005 with liability shifts), three replicate diseases at prevalence
4% and three at 30%, analysed by step 1 + LOCO offset with relatives kept (``wgr``), PCA-only
on the same samples (``pca``) and PCA-only on a maximal unrelated subset (``pca_unrelated``),
with the default association settings (approximate Firth fallback at score p < 0.05).

One row per sample size × prevalence × path: samples, λGC and the counts of p < 1e-3 and
p < 1e-4 on the non-causal variants pooled over the replicates, with their binomial 99%
intervals, pass/fail against the calibration criterion (λGC in [0.98, 1.03] and both counts in
their intervals), causal variants at p < 5e-8, and CPU seconds (process user + system, all
threads; per path, both prevalences together: step 1 + association, or PCs + association). On
a shared machine only the CPU time means anything. Rows are printed as each sample size ends.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from cohortgen.inflation import lambda_gc
from cohortgen.wgr.calibration import (
    ALPHAS,
    PATHS,
    CalibrationDesign,
    alpha_interval,
    calibration_failures,
    causal_hits,
    pooled_null_p,
    run_study,
)

HEADER = ("N", "prevalence", "path", "samples", "lambda_gc", "p<1e-3 [99% CI]",
          "p<1e-4 [99% CI]", "calibrated", "hits_5e-8", "cpu_s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 5_000])
    parser.add_argument("--variants", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the PLINK filesets go (default: a temporary directory)")
    return parser.parse_args()


def count_cell(p: np.ndarray, alpha: float) -> str:
    """'count [low-high]': p-values below α and the binomial 99% interval of that count."""
    low, high = alpha_interval(p.size, alpha)
    return f"{int(np.sum(p < alpha))} [{low:.0f}-{high:.0f}]"


def study_rows(study) -> list[tuple]:
    """The table rows of one study (one sample size)."""
    rows = []
    for cell, _ in study.design.prevalences:
        for path in PATHS:
            p = pooled_null_p(study, path, cell)
            samples = int(study.results[path]["n"].max())
            rows.append((study.design.n_samples, cell, path, samples, f"{lambda_gc(p):.4f}",
                         *(count_cell(p, alpha) for alpha in ALPHAS),
                         "pass" if not calibration_failures(p) else "FAIL",
                         causal_hits(study, path, cell), f"{study.cpu_seconds[path]:.0f}"))
    return rows


def main() -> None:
    args = parse_args()
    print("\t".join(HEADER), flush=True)
    for n in args.samples:
        design = CalibrationDesign(n_samples=n, n_variants=args.variants, seed=args.seed)
        with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
            study = run_study(design, Path(workdir))
        for row in study_rows(study):
            print("\t".join(str(v) for v in row), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
