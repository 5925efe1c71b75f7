"""``cohortgen wgr-step1``: whole-genome regression step 1 on the QC'd array genotypes.

Reads the QC'd PLINK fileset (``qc/genotypes``), the phenotype sheet, the keep list and the PCs;
uses the kept samples with every covariate and PC, and the autosomal variants with MAF ≥
``min_maf`` among them. Blocks of ``block_size`` consecutive variants never cross a chromosome.
The .bed is streamed: one block of dosages (block_size × n float64) is decoded at a time; what
stays in memory is the level-0 predictions, t × n × b × 5 float64 (t traits, b blocks).

Writes ``loco.tsv.gz`` (private, 0600): one row per trait and sample with the trait (columns
``trait``, ``sample_id``, then one column per chromosome: the prediction leaving that
chromosome out; trait units for quantitative traits, log-odds for diseases) and ``wgr.json``
(aggregates only: per trait the samples, the chosen level-1 shrinkage, its cross-validated R²
or deviance). The science is in :mod:`cohortgen.wgr.model`.
"""

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.assoc.null_model import fit_logistic
from cohortgen.errors import InputError
from cohortgen.genome import contig_class
from cohortgen.io.bed import read_bed
from cohortgen.io.files import tsv_text, write_bytes_atomic, write_json
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.kernels.bed import dosages_mean_imputed
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
)

FREQUENCY_CHUNK = 4096
"""Variants decoded at a time by the allele-frequency pass."""


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
                quantitative: list[str], covariates: list[str], pcs_tsv: Path) -> Step1Inputs:
    """The kept samples with a complete design, in .fam order (see :class:`Step1Inputs`)."""
    _, _, fam = read_bed(prefix)
    ids = fam["iid"].astype(str).tolist()
    kept = [ids[r] for r in np.flatnonzero(sample_mask(ids, read_keep(keep_txt)))]
    sheet = read_phenotypes(Path(phenotypes), diseases, [*covariates, *quantitative])
    rows, design = design_rows(sheet, Path(phenotypes), covariates, [], pcs_tsv, kept)
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


def check_diseases(inputs: Step1Inputs, n_folds: int) -> None:
    """InputError naming the first disease with fewer than MIN_CASES_PER_FOLD · K cases or
    controls among the step-1 samples (level 1 could not fit it)."""
    need = MIN_CASES_PER_FOLD * n_folds
    for j in np.flatnonzero(inputs.is_disease):
        cases = int(np.sum(inputs.values[:, j] == 1.0))
        controls = int(np.sum(inputs.values[:, j] == 0.0))
        if min(cases, controls) < need:
            raise InputError(
                f"disease {inputs.traits[j]!r} has {cases} cases and {controls} controls among "
                f"the {len(inputs.sample_ids)} step-1 samples; level 1 needs at least {need} of "
                f"each ({MIN_CASES_PER_FOLD} per fold with --folds {n_folds}): drop it from "
                "the step-1 diseases or lower --folds")


def allele_frequencies(packed: np.ndarray, n_fam: int, sample_rows: np.ndarray) -> np.ndarray:
    """ALT allele frequency float64 (m,) of every variant over ``sample_rows`` (called
    genotypes), streamed in chunks of FREQUENCY_CHUNK variants."""
    freq = np.empty(packed.shape[0])
    for start in range(0, packed.shape[0], FREQUENCY_CHUNK):
        dosage = dosages_mean_imputed(packed[start:start + FREQUENCY_CHUNK], n_fam, sample_rows)
        freq[start:start + dosage.shape[0]] = dosage.mean(axis=1) / 2.0
    return freq


def variant_blocks(bim: pd.DataFrame, use: np.ndarray, block_size: int,
                   prefix: Path) -> Blocks:
    """Blocks of ``block_size`` consecutive used variants per chromosome (the last block of a
    chromosome may be shorter). InputError when a chromosome has fewer used variants than one
    block, or when fewer than two chromosomes remain (LOCO needs two)."""
    rows, chrom, names = [], [], []
    chroms = bim["chrom"].astype(str).to_numpy()
    for name in pd.unique(chroms):
        members = np.flatnonzero((chroms == name) & use)
        if members.size == 0:
            continue
        if members.size < block_size:
            raise InputError(
                f"{prefix}.bim: chromosome {name} has {members.size} variants usable in step 1, "
                f"fewer than one block of --block-size {block_size}; lower --block-size or "
                "leave the chromosome out of the QC'd genotypes")
        for start in range(0, members.size, block_size):
            rows.append(members[start:start + block_size])
            chrom.append(len(names))
        names.append(name)
    if len(names) < 2:
        raise InputError(f"{prefix}.bim: step 1 needs variants on at least two autosomes "
                         f"(leave-one-chromosome-out), found {len(names)}")
    return Blocks(rows, np.array(chrom, dtype=np.int64), names)


def step1_variants(prefix: Path, packed: np.ndarray, bim: pd.DataFrame, n_fam: int,
                   sample_rows: np.ndarray, min_maf: float) -> np.ndarray:
    """bool (m,): autosomal variants with MAF ≥ ``min_maf`` over the step-1 samples."""
    freq = allele_frequencies(packed, n_fam, sample_rows)
    maf = np.minimum(freq, 1.0 - freq)
    classes = {c: contig_class(c) for c in bim["chrom"].astype(str).unique()}
    autosomal = bim["chrom"].astype(str).map(classes).to_numpy() == "auto"
    return autosomal & (maf >= min_maf) & (maf > 0.0)


def null_offsets(inputs: Step1Inputs, mask: np.ndarray) -> dict[int, np.ndarray]:
    """Per disease column j: the covariates-only logistic log-odds float64 of its samples."""
    out = {}
    for j in np.flatnonzero(inputs.is_disease):
        rows = mask[:, j]
        X = np.column_stack([np.ones(rows.sum()), inputs.design[rows]])
        out[int(j)] = X @ fit_logistic(X, inputs.values[rows, j]).beta
    return out


def run_step1(prefix: Path, inputs: Step1Inputs, block_size: int, n_folds: int, seed: int,
              min_maf: float) -> tuple[pd.DataFrame, dict]:
    """Levels 0 and 1 and LOCO for every trait: (LOCO table, summary). See module docstring."""
    check_diseases(inputs, n_folds)
    packed, bim, fam = read_bed(prefix)
    use = step1_variants(prefix, packed, bim, len(fam), inputs.sample_rows, min_maf)
    blocks = variant_blocks(bim, use, block_size, prefix)
    n, t, r = len(inputs.sample_ids), len(inputs.traits), H2_GRID.size
    folds = assign_folds(n, n_folds, seed)
    Y, mask, trait_sd = standardised_traits(inputs.values, inputs.design, inputs.traits)
    basis = covariate_basis(inputs.design)
    lambda0 = shrinkage_grid(int(use.sum()))
    level0 = np.empty((t, n, len(blocks.rows) * r))
    for i, block_rows in enumerate(blocks.rows):
        dosage = dosages_mean_imputed(packed[block_rows], len(fam), inputs.sample_rows)
        G = standardised_genotypes(np.ascontiguousarray(dosage.T), basis)
        pred = standardise_predictions(level0_block(G, Y, folds, n_folds, lambda0), mask)
        level0[:, :, i * r:(i + 1) * r] = pred.transpose(2, 1, 0)
    offsets = null_offsets(inputs, mask)
    tables, summaries = [], {}
    for j, trait in enumerate(inputs.traits):
        rows = mask[:, j]
        if inputs.is_disease[j]:
            tau = shrinkage_grid(level0.shape[2], scale=3.0 / np.pi**2)
            fit = level1_disease(level0[j][rows], inputs.values[rows, j], offsets[j],
                                 folds[rows], n_folds, tau)
            loco = loco_predictions(level0[j][rows], fit.beta, folds[rows], blocks.chrom, r)
        else:
            tau = shrinkage_grid(level0.shape[2])
            fit = level1_quantitative(level0[j], Y[:, j], rows, folds, n_folds, tau)
            loco = loco_predictions(level0[j], fit.beta, folds, blocks.chrom, r)[rows]
            loco = loco * trait_sd[j]
        table = pd.DataFrame(loco, columns=blocks.chromosomes)
        table.insert(0, "sample_id", [s for s, ok in zip(inputs.sample_ids, rows, strict=True)
                                      if ok])
        table.insert(0, "trait", trait)
        tables.append(table)
        summaries[trait] = trait_summary(fit, tau, bool(inputs.is_disease[j]),
                                         inputs.values[rows, j])
    summary = {"n_samples": n, "n_variants": int(use.sum()), "n_blocks": len(blocks.rows),
               "block_size": block_size, "folds": n_folds, "seed": seed, "min_maf": min_maf,
               "chromosomes": blocks.chromosomes, "h2_grid": H2_GRID.tolist(),
               "level0_shrinkage": lambda0.tolist(), "traits": summaries}
    return pd.concat(tables, ignore_index=True), summary


def trait_summary(fit, tau: np.ndarray, disease: bool, values: np.ndarray) -> dict:
    """One trait's aggregates for ``wgr.json``."""
    chosen = int(np.flatnonzero(tau == fit.shrinkage)[0])
    record = {"kind": "disease" if disease else "quantitative", "n": int(values.size),
              "level1_shrinkage": fit.shrinkage, "level1_h2": float(H2_GRID[chosen]),
              "converged": fit.converged}
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


def check_settings(diseases: list[str], quantitative: list[str], block_size: int, n_folds: int,
                   min_maf: float) -> None:
    """InputError naming the first setting step 1 cannot run with."""
    if not diseases and not quantitative:
        raise InputError("wgr-step1: name at least one trait (--diseases or --quantitative)")
    if block_size < 2:
        raise InputError(f"wgr-step1: --block-size {block_size} must be at least 2 variants")
    if n_folds < 2:
        raise InputError(f"wgr-step1: --folds {n_folds} must be at least 2")
    if not 0.0 <= min_maf < 0.5:
        raise InputError(f"wgr-step1: --min-maf {min_maf} must be in [0, 0.5)")


def wgr_step1(prefix: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
              quantitative: list[str], covariates: list[str], pcs_tsv: Path, block_size: int,
              n_folds: int, seed: int, min_maf: float, loco_path: Path, json_path: Path) -> None:
    """The ``wgr-step1`` command: load, fit, write."""
    check_settings(diseases, quantitative, block_size, n_folds, min_maf)
    inputs = load_inputs(prefix, keep_txt, phenotypes, diseases, quantitative, covariates,
                         pcs_tsv)
    loco, summary = run_step1(prefix, inputs, block_size, n_folds, seed, min_maf)
    write_step1(loco, summary, loco_path, json_path)
