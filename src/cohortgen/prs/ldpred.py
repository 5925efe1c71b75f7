"""LDpred2-auto weights from a training-fold GWAS and training-sample LD, with chain checks.

Marginal effects: the score test gives z_j = U_j / √V_j on the n null-model samples. The
standardised marginal effect (per SD of genotype, on the scale where the phenotype has unit
variance) is β̂_j = z_j / √(n + z_j²), bigsnpr's β̂ / √(n·se² + β̂²) with β̂ = U/V and se = 1/√V;
its null sampling variance is 1/n, as the sampler assumes. h² and p are then estimated on the
observed (0/1) scale of the training sample. Untestable variants get β̂ = 0.

Chains start at p_init on a log grid (bigsnpr's ``seq_log(1e-4, 0.2, n_chains)``) and h²_init
from an LD-score regression with intercept 1. A chain is *kept* when it did not diverge (h² ≤
``h2_max`` and finite throughout) and its post-burn-in means of h² and p both lie within
``n_mad`` MADs (scaled, as R's ``mad``) of the medians over non-diverged chains. Final
standardised effects are the mean of kept chains' posterior means; per-allele weights are
β_j / sd_j with sd_j the training dosage SD. With no kept chain no score is emitted.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from cohortgen.kernels.ld_matrix import block_bounds, block_correlations
from cohortgen.kernels.ldpred import gibbs_auto, row_spans
from cohortgen.prs.folds import MethodResult, TrainingSet

MAD_SCALE = 1.4826
"""Consistency constant of the MAD for a normal distribution (R's ``mad`` default)."""


@dataclass(frozen=True)
class ChainDiagnostics:
    """One chain: starting p, post-burn-in means of p and h² (NaN if diverged), sweeps done,
    diverged flag, kept flag and the p / h² paths (float64 (burn_in + num_iter,))."""

    p_init: float
    p_est: float
    h2_est: float
    n_done: int
    diverged: bool
    kept: bool
    path_p: np.ndarray
    path_h2: np.ndarray


@dataclass(frozen=True)
class LDpredAutoResult:
    """beta_std: float64 (m,) mean posterior standardised effects of kept chains (None if
    none kept); postp: float64 (m,) mean inclusion probabilities (None likewise); chains;
    p_est, h2_est: means over kept chains (NaN if none); status: "ok" or the reason."""

    beta_std: np.ndarray | None
    postp: np.ndarray | None
    chains: list[ChainDiagnostics]
    p_est: float
    h2_est: float
    status: str


def standardized_marginal_effects(z: np.ndarray, n: int) -> np.ndarray:
    """β̂ = z / √(n + z²) for score statistics z (NaN → 0); float64, same shape."""
    z = np.where(np.isfinite(z), z, 0.0)
    return z / np.sqrt(n + z * z)


def ld_scores(corr: np.ndarray, offsets: np.ndarray, bounds: np.ndarray, n: int) -> np.ndarray:
    """Within-block LD scores ℓ_j = Σ_k r̃²_jk, r̃² = r² − (1 − r²)/(n − 2) (unbiased)."""
    m = int(bounds[-1])
    out = np.zeros(m)
    for b in range(bounds.size - 1):
        s, e = int(bounds[b]), int(bounds[b + 1])
        r2 = corr[offsets[b] : offsets[b + 1]].reshape(e - s, e - s) ** 2
        adj = r2 - (1.0 - r2) / (n - 2)
        adj[r2 == 0.0] = 0.0
        out[s:e] = adj.sum(axis=1)
    return out


def ldsc_h2(beta_hat: np.ndarray, ld: np.ndarray, n: int) -> float:
    """LD-score regression h² with the intercept fixed at 1: E[χ²] = 1 + n h² ℓ / M."""
    poly = ld > 0
    chi2 = n * beta_hat[poly] ** 2
    m = poly.sum()
    slope = np.sum(ld[poly] * (chi2 - 1.0)) / np.sum(ld[poly] ** 2)
    return float(slope * m / n)


def ldpred2_auto(
    beta_hat: np.ndarray,
    n: int,
    corr: np.ndarray,
    offsets: np.ndarray,
    bounds: np.ndarray,
    *,
    spans: np.ndarray | None = None,
    ld: np.ndarray | None = None,
    n_chains: int = 6,
    burn_in: int = 300,
    num_iter: int = 300,
    shrink: float = 0.95,
    h2_init: float | None = None,
    p_bounds: tuple[float, float] = (1e-5, 1.0),
    h2_min: float = 1e-4,
    h2_max: float = 1.0,
    n_mad: float = 3.0,
    seed: int = 0,
    n_threads: int = 2,
) -> LDpredAutoResult:
    """Run LDpred2-auto chains and keep the converged ones (see module docstring).

    beta_hat: float64 (m,) standardised marginal effects; n: GWAS sample size; corr, offsets,
    bounds: blocked LD from :func:`cohortgen.kernels.ld_matrix.block_correlations`; spans: its
    :func:`cohortgen.kernels.ldpred.row_spans` (computed here when None); ld: its
    :func:`ld_scores` for ``n`` (computed here when None and ``h2_init`` is). Chains run in
    ``n_threads`` threads; results do not depend on the thread count.
    """
    beta_hat = np.ascontiguousarray(beta_hat, dtype=np.float64)
    if h2_init is None:
        if ld is None:
            ld = ld_scores(corr, offsets, bounds, n)
        h2_init = float(np.clip(ldsc_h2(beta_hat, ld, n), 1e-3, 0.5))
    if spans is None:
        spans = row_spans(corr, offsets, bounds)
    p_inits = np.geomspace(1e-4, 0.2, n_chains) if n_chains > 1 else np.array([0.01])
    seeds = np.random.SeedSequence(seed).generate_state(n_chains)

    def run(c: int):
        return gibbs_auto(
            corr,
            offsets,
            bounds,
            spans,
            beta_hat,
            float(n),
            float(h2_init),
            float(p_inits[c]),
            burn_in,
            num_iter,
            float(shrink),
            p_bounds[0],
            p_bounds[1],
            h2_min,
            h2_max,
            int(seeds[c]),
        )

    # Chains starting at a large p are the slowest (many nonzero effects until p settles):
    # starting them first keeps both threads busy to the end. Results do not depend on order.
    order = np.argsort(-p_inits, kind="stable").tolist()
    outputs = [None] * n_chains
    with ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool:
        for c, output in zip(order, pool.map(run, order), strict=True):
            outputs[c] = output
    return _combine_chains(outputs, p_inits, burn_in, num_iter, n_mad)


def _combine_chains(outputs, p_inits, burn_in, num_iter, n_mad) -> LDpredAutoResult:
    """Diagnose chains, apply the MAD rule, average the kept chains' posterior means."""
    total = burn_in + num_iter
    diverged = np.array([out[4] < total for out in outputs])
    p_est = np.array(
        [np.nan if d else np.mean(o[2][burn_in:]) for o, d in zip(outputs, diverged, strict=True)]
    )
    h2_est = np.array(
        [np.nan if d else np.mean(o[3][burn_in:]) for o, d in zip(outputs, diverged, strict=True)]
    )
    kept = ~diverged & within_mad(h2_est, n_mad) & within_mad(p_est, n_mad)
    chains = [
        ChainDiagnostics(
            float(p_inits[c]),
            float(p_est[c]),
            float(h2_est[c]),
            int(o[4]),
            bool(diverged[c]),
            bool(kept[c]),
            o[2],
            o[3],
        )
        for c, o in enumerate(outputs)
    ]
    if not kept.any():
        reason = "all chains diverged" if diverged.all() else "no chain passed the MAD rule"
        return LDpredAutoResult(None, None, chains, np.nan, np.nan, f"no converged chain: {reason}")
    beta = np.mean([outputs[c][0] for c in np.flatnonzero(kept)], axis=0)
    postp = np.mean([outputs[c][1] for c in np.flatnonzero(kept)], axis=0)
    return LDpredAutoResult(
        beta, postp, chains, float(np.mean(p_est[kept])), float(np.mean(h2_est[kept])), "ok"
    )


def within_mad(values: np.ndarray, n_mad: float) -> np.ndarray:
    """bool: finite values within n_mad scaled MADs of the median of the finite values.

    The MAD is floored at 1e-6 × |median| so that identical chains are not all rejected.
    """
    finite = np.isfinite(values)
    if not finite.any():
        return finite
    med = np.median(values[finite])
    mad = MAD_SCALE * np.median(np.abs(values[finite] - med))
    tol = n_mad * max(mad, 1e-6 * abs(med))
    return finite & (np.abs(values - med) <= tol)


def ldpred_weights(
    train: TrainingSet,
    max_block_variants: int = 500,
    window_bp: int | None = None,
    **options,
) -> MethodResult:
    """LDpred2-auto per-allele weights from a training fold (LD from training samples only,
    float32, banded to ``window_bp`` if given, computed once per fold with its row spans, and
    its LD scores once per GWAS sample size: cached in ``train.shared``). The LD products run
    on one BLAS thread: the float32 bits then do not depend on the job's thread count, and
    BLAS workers do not spin on the small banded tiles (15× less CPU for that step on a
    loaded machine).

    Options go to :func:`ldpred2_auto` (``seed`` defaults to the fold seed). Returns a
    :class:`MethodResult` with weights None and a "no converged chain" status when every chain
    fails; details hold the :class:`LDpredAutoResult`.
    """
    key = ("ld", max_block_variants, window_bp)
    if key not in train.shared:  # one LD per fold, shared by every disease's training set
        bounds = block_bounds(train.contig, max_block_variants)
        with threadpool_limits(1, user_api="blas"):  # same bits at any thread count
            corr, offsets, _, sd = block_correlations(
                train.packed, train.n_samples, train.train_idx, bounds, pos=train.pos,
                window_bp=window_bp, dtype=np.float32, read_block=_dosage_blocks(train),
            )
        train.shared[key] = (bounds, corr, offsets, row_spans(corr, offsets, bounds), sd)
    bounds, corr, offsets, spans, sd = train.shared[key]
    gwas = train.gwas
    beta_hat = standardized_marginal_effects(gwas.z, gwas.n)
    scores_key = ("ld_scores", *key[1:], gwas.n)  # the diseases of a fold mostly share n
    if scores_key not in train.shared:
        train.shared[scores_key] = ld_scores(corr, offsets, bounds, gwas.n)
    options.setdefault("seed", train.seed)
    result = ldpred2_auto(beta_hat, gwas.n, corr, offsets, bounds, spans=spans,
                          ld=train.shared[scores_key], **options)
    details = {"ldpred": result}
    if result.beta_std is None:
        return MethodResult(None, result.status, details)
    weights = np.where(sd > 0, result.beta_std / np.where(sd > 0, sd, 1.0), 0.0)
    return MethodResult(weights, "ok", details)


def _dosage_blocks(train: TrainingSet):
    """None for hard calls; with ``train.dosages``: (s, e) → float64 (e − s, k) dosages of
    variants s..e − 1 and the training samples (NaN missing)."""
    if train.dosages is None:
        return None
    return lambda s, e: train.dosages.read(np.arange(s, e), train.train_idx)


def ldpred_builder(**options) -> Callable[[TrainingSet], MethodResult]:
    """Builder for :func:`cohortgen.prs.folds.cross_validated_scores`."""

    def build(train: TrainingSet) -> MethodResult:
        return ldpred_weights(train, **options)

    return build
