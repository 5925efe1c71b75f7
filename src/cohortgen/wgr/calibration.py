"""Calibration and power study of step 1 with relatives kept, on a simulated family-rich cohort.

Shared by the calibration test (``tests/test_wgr_calibration.py``, N = 2,000) and the bench
(``bench/bench_calibration.py``, N = 2,000 and 5,000). Library calls, no Snakemake: simulate
(:func:`cohortgen.simulate.simulate_family_cohort`) → PLINK fileset → step 1
(:func:`~cohortgen.wgr.stage.run_step1`) → null models → association chunk with the LOCO table
(step 1 on) or without it (the PCA-only test: PCs as covariates, the path of step 1 off), on
three sample sets ("paths"):

- ``wgr``: step 1 + LOCO offset, every sample (relatives kept);
- ``pca``: PCA-only on the same samples (relatives kept: expected inflated);
- ``pca_unrelated``: PCA-only on a maximal unrelated subset (relatives removed, PCs refitted).

Each prevalence has ``replicates`` diseases with their own causal variants; calibration is judged
on the variants not causal for a disease, pooled over the replicates of its prevalence.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import linalg, stats

from cohortgen.assoc.chunk import FallbackSettings, chunk_results
from cohortgen.assoc.loco import fit_loco_nulls
from cohortgen.assoc.null_model import fit_null_models
from cohortgen.assoc.stage import null_model_table
from cohortgen.inflation import lambda_gc
from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import pack_dosages
from cohortgen.qc.relatedness import maximal_unrelated_set
from cohortgen.simulate import FamilyCohort, simulate_family_cohort
from cohortgen.wgr.stage import Step1Inputs, Step1Settings, run_step1

PATHS = ("wgr", "pca", "pca_unrelated")
LAMBDA_BOUNDS = (0.98, 1.03)
ALPHAS = (1e-3, 1e-4)
GENOME_WIDE = 5e-8


@dataclass(frozen=True)
class CalibrationDesign:
    """One simulated study: samples, variants (over ``n_chromosomes``), diseases
    (``replicates`` per prevalence, named ``<cell>_<r>``), PCs, the step-1 block size, the seed
    and the association fallback settings (the defaults unless given)."""

    n_samples: int = 2000
    n_variants: int = 40_000
    n_chromosomes: int = 4
    replicates: int = 3
    prevalences: tuple[tuple[str, float], ...] = (("prev04", 0.04), ("prev30", 0.30))
    h2: float = 0.5
    n_causal: int = 30
    family_fraction: float = 0.4
    cousin_fraction: float = 0.05
    n_pcs: int = 10
    block_size: int = 500
    seed: int = 1
    fallback: FallbackSettings = field(default_factory=FallbackSettings)

    @property
    def diseases(self) -> list[str]:
        return [f"{cell}_{r}" for cell, _ in self.prevalences
                for r in range(1, self.replicates + 1)]

    def simulate(self) -> FamilyCohort:
        """The cohort, no family environment (``shared_env=0``: a phenotype correlation of
        relatives that no genotype explains is modelled neither by a whole-genome regression
        nor by a kinship mixed model)."""
        prevalence = tuple(np.repeat([p for _, p in self.prevalences], self.replicates))
        return simulate_family_cohort(
            self.seed, n_samples=self.n_samples, n_variants=self.n_variants,
            n_chromosomes=self.n_chromosomes, prevalence=prevalence, h2=self.h2,
            n_causal=self.n_causal, shared_env=0.0, family_fraction=self.family_fraction,
            cousin_fraction=self.cousin_fraction)


@dataclass(frozen=True)
class Study:
    """The cohort, the chunk rows of each path (:data:`PATHS`) and the CPU seconds (process
    user + system, all threads) of each: step 1 + association, or PCs + association."""

    design: CalibrationDesign
    cohort: FamilyCohort
    results: dict[str, pd.DataFrame]
    cpu_seconds: dict[str, float]


def top_pcs(genotypes: np.ndarray, rows: np.ndarray, n_pcs: int) -> np.ndarray:
    """float64 (len(rows), n_pcs): principal component scores (U·S of the SVD, signs
    arbitrary) of the samples ``rows`` from every 4th variant of ``genotypes`` (int8 (m, n)),
    standardised; from the top eigenpairs of the n × n Gram matrix (XXᵀ = US²Uᵀ), several
    times cheaper than a full SVD at 5,000 samples."""
    X = genotypes[::4, rows].T.astype(np.float64)
    X -= X.mean(axis=0)
    X /= np.maximum(X.std(axis=0), 1e-12)
    n = X.shape[0]
    values, vectors = linalg.eigh(X @ X.T, subset_by_index=(n - n_pcs, n - 1))
    order = np.argsort(values)[::-1]
    return vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))


def association(design: CalibrationDesign, packed: np.ndarray, bim: pd.DataFrame,
                cohort: FamilyCohort, pcs: np.ndarray, rows: np.ndarray,
                loco: pd.DataFrame | None = None) -> pd.DataFrame:
    """Chunk rows of every variant for every disease on the samples ``rows``, with ``pcs`` as
    covariates and the LOCO table ``loco`` as offset (None: PCA-only)."""
    ids = cohort.sample_ids
    status = cohort.status[rows]
    diseases = design.diseases
    null = null_model_table([ids[i] for i in rows], fit_null_models(pcs, status),
                            pd.DataFrame(status, columns=diseases), ["OK"] * len(diseases))
    nulls = None if loco is None else fit_loco_nulls(null, diseases, [], loco)
    return chunk_results(packed, bim, ids, null, diseases, design.fallback, [], nulls)


def unrelated_rows(cohort: FamilyCohort) -> np.ndarray:
    """int64: a maximal unrelated subset of the samples (cases of any disease kept first)."""
    n = len(cohort.sample_ids)
    return np.flatnonzero(maximal_unrelated_set(
        n, [(i, j) for i, j, *_ in cohort.pairs], np.ones(n), cohort.status.any(axis=1)))


def run_study(design: CalibrationDesign, workdir: Path) -> Study:
    """Simulate, write the PLINK fileset under ``workdir`` and run the three paths."""
    cohort = design.simulate()
    n, m = design.n_samples, design.n_variants
    ids = cohort.sample_ids
    bim = pd.DataFrame({"chrom": cohort.chrom.astype(str), "id": [f"v{i}" for i in range(m)],
                        "cm": 0.0, "pos": np.arange(m) + 1, "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": -9})
    packed = pack_dosages(cohort.genotypes)
    prefix = Path(workdir) / "genotypes"
    write_bed(prefix, packed, bim, fam)
    everyone = np.arange(n)
    results, cpu = {}, {}

    start = time.process_time()
    pcs = top_pcs(cohort.genotypes, everyone, design.n_pcs)
    pcs_cpu = time.process_time() - start
    inputs = Step1Inputs(everyone, ids, design.diseases, np.ones(len(design.diseases), bool),
                         cohort.status, pcs)
    loco, _ = run_step1(prefix, inputs, Step1Settings(block_size=design.block_size))
    results["wgr"] = association(design, packed, bim, cohort, pcs, everyone, loco)
    cpu["wgr"] = time.process_time() - start

    start = time.process_time()
    results["pca"] = association(design, packed, bim, cohort, pcs, everyone)
    cpu["pca"] = time.process_time() - start + pcs_cpu

    start = time.process_time()
    unrelated = unrelated_rows(cohort)
    results["pca_unrelated"] = association(design, packed, bim, cohort,
                                           top_pcs(cohort.genotypes, unrelated, design.n_pcs),
                                           unrelated)
    cpu["pca_unrelated"] = time.process_time() - start
    return Study(design, cohort, results, cpu)


def p_values(results: pd.DataFrame, disease: str) -> np.ndarray:
    """float64 (m,): the chunk's p-values of one disease, in variant order."""
    return results.loc[results["disease"] == disease, "p_value"].to_numpy(np.float64)


def null_variants(study: Study, d: int) -> np.ndarray:
    """int64: the variants not causal for disease d."""
    return np.setdiff1d(np.arange(study.design.n_variants), study.cohort.causal[d])


def pooled_null_p(study: Study, path: str, cell: str) -> np.ndarray:
    """float64: the p-values of ``path`` on the variants not causal for each replicate disease
    of the prevalence ``cell``, concatenated over the replicates."""
    return np.concatenate([p_values(study.results[path], name)[null_variants(study, d)]
                           for d, name in enumerate(study.design.diseases)
                           if name.startswith(f"{cell}_")])


def alpha_interval(n_tests: int, alpha: float) -> tuple[float, float]:
    """The binomial 99% interval of the count of p < α among ``n_tests`` null p-values."""
    return stats.binom.interval(0.99, n_tests, alpha)


def calibration_failures(p: np.ndarray) -> list[str]:
    """What is out of bounds for null p-values p: λGC outside :data:`LAMBDA_BOUNDS`, or a count
    of p < α outside its binomial 99% interval (α in :data:`ALPHAS`). Empty when calibrated."""
    failures = []
    lam = lambda_gc(p)
    if not LAMBDA_BOUNDS[0] <= lam <= LAMBDA_BOUNDS[1]:
        failures.append(f"lambda_gc {lam:.4f}")
    for alpha in ALPHAS:
        low, high = alpha_interval(p.size, alpha)
        count = int(np.sum(p < alpha))
        if not low <= count <= high:
            failures.append(f"{count} of {p.size} at p < {alpha} (99% interval {low}-{high})")
    return failures


def causal_hits(study: Study, path: str, cell: str | None = None) -> int:
    """Causal variants at p < :data:`GENOME_WIDE` of ``path``, summed over the diseases (of the
    prevalence ``cell`` only, when given)."""
    return sum(int(np.sum(p_values(study.results[path], name)[study.cohort.causal[d]]
                          < GENOME_WIDE))
               for d, name in enumerate(study.design.diseases)
               if cell is None or name.startswith(f"{cell}_"))
