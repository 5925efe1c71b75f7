"""Association chunk step: score (or ML Wald) test for every variant and disease, Firth fallback
where needed.

Per variant and disease (one row each, never dropped), ``status`` says where the numbers come
from (:data:`STATUSES`):

- ``OK``: score test. beta = U/V, SE = 1/√V (one-step log-odds per ALT allele), p = χ²₁ tail.
- ``FIRTH``: Firth-penalised logistic regression (:mod:`cohortgen.kernels.firth`). By default
  (``firth_mode="approximate"``, REGENIE's approximate Firth) only the genotype effect is fitted,
  on the genotype residualised on the covariates (in the unpenalised null weights), with the
  linear predictor of the Firth-penalised null model (covariates only; the table's ``f_``
  column, :func:`cohortgen.assoc.null_model.fit_firth_null`) as a fixed offset; p from the
  penalised LRT against beta = 0 on that offset, SE = |beta| / √χ²_LRT. With
  ``firth_mode="full"``, y on [X | g] as PLINK 2: SE = √(I⁻¹)ₚₚ at the penalised estimate; p
  from the penalised likelihood-ratio test (``firth_p_value="lrt"``, as REGENIE and logistf:
  the Wald p of the penalised fit is anti-conservative for rare variants with few cases, ~3-4×
  the nominal rate at α = 1e-3 for MAC < 100 with 80 cases), or Wald's as PLINK 2 (``"wald"``,
  full mode only), in which case beta/SE reproduces p. Used when the score p is below
  ``firth_p_threshold`` (as REGENIE) or, with ``firth_min_carriers`` > 0 (default 0), the minor
  allele is expected to be rare in cases or in controls: MAC · min(n_cases, n_controls) / n <
  ``firth_min_carriers`` (the score test's normal approximation fails there, Ma et al. 2013, but
  the rows it adds have score p ≥ ``firth_p_threshold``, so on simulated nulls it left the
  counts at p < 1e-3 and 1e-4 unchanged, for 2-3× the CPU: SCIENCE.md, Association). The
  expected, not the observed, count decides, so that the choice of test does not depend on the
  phenotype beyond the case fraction (selecting on observed case counts picks the rows with a
  signal and deflates λGC).
- ``FIRTH_CONVERGE_FAIL``: the Firth fit did not converge; the score-test beta, SE and p are kept.
- ``SPA`` (``p_value="spa"``, which replaces the Firth fallback): score test with the
  saddlepoint p-value of U (:mod:`cohortgen.kernels.spa`; Dey et al. 2017, as SAIGE), on every
  row with MAC ≥ ``min_mac`` and |U| / √V ≥ 2 (below that, ``OK``: the χ²₁ p). beta = U/V,
  SE = |beta| / |Φ⁻¹(p/2)|, so that beta/SE reproduces p. ``SPA_CONVERGE_FAIL``: no saddlepoint
  found; the χ²₁ p is kept.
- ``p_value="wald"`` (PLINK 2 ``--glm firth-fallback``'s test): ``OK`` rows are the Wald
  test of the maximum-likelihood logistic regression of y on [X | g], every covariate refitted
  per variant, the null model's offset (the LOCO prediction) kept
  (:mod:`cohortgen.kernels.logistic_wald`): beta = ML log-odds per ALT allele, SE = √(I⁻¹)_gg
  at the ML fit, p = 2Φ(−|beta/SE|). Firth (``firth_mode``, ``firth_p_value``; ``FIRTH`` /
  ``FIRTH_CONVERGE_FAIL`` as above) where PLINK 2 (``plink2_glm_logistic.cc``) falls back:
  the ALT dosage sum of the cases is 0 or that of the controls is 0 (PLINK 2 skips the ML fit
  there), or the ML fit fails (ours: not converged in 100 steps to max|Δ| ≤ 1e-9, or a
  non-finite value). PLINK 2's fit is looser, so its beta and SE can differ from the exact ML
  fit in the 5th digit: 2.00a3.x fits in single precision (Newton until Σ|Δβ| < 1e-4; fails,
  hence Firth, on a diverging step or a NaN, which also happens on some fits with a finite but
  huge estimate, |beta| > 30, that we report as ``OK``; a fit still moving after 15 iterations
  is reported, flagged ``UNFINISHED``), 2.00a4 and later in double precision as R's glm.fit
  (|Δℓ| < 1e-8 (|ℓ| + 0.05), 25 iterations, then ``UNFINISHED``). PLINK 2 also
  uses Firth for every variant when the covariates alone separate the cases (not done here:
  the null model would not converge). ``firth_p_threshold`` and ``firth_min_carriers`` do not
  apply.
- Quantitative traits (:mod:`cohortgen.assoc.null_model`): ``OK`` rows are the least-squares
  t-test of each variant (:func:`linear_t_test`, as PLINK 2 ``--glm``); no Firth, no SPA; n is
  the samples with a call, and the case/control columns are missing.
- ``LOW_MAC``: minor allele count below ``min_mac`` on the disease's samples: beta, SE, p missing.
- ``MONOMORPHIC``: no minor allele on the disease's samples: beta, SE, p missing.
- ``COLLINEAR``: polymorphic, but the genotype lies in the span of the covariates (V = 0).

Genotypes: ALT dosage; missing calls mean-imputed over the cohort's kept samples, for the score
test and for Firth alike. Counts (n, allele frequencies, MAC) use called genotypes only. The
genotypes are the array hard calls (.bed) or, for a cohort with imputed data, the QC'd dosages
(.pgen: :func:`dosage_association_chunk`; frequencies and MAC then sum dosages, and the rows
carry the imputation r² and typed flag, :data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS`); see
:mod:`cohortgen.assoc.genotypes`, which also states the chrX coding (PLINK 2's default).
p is never 0 (floored at ~2.2e-308) and beta is finite whenever p is reported.
"""

import sys
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from cohortgen.assoc.genotypes import BedGenotypes, PgenDosages, pgen_variants
from cohortgen.assoc.loco import OFFSET_PREFIX, LocoNulls, null_views, read_loco_nulls
from cohortgen.assoc.settings import FallbackSettings
from cohortgen.assoc.stage import CHRX_PREFIX, tested_traits
from cohortgen.errors import InputError
from cohortgen.genome import contig_class
from cohortgen.io.bed import read_bed
from cohortgen.io.columns import Categories, encode_strings, write_column_table
from cohortgen.io.files import read_json, read_tsv, tsv_float_values
from cohortgen.io.pgen import read_psam_ids
from cohortgen.io.sumstats import GWAS_SSF_COLUMNS, IMPUTED_COLUMNS
from cohortgen.kernels.firth import firth_approx_batch, firth_batch
from cohortgen.kernels.logistic_wald import logistic_wald_batch
from cohortgen.kernels.score import (
    P_FLOOR,
    covariate_basis,
    prepare_score,
    score_statistics,
    score_test_results,
)
from cohortgen.kernels.spa import Z_CUTOFF, spa_p_values

BLOCK_VARIANTS = 1024
STATUSES = ("OK", "FIRTH", "FIRTH_CONVERGE_FAIL", "SPA", "SPA_CONVERGE_FAIL", "LOW_MAC",
            "MONOMORPHIC", "COLLINEAR")
STATUS_CODE = {name: np.uint8(code) for code, name in enumerate(STATUSES)}
"""uint8 code of each status (its index in :data:`STATUSES`), as rows carry it until written."""
NO_P_CODES = [STATUS_CODE[name] for name in ("LOW_MAC", "MONOMORPHIC", "COLLINEAR")]
CHUNK_COLUMNS = ["disease", *GWAS_SSF_COLUMNS]
VARIANT_COLUMNS = {"chromosome": "chrom", "base_pair_location": "pos", "effect_allele": "a1",
                   "other_allele": "a2", "variant_id": "id"}
"""Result columns taken from the variant table (GWAS-SSF name: bim column), with any
:data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS` of the same name."""
DISEASE_COLUMNS = [name for name in GWAS_SSF_COLUMNS if name not in VARIANT_COLUMNS
                   and name != "rsid"]
"""The columns of :func:`disease_block`, in :data:`CHUNK_COLUMNS` order."""
CHUNK_TABLE_SUFFIX = ".columns"
"""Suffix of the per-trait chunk tables (:func:`write_trait_tables`)."""


@dataclass(frozen=True)
class DiseaseModel:
    """One tested disease: y (k,) 0/1, X (k, p'), null weights w and linear predictor offset
    of the unpenalised null (score test, SPA), firth_offset the linear predictor of the
    Firth-penalised null (approximate Firth; NaN if that fit did not converge) (float64 (k,)
    each) on its included samples (null-table rows ``rows``, int64 (k,)), and its case/control
    masks over the .fam samples (bool (n_fam,)). XB: float64 (k, p), the rows ``rows`` of
    :func:`~cohortgen.kernels.score.covariate_basis` (set by :func:`chunk_results` for
    approximate Firth's residualisation), and rank the rank of XᵀWX. A quantitative trait has
    every included sample in ``cases``, no ``controls`` and zero offsets (unused). loco:
    float64 (k,) the fixed offset of the null model (the LOCO prediction, null-table column
    ``o_<trait>``; zeros without step 1), the offset of full Firth's per-variant fit."""

    name: str
    rows: np.ndarray
    y: np.ndarray
    X: np.ndarray
    w: np.ndarray
    offset: np.ndarray
    firth_offset: np.ndarray
    cases: np.ndarray
    controls: np.ndarray
    XB: np.ndarray | None = None
    quantitative: bool = False
    rank: int = 0
    loco: np.ndarray | None = None


def _varying_columns(X: np.ndarray) -> np.ndarray:
    """Intercept plus the columns of X (k, p) that vary on these rows (Firth needs full rank)."""
    keep = np.ptp(X, axis=0) > 0
    keep[0] = True
    return X[:, keep]


def disease_models(null: pd.DataFrame, names: list[str], fam_index: np.ndarray,
                   n_fam: int, quantitative: Collection[str] = ()) -> list[DiseaseModel]:
    """:class:`DiseaseModel` of each tested trait from the private null-model table."""
    X = null.filter(regex=r"^x\d+$").to_numpy(float)
    models = []
    for name in names:
        y = null[f"y_{name}"].to_numpy(float)
        rows = np.flatnonzero(~np.isnan(y))
        linear = name in quantitative
        cases = np.zeros(n_fam, bool)
        cases[fam_index[rows if linear else y == 1]] = True
        controls = np.zeros(n_fam, bool)
        if not linear:
            controls[fam_index[y == 0]] = True
        mu = y[rows] - null[f"r_{name}"].to_numpy(float)[rows]
        offset = np.zeros(rows.size) if linear else null_offset(mu)
        loco = (null[f"{OFFSET_PREFIX}{name}"].to_numpy(float)[rows]
                if f"{OFFSET_PREFIX}{name}" in null.columns else np.zeros(rows.size))
        models.append(DiseaseModel(name, rows, y[rows], _varying_columns(X[rows]),
                                   null[f"w_{name}"].to_numpy(float)[rows], offset,
                                   null[f"f_{name}"].to_numpy(float)[rows], cases, controls,
                                   quantitative=linear, loco=loco))
    return models


def null_offset(mu: np.ndarray) -> np.ndarray:
    """logit(μ̂) of the null fitted probabilities mu (float64 (k,), in (0, 1))."""
    with np.errstate(divide="ignore"):
        return np.log(mu) - np.log1p(-mu)


def row_status(stats: dict, d: int, mac: np.ndarray, expected_minor: np.ndarray,
               settings: FallbackSettings) -> tuple[np.ndarray, np.ndarray]:
    """(status codes uint8 (m,), :data:`STATUS_CODE`; Firth-candidate bool (m,)) of disease
    column ``d``; expected_minor: float64 (m,) expected minor allele count in the smaller
    group."""
    testable = stats["testable"][:, d]
    status = np.full(mac.shape, STATUS_CODE["OK"])
    with np.errstate(invalid="ignore"):
        small_p = stats["p"][:, d] < settings.firth_p_threshold
    firth = testable & (mac >= settings.min_mac) & (settings.p_value == "score") & (
        small_p | (expected_minor < settings.firth_min_carriers))
    status[~testable] = STATUS_CODE["COLLINEAR"]
    status[mac < settings.min_mac] = STATUS_CODE["LOW_MAC"]
    status[mac == 0] = STATUS_CODE["MONOMORPHIC"]
    return status, firth


def _disease_rows(G: np.ndarray, rows: np.ndarray, model: DiseaseModel) -> np.ndarray:
    """float64 (r, k), C-contiguous: rows ``rows`` of block G (m, n_null), columns of the
    disease's samples; a plain row copy when the disease has every sample (the usual case: a
    two-axis fancy index costs several times the copy)."""
    if model.rows.size == G.shape[1]:  # model.rows is then 0..n_null - 1 (sorted, unique)
        return G[rows]
    return np.ascontiguousarray(G[np.ix_(rows, model.rows)])


def _firth_rows(G: np.ndarray, GA: np.ndarray, model: DiseaseModel, firth: np.ndarray,
                settings: FallbackSettings):
    """(rows, beta, se, p, converged) of the Firth candidate rows of block G (m, n_null);
    GA: float64 (m, p) the block's score projections for this disease (approximate mode: the
    genotypes are residualised on the covariates as G − GA (X B)ᵀ, no product over samples)."""
    rows = np.flatnonzero(firth)
    if rows.size == 0:
        empty = np.zeros(0)
        return rows, empty, empty, empty, np.zeros(0, bool)
    if settings.firth_mode == "approximate":  # residualised row by row inside the kernel
        samples = model.rows if model.rows.size < G.shape[1] else None
        return rows, *firth_approx_batch(G, model.y, model.firth_offset, rows=rows,
                                         samples=samples, projections=(GA[rows], model.XB))
    return rows, *firth_batch(_disease_rows(G, rows, model), model.X, model.y,
                              p_value=settings.firth_p_value, offset=model.loco)


def _wald_rows(G: np.ndarray, GA: np.ndarray, model: DiseaseModel, start: np.ndarray,
               candidates: np.ndarray, results: tuple[np.ndarray, ...]) -> np.ndarray:
    """ML logistic Wald tests (:mod:`cohortgen.kernels.logistic_wald`) of the candidate rows
    (bool (m,)) of block G (m, n_null), written into results = (beta, se, p), float64 (m,)
    each; GA: float64 (m, p) the block's score projections for this disease; start: float64
    (m,) the score test's U/V (the first trial γ). Returns bool (m,): the candidates whose fit
    failed (Firth fallback)."""
    rows = np.flatnonzero(candidates)
    samples = model.rows if model.rows.size < G.shape[1] else None
    beta, se, p, ok = logistic_wald_batch(G, model.y, model.offset, (GA[rows], model.XB),
                                          start[rows], rows=rows, samples=samples)
    for out, values in zip(results, (beta, se, p), strict=True):
        out[rows[ok]] = values[ok]
    failed = np.zeros(candidates.shape, bool)
    failed[rows[~ok]] = True
    return failed


def _spa_rows(G: np.ndarray, GA: np.ndarray, model: DiseaseModel, U: np.ndarray,
              chisq: np.ndarray, candidates: np.ndarray):
    """(rows, p, converged) of the saddlepoint p-values (:mod:`cohortgen.kernels.spa`) of the
    candidate rows (bool (m,)) whose |U| / √V is at least :data:`Z_CUTOFF`; U, chisq: float64
    (m,) this disease's score and U²/V. Below the cutoff the χ²₁ p stands. Samples with a
    non-zero dosage enter the CGF exactly, the others as one normal term (faster SPA). The rows
    are residualised sample by sample inside the kernel: no (rows, samples) temporary."""
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(candidates & (chisq >= Z_CUTOFF**2))
    samples = model.rows if model.rows.size < G.shape[1] else None
    p, ok = spa_p_values(G, model.offset, U[rows], exact="carriers", rows=rows, samples=samples,
                         projections=(GA[rows], model.XB))
    return rows, p, ok


def disease_block(model: DiseaseModel, d: int, stats: dict, G: np.ndarray, GA: np.ndarray,
                  counts: tuple[np.ndarray, np.ndarray], settings: FallbackSettings) -> dict:
    """Result columns of one block of m variants for one disease: the per-disease columns of
    :data:`CHUNK_COLUMNS` (not ``disease``, ``rsid`` nor those of :data:`VARIANT_COLUMNS`),
    arrays (m,), ``status`` as uint8 codes (:data:`STATUS_CODE`); GA: float64 (m, d, p) score
    projections of the block (:func:`score_statistics`); counts: (ALT allele count, called
    samples), int64 (m, 2 · n_diseases) each, columns 2d and 2d + 1 over the disease's cases
    and controls (dosage sums, float64, for imputed dosages)."""
    alt_cases, n_cases = counts[0][:, 2 * d], counts[1][:, 2 * d]
    alt_controls, n_controls = counts[0][:, 2 * d + 1], counts[1][:, 2 * d + 1]
    alt, n = alt_cases + alt_controls, n_cases + n_controls
    mac = np.minimum(alt, 2 * n - alt)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_minor = mac * np.minimum(n_cases, n_controls) / np.maximum(n, 1)
    status, firth = row_status(stats, d, mac, expected_minor, settings)
    firth &= not model.quantitative
    beta, se, p = (stats[k][:, d].copy() for k in ("beta", "se", "p"))
    if model.quantitative:
        beta, se, p = linear_t_test(stats["U"][:, d], stats["V"][:, d], model.rows.size,
                                    model.rank)
    if settings.p_value == "wald" and not model.quantitative:
        firth = _wald_rows(G, GA[:, d], model, stats["beta"][:, d],
                           (status == STATUS_CODE["OK"]) & (alt_cases > 0) & (alt_controls > 0),
                           (beta, se, p))
        firth |= (status == STATUS_CODE["OK"]) & ((alt_cases == 0) | (alt_controls == 0))
    rows, f_beta, f_se, f_p, ok = _firth_rows(G, GA[:, d], model, firth, settings)
    beta[rows[ok]], se[rows[ok]], p[rows[ok]] = f_beta[ok], f_se[ok], f_p[ok]
    status[rows[ok]] = STATUS_CODE["FIRTH"]
    status[rows[~ok]] = STATUS_CODE["FIRTH_CONVERGE_FAIL"]
    if settings.p_value == "spa" and not model.quantitative:
        rows, s_p, ok = _spa_rows(G, GA[:, d], model, stats["U"][:, d], stats["chisq"][:, d],
                                  status == STATUS_CODE["OK"])
        p[rows[ok]] = s_p[ok]
        se[rows[ok]] = np.abs(beta[rows[ok]]) / -special.ndtri(0.5 * s_p[ok])
        status[rows[ok]] = STATUS_CODE["SPA"]
        status[rows[~ok]] = STATUS_CODE["SPA_CONVERGE_FAIL"]
    no_p = np.isin(status, NO_P_CODES)
    beta[no_p], se[no_p], p[no_p] = np.nan, np.nan, np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        eaf_cases = alt_cases / (2 * n_cases)
        eaf_controls = alt_controls / (2 * n_controls)
        eaf = alt / (2 * n)
    if model.quantitative:  # GWAS-SSF: no case/control columns for a quantitative trait
        n_cases = n_controls = eaf_cases = eaf_controls = np.full(mac.size, np.nan)
    return {"beta": beta, "standard_error": se, "effect_allele_frequency": eaf, "p_value": p,
            "n": n, "n_cases": n_cases, "n_controls": n_controls,
            "effect_allele_frequency_cases": eaf_cases,
            "effect_allele_frequency_controls": eaf_controls, "status": status, "mac": mac}


def linear_t_test(U: np.ndarray, V: np.ndarray, n: int, rank: int) -> tuple[np.ndarray, ...]:
    """(beta, SE, p) of the least-squares t-test of each variant, as PLINK 2 ``--glm`` for a
    quantitative trait, from the score test on the trait's scaled null model
    (:mod:`cohortgen.assoc.null_model`): with χ² = U²/V and n − rank residual degrees of
    freedom under the null, beta = U/V (exact least squares), SE² = (n − rank − χ²) /
    ((n − rank − 1) V), p from Student's t with n − rank − 1 df. U, V: float64 (m,)."""
    df = n - rank - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = U / V
        se = np.sqrt(np.maximum(n - rank - U * U / V, 0.0) / (df * V))
        p = np.maximum(2.0 * special.stdtr(df, -np.abs(beta / se)), P_FLOOR)
    p[~np.isfinite(beta)] = np.nan
    return beta, se, p


@dataclass(frozen=True)
class ChunkTable:
    """The results of a chunk, trait by trait. variants: the variant table of the m result rows
    (``bim`` columns ``chrom``, ``pos``, ``a1``, ``a2``, ``id`` and any of
    :data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS`), in result order; traits: for each tested
    trait, in order, its :func:`disease_block` columns over those m variants."""

    variants: pd.DataFrame
    traits: dict[str, dict[str, np.ndarray]]

    def frame(self) -> pd.DataFrame:
        """The long table: columns :data:`CHUNK_COLUMNS` then the variant table's
        :data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS`; rows trait by trait, each over the m
        variants in order; ``status`` as str."""
        m, names = len(self.variants), list(self.traits)
        variant_columns = self.variant_columns()
        columns = {"disease": np.repeat(np.array(names, dtype=object), m)}
        for name in CHUNK_COLUMNS[1:] + self.imputed():
            if name in variant_columns:
                columns[name] = np.tile(variant_columns[name], len(names))
            elif name == "rsid":
                columns[name] = np.full(m * len(names), np.nan)
            else:
                columns[name] = _joined([self.traits[t][name] for t in names])
        columns["status"] = np.array(STATUSES, dtype=object)[columns["status"].astype(np.intp)]
        return pd.DataFrame(columns)

    def imputed(self) -> list[str]:
        """The :data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS` of the variant table."""
        return [name for name in IMPUTED_COLUMNS if name in self.variants.columns]

    def variant_columns(self) -> dict[str, np.ndarray]:
        """The result columns taken from the variant table (:data:`VARIANT_COLUMNS` and the
        imputed ones), arrays (m,); chromosome names as str."""
        columns = {name: self.variants[bim].to_numpy() for name, bim in VARIANT_COLUMNS.items()}
        columns["chromosome"] = self.variants["chrom"].astype(str).to_numpy()
        return columns | {name: self.variants[name].to_numpy() for name in self.imputed()}


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays one after the other (float64 empty when there are none)."""
    return np.concatenate(arrays) if arrays else np.zeros(0)


def _joined_tables(parts: list[ChunkTable]) -> ChunkTable:
    """The :class:`ChunkTable` of ``parts`` (at least one, same traits) one after the other."""
    if len(parts) == 1:
        return parts[0]
    traits = {name: {key: _joined([part.traits[name][key] for part in parts])
                     for key in columns} for name, columns in parts[0].traits.items()}
    return ChunkTable(pd.concat([part.variants for part in parts], ignore_index=True), traits)


def _status_counts(table: ChunkTable) -> str:
    """One log line per disease: number of rows per status (aggregates only)."""
    if not table.traits or len(table.variants) == 0:
        return "no variants tested"
    counts = pd.DataFrame({name: np.bincount(columns["status"], minlength=len(STATUSES))
                           for name, columns in table.traits.items()}, index=list(STATUSES)).T
    seen = sorted(status for status in STATUSES if counts[status].any())
    return counts.loc[sorted(counts.index), seen].rename_axis(
        index="disease", columns="status").to_string()


def chunk_results(genotypes: np.ndarray | BedGenotypes | PgenDosages, bim: pd.DataFrame,
                  fam_ids: list[str], null: pd.DataFrame, names: list[str],
                  settings: FallbackSettings, quantitative: Collection[str] = (),
                  loco: LocoNulls | None = None) -> pd.DataFrame:
    """Rows (:data:`CHUNK_COLUMNS`, then the ``bim`` columns of
    :data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS`) of every variant × tested trait, trait by
    trait (:meth:`ChunkTable.frame` of :func:`chunk_table`)."""
    return chunk_table(genotypes, bim, fam_ids, null, names, settings, quantitative,
                       loco).frame()


def chunk_table(genotypes: np.ndarray | BedGenotypes | PgenDosages, bim: pd.DataFrame,
                fam_ids: list[str], null: pd.DataFrame, names: list[str],
                settings: FallbackSettings, quantitative: Collection[str] = (),
                loco: LocoNulls | None = None) -> ChunkTable:
    """:class:`ChunkTable` of every variant × tested trait.
    genotypes: the variants of ``bim`` (m rows), a genotype source
    (:mod:`cohortgen.assoc.genotypes`) or uint8 (m, ceil(n_fam/4)) .bed rows; fam_ids: the
    source's sample IDs; null: the private null-model table (``sample_id``, ``x*``,
    ``y_/r_/w_<trait>``; chrX variants use its :data:`~cohortgen.assoc.stage.CHRX_PREFIX`
    columns, the models with sex, when it has them), its samples a subset of ``fam_ids``;
    quantitative: the names of quantitative traits; loco: the null models refitted with the
    whole-genome regression's LOCO offsets (:func:`cohortgen.assoc.loco.fit_loco_nulls`), of
    which each chromosome of the chunk takes its own, None without step 1. Variants come block
    by block, autosomes (and others) before chrX, chromosome by chromosome with LOCO."""
    if isinstance(genotypes, np.ndarray):
        genotypes = BedGenotypes(genotypes, len(fam_ids))
    on_x = is_chrx(bim["chrom"])
    views = null_views(null)
    if not (on_x.any() and CHRX_PREFIX in views) and loco is None:
        return _view_results(genotypes, bim, fam_ids, null, names, settings, quantitative)
    x_view = CHRX_PREFIX if CHRX_PREFIX in views else ""
    views = [(~on_x, "", null), (on_x, x_view, views[x_view])]
    if loco is not None:
        chrom = bim["chrom"].astype(str).to_numpy()
        views = [(keep & (chrom == c), view, loco.null_table(table, view, c))
                 for keep, view, table in views for c in pd.unique(chrom[keep])]
    parts = [_view_results(genotypes.subset(keep), bim.loc[keep].reset_index(drop=True), fam_ids,
                           table, names, settings, quantitative)
             for keep, _, table in views if keep.any()]
    if not parts:
        return ChunkTable(bim.iloc[:0], {name: _joined_blocks([]) for name in names})
    return _joined_tables(parts)


def is_chrx(chrom: pd.Series) -> np.ndarray:
    """bool (m,): chromosome names of chrX and its PARs (:func:`cohortgen.genome.contig_class`
    "x" or "par": ``X``, ``chrX``, ``23``, PLINK's PAR code ``XY``)."""
    classes = {name: contig_class(name) for name in chrom.astype(str).unique()}
    return chrom.astype(str).map(classes).isin(["x", "par"]).to_numpy()


def _joined_blocks(blocks: list[dict]) -> dict[str, np.ndarray]:
    """The :func:`disease_block` columns of ``blocks`` one after the other (empty columns,
    status uint8, the others float64, when there are none)."""
    if not blocks:
        return {name: np.zeros(0, np.uint8 if name == "status" else np.float64)
                for name in DISEASE_COLUMNS}
    return {name: np.concatenate([block[name] for block in blocks]) for name in blocks[0]}


def _view_results(genotypes: BedGenotypes | PgenDosages, bim: pd.DataFrame, fam_ids: list[str],
                  null: pd.DataFrame, names: list[str], settings: FallbackSettings,
                  quantitative: Collection[str]) -> ChunkTable:
    """:func:`chunk_table` with one null model per trait for every variant, in variant blocks
    of :data:`BLOCK_VARIANTS`."""
    # BLAS single-threaded for the whole chunk: the score products split rows over Python
    # threads instead, so no idle BLAS worker spins against the Numba kernels (kernels.score).
    with threadpool_limits(1, user_api="blas"):
        fam_index = {s: k for k, s in enumerate(fam_ids)}
        idx = np.array([fam_index[s] for s in null["sample_id"]], dtype=np.int64)
        n_fam = len(fam_ids)
        models = disease_models(null, names, idx, n_fam, quantitative)
        X = null.filter(regex=r"^x\d+$").to_numpy(float)
        prep = prepare_score(X, null[[f"r_{d}" for d in names]].to_numpy(float),
                             null[[f"w_{d}" for d in names]].to_numpy(float))
        # Once per chunk: X B_d on each disease's samples, for approximate Firth's residualisation.
        models = [replace(model, XB=np.ascontiguousarray(covariate_basis(X, prep, d)[model.rows]),
                          rank=int(prep.rank[d])) for d, model in enumerate(models)]
        groups = np.stack([mask for model in models for mask in (model.cases, model.controls)])
        blocks = {model.name: [] for model in models}
        for _, G, counts in genotypes.blocks(idx, groups, BLOCK_VARIANTS):
            U, V, GA = score_statistics(G, prep, projections=True,
                                        threads=numba.get_num_threads())
            stats = score_test_results(U, V) | {"U": U, "V": V}
            for d, model in enumerate(models):
                blocks[model.name].append(disease_block(model, d, stats, G, GA, counts,
                                                        settings))
        return ChunkTable(bim, {name: _joined_blocks(parts) for name, parts in blocks.items()})


def association_chunk(prefix: Path, null_tsv: Path, null_json: Path, variant_qc_tsv: Path,
                      out_dir: Path, settings: FallbackSettings | None = None,
                      loco_npz: Path | None = None) -> pd.DataFrame:
    """Test every QC-passed variant of a chunk's array genotypes (``prefix`` .bed/.bim/.fam)
    for every tested trait; write one table per trait of the json, ``<out_dir>/<trait>.columns``
    (:func:`write_trait_tables`; no rows for an untested trait), so that each trait's
    gathering reads its rows only; log status counts. loco_npz: the null models with the
    whole-genome regression's LOCO offsets (``loco_null.npz``,
    :func:`cohortgen.assoc.loco.write_loco_nulls`), or None (step 1 off). Returns all rows (the
    long table)."""
    packed, bim, fam = read_bed(Path(prefix))
    passed = read_tsv(variant_qc_tsv, dtype={"chrom": str, "id": str})["pass"].to_numpy(bool)
    genotypes = BedGenotypes(packed[passed], len(fam))
    return _test_and_write(genotypes, bim.loc[passed].reset_index(drop=True),
                           fam["iid"].astype(str).tolist(), null_tsv, null_json, out_dir,
                           settings, loco_npz)


def dosage_association_chunk(prefix: Path, null_tsv: Path, null_json: Path, out_dir: Path,
                             settings: FallbackSettings | None = None,
                             loco_npz: Path | None = None) -> pd.DataFrame:
    """:func:`association_chunk` on the QC'd imputed dosages of a chunk (``prefix``
    .pgen/.pvar/.psam from ``cohortgen ingest-dosages``: every variant passed its QC); the rows
    also carry ``info`` and ``typed`` (:data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS`). Null-model
    samples absent from the imputed file count as missing dosages
    (:class:`~cohortgen.assoc.genotypes.PgenDosages`)."""
    bim = pgen_variants(Path(prefix))
    in_file = set(read_psam_ids(Path(f"{prefix}.psam")))
    null_samples = read_tsv(null_tsv, usecols=["sample_id"], dtype={"sample_id": str})["sample_id"]
    extra = [s for s in null_samples if s not in in_file]
    genotypes = PgenDosages(Path(prefix), len(bim), extra)
    return _test_and_write(genotypes, bim, genotypes.samples, null_tsv, null_json, out_dir,
                           settings, loco_npz)


def _test_and_write(genotypes: BedGenotypes | PgenDosages, bim: pd.DataFrame,
                    fam_ids: list[str], null_tsv: Path, null_json: Path, out_dir: Path,
                    settings: FallbackSettings | None, loco_npz: Path | None) -> pd.DataFrame:
    """:func:`chunk_results` of the traits of ``null_json`` (with the LOCO null models of
    ``loco_npz`` when given), written one table per trait."""
    null = read_tsv(null_tsv, dtype={"sample_id": str})
    summary = read_json(null_json)
    traits = summary["diseases"]
    names, quantitative = tested_traits(summary)
    missing = [f"f_{name}" for name in names if f"f_{name}" not in null.columns]
    if missing:
        raise InputError(f"{null_tsv}: no column {missing[0]!r} (the Firth null model's linear "
                         "predictor, written by the null-model step since the approximate Firth "
                         "follows REGENIE): rerun the null-model step")
    table = chunk_table(genotypes, bim, fam_ids, null, names, settings or FallbackSettings(),
                        quantitative, read_loco_nulls(loco_npz) if loco_npz else None)
    print(_status_counts(table), file=sys.stderr)
    write_trait_tables(Path(out_dir), table, list(traits))
    return table.frame()


def write_trait_tables(out_dir: Path, table: ChunkTable, traits: list[str]) -> None:
    """Write one column table (:mod:`cohortgen.io.columns`) per trait of ``traits``,
    ``<out_dir>/<trait>.columns`` (:data:`CHUNK_TABLE_SUFFIX`), read by the trait's gathering
    only: its rows of ``table`` (none for a trait not in it, i.e. untested), columns
    :data:`~cohortgen.io.sumstats.GWAS_SSF_COLUMNS` then the imputed ones, ``status``
    categorical over :data:`STATUSES`, meta ``{"trait": <trait>}``. Floats are stored as the
    former text tables held them (:func:`~cohortgen.io.files.tsv_float_values`, ten significant
    digits), so that the gathered files do not depend on this intermediate's format."""
    variant_columns = _stored_variant_columns(table.variant_columns())
    empty = _stored_variant_columns(ChunkTable(table.variants.iloc[:0], {}).variant_columns())
    for name in traits:
        shared, m = (variant_columns, len(table.variants)) if name in table.traits else (empty, 0)
        own = table.traits.get(name) or _joined_blocks([])
        columns = {}
        for column in GWAS_SSF_COLUMNS + table.imputed():
            if column in shared:
                columns[column] = shared[column]
            elif column == "rsid":
                columns[column] = np.full(m, np.nan)
            elif column == "status":
                columns[column] = Categories(own[column], STATUSES)
            else:
                columns[column] = _stored(own[column])
        write_column_table(out_dir / f"{name}{CHUNK_TABLE_SUFFIX}", columns, {"trait": name}, m)


def _stored_variant_columns(columns: dict[str, np.ndarray]) -> dict:
    """:meth:`ChunkTable.variant_columns` as :func:`write_trait_tables` stores them, strings
    encoded once for every trait."""
    return {name: encode_strings(values.tolist()) if values.dtype == object else _stored(values)
            for name, values in columns.items()}


def _stored(values: np.ndarray) -> np.ndarray:
    """A numeric column as stored: floats at ten significant digits, others as they are."""
    return tsv_float_values(values) if values.dtype.kind == "f" else values
