"""Ancestry PCA on the pruned common set (``qc/pruned.*``), for the unrelated QC-passed samples.

Randomized PCA with PLINK 2 ``--pca`` scaling (:func:`cohortgen.kernels.pca.randomized_pca`).
Outliers: a sample whose score on PC1 or PC2 lies more than ``outlier_sd`` standard deviations
(ddof 1, over the PCA samples) from that PC's mean. Outputs: ``pcs.tsv`` (private; sample_id,
PC1..PCk unit-norm eigenvectors as PLINK's .eigenvec) and ``pca.json`` (eigenvalues, counts and
the ancestry cluster sizes, :mod:`cohortgen.qc.ancestry`, null when not clustered: aggregates
only).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.files import write_json, write_tsv
from cohortgen.kernels.pca import randomized_pca

OUTLIER_PCS = 2
"""Outliers are judged on the top this-many PCs."""


@dataclass(frozen=True)
class PcaSettings:
    """Number of PCs, outlier rule (SDs on PC1/PC2) and the seed of the randomized PCA."""

    n_pcs: int = 10
    outlier_sd: float = 6.0
    seed: int = 42


def pca_scores(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray,
               settings: PcaSettings) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues float64 (k,), scores float64 (len(sample_idx), k)) on the pruned rows;
    with ``settings.n_pcs`` 0, k = 0 (no PCA: pcs.tsv lists the samples without PC columns)."""
    if settings.n_pcs == 0:
        return np.zeros(0), np.zeros((len(sample_idx), 0))
    n_pcs = min(settings.n_pcs, len(sample_idx) - 1, len(packed))
    eigenvalues, scores, _ = randomized_pca(packed, n_samples, sample_idx, n_components=n_pcs,
                                            seed=settings.seed)
    return eigenvalues, scores


def pca_outliers(scores: np.ndarray, outlier_sd: float) -> np.ndarray:
    """bool (n,): |score - mean| > outlier_sd * SD on any of the top :data:`OUTLIER_PCS` PCs."""
    top = scores[:, :OUTLIER_PCS]
    sd = top.std(axis=0, ddof=1)
    return (np.abs(top - top.mean(axis=0)) > outlier_sd * sd).any(axis=1)


def write_pcs(sample_ids: list[str], eigenvalues: np.ndarray, scores: np.ndarray,
              n_variants: int, pcs_tsv: Path, pca_json: Path,
              ancestry_clusters: dict | None = None) -> None:
    """The private PC table (one row per PCA sample) and the aggregate PCA summary, with the
    ancestry clustering summary (``requested``, ``n_clusters``, ``sizes``) when there is one."""
    table = pd.DataFrame(scores, columns=[f"PC{k + 1}" for k in range(scores.shape[1])])
    table.insert(0, "sample_id", sample_ids)
    write_tsv(pcs_tsv, table, private=True, float_format="%.10g")
    write_json(pca_json, {"n_samples": len(sample_ids), "n_variants": int(n_variants),
                          "eigenvalues": [float(v) for v in eigenvalues],
                          "ancestry_clusters": ancestry_clusters})
