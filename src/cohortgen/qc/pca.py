"""Ancestry PCA on the pruned common set (``qc/pruned.*``), fitted on the unrelated QC-passed
samples; the other QC-passed samples (relatives) are projected onto the fitted PCs.

Randomized PCA with PLINK 2 ``--pca`` scaling (:func:`cohortgen.kernels.pca.randomized_pca`);
projection with the fitted samples' allele frequencies, missing calls mean-imputed as in the fit,
on the same eigenvector scale (:func:`cohortgen.kernels.pca.projected_scores`, as PLINK 2's
``--pca allele-wts`` + ``--score ... variance-standardize`` projection), on one BLAS thread
(:func:`pca_scores`). Outliers: a fitted
sample whose score on PC1 or PC2 lies more than ``outlier_sd`` standard deviations (ddof 1, over
the fitted samples) from that PC's mean; projected samples are not judged. Outputs: ``pcs.tsv``
(private; sample_id, ``pca`` = ``fitted`` or ``projected``, PC1..PCk unit-norm eigenvectors as
PLINK's .eigenvec) and ``pca.json`` (eigenvalues, counts and the ancestry cluster sizes,
:mod:`cohortgen.qc.ancestry`, null when not clustered: aggregates only). Read the PCs with
:func:`read_pcs`.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cohortgen.io.files import read_tsv, write_json, write_tsv
from cohortgen.kernels.pca import projected_scores, randomized_pca

OUTLIER_PCS = 2
"""Outliers are judged on the top this-many PCs."""


@dataclass(frozen=True)
class PcaSettings:
    """Number of PCs, outlier rule (SDs on PC1/PC2) and the seed of the randomized PCA."""

    n_pcs: int = 10
    outlier_sd: float = 6.0
    seed: int = 42


def pca_scores(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray,
               settings: PcaSettings, projected_idx: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eigenvalues float64 (k,), scores float64 (len(sample_idx), k) of the fitted samples,
    scores float64 (len(projected_idx), k) of the samples projected onto them) on the pruned
    rows; with ``settings.n_pcs`` 0, k = 0 (no PCA: pcs.tsv lists the samples without PC
    columns). BLAS runs on one thread: OpenBLAS splits a product differently on two, which
    changed the PCs in the last bits (so clusters and outliers could follow the job's thread
    count), and its spinning workers cost CPU: 2.6 CPU s instead of 5-8 at 3,000 samples ×
    10,000 variants (the PCA and the projection)."""
    if projected_idx is None:
        projected_idx = np.zeros(0, dtype=np.int64)
    if settings.n_pcs == 0:
        return np.zeros(0), np.zeros((len(sample_idx), 0)), np.zeros((len(projected_idx), 0))
    n_pcs = min(settings.n_pcs, len(sample_idx) - 1, len(packed))
    with threadpool_limits(1, user_api="blas"):
        eigenvalues, scores, loadings = randomized_pca(packed, n_samples, sample_idx,
                                                       n_components=n_pcs, seed=settings.seed)
        projected = projected_scores(packed, n_samples, sample_idx, projected_idx,
                                     eigenvalues, loadings)
    return eigenvalues, scores, projected


def pca_outliers(scores: np.ndarray, outlier_sd: float) -> np.ndarray:
    """bool (n,): |score - mean| > outlier_sd * SD on any of the top :data:`OUTLIER_PCS` PCs."""
    top = scores[:, :OUTLIER_PCS]
    sd = top.std(axis=0, ddof=1)
    return (np.abs(top - top.mean(axis=0)) > outlier_sd * sd).any(axis=1)


def write_pcs(sample_ids: list[str], eigenvalues: np.ndarray, scores: np.ndarray,
              n_variants: int, pcs_tsv: Path, pca_json: Path,
              ancestry_clusters: dict | None = None, projected_ids: list[str] = (),
              projected: np.ndarray | None = None) -> None:
    """The private PC table (the fitted samples, then the ``projected_ids`` with their
    ``projected`` scores, float64 (len(projected_ids), k)) and the aggregate PCA summary
    (counts, eigenvalues), with the ancestry clustering summary (``requested``, ``n_clusters``,
    ``sizes``) when there is one."""
    if projected is None:
        projected = np.zeros((0, scores.shape[1]))
    if projected.shape != (len(projected_ids), scores.shape[1]):
        raise ValueError(f"projected scores have shape {projected.shape}, expected "
                         f"({len(projected_ids)}, {scores.shape[1]})")
    columns = [f"PC{k + 1}" for k in range(scores.shape[1])]
    table = pd.DataFrame(np.vstack([scores, projected]), columns=columns)
    table.insert(0, "sample_id", [*sample_ids, *projected_ids])
    table.insert(1, "pca", ["fitted"] * len(sample_ids) + ["projected"] * len(projected_ids))
    write_tsv(pcs_tsv, table, private=True, float_format="%.10g")
    write_json(pca_json, {"n_samples": len(sample_ids), "n_projected": len(projected_ids),
                          "n_variants": int(n_variants),
                          "eigenvalues": [significant(v) for v in eigenvalues],
                          "ancestry_clusters": ancestry_clusters})


def significant(value: float, digits: int = 10) -> float:
    """``value`` rounded to ``digits`` significant digits, as the TSVs write floats (%.10g):
    the PCA's BLAS calls differ in the last bits between thread counts, its outputs do not."""
    return float(f"{value:.{digits}g}")


def read_pcs(pcs_tsv: Path) -> pd.DataFrame:
    """The PC columns (float64) of ``pcs.tsv`` (fitted and projected samples alike), indexed by
    sample_id (str); no column when the PCA was skipped (``pca.n_pcs`` 0)."""
    table = read_tsv(Path(pcs_tsv), required=("sample_id",), dtype={"sample_id": str})
    return table.set_index("sample_id").drop(columns="pca", errors="ignore").astype(np.float64)
