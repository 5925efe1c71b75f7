"""Ancestry clusters from the PCs, for Hardy-Weinberg tests within ancestry groups.

A cohort of several ancestries is not one random-mating population: pooled over them, a variant
whose allele frequency differs between ancestries has too few heterozygotes (the Wahlund
effect) and fails the HWE test although every call is right. ``qc.hwe_population`` therefore
tests HWE over ``all`` kept samples (one ancestry, the default), within the ``largest_cluster``,
or ``per_cluster`` (see :func:`hwe_groups`).

Clusters (:func:`ancestry_clusters`) are fitted on the PCA samples (``fitted`` in pcs.tsv;
the kept are among them). Coordinates: each PC's unit-norm eigenvector times the square root of
its eigenvalue, so a PC weighs by the variance it explains and noise PCs barely count. Model: a
Gaussian mixture with full covariances (each plus a ridge of :data:`RIDGE` times the mean
variance), fitted by EM (on at most :data:`MAX_FIT_SAMPLES` samples) from :data:`N_STARTS`
k-means starts (k-means++ seeds drawn from ``numpy.random.default_rng(seed)``), keeping the
start of highest likelihood; with ``auto``, the number of clusters from 1 to
:data:`MAX_AUTO_CLUSTERS` of lowest BIC (trying more clusters until :data:`AUTO_PATIENCE` more
in a row have not lowered it). Each sample joins its most probable component. Clusters are
numbered from 1 by size, largest first (between equal sizes, the one holding the earlier sample
first). The same PCs and seed give the same clusters.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.files import read_tsv

MAX_AUTO_CLUSTERS = 8
"""``auto`` tries 1 to this many clusters."""

AUTO_PATIENCE = 2
"""``auto`` stops once this many more clusters in a row have not lowered the BIC."""

N_STARTS = 4
"""EM starts per number of clusters (each from its own k-means++ seeds)."""

RIDGE = 1e-6
"""Added to each component's covariance diagonal, times the mean variance of the coordinates."""

MAX_FIT_SAMPLES = 5000
"""The mixture is fitted on at most this many PCA samples (drawn with the seed), then every
sample is assigned to its most probable component: the cost does not grow with the cohort."""

MAX_EM_ITERATIONS = 200
EM_TOLERANCE = 1e-6
"""EM stops when the mean log-likelihood per sample gains less than this."""

MAX_KMEANS_ITERATIONS = 100

MIN_CLUSTER_SIZE = 50
"""Default ``qc.hwe_min_cluster_size``: smaller clusters are not tested with ``per_cluster``."""


@dataclass(frozen=True)
class HweSettings:
    """Where variant QC tests HWE: ``population`` (``qc.hwe_population``: ``all``,
    ``largest_cluster`` or ``per_cluster``), the sample table
    holding each kept sample's ancestry cluster (``qc/samples.tsv``; unused for ``all``) and the
    smallest cluster tested with ``per_cluster``."""

    population: str = "all"
    samples_tsv: Path | None = None
    min_cluster_size: int = MIN_CLUSTER_SIZE


@dataclass(frozen=True)
class ClusterFit:
    """Cluster per sample (int64 (n,), 1 = largest), the number of clusters (a fitted component
    that no sample joins is not counted) and the BIC of the fitted mixture."""

    labels: np.ndarray
    n_clusters: int
    bic: float


def parse_n_clusters(value: str | int) -> int | None:
    """``qc.ancestry_clusters``: a positive number of clusters, or None for ``auto``."""
    if str(value) == "auto":
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1 or str(number) != str(value).strip():
        raise InputError(f"qc.ancestry_clusters is {value!r}: give a positive whole number of "
                         "ancestry clusters, or auto")
    return number


def pc_coordinates(eigenvectors: np.ndarray, eigenvalues: np.ndarray) -> np.ndarray:
    """float64 (n, k): unit-norm eigenvectors (n, k) scaled by sqrt(eigenvalues (k,))."""
    return eigenvectors * np.sqrt(np.maximum(eigenvalues, 0.0))


def ancestry_clusters(eigenvectors: np.ndarray, eigenvalues: np.ndarray, n_clusters: int | None,
                      seed: int) -> ClusterFit:
    """Fit the ancestry clusters of the module docstring.

    eigenvectors: float64 (n, k), PCs of the fitted samples; eigenvalues: float64 (k,);
    n_clusters: a fixed number, or None for ``auto`` (BIC). Raises InputError without PCs or
    with more clusters asked for than samples."""
    n, k = eigenvectors.shape
    if k == 0:
        raise InputError("ancestry clusters need the PCs, but pca.n_pcs is 0: set pca.n_pcs to "
                         "at least 1, or qc.hwe_population: all")
    if n_clusters is not None and n_clusters > n:
        raise InputError(f"qc.ancestry_clusters is {n_clusters} but only {n} samples have PCs: "
                         "ask for fewer clusters, or auto")
    x = pc_coordinates(eigenvectors, eigenvalues)
    rng = np.random.default_rng(seed)
    fit_x = x if n <= MAX_FIT_SAMPLES else x[np.sort(rng.choice(n, MAX_FIT_SAMPLES, replace=False))]
    candidates = [n_clusters] if n_clusters else range(1, min(MAX_AUTO_CLUSTERS, n) + 1)
    best, worse = None, 0
    for k_fit in candidates:
        log_lik, mixture = fit_mixture(fit_x, k_fit, rng)
        bic = -2.0 * log_lik + n_parameters(k_fit, k) * np.log(len(fit_x))
        if best is None or bic < best[0]:
            best, worse = (bic, k_fit, mixture), 0
        else:
            worse += 1
            if worse == AUTO_PATIENCE:
                break
    bic, _, mixture = best
    labels = numbered_by_size(log_joint(x, mixture).argmax(axis=1))
    return ClusterFit(labels, int(labels.max()), float(bic))


def n_parameters(n_components: int, dim: int) -> int:
    """Free parameters of a full-covariance Gaussian mixture: means, covariances, weights."""
    return n_components * (dim + dim * (dim + 1) // 2) + n_components - 1


def numbered_by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel int labels (n,) as 1, 2, ... by decreasing size (ties: earlier first sample)."""
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    number = np.empty(values.size, dtype=np.int64)
    number[order] = np.arange(1, values.size + 1)
    return number[np.searchsorted(values, labels)]


@dataclass(frozen=True)
class Mixture:
    """A Gaussian mixture of K components in d dimensions: log weights (K,), means (K, d),
    whitening matrices (K, d, d) (inverse Cholesky factors of the covariances) and log
    determinants of the covariances (K,). A component without weight has log weight -inf."""

    log_weights: np.ndarray
    means: np.ndarray
    whitening: np.ndarray
    log_dets: np.ndarray


def fit_mixture(x: np.ndarray, n_components: int,
                rng: np.random.Generator) -> tuple[float, Mixture]:
    """(log-likelihood, mixture) of the best of :data:`N_STARTS` EM fits of a full-covariance
    Gaussian mixture to x (n, d), each started from k-means clusters."""
    ridge = RIDGE * max(float(x.var(axis=0).mean()), np.finfo(float).tiny)
    best = None
    for _ in range(N_STARTS if n_components > 1 else 1):
        resp = np.eye(n_components)[kmeans(x, n_components, rng)]
        log_lik, mixture = em(x, resp, ridge)
        if best is None or log_lik > best[0]:
            best = (log_lik, mixture)
    return best


def em(x: np.ndarray, resp: np.ndarray, ridge: float) -> tuple[float, Mixture]:
    """EM from responsibilities (n, K) until the mean log-likelihood per sample gains less
    than :data:`EM_TOLERANCE`; the last mixture and its log-likelihood."""
    previous = -np.inf
    for _ in range(MAX_EM_ITERATIONS):
        mixture = m_step(x, resp, ridge)
        joint = log_joint(x, mixture)
        top = joint.max(axis=1)
        per_sample = top + np.log(np.exp(joint - top[:, None]).sum(axis=1))
        log_lik = float(per_sample.sum())
        resp = np.exp(joint - per_sample[:, None])
        if log_lik - previous < EM_TOLERANCE * len(x):
            break
        previous = log_lik
    return log_lik, mixture


def m_step(x: np.ndarray, resp: np.ndarray, ridge: float) -> Mixture:
    """Maximum-likelihood mixture given responsibilities (n, K), covariances plus ``ridge``."""
    n, d = x.shape
    n_components = resp.shape[1]
    mass = resp.sum(axis=0)
    with np.errstate(divide="ignore"):
        log_weights = np.log(mass / n)
    means = np.zeros((n_components, d))
    whitening = np.tile(np.eye(d), (n_components, 1, 1))
    log_dets = np.zeros(n_components)
    for j in np.flatnonzero(mass > 0):
        w = resp[:, j] / mass[j]
        means[j] = w @ x
        centred = x - means[j]
        chol = np.linalg.cholesky((centred * w[:, None]).T @ centred + ridge * np.eye(d))
        whitening[j] = np.linalg.inv(chol)
        log_dets[j] = 2.0 * np.log(np.diag(chol)).sum()
    return Mixture(log_weights, means, whitening, log_dets)


def log_joint(x: np.ndarray, mixture: Mixture) -> np.ndarray:
    """float64 (n, K): log(weight_j * N(x_i; mean_j, cov_j)); -inf for an empty component."""
    d = x.shape[1]
    out = np.empty((len(x), len(mixture.log_dets)))
    for j in range(out.shape[1]):
        z = (x - mixture.means[j]) @ mixture.whitening[j].T  # whitened, (n, d)
        out[:, j] = (mixture.log_weights[j] - 0.5 * (d * np.log(2 * np.pi) + mixture.log_dets[j])
                     - 0.5 * (z * z).sum(axis=1))
    return out


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Lloyd's k-means from k-means++ seeds; cluster index int64 (n,) in [0, k)."""
    centers = kmeans_pp_seeds(x, k, rng)
    labels = np.full(len(x), -1)
    for _ in range(MAX_KMEANS_ITERATIONS):
        new = squared_distances(x, centers).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():
                centers[j] = x[members].mean(axis=0)
    return labels


def kmeans_pp_seeds(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ (Arthur & Vassilvitskii 2007): k rows of x, each drawn with probability
    proportional to its squared distance from the nearest one drawn before."""
    centers = [x[rng.integers(len(x))]]
    nearest = squared_distances(x, centers[0][None, :])[:, 0]
    for _ in range(1, k):
        total = nearest.sum()
        p = nearest / total if total > 0 else None
        centers.append(x[rng.choice(len(x), p=p)])
        nearest = np.minimum(nearest, squared_distances(x, centers[-1][None, :])[:, 0])
    return np.array(centers)


def squared_distances(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """float64 (n, k): squared Euclidean distance of each row of x to each center."""
    return ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


def cluster_sizes(labels: np.ndarray) -> dict[str, int]:
    """{cluster number as text: number of samples}, clusters in order."""
    values, counts = np.unique(labels, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def hwe_tested_clusters(population: str, clusters: np.ndarray, kept: np.ndarray,
                    min_cluster_size: int) -> list[int]:
    """The ancestry clusters HWE is tested within, for ``qc.hwe_population`` (none for ``all``).

    clusters: int64 (n,), ancestry cluster per sample (1 = largest over the PCA samples; 0 for
    samples without one, none of them kept). ``largest_cluster``: the cluster holding the most
    kept samples (between equals, the lower number); ``per_cluster``: that cluster and every
    other with at least ``min_cluster_size`` kept samples, largest first (smaller ones are not
    tested: an exact test on few samples has little power, and their samples are not pooled
    into another cluster's test)."""
    if population == "all":
        return []
    numbers, counts = np.unique(clusters[kept], return_counts=True)
    order = np.lexsort((numbers, -counts))[:1 if population == "largest_cluster" else None]
    return [int(numbers[i]) for i in order if i == order[0] or counts[i] >= min_cluster_size]


def hwe_groups(population: str, clusters: np.ndarray, kept: np.ndarray,
               min_cluster_size: int) -> list[np.ndarray]:
    """The kept-sample masks (bool (n,)) HWE is tested within: one per cluster of
    :func:`hwe_tested_clusters`, or every kept sample for ``all``."""
    tested = hwe_tested_clusters(population, clusters, kept, min_cluster_size)
    return [kept & (clusters == c) for c in tested] or [kept]


def read_clusters(samples_tsv: Path, fam_samples: list[str], kept: np.ndarray) -> np.ndarray:
    """Ancestry cluster per .fam sample, int64 (n,) (0: none), from the ``ancestry_cluster``
    column of ``samples.tsv``. Raises InputError when a kept sample has no cluster (the table
    was written by a sample QC run that did not cluster)."""
    table = read_tsv(Path(samples_tsv), required=("sample_id", "ancestry_cluster"),
                     dtype={"sample_id": str, "ancestry_cluster": "Int64"})
    cluster = table.set_index("sample_id")["ancestry_cluster"].reindex(fam_samples)
    missing = int((cluster.isna().to_numpy() & kept).sum())
    if missing:
        raise InputError(f"{samples_tsv}: {missing} kept samples have no ancestry_cluster; it was "
                         "written by a sample QC run with qc.hwe_population: all. Rerun sample "
                         "QC (rule qc_samples) with the current config")
    return cluster.fillna(0).to_numpy(np.int64)
