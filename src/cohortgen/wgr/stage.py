"""``cohortgen wgr-step1``: whole-genome regression step 1 on the QC'd array genotypes.

Reads the QC'd PLINK fileset (``qc/genotypes``), the phenotype sheet, the keep list and the PCs;
uses the kept samples with every covariate and PC, and the autosomal and (non-PAR) chrX variants
with MAF ≥ ``min_maf`` among them. Blocks of ``block_size`` consecutive variants never cross a
chromosome; a chromosome with fewer variants is one shorter block (as REGENIE), listed under
``short_chromosomes`` in ``wgr.json``. The .bed is streamed: one block of dosages (block_size ×
n float64) is decoded at a time from bytes read with ``pread``
(:class:`~cohortgen.io.bed_rows.BedRows`: they pass through the page cache, not this process's
resident memory, which the touched pages of a memory map would grow by the whole .bed), and each
block's level-0 predictions (t × n × r float64: t traits, r shrinkage values) are spilled to an
unlinked owner-only temporary file in ``$TMPDIR`` (:class:`Level0Spill`, t × n × b × r float64
on disk for b blocks), from which level 1 reads one trait's columns (n × b·r float64) at a time.

Parallel and deterministic: BLAS runs on one thread (a threaded matrix product sums in an
order that depends on the thread count), and ``threads`` worker threads fit independent
blocks (level 0) and then independent traits (level 1) at once, each result in its own arrays,
gathered in block and trait order: the outputs are byte-identical at any thread count.

A disease with fewer than MIN_CASES_PER_FOLD · K cases or controls cannot be fitted at level 1:
it is left out of step 1 with a warning and ``"status": "fallback"`` and the reason in
``wgr.json``; it has no LOCO rows, so step 2 tests it with the covariates-only null model.

Writes ``loco.tsv.gz`` (private, 0600): one row per trait and sample with the trait (columns
``trait``, ``sample_id``, then one column per chromosome: the prediction leaving that
chromosome out; trait units for quantitative traits, log-odds for diseases; and
:data:`~cohortgen.assoc.loco.ALL_COLUMN`, the prediction from every chromosome) and ``wgr.json``
(aggregates only: per trait the samples, the chosen level-1 shrinkage, its cross-validated R²
or deviance). The science is in :mod:`cohortgen.wgr.model`.
"""

import gzip
import os
import sys
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.assoc.loco import ALL_COLUMN
from cohortgen.assoc.null_model import fit_logistic
from cohortgen.errors import InputError
from cohortgen.genome import contig_class
from cohortgen.io.bed import fileset_paths, read_bim, read_fam
from cohortgen.io.bed_rows import BedRows
from cohortgen.io.files import tsv_text, write_bytes_atomic, write_json
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.kernels.bed import dosages_mean_imputed, group_allele_counts
from cohortgen.prs.stage import design_rows
from cohortgen.qc.keep import read_keep, sample_mask
from cohortgen.wgr.model import (
    H2_GRID,
    MIN_CASES_PER_FOLD,
    assign_folds,
    covariate_basis,
    level0_block,
    level1_disease,
    level1_quantitative,
    loco_predictions,
    shrinkage_grid,
    standardise_predictions,
    standardised_genotypes,
    standardised_traits,
    whole_predictions,
)

FREQUENCY_CHUNK = 4096
"""Variants decoded at a time by the allele-frequency pass."""


@dataclass(frozen=True)
class Step1Settings:
    """Step-1 settings (config ``assoc.wgr``): variants per level-0 block, cross-validation
    folds and their seed, the MAF floor of step-1 variants, and the heritability values behind
    both levels' shrinkage grids (REGENIE's defaults, :data:`~cohortgen.wgr.model.H2_GRID`)."""

    block_size: int = 1000
    n_folds: int = 5
    seed: int = 1
    min_maf: float = 0.01
    h2_grid: tuple[float, ...] = tuple(H2_GRID)


@dataclass(frozen=True)
class Step1Inputs:
    """The samples and traits of step 1. sample_rows: int64 (n,) .fam rows used; sample_ids;
    traits: names (diseases first); is_disease: bool (t,); values: float64 (n, t) NaN missing;
    design: float64 (n, c) covariates and PCs, complete."""

    sample_rows: np.ndarray
    sample_ids: list[str]
    traits: list[str]
    is_disease: np.ndarray
    values: np.ndarray
    design: np.ndarray


@dataclass(frozen=True)
class Blocks:
    """Variant blocks. rows: list of int64 arrays, .bim rows of each block; chrom: int64 (b,)
    chromosome index of each block into ``chromosomes`` (names in .bim order)."""

    rows: list[np.ndarray]
    chrom: np.ndarray
    chromosomes: list[str]


def load_inputs(prefix: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
                quantitative: list[str], covariates: list[str], pcs_tsv: Path,
                categorical: list[str] = ()) -> Step1Inputs:
    """The kept samples with a complete design (numeric ``covariates``, the level indicators of
    the ``categorical`` ones, PCs), in .fam order (see :class:`Step1Inputs`). Reads the .fam
    only: :func:`run_step1` checks the whole fileset."""
    fam = read_fam(fileset_paths(prefix)["fam"])
    ids = fam["iid"].astype(str).tolist()
    kept = [ids[r] for r in np.flatnonzero(sample_mask(ids, read_keep(keep_txt)))]
    numeric = [c for c in covariates if c not in categorical]
    sheet = read_phenotypes(Path(phenotypes), diseases, list(dict.fromkeys(
        [*numeric, *quantitative])), list(categorical))
    rows, design = design_rows(sheet, Path(phenotypes), numeric, list(categorical), pcs_tsv,
                               kept)
    complete = np.all(np.isfinite(design), axis=1)
    position = {s: r for r, s in enumerate(ids)}
    sample_ids = [s for s, ok in zip(rows.index, complete, strict=True) if ok]
    traits = [*diseases, *quantitative]
    return Step1Inputs(
        sample_rows=np.array([position[s] for s in sample_ids], dtype=np.int64),
        sample_ids=sample_ids, traits=traits,
        is_disease=np.array([t in diseases for t in traits], dtype=bool),
        values=rows.loc[complete, traits].to_numpy(np.float64),
        design=design[complete])


def level1_fallbacks(inputs: Step1Inputs, n_folds: int) -> dict[str, str]:
    """{disease: why it falls back to step 1 off} for each disease with fewer than
    MIN_CASES_PER_FOLD · K cases or controls among the step-1 samples (level 1 cannot fit it)."""
    need = MIN_CASES_PER_FOLD * n_folds
    out = {}
    for j in np.flatnonzero(inputs.is_disease):
        cases = int(np.sum(inputs.values[:, j] == 1.0))
        controls = int(np.sum(inputs.values[:, j] == 0.0))
        if min(cases, controls) < need:
            out[inputs.traits[j]] = (
                f"fewer than {need} cases or controls among the {len(inputs.sample_ids)} "
                f"step-1 samples; level 1 needs at least {need} of each ({MIN_CASES_PER_FOLD} "
                f"per fold with {n_folds} folds)")
    return out


def without_traits(inputs: Step1Inputs, names: set[str]) -> Step1Inputs:
    """``inputs`` without the traits in ``names``."""
    keep = [j for j, t in enumerate(inputs.traits) if t not in names]
    return replace(inputs, traits=[inputs.traits[j] for j in keep],
                   is_disease=inputs.is_disease[keep], values=inputs.values[:, keep])


def allele_frequencies(bed: BedRows, sample_rows: np.ndarray) -> np.ndarray:
    """ALT allele frequency float64 (m,) of every variant of ``bed`` over ``sample_rows``
    (called genotypes; 0 without any), counted on the packed bytes (no dosage matrix) in chunks
    of FREQUENCY_CHUNK variants."""
    group = np.zeros((1, bed.n_samples), dtype=bool)
    group[0, sample_rows] = True
    freq = np.zeros(bed.shape[0])
    for start in range(0, bed.shape[0], FREQUENCY_CHUNK):
        stop = min(start + FREQUENCY_CHUNK, bed.shape[0])
        alt, called = group_allele_counts(bed[start:stop], bed.n_samples, group)
        np.divide(alt[:, 0], 2.0 * called[:, 0], out=freq[start:stop], where=called[:, 0] > 0)
    return freq


def variant_blocks(bim: pd.DataFrame, use: np.ndarray, block_size: int,
                   prefix: Path) -> Blocks:
    """Blocks of ``block_size`` consecutive used variants per chromosome (the last block of a
    chromosome may be shorter; a chromosome with fewer variants than one block is one block).
    InputError when fewer than two autosomes have variants (LOCO needs two)."""
    rows, chrom, names = [], [], []
    chroms = bim["chrom"].astype(str).to_numpy()
    for name in pd.unique(chroms):
        members = np.flatnonzero((chroms == name) & use)
        if members.size == 0:
            continue
        for start in range(0, members.size, block_size):
            rows.append(members[start:start + block_size])
            chrom.append(len(names))
        names.append(name)
    autosomes = [name for name in names if contig_class(name) == "auto"]
    if len(autosomes) < 2:
        raise InputError(f"{prefix}.bim: step 1 needs variants on at least two autosomes "
                         f"(leave-one-chromosome-out), found {len(autosomes)}: set "
                         "assoc.whole_genome_regression to false for this cohort")
    return Blocks(rows, np.array(chrom, dtype=np.int64), names)


def short_chromosomes(blocks: Blocks, block_size: int) -> dict[str, int]:
    """{chromosome: variants} of the chromosomes with fewer step-1 variants than one block."""
    out = {}
    for c, name in enumerate(blocks.chromosomes):
        size = sum(r.size for r, k in zip(blocks.rows, blocks.chrom, strict=True) if k == c)
        if size < block_size:
            out[name] = int(size)
    return out


def step1_variants(bed: BedRows, bim: pd.DataFrame, sample_rows: np.ndarray,
                   min_maf: float) -> np.ndarray:
    """bool (m,): autosomal and non-PAR chrX variants with MAF ≥ ``min_maf`` over the step-1
    samples (chrX gets its own LOCO prediction; its PARs are tested with it)."""
    freq = allele_frequencies(bed, sample_rows)
    maf = np.minimum(freq, 1.0 - freq)
    classes = {c: contig_class(c) for c in bim["chrom"].astype(str).unique()}
    used = np.isin(bim["chrom"].astype(str).map(classes).to_numpy(), ["auto", "x"])
    return used & (maf >= min_maf) & (maf > 0.0)


def null_offsets(inputs: Step1Inputs, mask: np.ndarray) -> dict[int, np.ndarray]:
    """Per disease column j: the covariates-only logistic log-odds float64 of its samples."""
    out = {}
    for j in np.flatnonzero(inputs.is_disease):
        rows = mask[:, j]
        X = np.column_stack([np.ones(rows.sum()), inputs.design[rows]])
        out[int(j)] = X @ fit_logistic(X, inputs.values[rows, j]).beta
    return out


def run_step1(prefix: Path, inputs: Step1Inputs, settings: Step1Settings,
              threads: int = 1) -> tuple[pd.DataFrame, dict]:
    """Levels 0 and 1 and LOCO for every trait on ``threads`` worker threads: (LOCO table,
    summary). See module docstring."""
    fallbacks = level1_fallbacks(inputs, settings.n_folds)
    for name, why in fallbacks.items():
        print(f"warning: disease {name!r}: {why}; it is tested without the whole-genome "
              "regression (covariates-only null model)", file=sys.stderr)
    fitted = without_traits(inputs, set(fallbacks))
    bed = BedRows([prefix])
    bim = read_bim(fileset_paths(prefix)["bim"])
    h2 = np.asarray(settings.h2_grid, dtype=np.float64)
    use = step1_variants(bed, bim, inputs.sample_rows, settings.min_maf)
    blocks = variant_blocks(bim, use, settings.block_size, prefix)
    tables, summaries = fit_traits(bed, fitted, blocks, settings, h2, threads)
    for name, why in fallbacks.items():
        summaries[name] = {"kind": "disease", "status": "fallback", "reason": why}
    summary = {"n_samples": len(inputs.sample_ids), "n_variants": int(use.sum()),
               "n_blocks": len(blocks.rows), "block_size": settings.block_size,
               "folds": settings.n_folds, "seed": settings.seed, "min_maf": settings.min_maf,
               "chromosomes": blocks.chromosomes,
               "short_chromosomes": short_chromosomes(blocks, settings.block_size),
               "h2_grid": h2.tolist(),
               "level0_shrinkage": shrinkage_grid(int(use.sum()), h2).tolist(),
               "traits": summaries}
    columns = ["trait", "sample_id", *blocks.chromosomes, ALL_COLUMN]
    return pd.concat([pd.DataFrame(columns=columns), *tables], ignore_index=True), summary


class Level0Spill:
    """Level-0 predictions of every block in an unlinked owner-only temporary file (a context
    manager; the file goes when it closes). Layout: block-major, block i's predictions as
    float64 (t, n, r) after block i − 1's, so one trait's columns are b reads of n × r."""

    def __init__(self, n_traits: int, n_samples: int, n_shrinkage: int):
        self.t, self.n, self.r = n_traits, n_samples, n_shrinkage
        self.n_blocks = 0
        self.file = tempfile.TemporaryFile()

    def __enter__(self) -> "Level0Spill":
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def append(self, pred: np.ndarray) -> None:
        """Add the next block: float64 (r, n, t) (:func:`standardise_predictions`)."""
        self.file.write(np.ascontiguousarray(pred.transpose(2, 1, 0)).data)
        self.n_blocks += 1

    def trait(self, j: int) -> np.ndarray:
        """float64 (n, b·r): trait j's level-0 columns, block-major (block i's r columns are
        i·r .. i·r + r − 1)."""
        self.file.flush()
        size = self.n * self.r * 8
        out = np.empty((self.n, self.n_blocks * self.r))
        for i in range(self.n_blocks):
            raw = os.pread(self.file.fileno(), size, (i * self.t + j) * size)
            out[:, i * self.r:(i + 1) * self.r] = np.frombuffer(raw).reshape(self.n, self.r)
        return out


def in_order(pool: ThreadPoolExecutor, function, items, ahead: int):
    """Yield ``function(item)`` for each of ``items`` in their order, computed on ``pool`` with
    at most ``ahead`` results running or waiting at a time (bounded memory)."""
    pending = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@dataclass(frozen=True)
class Level0Data:
    """What every level-0 block shares: the .bed reader, the step-1 samples' .fam rows, the
    covariate basis (n, q), standardised traits Y (n, t) and their mask, the folds and the
    level-0 shrinkage values (r,)."""

    bed: BedRows
    sample_rows: np.ndarray
    basis: np.ndarray
    Y: np.ndarray
    mask: np.ndarray
    folds: np.ndarray
    n_folds: int
    shrinkage: np.ndarray

    def predictions(self, block_rows: np.ndarray) -> np.ndarray:
        """One block's standardised out-of-fold predictions, float64 (r, n, t)."""
        dosage = dosages_mean_imputed(self.bed[block_rows], self.bed.n_samples,
                                      self.sample_rows)
        G = standardised_genotypes(np.ascontiguousarray(dosage.T), self.basis)
        pred = level0_block(G, self.Y, self.folds, self.n_folds, self.shrinkage)
        return standardise_predictions(pred, self.mask)


def fit_traits(bed: BedRows, inputs: Step1Inputs, blocks: Blocks,
               settings: Step1Settings, h2: np.ndarray,
               threads: int = 1) -> tuple[list[pd.DataFrame], dict]:
    """Level 0 on every block, then level 1 and LOCO per trait of ``inputs``, on ``threads``
    worker threads: (one LOCO table per trait, {trait: summary}). Nothing to fit without
    traits."""
    if not inputs.traits:
        return [], {}
    n, t, r = len(inputs.sample_ids), len(inputs.traits), h2.size
    n_folds = settings.n_folds
    folds = assign_folds(n, n_folds, settings.seed)
    Y, mask, trait_sd = standardised_traits(inputs.values, inputs.design, inputs.traits)
    shared = Level0Data(bed, inputs.sample_rows, covariate_basis(inputs.design), Y, mask,
                        folds, n_folds,
                        shrinkage_grid(sum(rows.size for rows in blocks.rows), h2))
    threads = max(1, threads)
    with Level0Spill(t, n, r) as level0, ThreadPoolExecutor(threads) as pool:
        for pred in in_order(pool, shared.predictions, blocks.rows, 2 * threads):
            level0.append(pred)
        return level1_traits(level0, inputs, folds, Y, mask, trait_sd, blocks, settings, h2,
                             pool)


def level1_traits(level0: Level0Spill, inputs: Step1Inputs, folds: np.ndarray, Y: np.ndarray,
                  mask: np.ndarray, trait_sd: np.ndarray, blocks: Blocks,
                  settings: Step1Settings, h2: np.ndarray,
                  pool: ThreadPoolExecutor) -> tuple[list[pd.DataFrame], dict]:
    """Level 1 and LOCO of each trait, one trait's level-0 columns in memory per thread of
    ``pool`` at a time (Y, mask, trait_sd: :func:`standardised_traits`); as :func:`fit_traits`
    returns. The peak memory of step 1: per thread, a disease's columns X (n × b·r float64),
    its training rows and their weighted copy in XᵀWX (2 × (K − 1)/K of X): about
    threads × 2.6 × n·b·r·8 bytes, 2.2 GB at 21,000 samples × 500 blocks × 5 on 2 threads."""
    offsets = null_offsets(inputs, mask)
    level0.file.flush()

    def fit_one(j: int) -> tuple[pd.DataFrame, dict]:
        return level1_trait(level0.trait(j), j, inputs, folds, Y, mask, trait_sd, offsets,
                            blocks, settings, h2)

    results = list(pool.map(fit_one, range(len(inputs.traits))))
    return ([table for table, _ in results],
            {trait: summary for trait, (_, summary) in zip(inputs.traits, results, strict=True)})


def level1_trait(columns: np.ndarray, j: int, inputs: Step1Inputs, folds: np.ndarray,
                 Y: np.ndarray, mask: np.ndarray, trait_sd: np.ndarray,
                 offsets: dict[int, np.ndarray], blocks: Blocks, settings: Step1Settings,
                 h2: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Level 1 and LOCO of trait j from its level-0 columns (n, b·r) (:meth:`Level0Spill.trait`):
    (its LOCO table, its summary)."""
    n_folds, r, trait = settings.n_folds, h2.size, inputs.traits[j]
    rows = mask[:, j]
    X = columns if rows.all() else columns[rows]
    if inputs.is_disease[j]:
        tau = shrinkage_grid(columns.shape[1], h2, scale=3.0 / np.pi**2)
        fit = level1_disease(X, inputs.values[rows, j], offsets[j], folds[rows], n_folds, tau)
        scale = 1.0
    else:
        tau = shrinkage_grid(columns.shape[1], h2)
        fit = level1_quantitative(columns, Y[:, j], rows, folds, n_folds, tau)
        scale = trait_sd[j]
    del columns
    fold_rows = folds[rows]
    loco = loco_predictions(X, fit.beta, fold_rows, blocks.chrom, r) * scale
    table = pd.DataFrame(loco, columns=blocks.chromosomes)
    table[ALL_COLUMN] = whole_predictions(X, fit.beta, fold_rows) * scale
    table.insert(0, "sample_id", [s for s, ok in zip(inputs.sample_ids, rows, strict=True)
                                  if ok])
    table.insert(0, "trait", trait)
    return table, trait_summary(fit, tau, h2, bool(inputs.is_disease[j]), inputs.values[rows, j])


def trait_summary(fit, tau: np.ndarray, h2: np.ndarray, disease: bool,
                  values: np.ndarray) -> dict:
    """One trait's aggregates for ``wgr.json``."""
    chosen = int(np.flatnonzero(tau == fit.shrinkage)[0])
    record = {"kind": "disease" if disease else "quantitative", "status": "OK",
              "n": int(values.size), "level1_shrinkage": fit.shrinkage,
              "level1_h2": float(h2[chosen]), "converged": fit.converged}
    if disease:
        record.update(cases=int(np.sum(values == 1.0)), controls=int(np.sum(values == 0.0)),
                      cv_deviance=fit.criterion, cv_deviance_grid=fit.scores.tolist())
    else:
        record.update(cv_r2=fit.criterion, cv_r2_grid=fit.scores.tolist())
    return record


def write_step1(loco: pd.DataFrame, summary: dict, loco_path: Path, json_path: Path) -> None:
    """``loco.tsv.gz`` (private, deterministic gzip) and ``wgr.json``."""
    text = tsv_text(loco).encode("utf-8")
    write_bytes_atomic(loco_path, gzip.compress(text, mtime=0), private=True)
    write_json(json_path, summary)


def check_settings(diseases: list[str], quantitative: list[str],
                   settings: Step1Settings) -> None:
    """InputError naming the first setting step 1 cannot run with."""
    if not diseases and not quantitative:
        raise InputError("wgr-step1: name at least one trait (diseases or traits)")
    if settings.block_size < 2:
        raise InputError(f"wgr-step1: assoc.wgr.block_size {settings.block_size} must be at "
                         "least 2 variants")
    if settings.n_folds < 2:
        raise InputError(f"wgr-step1: assoc.wgr.folds {settings.n_folds} must be at least 2")
    if not 0.0 <= settings.min_maf < 0.5:
        raise InputError(f"wgr-step1: assoc.wgr.min_maf {settings.min_maf} must be in [0, 0.5)")
    if not settings.h2_grid or not all(0.0 < h < 1.0 for h in settings.h2_grid):
        raise InputError(f"wgr-step1: assoc.wgr.h2_grid {list(settings.h2_grid)} must list "
                         "values in (0, 1)")


def wgr_step1(prefix: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
              quantitative: list[str], covariates: list[str], pcs_tsv: Path,
              settings: Step1Settings, loco_path: Path, json_path: Path,
              categorical: list[str] = (), threads: int = 1) -> None:
    """The ``wgr-step1`` command: load, fit on ``threads`` worker threads, write. BLAS runs on
    one thread: a threaded matrix product sums in an order that depends on the thread count,
    and the outputs must be byte-identical at any thread count."""
    from threadpoolctl import threadpool_limits

    check_settings(diseases, quantitative, settings)
    with threadpool_limits(1, user_api="blas"):
        inputs = load_inputs(prefix, keep_txt, phenotypes, diseases, quantitative, covariates,
                             pcs_tsv, categorical)
        loco, summary = run_step1(prefix, inputs, settings, threads)
    write_step1(loco, summary, loco_path, json_path)
