"""Batched logistic score test: many variants × many diseases in a few BLAS matrix products.

The work is a dense matrix product (G @ C with C of shape (n, d + d·p)), which BLAS (NumPy's
``@``) runs near peak, plus Σ w g² (one small Numba kernel, :func:`weighted_sumsq`: as a BLAS
product it would need G's square in memory); the remaining element-wise steps are O(m·d·p).
The χ²₁ tail uses ``scipy.special``. Threads: :func:`score_statistics` splits the
variant rows over ``threads`` Python threads (NumPy releases the GIL), meant to run under
single-threaded BLAS (``threadpoolctl``): BLAS worker threads that spin between calls would
otherwise fight the Numba kernels of the same step for the cores. The rows go in fixed blocks of
:data:`SCORE_ROWS` whatever the thread count, so the bits do not depend on it.

Model (SCIENCE.md, Association): for disease d with null fit μ̂, r = y − μ̂, W_d = diag(μ̂(1 − μ̂))
(r = w = 0 on samples excluded from d) and variant genotypes g (n,):

    U = gᵀ r,    V = g̃ᵀ W_d g̃,   g̃ = g − X (XᵀW_dX)⁻¹ XᵀW_d g
      = Σ w g² − ‖gᵀ A_d‖²,        A_d = W_d X B_d,  B_d B_dᵀ = (XᵀW_dX)⁻¹.

B_d comes from a symmetric eigendecomposition rather than a Cholesky factor: for a full-rank
XᵀW_dX the two are the same up to a rotation (same V), and the eigendecomposition also gives the
correct projection (pseudo-inverse) when a covariate is constant within one disease's samples.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from scipy import special

from cohortgen.kernels._numba import kernel
from cohortgen.kernels.bed import dosages_mean_imputed

EIGEN_RTOL = 1e-12
"""Eigenvalues of XᵀWX at most ``EIGEN_RTOL`` × the largest are treated as zero."""

V_ZERO_RTOL = 1e-9
"""V is set to exactly 0 when V ≤ ``V_ZERO_RTOL`` · Σ w g² (rounding noise of a genotype vector
that lies in the span of the covariates, e.g. monomorphic on the disease's samples)."""

V_MIN = 1e-12
"""Variants with V ≤ ``V_MIN`` (or non-finite U, V) are untestable."""

SCORE_ROWS = 256
"""Rows of G per matrix product in :func:`score_statistics`, whatever the thread count: BLAS
can round a row differently by its place in the product (seen with OpenBLAS), so
splitting by the thread count would change the last bits with it."""

P_FLOOR = float(np.finfo(np.float64).tiny)
"""Smallest p reported (≈ 2.2e-308); ``log10_p`` is exact beyond it (never −inf for finite χ²)."""


@dataclass(frozen=True)
class ScorePrep:
    """Per-disease pieces of the score test, computed once per null-model set.

    C: float64 (n, d + d·p), columns [R | A_1 | … | A_d], A_d = W_d X B_d; CT: C transposed,
    C-contiguous (d + d·p, n), the layout :func:`score_statistics` multiplies.
    W: float64 (n, d) null weights; WT: W transposed, C-contiguous (d, n).
    rank: int64 (d,) numerical rank of XᵀW_dX.
    B: float64 (d, p, p), B_d B_dᵀ = (XᵀW_dX)⁺ (see :func:`residualise_row`).
    """

    C: np.ndarray
    CT: np.ndarray
    W: np.ndarray
    WT: np.ndarray
    rank: np.ndarray
    n_diseases: int
    n_params: int
    B: np.ndarray


def pinv_sqrt(M: np.ndarray, rtol: float = EIGEN_RTOL) -> np.ndarray:
    """B (p, p) with B Bᵀ = M⁺ for a symmetric positive semi-definite M (p, p).

    Eigenvalues ≤ ``rtol`` × the largest are dropped (their columns of B are 0).
    """
    eigval, eigvec = np.linalg.eigh(M)
    top = eigval[-1] if eigval.size else 0.0
    keep = eigval > rtol * top if top > 0 else np.zeros(eigval.shape, dtype=bool)
    scale = np.zeros_like(eigval)
    scale[keep] = 1.0 / np.sqrt(eigval[keep])
    return eigvec * scale


def prepare_score(X: np.ndarray, R: np.ndarray, W: np.ndarray) -> ScorePrep:
    """Precompute :class:`ScorePrep` from the null models.

    X: float64 (n, p) common design (finite everywhere; rows excluded from a disease have
    w = 0 there). R, W: float64 (n, d) residuals y − μ̂ and weights μ̂(1 − μ̂), 0 where excluded.
    """
    X = np.asarray(X, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    n, p = X.shape
    d = R.shape[1]
    blocks = [R]
    rank = np.zeros(d, dtype=np.int64)
    Bs = np.zeros((d, p, p))
    for k in range(d):
        WX = X * W[:, k, None]
        B = pinv_sqrt(X.T @ WX)
        rank[k] = int(np.count_nonzero(np.any(B != 0.0, axis=0)))
        Bs[k] = B
        blocks.append(WX @ B)
    C = np.ascontiguousarray(np.hstack(blocks))
    return ScorePrep(C=C, CT=np.ascontiguousarray(C.T), W=np.ascontiguousarray(W),
                     WT=np.ascontiguousarray(W.T), rank=rank, n_diseases=d, n_params=p, B=Bs)


def score_statistics(G: np.ndarray, prep: ScorePrep, *, projections: bool = False,
                     threads: int = 1) -> tuple:
    """Score U and its null variance V for every variant and disease.

    G: float64 (m, n) genotype dosages (ALT allele count 0/1/2), finite: the caller imputes
    missing genotypes (e.g. to the mean) first. threads: Python threads over the fixed
:data:`SCORE_ROWS`-row blocks of G (results do not depend on it).
    Returns U, V: float64 (m, d), and with ``projections`` also GA: float64 (m, d, p),
    GA[j, d] = G[j] A_d (the by-product that :func:`residualise_row` needs). Peak extra memory
    about (m, d + d·p).
    """
    G = np.asarray(G, dtype=np.float64)
    m = G.shape[0]
    d, p = prep.n_diseases, prep.n_params
    GCT = np.empty((prep.C.shape[1], m))  # (G C)ᵀ = Cᵀ Gᵀ: OpenBLAS runs it ~15% faster
    sumsq = np.empty((m, d))

    def products(rows: slice) -> None:
        np.matmul(prep.CT, G[rows].T, out=GCT[:, rows])
        weighted_sumsq(G[rows], prep.WT, sumsq[rows])

    ranges = [slice(a, min(a + SCORE_ROWS, m)) for a in range(0, m, SCORE_ROWS)]
    if threads <= 1 or len(ranges) <= 1:
        for rows in ranges:
            products(rows)
    else:
        with ThreadPoolExecutor(min(threads, len(ranges))) as pool:
            list(pool.map(products, ranges))
    U = np.ascontiguousarray(GCT[:d].T)
    GA = np.ascontiguousarray(GCT[d:].T).reshape(m, d, p)
    V = sumsq - np.einsum("mdp,mdp->md", GA, GA)
    V[V <= V_ZERO_RTOL * sumsq] = 0.0
    if projections:
        return U, V, GA
    return U, V


def blocked_score_statistics(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray,
                             prep: ScorePrep, block_variants: int, *,
                             projections: bool = False) -> Iterator[tuple]:
    """:func:`score_statistics` of every .bed row, one block of variants at a time: the loop
    over genotypes that the association chunk and the in-cohort PRS training GWAS share.

    packed: uint8 (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes, or a row source read one
    block at a time (:func:`cohortgen.kernels.bed.checked_rows`); sample_idx: int64 (k,),
    the samples of ``prep`` in its row order; block_variants: rows per block (bounds memory at
    block_variants × k float64). Yields ``(rows, G, U, V)``, or ``(rows, G, U, V, GA)`` with
    ``projections``, per block: rows, a slice of ``packed``; G, float64 (b, k) ALT dosages,
    missing calls mean-imputed (a view of a buffer that the next block overwrites: use it
    before advancing); U, V, GA as :func:`score_statistics`. Runs on Numba's thread count.
    """
    m = packed.shape[0]
    buffer = np.empty(min(block_variants, m) * np.size(sample_idx))  # G of every block, reused
    for start in range(0, m, block_variants):
        rows = slice(start, min(start + block_variants, m))
        G = dosages_mean_imputed(packed[rows], n_samples, sample_idx, out=buffer)
        yield rows, G, *score_statistics(G, prep, projections=projections,
                                         threads=numba.get_num_threads())


@kernel(error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def weighted_sumsq(G, WT, out):
    """out[j, d] = Σ_i WT[d, i] · G[j, i]²; G: float64 (m, n), WT: float64 (d, n), out: float64
    (m, d), filled in place.

    Rows go four at a time (one pass over WT[d] serves four rows); a last block of fewer
    rows repeats the final row and drops the copies. Every row is thus summed by the same
    code in the same order (vectorised, fixed by the compiled code), so a row's value does
    not depend on how the rows are split over calls.
    """
    m = G.shape[0]
    last = m - 1
    for j in range(0, m, 4):
        g0 = G[j]
        g1 = G[min(j + 1, last)]
        g2 = G[min(j + 2, last)]
        g3 = G[min(j + 3, last)]
        for d in range(WT.shape[0]):
            w = WT[d]
            t0 = 0.0
            t1 = 0.0
            t2 = 0.0
            t3 = 0.0
            for i in range(w.shape[0]):
                t0 += w[i] * g0[i] * g0[i]
                t1 += w[i] * g1[i] * g1[i]
                t2 += w[i] * g2[i] * g2[i]
                t3 += w[i] * g3[i] * g3[i]
            out[j, d] = t0
            for k, total in ((1, t1), (2, t2), (3, t3)):
                if j + k < m:
                    out[j + k, d] = total


def covariate_basis(X: np.ndarray, prep: ScorePrep, d: int) -> np.ndarray:
    """X B_d: float64 (n, p), the covariates X (n, p) of :func:`prepare_score` times B_d."""
    return np.asarray(X, dtype=np.float64) @ prep.B[d]


@kernel(error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def residualise_row(G_row, samples, GA_row, XB_t, g):
    """One genotype row residualised on the covariates in disease d's null weights,
    g̃ = g − X (XᵀW_dX)⁺ XᵀW_d g = g − X B_d (gᵀA_d)ᵀ, written into g float64 (k,).

    G_row: float64 (n_G,) the row; samples: int64 (k,) its columns to use, empty for all
    (n_G = k); GA_row: float64 (p,) the row's :func:`score_statistics` projections for disease d;
    XB_t: float64 (p, k) the same samples' rows of :func:`covariate_basis`, transposed. Samples
    with w = 0 (not in the disease) may be left out: they do not enter gᵀA_d."""
    p, k = XB_t.shape
    for i in range(k):
        g[i] = 0.0
    for a in range(p):
        XB_a = XB_t[a]
        t = GA_row[a]
        for i in range(k):
            g[i] += XB_a[i] * t
    if samples.shape[0] == 0:
        for i in range(k):
            g[i] = G_row[i] - g[i]
    else:
        for i in range(k):
            g[i] = G_row[samples[i]] - g[i]


def chi2_1_log10_sf(chisq: np.ndarray) -> np.ndarray:
    """log10 of the χ²₁ upper tail, accurate for huge χ² (no underflow): log10(2 Φ(−√χ²))."""
    chisq = np.asarray(chisq, dtype=np.float64)
    return (np.log(2.0) + special.log_ndtr(-np.sqrt(chisq))) / np.log(10.0)


def score_test_results(U: np.ndarray, V: np.ndarray) -> dict[str, np.ndarray]:
    """Test statistics from :func:`score_statistics` output (any matching shapes).

    Returns float64 arrays ``chisq`` = U²/V, ``p`` (χ²₁ upper tail, floored at
    :data:`P_FLOOR`, never 0), ``log10_p`` (exact, finite), ``beta`` = U/V and ``se`` = 1/√V
    (one-step log-odds per ALT allele), and bool ``testable`` (V > :data:`V_MIN`, U and V
    finite). Untestable entries (monomorphic after projection) are NaN in every float array.
    """
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    testable = np.isfinite(U) & np.isfinite(V) & (V > V_MIN)
    safe_V = np.where(testable, V, 1.0)
    safe_U = np.where(testable, U, 0.0)
    chisq = safe_U**2 / safe_V
    log10_p = chi2_1_log10_sf(chisq)
    p = np.maximum(special.chdtrc(1.0, chisq), P_FLOOR)
    nan = np.nan
    return {
        "chisq": np.where(testable, chisq, nan),
        "p": np.where(testable, p, nan),
        "log10_p": np.where(testable, log10_p, nan),
        "beta": np.where(testable, safe_U / safe_V, nan),
        "se": np.where(testable, 1.0 / np.sqrt(safe_V), nan),
        "testable": testable,
    }
