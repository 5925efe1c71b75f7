"""Calibration and power of the whole-genome regression (step 1 + LOCO offset in step 2) with
relatives kept, on a simulated family-rich cohort
(:func:`cohortgen.simulate.simulate_family_cohort`: 40% of the samples in nuclear families,
5% first cousins, six subpopulations at Fst 0.005 with liability shifts, three replicate
polygenic diseases at prevalence 4% and three at 30%, each with its own causal variants).

At N = 2,000 and 5,000 (the 5,000 cohort: about 90 CPU s). Library calls, no Snakemake, shared
with ``bench/bench_calibration.py`` (which prints the table): :mod:`cohortgen.wgr.calibration`
simulates, writes the PLINK fileset, runs step 1
and the association with the LOCO table (step 1 on) or without it (the PCA-only test: 10 PCs
as covariates, the path of step 1 off).

- Calibration, per prevalence: on the variants that are not causal for a disease, pooled over
  its three replicate diseases, λGC lies in [0.98, 1.03] and the number of p < α (α = 1e-3,
  1e-4) in the binomial 99% interval with step 1 and relatives kept; the PCA-only test on the
  same samples is inflated (λGC > 1.03 for the 30% diseases), so the check can fail.
- Power: step 1 with relatives kept finds at least as many causal variants at p < 5e-8 as the
  PCA-only test on a maximal unrelated subset (relatives removed, as with step 1 off).

Why replicates: λGC of one disease scatters from one simulated phenotype to the next far more
than its sampling error over 40,000 variants (about 0.012) says, because the inflation from
relatives depends on how many relatives happen to share the phenotype. Measured over four
cohorts (seeds 1-4), one disease per prevalence: step 1 gave λGC 1.047, 0.989, 1.006, 1.000 at
4% and 1.022, 1.060, 1.020, 1.020 at 30% (PCA-only on the unrelated subset, the correct test:
1.008, 1.021, 1.001, 0.990 and 0.996, 1.004, 1.006, 0.985); one disease per prevalence makes a
one-seed test pass or fail by chance. Pooling three phenotypes divides that scatter by about
√3.

The family environment is off (``shared_env=0``): a phenotype correlation of relatives that no
genotype explains is not modelled by a whole-genome regression (nor by a kinship-matrix mixed
model) and inflates both; the simulator keeps it as an option.
"""

import numpy as np
import pytest

from cohortgen.inflation import lambda_gc
from cohortgen.wgr.calibration import (
    CalibrationDesign,
    calibration_failures,
    causal_hits,
    pooled_null_p,
    run_study,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[2000, 5000], ids=lambda n: f"n{n}")
def study(request, tmp_path_factory):
    """The simulated cohort (2,000 or 5,000 samples) and three GWAS of it: step 1 + relatives
    kept, PCA-only on the same samples, PCA-only on a maximal unrelated subset."""
    design = CalibrationDesign(n_samples=request.param, n_variants=40_000, replicates=3,
                               n_causal=30, family_fraction=0.4, cousin_fraction=0.05,
                               n_pcs=10, block_size=500, seed=1)
    return run_study(design, tmp_path_factory.mktemp("wgrcal"))


@pytest.mark.parametrize("cell", ["prev04", "prev30"])
def test_wgr_step2__calibrated_with_relatives_kept(study, cell):
    p = pooled_null_p(study, "wgr", cell)
    assert np.all(np.isfinite(p))
    assert calibration_failures(p) == []


def test_pca_only__inflated_with_relatives_kept(study):
    """The same check fails for the PCA-only test on the same samples (30% diseases)."""
    p = pooled_null_p(study, "pca", "prev30")
    assert lambda_gc(p) > 1.03
    assert calibration_failures(p) != []


def test_wgr_step2__power_at_least_pca_only_on_unrelated(study):
    """Causal variants at p < 5e-8, all diseases together: step 1 with relatives kept finds at
    least as many as PCA-only on the unrelated subset."""
    hits = {path: causal_hits(study, path) for path in ("wgr", "pca_unrelated")}
    assert hits["wgr"] >= hits["pca_unrelated"] > 0, hits
