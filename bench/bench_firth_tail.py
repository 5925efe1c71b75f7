"""Type-I error of the Firth fallback at few cases: score test, approximate and full Firth.

Usage: ``.venv/bin/python bench/bench_firth_tail.py [--samples 2000] [--cases 80]
[--variants 20000] [--diseases 10] [--covariates 10] [--seed 1]``

Null data, no structure: ``--samples`` unrelated samples, random genotypes (ALT frequency
U(0.05, 0.5)), ``--covariates`` N(0, 1) covariates without effect, and ``--diseases`` phenotypes
of exactly ``--cases`` random cases each. Every variant × disease goes through the association
chunk three times: score test only, the default (approximate Firth, REGENIE's method, where the
score p < 0.05 or the minor allele is expected rare), and full Firth (penalised LRT). Per mode:
λGC and the counts of p < 1e-2, 1e-3, 1e-4 against α · tests with the binomial 99% interval,
and CPU seconds (process user + system). Also the Firth-penalised null's fitted cases minus the
observed ones (mean over the diseases): the penalty's bias of the intercept, Σ h(½ − μ̂) ≈ p/2
for p null-model parameters, which is the offset every approximate Firth fit keeps fixed.
"""

import argparse
import time

import numpy as np
import pandas as pd
from scipy import special, stats

from cohortgen.assoc.chunk import FallbackSettings, chunk_results
from cohortgen.assoc.null_model import fit_firth_null, fit_null_models
from cohortgen.assoc.stage import null_model_table
from cohortgen.inflation import lambda_gc
from cohortgen.kernels.bed import pack_dosages

MODES = {
    "score": FallbackSettings(firth_p_threshold=0.0, firth_min_carriers=0),
    "approximate": FallbackSettings(),
    "full": FallbackSettings(firth_mode="full"),
}
ALPHAS = (1e-2, 1e-3, 1e-4)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--cases", type=int, default=80)
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--diseases", type=int, default=10)
    parser.add_argument("--covariates", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def null_data(args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ALT dosages int8 (m, n), covariates float64 (n, q), status float64 (n, d) 0/1)."""
    rng = np.random.default_rng(args.seed)
    freq = rng.uniform(0.05, 0.5, args.variants)
    dosage = rng.binomial(2, freq[:, None], (args.variants, args.samples)).astype(np.int8)
    covariates = rng.normal(size=(args.samples, args.covariates))
    status = np.zeros((args.samples, args.diseases))
    for d in range(args.diseases):
        status[rng.choice(args.samples, args.cases, replace=False), d] = 1.0
    return dosage, covariates, status


def main() -> None:
    args = parse_args()
    dosage, covariates, status = null_data(args)
    ids = [f"s{i}" for i in range(args.samples)]
    names = [f"d{d}" for d in range(args.diseases)]
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{i}" for i in range(args.variants)], "cm": 0.0,
                        "pos": np.arange(args.variants) + 1, "a1": "A", "a2": "G"})
    models = fit_null_models(covariates, status)
    null = null_model_table(ids, models, pd.DataFrame(status, columns=names), ["OK"] * len(names))
    packed = pack_dosages(dosage)
    excess = np.mean([special.expit(fit_firth_null(models.X, status[:, d]).eta).sum()
                      - args.cases for d in range(args.diseases)])
    print(f"{args.samples} samples, {args.cases} cases, {args.covariates} covariates + intercept:"
          f" Firth null fits {excess:.2f} cases more than observed ({excess / args.cases:.1%})")
    print("\t".join(["mode", "lambda_gc", *(f"p<{a:g} [99% CI]" for a in ALPHAS), "cpu_s"]))
    for mode, settings in MODES.items():
        start = time.process_time()
        p = chunk_results(packed, bim, ids, null, names, settings)["p_value"].to_numpy(float)
        cpu = time.process_time() - start
        counts = []
        for alpha in ALPHAS:
            low, high = stats.binom.interval(0.99, p.size, alpha)
            counts.append(f"{int(np.sum(p < alpha))} [{low:.0f}-{high:.0f}]")
        print("\t".join([mode, f"{lambda_gc(p):.4f}", *counts, f"{cpu:.0f}"]), flush=True)


if __name__ == "__main__":
    main()
