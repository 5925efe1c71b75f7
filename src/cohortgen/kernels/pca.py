"""Ancestry PCA: randomized block Krylov PCA of standardized genotypes, streamed over variants.

Model (PLINK 2 ``--pca``, Galinsky et al. 2016 AJHG 98:456 for ``--pca approx``): for variant j
with ALT frequency p_j over the non-missing calls of the selected samples, the standardized
genotype is ``x_ij = (g_ij - 2 p_j) / sqrt(2 p_j (1 - p_j))`` (g = ALT dosage), and 0 for a
missing call (mean imputation). X is (M, n) for the M polymorphic variants. The eigenvalues are
those of the GRM ``XᵀX / M``, as PLINK 2 writes them to ``.eigenval``; sample scores are the
unit-norm GRM eigenvectors (PLINK 2's ``.eigenvec`` columns); variant loadings are the unit-norm
right singular vectors ``X u_k / sqrt(M λ_k)`` (zero for monomorphic variants, which are left
out of M).

Algorithm (Halko, Martinsson & Tropp 2011, Alg. 4.4 with a block Krylov basis as in Galinsky et
al.): with L = k + oversample Gaussian start vectors Y₀ (n, L), iterate Y_{t+1} = orth(XᵀX Y_t)
for ``n_iter`` steps, orthonormalize the basis [Y₀ … Y_q], and take the Rayleigh–Ritz
eigenpairs of XᵀX on it. X is never held whole: each product streams over blocks of
``block_variants`` rows decoded from the packed .bed bytes, so memory is
O(n·L·(n_iter + 1) + block·n) plus the (m, k) loadings returned. Results are deterministic for a
given seed (numpy ``Generator``) up to BLAS rounding, and each component's sign is fixed so
that its largest-magnitude variant loading is positive.

Projection (:func:`projected_scores`): samples left out of the fit are standardized with the
fitted samples' frequencies and projected on the loadings, on the eigenvector scale.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import BYTE_DOSAGE, checked_packed, checked_sample_idx
from cohortgen.kernels.stats import genotype_counts


def standardization(
    packed: np.ndarray, n_samples: int, sample_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-variant centre 2p and scale 1/sqrt(2p(1-p)) over the selected samples' calls.

    Returns (center, scale), float64, shape (m,); scale is 0 for monomorphic or uncalled
    variants (their standardized rows are all 0).
    """
    mask = np.zeros(n_samples, dtype=bool)
    mask[sample_idx] = True
    counts = genotype_counts(packed, n_samples, mask)  # hom ALT, het, hom REF, missing
    n_called = counts[:, 0] + counts[:, 1] + counts[:, 2]
    alt = 2 * counts[:, 0] + counts[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n_called > 0, alt / (2.0 * n_called), 0.0)
        polymorphic = (p > 0.0) & (p < 1.0)
        scale = np.where(polymorphic, 1.0 / np.sqrt(2.0 * p * (1.0 - p)), 0.0)
    return 2.0 * p, scale


def standardized_block(
    packed: np.ndarray,
    sample_idx: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    lo: int,
    hi: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """float64, shape (hi - lo, len(sample_idx)): standardized rows lo..hi-1, missing → 0."""
    if out is None:
        out = np.empty((hi - lo, sample_idx.size), dtype=np.float64)
    _standardize_into(packed, lo, sample_idx, center, scale, BYTE_DOSAGE, out[: hi - lo])
    return out[: hi - lo]


def standardized_blocks(packed, sample_idx, center, scale, block_variants):
    """Yield (lo, hi, rows) over variant blocks of ``block_variants``: the standardized rows
    lo..hi-1 of :func:`standardized_block`, float64 (hi - lo, len(sample_idx)), in one reused
    buffer (valid until the next block)."""
    buffer = np.empty((min(block_variants, packed.shape[0]), sample_idx.size), dtype=np.float64)
    for lo in range(0, packed.shape[0], block_variants):
        hi = min(lo + block_variants, packed.shape[0])
        yield lo, hi, standardized_block(packed, sample_idx, center, scale, lo, hi, buffer)


@parallel_kernel
def _standardize_into(packed, lo, sample_idx, center, scale, byte_dosage, out):
    """Fill ``out`` (float64, (b, k)) with standardized dosages of variants lo..lo+b-1."""
    n_rows, k = out.shape
    for r in prange(n_rows):
        row = packed[lo + r]
        c = center[lo + r]
        s = scale[lo + r]
        for i in range(k):
            j = sample_idx[i]
            d = byte_dosage[row[j >> 2], j & 3]
            out[r, i] = (d - c) * s if d >= 0 else 0.0


def randomized_pca(
    packed: np.ndarray,
    n_samples: int,
    sample_idx: np.ndarray | None = None,
    n_components: int = 10,
    n_oversample: int = 10,
    n_iter: int = 10,
    seed: int = 0,
    block_variants: int = 2048,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top principal components of the standardized genotypes (PLINK 2 ``--pca`` scaling).

    packed: uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes (A1 = ALT).
    sample_idx: int64, shape (n_sel,), distinct sample indices (default all), in output order.
    Returns (eigenvalues float64 (k,) descending, GRM scale; sample_scores float64 (n_sel, k),
    unit-norm eigenvectors; variant_loadings float64 (m, k), unit-norm, 0 for monomorphic).
    """
    packed = checked_packed(packed, n_samples)
    if sample_idx is None:
        sample_idx = np.arange(n_samples, dtype=np.int64)
    sample_idx = checked_sample_idx(sample_idx, n_samples, allow_empty=False)
    n = sample_idx.size
    if np.unique(sample_idx).size != n:
        raise ValueError("sample_idx must not repeat a sample")
    center, scale = standardization(packed, n_samples, sample_idx)
    n_used = int(np.count_nonzero(scale))
    k = n_components
    if not 1 <= k <= min(n, n_used):
        raise ValueError(
            f"n_components must lie in [1, min(n_samples={n}, polymorphic variants={n_used})], "
            f"got {k}"
        )
    if n_oversample < 0 or n_iter < 0 or block_variants < 1:
        raise ValueError("n_oversample and n_iter must be >= 0 and block_variants >= 1")
    width = min(k + n_oversample, n)

    def blocks():
        return standardized_blocks(packed, sample_idx, center, scale, block_variants)

    def gram_times(Y: np.ndarray) -> np.ndarray:
        """XᵀX Y, streamed over variant blocks."""
        out = np.zeros_like(Y)
        for _, _, X in blocks():
            out += X.T @ (X @ Y)
        return out

    rng = np.random.default_rng(seed)
    Y = np.linalg.qr(rng.standard_normal((n, width)))[0]
    basis = [Y]
    for _ in range(n_iter):
        Y = np.linalg.qr(gram_times(Y))[0]
        basis.append(Y)
    Q = np.linalg.qr(np.hstack(basis))[0]
    if Q.shape[1] > n:
        Q = Q[:, :n]
    # Rayleigh–Ritz: T = Qᵀ XᵀX Q
    T = np.zeros((Q.shape[1], Q.shape[1]))
    for _, _, X in blocks():
        XQ = X @ Q
        T += XQ.T @ XQ
    theta, W = np.linalg.eigh((T + T.T) / 2.0)
    order = np.argsort(theta)[::-1][:k]
    theta = np.clip(theta[order], 0.0, None)
    scores = Q @ W[:, order]
    loadings = np.zeros((packed.shape[0], k))
    singular = np.sqrt(theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_singular = np.where(singular > 0, 1.0 / singular, 0.0)
    for lo, hi, X in blocks():
        loadings[lo:hi] = (X @ scores) * inv_singular
    # sign: the largest-magnitude loading of each component is positive
    top = np.argmax(np.abs(loadings), axis=0)
    signs = np.where(loadings[top, np.arange(k)] < 0, -1.0, 1.0)
    return theta / n_used, scores * signs, loadings * signs


def projected_scores(
    packed: np.ndarray,
    n_samples: int,
    fit_idx: np.ndarray,
    sample_idx: np.ndarray,
    eigenvalues: np.ndarray,
    loadings: np.ndarray,
    block_variants: int = 2048,
) -> np.ndarray:
    """Scores of other samples on the PCs that :func:`randomized_pca` fitted on ``fit_idx``.

    The genotypes of ``sample_idx`` are standardized with the fitted samples' frequencies (a
    missing call → 0, as in the fit) and projected on the unit-norm ``loadings`` (m, k):
    ``score_ik = Σ_j x_ij v_jk / sqrt(M λ_k)``, with M the variants polymorphic in the fit and
    λ the ``eigenvalues`` (GRM scale). A fitted sample projected this way gets its own
    eigenvector entry back, so the result is on the ``.eigenvec`` scale. PLINK 2's projection
    (``--score <.eigenvec.allele> no-mean-imputation variance-standardize cols=+scoresums``,
    frequencies from ``--read-freq``) gives the same value as ``SUM / (M sqrt(λ_k))`` up to
    each PC's sign. Returns float64 (len(sample_idx), k); 0 on a PC whose eigenvalue is 0.
    """
    packed = checked_packed(packed, n_samples)
    fit_idx = checked_sample_idx(fit_idx, n_samples, allow_empty=False)
    sample_idx = checked_sample_idx(sample_idx, n_samples, allow_empty=True)
    center, scale = standardization(packed, n_samples, fit_idx)
    singular = np.sqrt(np.asarray(eigenvalues, dtype=np.float64) * np.count_nonzero(scale))
    scores = np.zeros((sample_idx.size, loadings.shape[1]))
    if sample_idx.size == 0:
        return scores
    for lo, hi, X in standardized_blocks(packed, sample_idx, center, scale, block_variants):
        scores += X.T @ loadings[lo:hi]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(singular > 0, scores / singular, 0.0)
