"""Cross-validation harness for in-cohort scores: folds, training-only GWAS, held-out scoring.

Encodings: ``packed`` is uint8 (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes, dosage = ALT
count (:mod:`cohortgen.kernels.bed`); ``y`` is float64 (n,), 0/1 with NaN = missing;
``covariates`` float64 (n, c), NaN = missing. Weights are per ALT allele, float64 (m,).

For each fold f, :func:`cross_validated_scores` gives every method (a *builder*) a
:class:`TrainingSet` holding only the training samples' indices, phenotypes and covariates and a
GWAS run on them alone (logistic null model + batched score test, reused from
:mod:`cohortgen.assoc.null_model` and :mod:`cohortgen.kernels.score`). Builders read genotypes
only at ``train_idx``. Held-out samples are scored with missing dosages imputed to the training
mean, so nothing about the test fold reaches weights, tuning or LD.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from cohortgen.assoc.null_model import fit_null_models
from cohortgen.errors import InputError
from cohortgen.kernels.bed import checked_packed, dosages_mean_imputed, unpack_dosages
from cohortgen.kernels.score import prepare_score, score_statistics, score_test_results

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


@dataclass(frozen=True)
class TrainingGwas:
    """Score-test GWAS on training samples. All arrays (m,), float64 unless stated.

    z: signed score statistic U/√V (NaN if untestable); p: χ²₁ p-value; beta: one-step log-odds
    per ALT allele U/V; testable: bool; mean, sd: mean-imputed ALT dosage mean and population SD
    over the training samples; n: samples in the null model (int).
    """

    z: np.ndarray
    p: np.ndarray
    beta: np.ndarray
    testable: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    n: int


def training_gwas(
    packed: np.ndarray,
    n_samples: int,
    train_idx: np.ndarray,
    y_train: np.ndarray,
    covariates_train: np.ndarray,
) -> TrainingGwas:
    """Logistic null model + score test over the samples ``train_idx`` only.

    y_train: float64 (k,) 0/1/NaN and covariates_train: float64 (k, c), rows in ``train_idx``
    order. Raises InputError if the null model has no cases, no controls or does not converge.
    """
    packed = checked_packed(packed, n_samples)
    train_idx = np.ascontiguousarray(train_idx, dtype=np.int64)
    models = fit_null_models(covariates_train, np.asarray(y_train, dtype=np.float64)[:, None])
    model = models[0]
    if not model.converged:
        raise InputError(
            f"training null model not fitted ({model.n_cases} cases, {model.n_controls} "
            "controls, or no convergence): check the phenotype and covariates of this fold"
        )
    prep = prepare_score(models.X, models.R, models.W)
    m = packed.shape[0]
    U = np.empty(m)
    V = np.empty(m)
    mean = np.empty(m)
    sd = np.empty(m)
    for s in range(0, m, CHUNK_VARIANTS):
        e = min(s + CHUNK_VARIANTS, m)
        G = dosages_mean_imputed(packed[s:e], n_samples, train_idx)
        u, v = score_statistics(G, prep)
        U[s:e], V[s:e] = u[:, 0], v[:, 0]
        mean[s:e] = G.mean(axis=1)
        sd[s:e] = G.std(axis=1)
    res = score_test_results(U, V)
    z = np.where(res["testable"], U / np.sqrt(np.where(res["testable"], V, 1.0)), np.nan)
    n = model.n_cases + model.n_controls
    return TrainingGwas(z, res["p"], res["beta"], res["testable"], mean, sd, n)


def score_samples(
    packed: np.ndarray,
    n_samples: int,
    sample_idx: np.ndarray,
    weights: np.ndarray,
    fill: np.ndarray,
) -> np.ndarray:
    """Σ_j weights_j · (dosage_ij − fill_j) for the samples ``sample_idx``.

    weights, fill: float64 (m,); a missing dosage is imputed to ``fill_j`` (the training mean),
    so it contributes 0. Only variants with a nonzero weight are decoded. Returns float64 (k,).
    """
    packed = checked_packed(packed, n_samples)
    sample_idx = np.asarray(sample_idx, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    fill = np.asarray(fill, dtype=np.float64)
    used = np.flatnonzero(weights != 0.0)
    score = np.zeros(sample_idx.size)
    for s in range(0, used.size, CHUNK_VARIANTS):
        rows = used[s : s + CHUNK_VARIANTS]
        dosage = unpack_dosages(packed[rows], n_samples)[:, sample_idx]
        centred = np.where(dosage >= 0, dosage - fill[rows, None], 0.0)
        score += weights[rows] @ centred
    return score


@dataclass(frozen=True)
class TrainingSet:
    """What a method may see in one fold: training samples only.

    packed / n_samples / contig / pos: all variants (contig any dtype, pos int64 (m,));
    train_idx: int64 (k,) sorted training sample indices (read genotypes only there);
    y, covariates: training rows only; gwas: :class:`TrainingGwas` on them; seed: int.
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


@dataclass(frozen=True)
class MethodResult:
    """A method's output for one fold: weights float64 (m,) per ALT allele, or None when the
    method refuses to emit a score (``status`` says why); ``details`` holds its diagnostics."""

    weights: np.ndarray | None
    status: str = "ok"
    details: dict = field(default_factory=dict)


Builder = Callable[[TrainingSet], MethodResult]


@dataclass(frozen=True)
class CrossValidatedScores:
    """scores: method → float64 (n,) held-out score (NaN outside scored folds or where the
    method emitted nothing); results: method → one :class:`MethodResult` per fold;
    gwas: one :class:`TrainingGwas` per fold."""

    scores: dict[str, np.ndarray]
    results: dict[str, list[MethodResult]]
    gwas: list[TrainingGwas]


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
) -> CrossValidatedScores:
    """For each fold: training GWAS, each builder's weights, held-out scores.

    folds: int (n,) from :func:`stratified_folds` (-1 = never used); fold_ids: the folds to run
    (default all). Training samples of fold f are those with folds ∉ {f, -1}.
    """
    packed = checked_packed(packed, n_samples)
    y = np.asarray(y, dtype=np.float64)
    covariates = np.asarray(covariates, dtype=np.float64)
    if covariates.ndim == 1:
        covariates = covariates[:, None]
    folds = np.asarray(folds)
    if fold_ids is None:
        fold_ids = sorted(int(f) for f in np.unique(folds) if f >= 0)
    scores = {name: np.full(n_samples, np.nan) for name in builders}
    results: dict[str, list[MethodResult]] = {name: [] for name in builders}
    gwas_list = []
    for f in fold_ids:
        train_idx = np.flatnonzero((folds >= 0) & (folds != f))
        test_idx = np.flatnonzero(folds == f)
        gwas = training_gwas(packed, n_samples, train_idx, y[train_idx], covariates[train_idx])
        gwas_list.append(gwas)
        fold_seed = int(np.random.SeedSequence([seed, f]).generate_state(1)[0])
        train = TrainingSet(
            packed,
            n_samples,
            np.asarray(contig),
            np.asarray(pos, dtype=np.int64),
            train_idx,
            y[train_idx],
            covariates[train_idx],
            gwas,
            fold_seed,
        )
        for name, build in builders.items():
            result = build(train)
            results[name].append(result)
            if result.weights is not None:
                scores[name][test_idx] = score_samples(
                    packed, n_samples, test_idx, result.weights, gwas.mean
                )
    return CrossValidatedScores(scores, results, gwas_list)
