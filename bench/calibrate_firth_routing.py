"""Which rows go to Firth: type-I error and λGC of the association chunk on simulated nulls
under three routings, so that the default of ``assoc.firth_min_carriers`` rests on evidence.

Usage: ``.venv/bin/python bench/calibrate_firth_routing.py [--samples 3000] [--variants 30000]
[--family-samples 2000] [--family-variants 40000]``

Routings (:class:`cohortgen.assoc.chunk.FallbackSettings`):

- ``carriers10``: Firth where the score p < 0.05 or the expected minor allele count in the
  smaller group is < 10 (``firth_min_carriers: 10``, the default before this comparison);
- ``p05``: Firth where the score p < 0.05 only (``firth_min_carriers: 0``, as REGENIE);
- ``score``: no Firth at all (the control that shows the check can fail).

Cohorts (seeded, library calls, no Snakemake):

- unrelated: ``--samples`` samples, ``--variants`` independent hard-call variants with MAF
  log-uniform on [0.001, 0.5] (rare-heavy), two normal covariates, three null phenotypes at 4%
  and three at 30% prevalence drawn independently of the genotypes;
- family: the cohort of ``cohortgen.wgr.calibration.CalibrationDesign``, as
  ``tests/test_wgr_calibration.py``
  (40% in nuclear families, 5% cousins, six subpopulations; three diseases at 4% and three at
  30%, 30 causal variants each), step 1 (whole-genome regression) on, 10 PCs; only the variants
  not causal for a disease count.

Per cohort, prevalence, routing and MAC bin (pooled over the three phenotypes): rows, count of
p < 1e-3 and p < 1e-4 against the binomial 99% interval (``!`` marks a count outside it), and
λGC (median χ²₁ / 0.455). λGC has no binomial interval: its sampling SD over m null rows is
about 2.1 / √m (e.g. 0.01 at 45,000 rows). Run time is a few CPU minutes on one core.
"""

import argparse
import sys

import numpy as np
import pandas as pd
from scipy import stats

from cohortgen.assoc.chunk import FallbackSettings, chunk_results
from cohortgen.assoc.loco import fit_loco_nulls
from cohortgen.assoc.null_model import fit_null_models
from cohortgen.assoc.stage import null_model_table
from cohortgen.inflation import lambda_gc
from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import pack_dosages
from cohortgen.wgr.calibration import CalibrationDesign, top_pcs
from cohortgen.wgr.stage import Step1Inputs, Step1Settings, run_step1

ROUTINGS = {
    "carriers10": FallbackSettings(firth_min_carriers=10),
    "p05": FallbackSettings(firth_min_carriers=0),
    "score": FallbackSettings(firth_p_threshold=0.0, firth_min_carriers=0),
}
PREVALENCES = {"4%": 0.04, "30%": 0.30}
REPLICATES = 3
MAC_BINS = {"all": (5, np.inf), "[5,20)": (5, 20), "[20,100)": (20, 100),
            ">=100": (100, np.inf)}
ALPHAS = (1e-3, 1e-4)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3_000)
    parser.add_argument("--variants", type=int, default=30_000)
    parser.add_argument("--family-samples", type=int, default=2_000)
    parser.add_argument("--family-variants", type=int, default=40_000)
    parser.add_argument("--scratch", default="/tmp")
    return parser.parse_args()


def names() -> list[str]:
    return [f"prev{cell}_{r}" for cell in PREVALENCES for r in range(REPLICATES)]


def bim_of(chrom: np.ndarray) -> pd.DataFrame:
    m = chrom.size
    return pd.DataFrame({"chrom": chrom.astype(str), "id": [f"v{i}" for i in range(m)],
                         "cm": 0.0, "pos": np.arange(1, m + 1), "a1": "T", "a2": "C"})


def unrelated(n: int, m: int) -> tuple:
    """(packed, bim, ids, null table, null rows per phenotype (None: every row), LOCO null
    models (None: no step 1))."""
    rng = np.random.default_rng(12)
    maf = np.exp(rng.uniform(np.log(0.001), np.log(0.5), size=(m, 1)))
    dosage = rng.binomial(2, maf, size=(m, n)).astype(np.int8)
    covariates = rng.normal(size=(n, 2))
    prevalence = np.repeat(list(PREVALENCES.values()), REPLICATES)
    y = (rng.random((n, prevalence.size)) < prevalence).astype(np.float64)
    ids = [f"s{i}" for i in range(n)]
    null = null_model_table(ids, fit_null_models(covariates, y),
                            pd.DataFrame(y, columns=names()), ["OK"] * y.shape[1])
    return pack_dosages(dosage), bim_of(np.ones(m, np.int64)), ids, null, None, None


def family(n: int, m: int, scratch: str) -> tuple:
    """As :func:`unrelated`, for the family cohort of the step-1 calibration
    (:class:`cohortgen.wgr.calibration.CalibrationDesign`), with the LOCO null models of step 1."""
    cohort = CalibrationDesign(n_samples=n, n_variants=m, replicates=REPLICATES).simulate()
    ids = cohort.sample_ids
    bim = bim_of(cohort.chrom)
    packed = pack_dosages(cohort.genotypes)
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": -9})
    prefix = f"{scratch}/calibrate_firth_routing_family"
    write_bed(prefix, packed, bim, fam)
    everyone = np.arange(n)
    pcs = top_pcs(cohort.genotypes, everyone, 10)
    inputs = Step1Inputs(everyone, ids, names(), np.ones(len(names()), dtype=bool),
                         cohort.status, pcs)
    loco, _ = run_step1(prefix, inputs, Step1Settings(block_size=500))
    null = null_model_table(ids, fit_null_models(pcs, cohort.status),
                            pd.DataFrame(cohort.status, columns=names()), ["OK"] * len(names()))
    keep = [np.setdiff1d(np.arange(m), cohort.causal[d]) for d in range(len(names()))]
    return packed, bim, ids, null, keep, fit_loco_nulls(null, names(), [], loco)


def table(cohort: str, results: pd.DataFrame, keep, routing: str) -> list[dict]:
    rows = []
    for cell in PREVALENCES:
        parts = []
        for d, name in enumerate(names()):
            if not name.startswith(f"prev{cell}"):
                continue
            part = results[results["disease"] == name].reset_index(drop=True)
            parts.append(part if keep is None else part.iloc[keep[d]])
        pooled = pd.concat(parts)
        pooled = pooled[pooled["p_value"].notna()]
        for label, (low, high) in MAC_BINS.items():
            sel = pooled[(pooled["mac"] >= low) & (pooled["mac"] < high)]
            p = sel["p_value"].to_numpy()
            row = {"cohort": cohort, "prevalence": cell, "routing": routing, "mac": label,
                   "rows": p.size, "firth share": float((sel["status"] == "FIRTH").mean())
                   if p.size else np.nan, "lambda_gc": lambda_gc(p) if p.size else np.nan}
            for alpha in ALPHAS:
                lo, hi = stats.binom.interval(0.99, p.size, alpha)
                count = int(np.sum(p < alpha))
                flag = "" if lo <= count <= hi else "!"
                row[f"p<{alpha:g}"] = f"{count}{flag} [{int(lo)},{int(hi)}]"
            rows.append(row)
    return rows


def main() -> None:
    args = parse_args()
    cohorts = {"unrelated": lambda: unrelated(args.samples, args.variants),
               "family": lambda: family(args.family_samples, args.family_variants,
                                        args.scratch)}
    out = []
    for cohort, make in cohorts.items():
        packed, bim, ids, null, keep, loco = make()
        for routing, settings in ROUTINGS.items():
            results = chunk_results(packed, bim, ids, null, names(), settings, [], loco)
            out.extend(table(cohort, results, keep, routing))
            print(f"{cohort} {routing} done", file=sys.stderr)
    frame = pd.DataFrame(out)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
