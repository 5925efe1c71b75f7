"""Cross-validation harness for in-cohort scores: folds, training-only GWAS, held-out scoring.

Encodings: ``packed`` is uint8 (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes, dosage = ALT
count (:mod:`cohortgen.kernels.bed`), or a row source whose ``packed[rows]`` reads just those
rows (:class:`cohortgen.io.bed_rows.BedRows`: every pass below reads a block of rows at a
time, so the genotypes are never all in memory); ``y`` is float64 (n,), 0/1 with NaN =
missing; ``covariates`` float64 (n, c), NaN = missing. Weights are per ALT allele, float64 (m,).

One fold assignment serves every disease (:func:`multilabel_stratified_folds`: stratified by
the case and control status of all diseases at once), and so does one inner split of each
training set (:func:`inner_validation`), used to tune C+T. For each fold f,
:func:`cross_validated_scores` runs one batched GWAS for all diseases on the training samples
and one on the inner-training samples (logistic null models + batched score test, reused from
:mod:`cohortgen.assoc.null_model` and :mod:`cohortgen.kernels.score`), then gives every method
(a *builder*) one :class:`TrainingSet` per disease. The training sets of one fold share an LD
cache, so LD is computed once per fold for all diseases. Builders read genotypes only at
``train_idx``. Held-out samples are scored with missing dosages imputed to the training mean, so
nothing about the test fold reaches weights, tuning or LD.

With imputed dosages (``dosages``, a :class:`cohortgen.prs.dosages.ChunkedDosages` of the same
m variants and n samples), the GWAS, the LD, the C+T scores and the held-out scores read the
dosages block by block (missing ones mean-imputed as the hard-call path does), and ``packed``
reads their rounded hard calls (:class:`cohortgen.prs.dosages.HardCallRows`), which only
clumping reads.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numba
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_limits

from cohortgen.assoc.null_model import fit_null_models
from cohortgen.errors import InputError
from cohortgen.kernels.bed import checked_rows
from cohortgen.kernels.centred import centred_dosages
from cohortgen.kernels.dosage import mean_impute_rows, missing_counts
from cohortgen.kernels.score import (
    blocked_score_statistics,
    prepare_score,
    score_statistics,
    score_test_results,
)

CHUNK_VARIANTS = 2048
"""Variants decoded at a time (memory: CHUNK_VARIANTS × samples × 8 bytes)."""


def stratified_folds(y: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold id per sample, stratified by case status.

    y: (n,) 0/1 (int or float), NaN = missing. Cases and controls are shuffled separately
    (seeded) and dealt round-robin, controls continuing where cases stopped, so every fold gets
    ⌊·⌋ or ⌈·⌉ of the cases, of the controls and of all samples. Returns int8 (n,) in
    [0, k), -1 for missing y. Raises ValueError for k < 2 or values other than 0/1/NaN.
    """
    y = np.asarray(y, dtype=np.float64)
    if not 2 <= k <= 127:
        raise ValueError(f"k must lie in [2, 127], got {k}")
    missing = np.isnan(y)
    if np.any(~missing & (y != 0.0) & (y != 1.0)):
        raise ValueError("y must be 0, 1 or NaN")
    rng = np.random.default_rng(seed)
    folds = np.full(y.shape, -1, dtype=np.int8)
    start = 0
    for status in (1.0, 0.0):
        members = rng.permutation(np.flatnonzero(y == status))
        folds[members] = (start + np.arange(members.size)) % k
        start = (start + members.size) % k
    return folds


def multilabel_stratified_folds(Y: np.ndarray, k: int = 5, seed: int = 0,
                                eligible: np.ndarray | None = None,
                                groups: np.ndarray | None = None) -> np.ndarray:
    """One fold id per sample, stratified by the case and the control status of every disease.

    Y: (n, d) 0/1, NaN = missing; eligible: bool (n,) samples to assign (default: any finite
    label); groups: int (n,) samples with one group id go to one fold together (relatives,
    :func:`related_groups`; default: every sample on its own). A group is one unit with the
    label counts of its eligible members, in the seeded order of its first member.
    Two steps over the 2d labels "case of d" and "control of d":

    1. iterative stratification (Sechidis, Tsoumakas & Vlahavas 2011), rarest label first (by
       total count): each unassigned sample of the label (in a seeded random order) joins, among
       the folds with room within one sample of the most, the one that still wants most of that
       label (ties at random), so fold sizes stay within about one sample (one group) of
       each other;
    2. :func:`_balance_by_swaps`: swaps of two samples on their own (never of a group of
       relatives) between folds that reduce the squared deviations from the ideal counts,
       until every label's counts span at most 1 (about ±1 of the ideal in every fold) or no
       swap helps.

    Returns int8 (n,) in [0, k), -1 for ineligible samples. Raises ValueError for k outside
    [2, 127] or values other than 0/1/NaN.
    """
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64).T).T
    if not 2 <= k <= 127:
        raise ValueError(f"k must lie in [2, 127], got {k}")
    if np.any(np.isfinite(Y) & (Y != 0.0) & (Y != 1.0)):
        raise ValueError("Y must be 0, 1 or NaN")
    if eligible is None:
        eligible = np.any(np.isfinite(Y), axis=1)
    rng = np.random.default_rng(seed)
    members = rng.permutation(np.flatnonzero(eligible))
    unit = _units(members, groups)
    n_units = int(unit.max()) + 1 if unit.size else 0
    labels = np.zeros((n_units, 2 * Y.shape[1]), dtype=np.int64)
    np.add.at(labels, unit, np.column_stack([Y[members] == 1.0, Y[members] == 0.0]))
    sizes = np.bincount(unit, minlength=n_units)
    assigned = _balance_by_swaps(labels, _iterative_stratification(labels, sizes, k, rng),
                                 sizes == 1, k, rng)
    folds = np.full(Y.shape[0], -1, dtype=np.int8)
    folds[members] = assigned[unit]
    return folds


def _units(members: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """int64 (len(members),): the unit of each member, numbered in order of the first
    appearance of its group in ``members`` (each member its own unit without groups)."""
    if groups is None:
        return np.arange(members.size, dtype=np.int64)
    _, first, inverse = np.unique(np.asarray(groups)[members], return_index=True,
                                  return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse]


def related_groups(sample_ids: list[str], id1: list[str], id2: list[str]) -> np.ndarray:
    """int64 (n,): connected component of each of ``sample_ids`` in the graph of related pairs
    (id1[i], id2[i]) (``qc/related_pairs.tsv``; pairs naming other samples are ignored), so
    relatives of relatives share a group."""
    position = {s: i for i, s in enumerate(sample_ids)}
    edges = np.array([(position[a], position[b]) for a, b in zip(id1, id2, strict=True)
                      if a in position and b in position], dtype=np.int64).reshape(-1, 2)
    n = len(sample_ids)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _iterative_stratification(labels: np.ndarray, sizes: np.ndarray, k: int,
                              rng) -> np.ndarray:
    """Step 1 of :func:`multilabel_stratified_folds`; labels: int64 (u, L) label counts of
    each unit; sizes: int64 (u,) samples per unit. Returns int64 (u,)."""
    counts = labels.sum(axis=0)
    want = np.repeat(counts[None, :] / k, k, axis=0)
    room = np.full(k, sizes.sum() / k)
    assigned = np.full(labels.shape[0], -1, dtype=np.int64)
    for label in np.argsort(counts, kind="stable"):
        for i in np.flatnonzero((labels[:, label] > 0) & (assigned < 0)):
            open_folds = np.flatnonzero(room > room.max() - 1.0)
            wanted = want[open_folds, label]
            best = open_folds[wanted == wanted.max()]
            f = int(best[rng.integers(best.size)]) if best.size > 1 else int(best[0])
            assigned[i] = f
            want[f] -= labels[i]
            room[f] -= sizes[i]
    for i in np.flatnonzero(assigned < 0):  # units without any label
        f = int(np.argmax(room))
        assigned[i] = f
        room[f] -= sizes[i]
    return assigned


def _balance_by_swaps(labels: np.ndarray, assigned: np.ndarray, movable: np.ndarray, k: int,
                      rng, candidates: int = 256, max_swaps: int = 100_000) -> np.ndarray:
    """Step 2 of :func:`multilabel_stratified_folds`: fold sizes never change, and only
    ``movable`` units (bool (u,): single samples) move.

    Repeatedly takes the label with the widest spread of counts over folds that a swap can
    narrow: fold a (most above the ideal) and fold b (most below); among up to ``candidates``
    seeded-random movable members of a with the label and of b without it, the swap that most
    lowers Σ_f Σ_l (count − ideal)² is made. Stops when every spread is ≤ 1 or no swap lowers
    it.
    """
    L = labels.astype(np.float64)
    has = labels > 0
    ideal = L.sum(axis=0) / k
    counts = np.stack([L[assigned == f].sum(axis=0) for f in range(k)])
    for _ in range(max_swaps):
        dev = counts - ideal
        spread = dev.max(axis=0) - dev.min(axis=0)
        for label in np.argsort(-spread, kind="stable"):
            if spread[label] <= 1.0:
                return assigned
            a, b = int(np.argmax(dev[:, label])), int(np.argmin(dev[:, label]))
            out_a = _some(np.flatnonzero((assigned == a) & has[:, label] & movable),
                          candidates, rng)
            out_b = _some(np.flatnonzero((assigned == b) & ~has[:, label] & movable),
                          candidates, rng)
            if out_a.size == 0 or out_b.size == 0:
                continue
            delta = L[out_b][None, :, :] - L[out_a][:, None, :]  # net change of fold a
            change = 2.0 * delta @ (dev[a] - dev[b]) + 2.0 * np.sum(delta * delta, axis=2)
            i, j = np.unravel_index(int(np.argmin(change)), change.shape)
            if change[i, j] < 0.0:
                assigned[out_a[i]], assigned[out_b[j]] = b, a
                counts[a] += delta[i, j]
                counts[b] -= delta[i, j]
                break
        else:
            return assigned
    return assigned


def _some(rows: np.ndarray, size: int, rng) -> np.ndarray:
    """``rows``, or a seeded random ``size`` of them when there are more."""
    return rng.choice(rows, size, replace=False) if rows.size > size else rows


def inner_validation(Y: np.ndarray, folds: np.ndarray, k_inner: int, seed: int,
                     groups: np.ndarray | None = None) -> np.ndarray:
    """bool (n,): the inner-validation samples, 1/``k_inner`` of each outer fold.

    Each outer fold g is split on its own (:func:`multilabel_stratified_folds` on its samples'
    labels and ``groups``, seed (seed, g)) and its part 0 validates. The training set of fold
    f thus gets an inner split stratified for every disease, and nothing about fold f's samples
    decides it.
    """
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64).T).T
    flag = np.zeros(Y.shape[0], dtype=bool)
    for g in sorted(int(f) for f in np.unique(folds) if f >= 0):
        members = np.flatnonzero(folds == g)
        fold_seed = int(np.random.SeedSequence([seed, g]).generate_state(1)[0])
        inner = multilabel_stratified_folds(Y[members], k_inner, fold_seed,
                                            np.ones(members.size, dtype=bool),
                                            None if groups is None else groups[members])
        flag[members] = inner == 0
    return flag


@dataclass(frozen=True)
class TrainingGwas:
    """Score-test GWAS on training samples. All arrays (m,), float64 unless stated.

    z: signed score statistic U/√V (NaN if untestable); p: χ²₁ p-value; beta: one-step log-odds
    per ALT allele U/V; testable: bool; mean: mean-imputed ALT dosage mean over the training
    samples; n: samples in the null model (int).
    """

    z: np.ndarray
    p: np.ndarray
    beta: np.ndarray
    testable: np.ndarray
    mean: np.ndarray
    n: int


def training_gwas(
    packed: np.ndarray,
    n_samples: int,
    train_idx: np.ndarray,
    y_train: np.ndarray,
    covariates_train: np.ndarray,
    dosages=None,
) -> TrainingGwas:
    """Logistic null model + score test over the samples ``train_idx`` only (on ``dosages``
    when given, module docstring).

    y_train: float64 (k,) 0/1/NaN and covariates_train: float64 (k, c), rows in ``train_idx``
    order. Raises InputError if the null model has no cases, no controls or does not converge.
    """
    gwas = training_gwas_all(packed, n_samples, train_idx, np.asarray(y_train)[:, None],
                             covariates_train, dosages)[0]
    if gwas is None:
        raise InputError(
            "training null model not fitted (no cases, no controls, or no convergence): check "
            "the phenotype and covariates of this fold"
        )
    return gwas


def training_gwas_all(
    packed: np.ndarray,
    n_samples: int,
    train_idx: np.ndarray,
    Y_train: np.ndarray,
    covariates_train: np.ndarray,
    dosages=None,
) -> list[TrainingGwas | None]:
    """:func:`training_gwas` for d diseases in one pass over the genotypes (the ``dosages``
    when given, module docstring).

    Y_train: float64 (k, d) 0/1/NaN, rows in ``train_idx`` order. Returns one
    :class:`TrainingGwas` per disease, None where the null model did not fit. Runs on Numba's
    thread count (``numba.set_num_threads``); results do not depend on it.
    """
    if dosages is None:
        packed = checked_rows(packed, n_samples)
    train_idx = np.ascontiguousarray(train_idx, dtype=np.int64)
    # BLAS single-threaded: the score products split rows over Numba's thread count instead,
    # so no idle BLAS worker spins against the decoding kernel (as the association engine).
    with threadpool_limits(1, user_api="blas"):
        models = fit_null_models(covariates_train, np.asarray(Y_train, dtype=np.float64))
        prep = prepare_score(models.X, models.R, models.W)
        m, d = packed.shape[0] if dosages is None else len(dosages), len(models)
        U = np.empty((m, d))
        V = np.empty((m, d))
        mean = np.empty(m)
        blocks = (blocked_score_statistics(packed, n_samples, train_idx, prep, CHUNK_VARIANTS)
                  if dosages is None else dosage_score_statistics(dosages, train_idx, prep))
        for rows, G, U_block, V_block in blocks:
            U[rows], V[rows] = U_block, V_block
            mean[rows] = G.mean(axis=1)
    res = score_test_results(U, V)
    z = np.where(res["testable"], U / np.sqrt(np.where(res["testable"], V, 1.0)), np.nan)
    return [
        TrainingGwas(z[:, k], res["p"][:, k], res["beta"][:, k], res["testable"][:, k], mean,
                     model.n_cases + model.n_controls) if model.converged else None
        for k, model in enumerate(models)
    ]


def dosage_score_statistics(dosages, sample_idx: np.ndarray, prep):
    """As :func:`cohortgen.kernels.score.blocked_score_statistics` on ``dosages``
    (:class:`cohortgen.prs.dosages.ChunkedDosages`): (rows, G, U, V) per block of
    :data:`CHUNK_VARIANTS`, G float64 (b, k) the dosages of ``sample_idx`` with missing ones
    replaced by the variant's mean over them."""
    for start in range(0, len(dosages), CHUNK_VARIANTS):
        rows = slice(start, min(start + CHUNK_VARIANTS, len(dosages)))
        G = dosages.read(np.arange(rows.start, rows.stop), sample_idx)
        mean_impute_rows(G, missing_counts(G))
        yield rows, G, *score_statistics(G, prep, threads=numba.get_num_threads())


def centred_dosage_block(dosages, rows: np.ndarray, sample_idx: np.ndarray,
                         fill: np.ndarray) -> np.ndarray:
    """float64 (r, k): dosage − fill[row] of the ascending ``rows`` of ``dosages`` and the
    samples ``sample_idx``; a missing dosage gives 0 (imputed to ``fill``, float64 (m,)), as
    :func:`cohortgen.kernels.centred.centred_dosages` does for hard calls."""
    block = dosages.read(rows, sample_idx)
    block -= fill[rows][:, None]
    return np.nan_to_num(block, nan=0.0, copy=False)


def grid_scores(
    packed: np.ndarray,
    n_samples: int,
    sample_idx: np.ndarray,
    W: np.ndarray,
    fill: np.ndarray,
    dosages=None,
) -> np.ndarray:
    """Scores of many weight vectors in one pass: float64 (k, g) for W: float64 (m, g).

    Missing dosages are imputed to ``fill`` (m,) (contribute 0 after centring). Only variants
    with a nonzero weight in some column are decoded (from ``dosages`` when given). The
    products run on one BLAS thread, so the scores do not depend on the job's thread count
    (OpenBLAS on two threads changed them in the last bits) and no BLAS worker spins (with
    :func:`cohortgen.prs.cplust.partial_r2`, 0.15-0.2 CPU s instead of 0.36 at 3,000 samples ×
    10,000 variants × 36 columns).
    """
    sample_idx = np.asarray(sample_idx, dtype=np.int64)
    fill = np.asarray(fill, dtype=np.float64)
    used = np.flatnonzero(np.any(W != 0.0, axis=1))
    S = np.zeros((sample_idx.size, W.shape[1]))
    with threadpool_limits(1, user_api="blas"):
        if dosages is not None:
            for s in range(0, used.size, CHUNK_VARIANTS):
                rows = used[s : s + CHUNK_VARIANTS]
                S += centred_dosage_block(dosages, rows, sample_idx, fill).T @ W[rows]
            return S
        packed = checked_rows(packed, n_samples)
        buffer = np.empty(min(CHUNK_VARIANTS, used.size) * sample_idx.size)
        for s in range(0, used.size, CHUNK_VARIANTS):
            rows = used[s : s + CHUNK_VARIANTS]
            G = centred_dosages(packed[rows], n_samples, np.arange(rows.size), sample_idx,
                                fill[rows], out=buffer)
            S += G.T @ W[rows]
    return S


@dataclass(frozen=True)
class TrainingSet:
    """What a method may see in one fold for one disease: training samples only.

    packed / n_samples / contig / pos: all variants (contig any dtype, pos int64 (m,));
    train_idx: int64 (k,) sorted training sample indices (read genotypes only there);
    y, covariates: training rows only; gwas: :class:`TrainingGwas` on them; seed: int.
    inner_val: bool (k,) inner-validation rows of the training set, and inner_gwas the GWAS on
    the other training rows (None: the method splits on its own); shared: a cache that the
    training sets of one fold share across diseases (e.g. LD of the training samples);
    dosages: the imputed dosages of the variants (module docstring; None: hard calls).
    """

    packed: np.ndarray
    n_samples: int
    contig: np.ndarray
    pos: np.ndarray
    train_idx: np.ndarray
    y: np.ndarray
    covariates: np.ndarray
    gwas: TrainingGwas
    seed: int
    inner_val: np.ndarray | None = None
    inner_gwas: TrainingGwas | None = None
    shared: dict = field(default_factory=dict)
    dosages: object = None


@dataclass(frozen=True)
class MethodResult:
    """A method's output for one fold: weights float64 (m,) per ALT allele, or None when the
    method refuses to emit a score (``status`` says why); ``details`` holds its diagnostics."""

    weights: np.ndarray | None
    status: str = "ok"
    details: dict = field(default_factory=dict)


Builder = Callable[[TrainingSet], MethodResult]

NULL_FAILED = "training null model not fitted (too few cases or controls, or no convergence)"


@dataclass(frozen=True)
class CrossValidatedScores:
    """One disease: scores: method → float64 (n,) held-out score (NaN outside scored folds or
    where the method emitted nothing); results: method → one :class:`MethodResult` per fold;
    gwas: one :class:`TrainingGwas` per fold (None where the null model did not fit)."""

    scores: dict[str, np.ndarray]
    results: dict[str, list[MethodResult]]
    gwas: list[TrainingGwas | None]


def fold_training_sets(
    packed: np.ndarray,
    n_samples: int,
    contig: np.ndarray,
    pos: np.ndarray,
    Y: np.ndarray,
    covariates: np.ndarray,
    train_idx: np.ndarray,
    inner_val: np.ndarray | None,
    seeds: list[int],
    dosages=None,
) -> list[TrainingSet | None]:
    """One :class:`TrainingSet` per disease (None where a null model did not fit) for the
    training samples ``train_idx``, from two batched GWAS: all training samples, and those not
    in ``inner_val`` (bool (n,); None: no inner split, one GWAS). Y: float64 (n, d);
    covariates: (n, c); seeds: one per disease; dosages: as :class:`TrainingSet`."""
    d = Y.shape[1]
    gwas = training_gwas_all(packed, n_samples, train_idx, Y[train_idx], covariates[train_idx],
                             dosages)
    inner, val = [None] * d, None
    if inner_val is not None:
        val = inner_val[train_idx]
        fit_idx = train_idx[~val]
        inner = training_gwas_all(packed, n_samples, fit_idx, Y[fit_idx], covariates[fit_idx],
                                  dosages)
    shared: dict = {}
    contig, pos = np.asarray(contig), np.asarray(pos, dtype=np.int64)
    return [
        TrainingSet(packed, n_samples, contig, pos, train_idx, Y[train_idx, k],
                    covariates[train_idx], gwas[k], seeds[k], val, inner[k], shared, dosages)
        if gwas[k] is not None and (val is None or inner[k] is not None) else None
        for k in range(d)
    ]


def cross_validated_scores(
    packed: np.ndarray,
    n_samples: int,
    contig: np.ndarray,
    pos: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray,
    folds: np.ndarray,
    builders: Mapping[str, Builder],
    seed: int = 0,
    fold_ids: list[int] | None = None,
    inner_k: int = 5,
    inner_val: np.ndarray | None = None,
    dosages=None,
) -> CrossValidatedScores | list[CrossValidatedScores]:
    """For each fold: batched training GWAS, each builder's weights per disease, held-out scores.

    y: (n,) one disease, or (n, d) several (then one result per disease is returned);
    folds: int (n,) from :func:`multilabel_stratified_folds` or :func:`stratified_folds`
    (-1 = never used); fold_ids: the folds to run (default all). Training samples of fold f are
    those with folds ∉ {f, -1}; those in ``inner_val`` (bool (n,); default
    :func:`inner_validation` with ``inner_k``) validate tuning. Held-out scores of all diseases
    and methods come from one pass per fold. dosages: as :class:`TrainingSet`.
    """
    packed = checked_rows(packed, n_samples)
    Y = np.asarray(y, dtype=np.float64)
    Y2 = Y[:, None] if Y.ndim == 1 else Y
    covariates = np.asarray(covariates, dtype=np.float64)
    if covariates.ndim == 1:
        covariates = covariates[:, None]
    folds = np.asarray(folds)
    if fold_ids is None:
        fold_ids = sorted(int(f) for f in np.unique(folds) if f >= 0)
    if inner_val is None:
        inner_val = inner_validation(Y2, folds, inner_k, seed)
    d = Y2.shape[1]
    out = [CrossValidatedScores({name: np.full(n_samples, np.nan) for name in builders},
                                {name: [] for name in builders}, []) for _ in range(d)]
    for f in fold_ids:
        train_idx = np.flatnonzero((folds >= 0) & (folds != f))
        test_idx = np.flatnonzero(folds == f)
        seeds = [int(np.random.SeedSequence([seed, f, k]).generate_state(1)[0])
                 for k in range(d)]
        sets = fold_training_sets(packed, n_samples, contig, pos, Y2, covariates, train_idx,
                                  inner_val, seeds, dosages)
        columns = []
        for k, train in enumerate(sets):
            out[k].gwas.append(None if train is None else train.gwas)
            for name, build in builders.items():
                result = MethodResult(None, NULL_FAILED) if train is None else build(train)
                out[k].results[name].append(result)
                if result.weights is not None:
                    columns.append((k, name, result.weights))
        _score_held_out(packed, n_samples, test_idx, columns, sets, out, dosages)
    return out[0] if Y.ndim == 1 else out


def _score_held_out(packed, n_samples, test_idx, columns, sets, out, dosages=None) -> None:
    """Score ``test_idx`` with every (disease, method, weights) of ``columns`` in one pass,
    missing dosages at the training mean (the same for every disease), into ``out``."""
    if not columns:
        return
    fill = next(train for train in sets if train is not None).gwas.mean
    S = grid_scores(packed, n_samples, test_idx, np.column_stack([w for _, _, w in columns]),
                    fill, dosages)
    for c, (k, name, _) in enumerate(columns):
        out[k].scores[name][test_idx] = S[:, c]
