"""In-cohort scores for every disease at once: cross-validated C+T and LDpred2-auto, evaluated,
exported.

Genotypes: QC-passed autosomal variants with MAF ≥ ``min_maf`` (variant_qc.tsv, kept samples),
restricted to those listed in ``prs.incohort.variants`` when set (:func:`restrict_to_listed`:
e.g. a HapMap3-like set, as LDpred2 recommends), the chunks' packed .bed rows, uint8
(m, ceil(n_fam / 4)), read from the .bed files a block of rows at a time by every pass
(:func:`genotype_rows`), so memory does not grow with m × n: the fold job holds the training
LD (float32, Σ block size² over the LD blocks: about m × 500 × 4 bytes) and per-variant
vectors, plus one block's genotypes at a time. With ``pgens`` (the QC'd imputed-dosage
chunks of a cohort with ``imputed``), the variants are those that passed the imputed-variant
QC instead (their ``.variants.tsv``), and the GWAS, LD and scores read their dosages from disk
block by block (:class:`cohortgen.prs.dosages.ChunkedDosages`), and so do the rounded hard
calls that clumping reads (:class:`cohortgen.prs.dosages.HardCallRows`).
*Eligible* samples are in qc/keep.txt and the phenotype sheet with every covariate and PC
present; the others are never read. A disease's phenotype may still be missing for an eligible
sample: that sample then enters the LD of its training folds but not that disease's GWAS or
evaluation. Covariates of the training GWAS and of the evaluation are ``covariates`` + PCs.

Three steps, each one job, so the folds run in parallel:

1. :func:`assign_folds` writes ``folds.tsv`` (private): sample_id, fold (1..k), inner (1 for
   the inner-validation part that tunes C+T), one assignment stratified for every disease.
   Relatives (``qc/related_pairs.tsv``, when given) share a fold and an inner part: every
   connected group of related pairs stays together, so no family spans training and test.
2. :func:`run_fold` runs one fold for every disease (one batched training GWAS, one LD, then C+T
   and LDpred2-auto per disease) and writes ``fold<f>.npz`` (private: held-out scores and each
   method's status); fold 0 is the refit of LDpred2-auto on all eligible samples (weights).
3. :func:`evaluate_all` writes per disease ``d`` under ``out_dir``:
   - ``<d>.performance.tsv`` (shareable): :data:`cohortgen.prs.stage.PERFORMANCE_COLUMNS`, one
     row per method (``incohort_ct``, ``incohort_ldpred2``) on the held-out scores of all folds;
   - ``<d>.scores.tsv.gz`` (private): sample_id, fold, held-out score per method;
   - ``<d>_ldpred2.txt.gz``: PGS Catalog v2.0 scoring file of the refit (weights per ALT allele
     on the observed 0/1 scale, ``weight_type=NR``); header-only when no score is emitted;
   and the concatenated table ``performance``.
A method that emits no score in some fold (no converged LDpred2 chain, a null model that did not
fit) is not evaluated: its row holds the status. A disease with fewer than ``max(min_cases, k)``
cases or controls among eligible samples is skipped in every step (status rows).
"""

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.genome import contig_class
from cohortgen.io.bed import read_fam
from cohortgen.io.bed_rows import BedRows
from cohortgen.io.files import read_tsv, write_bytes_atomic, write_tsv
from cohortgen.io.scorefile import write_scoring_file
from cohortgen.prs.cplust import INNER_K, cplust_builder
from cohortgen.prs.dosages import ChunkedDosages
from cohortgen.prs.folds import (
    cross_validated_scores,
    fold_training_sets,
    inner_validation,
    multilabel_stratified_folds,
    related_groups,
)
from cohortgen.prs.ldpred import ldpred_builder, ldpred_weights
from cohortgen.prs.stage import (
    VARIANT_COLUMNS,
    cohort_variants,
    dosage_chunk_variants,
    performance_row,
    read_design,
    status_row,
    write_performance,
    write_private_tsv_gz,
)
from cohortgen.qc.keep import read_keep, sample_mask

METHODS = {"ct": "incohort_ct", "ldpred2": "incohort_ldpred2"}
REFIT = 0
"""Fold number of the all-sample LDpred2-auto refit in :func:`run_fold`."""


@dataclass(frozen=True)
class Cohort:
    """sample_ids: (n,) str in .fam order; Y: float64 (n, d) 0/1, NaN = missing or not
    eligible; design: float64 (n, c + PCs), 0 where not eligible; eligible: bool (n,)."""

    sample_ids: list[str]
    diseases: list[str]
    Y: np.ndarray
    design: np.ndarray
    eligible: np.ndarray


def selected_variants(variant_qc_paths: list[Path], min_maf: float,
                      listed: Path | None = None, pgens: list[Path] = ()) -> pd.DataFrame:
    """QC-passed autosomal variants with min(alt_freq, 1 − alt_freq) ≥ min_maf; with a
    ``listed`` file (``prs.incohort.variants``), only those it lists
    (:func:`restrict_to_listed`). With ``pgens``, the variants of those dosage chunks
    (:func:`cohortgen.prs.stage.dosage_chunk_variants`: QC-passed = stored in the .pgen)
    instead of the array's ``variant_qc_paths``."""
    variants = (dosage_chunk_variants(pgens) if pgens
                else cohort_variants(variant_qc_paths, (*VARIANT_COLUMNS, "id")))
    maf = np.minimum(variants["alt_freq"], 1.0 - variants["alt_freq"])
    classes = {name: contig_class(name) for name in variants["chrom"].unique()}
    use = variants["pass"] & (variants["chrom"].map(classes) == "auto") & (maf >= min_maf)
    variants = variants.loc[use].reset_index(drop=True)
    return restrict_to_listed(variants, listed) if listed else variants


def read_variant_list(path: Path) -> set[str]:
    """The entries of a variant list: the first field of each line that is not blank or a
    ``#`` comment; a ``chr:pos:a1:a2`` entry with any ``chr`` prefix removed."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the variant list (prs.incohort.variants): "
                         f"{exc}") from None
    entries = {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}
    return {_without_chr(e) if e.count(":") == 3 else e for e in entries}


def _without_chr(entry: str) -> str:
    return entry[3:] if entry[:3].lower() == "chr" else entry


def restrict_to_listed(variants: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The rows of ``variants`` (columns chrom canonical, pos, id, ref, alt) listed in the file
    ``path`` (:func:`read_variant_list`) by ID or as chrom:pos:ref:alt (alleles in either
    order), index reset. InputError when none is listed."""
    listed = read_variant_list(path)
    site = variants["chrom"].astype(str) + ":" + variants["pos"].astype(str) + ":"
    use = (variants["id"].astype(str).isin(listed)
           | (site + variants["ref"] + ":" + variants["alt"]).isin(listed)
           | (site + variants["alt"] + ":" + variants["ref"]).isin(listed))
    if not use.any():
        raise InputError(f"{path}: none of its {len(listed)} variants is among the "
                         f"{len(variants)} QC-passed autosomal variants of the cohort (matched "
                         "by ID or chrom:pos:ref:alt); list the cohort's IDs, or positions of "
                         "its genome build")
    print(f"prs.incohort.variants: {int(use.sum())} of {len(variants)} variants listed in {path}",
          file=sys.stderr)
    return variants.loc[use].reset_index(drop=True)


def genotype_rows(bfiles: list[Path], variants: pd.DataFrame) -> BedRows:
    """The ``variants``' packed rows of every chunk (columns chunk, row), stacked in chunk
    order, read from the chunks' .bed files a block at a time whenever a pass needs them
    (:class:`cohortgen.io.bed_rows.BedRows`, shape (m, bytes)): memory is one block's rows,
    not all m."""
    return BedRows(bfiles, variants["chunk"].to_numpy(), variants["row"].to_numpy())


def load_cohort(fam_prefix: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
                covariates: list[str], pcs_tsv: Path, categorical: list[str] = ()) -> Cohort:
    """Phenotypes and design of the .fam samples (see :class:`Cohort`; design columns as
    :func:`cohortgen.prs.stage.read_design`: covariates, categorical level indicators, PCs)."""
    ids = read_fam(Path(f"{fam_prefix}.fam"))["iid"].astype(str).tolist()
    kept_rows = np.flatnonzero(sample_mask(ids, read_keep(keep_txt)))
    sheet, kept_design = read_design(phenotypes, diseases, covariates, list(categorical),
                                     pcs_tsv, [ids[r] for r in kept_rows])
    position = {ids[r]: r for r in kept_rows}
    rows = np.array([position[s] for s in sheet.index], dtype=np.int64)
    Y = np.full((len(ids), len(diseases)), np.nan)
    design = np.zeros((len(ids), kept_design.shape[1]))
    Y[rows] = sheet[diseases].to_numpy(float)
    design[rows] = kept_design
    eligible = np.zeros(len(ids), dtype=bool)
    eligible[rows] = True
    eligible &= np.all(np.isfinite(design), axis=1)
    Y[~eligible] = np.nan
    design[~eligible] = 0.0
    return Cohort(ids, list(diseases), Y, design, eligible)


def active_diseases(Y: np.ndarray, min_cases: int, k: int) -> np.ndarray:
    """bool (d,): diseases with at least max(min_cases, k) cases and as many controls."""
    counts = np.minimum(np.sum(Y == 1.0, axis=0), np.sum(Y == 0.0, axis=0))
    return counts >= max(min_cases, k)


def assign_folds(cohort: Cohort, k: int, seed: int, out: Path,
                 related_pairs: Path | None = None) -> pd.DataFrame:
    """Write the private ``folds.tsv`` (module docstring) for the eligible samples; relatives
    in ``related_pairs`` (columns id1, id2) go to one fold."""
    groups = None
    if related_pairs is not None:
        pairs = read_tsv(Path(related_pairs), ("id1", "id2"), dtype={"id1": str, "id2": str})
        groups = related_groups(cohort.sample_ids, pairs["id1"].tolist(),
                                pairs["id2"].tolist())
    folds = multilabel_stratified_folds(cohort.Y, k, seed, cohort.eligible, groups)
    inner = inner_validation(cohort.Y, folds, INNER_K, seed, groups)
    use = cohort.eligible
    table = pd.DataFrame({"sample_id": np.asarray(cohort.sample_ids)[use],
                          "fold": folds[use].astype(np.int64) + 1,
                          "inner": inner[use].astype(np.int64)})
    write_tsv(Path(out), table, private=True)
    print(f"folds: {k} folds of {np.bincount(folds[use]).tolist()} samples", file=sys.stderr)
    return table


def read_folds(folds_tsv: Path, sample_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(fold int8 (n,) 0-based, -1 = not listed; inner bool (n,)) in .fam order."""
    table = read_tsv(Path(folds_tsv), dtype={"sample_id": str}).set_index("sample_id")
    listed = pd.Index(sample_ids).isin(table.index)
    folds = np.full(len(sample_ids), -1, dtype=np.int8)
    inner = np.zeros(len(sample_ids), dtype=bool)
    ids = [s for s, ok in zip(sample_ids, listed, strict=True) if ok]
    folds[listed] = table.loc[ids, "fold"].to_numpy() - 1
    inner[listed] = table.loc[ids, "inner"].to_numpy() == 1
    return folds, inner


def builders(options: dict) -> dict:
    """Method name → builder; options: r2_grid, p_thresholds, n_chains, burn_in, num_iter,
    ld_window_kb (optional), threads."""
    ct = cplust_builder(r2_grid=tuple(options["r2_grid"]),
                        p_thresholds=tuple(options["p_thresholds"]))
    ldpred = ldpred_builder(**ldpred_options(options))
    return {"ct": ct, "ldpred2": ldpred}


def ldpred_options(options: dict) -> dict:
    """The LDpred2-auto options of ``options``; LD pairs more than ``ld_window_kb`` apart are
    set to 0 (absent or None: whole blocks)."""
    window_kb = options.get("ld_window_kb")
    return {"n_chains": options["n_chains"], "burn_in": options["burn_in"],
            "num_iter": options["num_iter"], "n_threads": options["threads"],
            "window_bp": None if window_kb is None else int(window_kb) * 1000}


def write_private_npz(path: Path, **arrays) -> None:
    """Owner-only .npz of plain arrays (no pickled objects)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(Path(path), buffer.getvalue(), private=True)


def fold_genotypes(bfiles: list[Path], variants: pd.DataFrame, sample_ids: list[str],
                   pgens: list[Path] = ()) -> tuple[np.ndarray, ChunkedDosages | None]:
    """(packed hard calls: a row source of uint8 (m, ceil(n / 4)) .bed rows, dosages) of the
    selected ``variants``: the array's .bed rows and None, or with ``pgens`` the rounded dosages
    and the :class:`ChunkedDosages` the folds read (module docstring)."""
    if not pgens:
        return genotype_rows(bfiles, variants), None
    dosages = ChunkedDosages(list(pgens), variants, sample_ids)
    return dosages.hard_calls(), dosages


def run_fold(fold: int, bfiles: list[Path], variant_qc_paths: list[Path], cohort: Cohort,
             folds_tsv: Path, min_cases: int, seed: int, options: dict, out: Path,
             pgens: list[Path] = ()) -> None:
    """Fold ``fold`` (1..k) for every active disease, or the all-sample refit (``REFIT``),
    on the array hard calls or, with ``pgens``, the imputed dosages (module docstring).

    Writes ``out`` (private npz): diseases (d',) active disease names; for a fold, test_ids
    (t,), scores float64 (t, d', 2) held-out scores (NaN where none) and status (d', 2) per
    method of :data:`METHODS`; for the refit, weights float64 (m, d') (0 where none) and
    status (d',). Options as :func:`builders`, plus folds and min_maf.
    """
    numba.set_num_threads(max(1, min(options["threads"], numba.config.NUMBA_NUM_THREADS)))
    folds, inner = read_folds(folds_tsv, cohort.sample_ids)
    active = active_diseases(cohort.Y, min_cases, options["folds"])
    names = np.array(cohort.diseases)[active]
    variants = selected_variants(variant_qc_paths, options["min_maf"], options.get("variants"),
                                 pgens)
    packed, dosages = fold_genotypes(bfiles, variants, cohort.sample_ids, pgens)
    contig, pos = variants["chrom"].to_numpy(), variants["pos"].to_numpy(np.int64)
    Y = cohort.Y[:, active]
    print(f"fold {fold}: {len(variants)} variants ({genotypes_used(pgens)}), {names.size} "
          "diseases", file=sys.stderr)
    if names.size == 0:
        write_private_npz(out, diseases=names)
        return
    if fold == REFIT:
        weights, status = refit_ldpred(packed, contig, pos, Y, cohort.design, folds, seed,
                                       options, dosages)
        write_private_npz(out, diseases=names, weights=weights, status=status)
        return
    cv = cross_validated_scores(packed, len(cohort.sample_ids), contig, pos, Y, cohort.design,
                                folds, builders(options), seed, fold_ids=[fold - 1],
                                inner_val=inner, dosages=dosages)
    test = folds == fold - 1
    scores = np.full((int(test.sum()), names.size, len(METHODS)), np.nan)
    status = np.empty((names.size, len(METHODS)), dtype=object)
    for k, result in enumerate(cv):
        for j, method in enumerate(METHODS):
            scores[:, k, j] = result.scores[method][test]
            status[k, j] = result.results[method][0].status
    write_private_npz(out, diseases=names, test_ids=np.asarray(cohort.sample_ids)[test],
                      scores=scores, status=status.astype(str).reshape(names.size, -1))


def refit_ldpred(packed, contig, pos, Y, design, folds, seed, options, dosages=None):
    """LDpred2-auto on every eligible sample (one batched GWAS, one LD for all diseases).

    Returns (weights float64 (m, d), 0 where no score is emitted; status str (d,))."""
    train_idx = np.flatnonzero(folds >= 0)
    refit_id = int(folds.max()) + 1  # seeds as a fold after the last (CV folds use 0..k-1)
    seeds = [int(np.random.SeedSequence([seed, refit_id, k]).generate_state(1)[0])
             for k in range(Y.shape[1])]
    sets = fold_training_sets(packed, Y.shape[0], contig, pos, Y, design, train_idx, None, seeds,
                              dosages)
    weights = np.zeros((packed.shape[0], Y.shape[1]))
    status = np.empty(Y.shape[1], dtype=object)
    for k, train in enumerate(sets):
        if train is None:
            status[k] = "training null model not fitted"
            continue
        result = ldpred_weights(train, **ldpred_options(options))
        status[k] = result.status
        if result.weights is not None:
            weights[:, k] = result.weights
    return weights, status.astype(str)


def genotypes_used(pgens: list[Path]) -> str:
    """Which genotypes the in-cohort scores are built from: "imputed dosages" with ``pgens``,
    else "array hard calls" (the log, and the performance table's ``genotypes`` column)."""
    return "imputed dosages" if pgens else "array hard calls"


def fold_status(statuses: list[str]) -> str:
    """"ok", or the first failing fold's status (statuses: one per fold, 1-based)."""
    for fold, status in enumerate(statuses):
        if status != "ok":
            return f"FAILED: fold {fold + 1}: {status}"
    return "ok"


def performance_rows(disease, scores, statuses, y, design, prevalence,
                     min_cell_count) -> list[dict]:
    """One performance row per method on its held-out scores (status row if it failed).

    scores: method → float64 (n,); statuses: method → one status per fold."""
    from cohortgen.prs.evaluate import evaluate_score  # SciPy's stats: evaluation only

    rows = []
    for method, name in METHODS.items():
        status = fold_status(statuses[method])
        if status != "ok":
            rows.append(status_row(disease, name, status))
            continue
        use = np.isfinite(scores[method]) & np.isfinite(y)
        result = evaluate_score(scores[method][use], y[use], design[use], prevalence)
        rows.append(performance_row(disease, name, result, prevalence, min_cell_count))
    return rows


def write_ldpred_scoring_file(path: Path, variants: pd.DataFrame, weights, disease: str,
                              genome_build: str) -> int:
    """PGS Catalog file of the nonzero weights (header only for None); variants written.

    The weights are per-ALT-allele effects on the observed 0/1 scale (in phenotype SD units),
    neither log-odds nor odds ratios, so ``weight_type`` is the Catalog's ``NR``."""
    weights = np.zeros(len(variants)) if weights is None else weights
    used = weights != 0.0
    table = pd.DataFrame({
        "chrom": variants["chrom"].to_numpy()[used], "pos": variants["pos"].to_numpy()[used],
        "effect_allele": variants["alt"].to_numpy()[used],
        "other_allele": variants["ref"].to_numpy()[used], "weight": weights[used],
        "effect_allele_frequency": variants["alt_freq"].to_numpy()[used]})
    header = {"pgs_id": f"INCOHORT_{disease}", "pgs_name": f"incohort_ldpred2_{disease}",
              "trait_reported": disease, "genome_build": genome_build, "weight_type": "NR",
              "method_name": "LDpred2-auto (cohortgen), effect per allele on the observed "
                             "0/1 scale (phenotype SD units)"}
    write_scoring_file(Path(path), table, header)
    return int(used.sum())


def held_out_table(cohort: Cohort, folds: np.ndarray, scores: dict) -> pd.DataFrame:
    """Private per-sample table: sample_id, fold (1-based), one column per method."""
    use = folds >= 0
    table = pd.DataFrame({"sample_id": np.asarray(cohort.sample_ids)[use],
                          "fold": folds[use].astype(np.int64) + 1})
    for method, name in METHODS.items():
        table[name] = scores[method][use] if method in scores else np.nan
    return table


def collect_folds(fold_files: list[Path], sample_ids: list[str], diseases: list[str]) -> dict:
    """disease → (scores: method → float64 (n,), statuses: method → per-fold status) for each
    of ``diseases`` from the fold files (in fold order; each file read once)."""
    position = {s: i for i, s in enumerate(sample_ids)}
    out = {d: ({method: np.full(len(sample_ids), np.nan) for method in METHODS},
               {method: [] for method in METHODS}) for d in diseases}
    for path in fold_files if diseases else []:
        with np.load(Path(path), allow_pickle=False) as data:
            names, fold_scores, status = list(data["diseases"]), data["scores"], data["status"]
            rows = np.array([position[s] for s in data["test_ids"]], dtype=np.int64)
        for disease, (scores, statuses) in out.items():
            k = names.index(disease)
            for j, method in enumerate(METHODS):
                scores[method][rows] = fold_scores[:, k, j]
                statuses[method].append(str(status[k, j]))
    return out


def refit_weights(refit_file: Path, disease: str, m: int) -> tuple[np.ndarray | None, str]:
    """(weights (m,) or None, status) of ``disease`` from the refit file."""
    with np.load(Path(refit_file), allow_pickle=False) as data:
        k = list(data["diseases"]).index(disease)
        weights, status = data["weights"][:, k], str(data["status"][k])
    if weights.shape[0] != m:
        raise InputError(f"{refit_file}: {weights.shape[0]} weights for {m} variants; rerun "
                         "the in-cohort refit with the current variant QC")
    return (weights if status == "ok" else None), status


def evaluate_all(cohort: Cohort, variant_qc_paths: list[Path], folds_tsv: Path,
                 fold_files: list[Path], refit_file: Path, genome_build: str,
                 prevalence: dict, min_cases: int, min_cell_count: int, options: dict,
                 out_dir: Path, performance: Path, pgens: list[Path] = ()) -> pd.DataFrame:
    """Write every disease's files and the gathered ``performance`` table (module docstring;
    ``pgens`` as :func:`run_fold`). Returns the gathered table."""
    out_dir = Path(out_dir)
    folds, _ = read_folds(folds_tsv, cohort.sample_ids)
    variants = selected_variants(variant_qc_paths, options["min_maf"], options.get("variants"),
                                 pgens)
    active = active_diseases(cohort.Y, min_cases, options["folds"])
    tables = []
    collected = collect_folds(fold_files, cohort.sample_ids,
                              [d for d, a in zip(cohort.diseases, active, strict=True) if a])
    for k, disease in enumerate(cohort.diseases):
        weights, scores = None, {}
        if not active[k]:
            status = f"SKIPPED: fewer than {max(min_cases, options['folds'])} cases or controls"
            rows = [status_row(disease, name, status) for name in METHODS.values()]
        else:
            scores, statuses = collected[disease]
            rows = performance_rows(disease, scores, statuses, cohort.Y[:, k], cohort.design,
                                    prevalence.get(disease), min_cell_count)
            weights, status = refit_weights(refit_file, disease, len(variants))
            if weights is None:
                rows[-1]["status"] = f"{rows[-1]['status']}; final refit: {status}, no scoring file"
        n_used = write_ldpred_scoring_file(out_dir / f"{disease}_ldpred2.txt.gz", variants,
                                           weights, disease, genome_build)
        print(f"{disease}: LDpred2-auto scoring file with {n_used} variants", file=sys.stderr)
        write_private_tsv_gz(out_dir / f"{disease}.scores.tsv.gz",
                             held_out_table(cohort, folds, scores))
        tables.append(write_performance(out_dir / f"{disease}.performance.tsv", rows,
                                        min_cell_count))
    table = pd.concat(tables, ignore_index=True)
    write_tsv(Path(performance), table, float_format="%.6g")
    return table
