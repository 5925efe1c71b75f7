"""Ancestry PCA (gather step): LD-pruned common QC-passed variants of every chunk, kept samples.

Candidates: variants passing variant QC with MAF >= ``min_maf``, outside long-range LD regions
(when the build has a verified list), pruned as PLINK ``--indep-pairwise`` per contig. Memory
holds the common candidates of the genome as packed bytes (n_samples / 4 bytes per variant).
Then randomized PCA (PLINK 2 ``--pca`` scaling) on the kept samples. Outputs: ``pcs.tsv``
(private; sample_id, PC1..PCk unit-norm eigenvectors as PLINK's .eigenvec) and ``pca.json``
(eigenvalues and variant counts: aggregates only).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import read_bed
from cohortgen.io.files import read_tsv, write_json, write_tsv
from cohortgen.kernels.ld import ld_prune
from cohortgen.kernels.pca import randomized_pca
from cohortgen.qc.regions import has_long_range_ld_regions, in_long_range_ld
from cohortgen.qc.sample_qc import read_keep
from cohortgen.qc.variant_qc import sample_mask


@dataclass(frozen=True)
class PcaSettings:
    """Number of PCs, MAF floor, LD-pruning window (variants), step and r², seed, genome build."""

    n_pcs: int = 10
    min_maf: float = 0.05
    ld_window: int = 50
    ld_step: int = 5
    ld_r2: float = 0.2
    seed: int = 42
    genome_build: str = "GRCh38"


def pca_candidates(prefix: Path, variant_qc_tsv: Path, settings: PcaSettings):
    """One chunk's PCA candidates: (contig array, positions int64, packed uint8 rows)."""
    packed, bim, _ = read_bed(Path(prefix))
    qc = read_tsv(variant_qc_tsv, dtype={"chrom": str, "id": str})
    use = qc["pass"].to_numpy(bool) & (qc["maf"].to_numpy(float) >= settings.min_maf)
    chrom, pos = bim["chrom"].to_numpy(str), bim["pos"].to_numpy(np.int64)
    if has_long_range_ld_regions(settings.genome_build):
        use &= ~in_long_range_ld(chrom, pos, settings.genome_build)
    return chrom[use], pos[use], np.ascontiguousarray(packed[use])


def pruned_by_contig(prefixes: list[Path], variant_qc_paths: list[Path], n_samples: int,
                     keep: np.ndarray, settings: PcaSettings) -> Iterator[np.ndarray]:
    """Packed rows kept by LD pruning, one array per contig (pruned over the whole contig, so
    the result does not depend on how the genome was chunked)."""
    pending: dict[str, list] = {}
    for prefix, qc_path in zip(prefixes, variant_qc_paths, strict=True):
        chrom, pos, packed = pca_candidates(prefix, qc_path, settings)
        for contig in dict.fromkeys(chrom):
            rows = chrom == contig
            pending.setdefault(contig, []).append((pos[rows], packed[rows]))
    for parts in pending.values():
        pos = np.concatenate([p for p, _ in parts])
        packed = np.concatenate([b for _, b in parts])
        order = np.argsort(pos, kind="stable")
        pos, packed = pos[order], np.ascontiguousarray(packed[order])
        kept = ld_prune(packed, n_samples, pos, settings.ld_window, settings.ld_step,
                        settings.ld_r2, sample_mask=keep)
        yield packed[kept]


def compute_pcs(prefixes: list[Path], variant_qc_paths: list[Path], keep_txt: Path,
                settings: PcaSettings, pcs_tsv: Path, pca_json: Path) -> dict:
    """Write the private PC table and the PCA summary; return the summary."""
    fam = read_bed(Path(prefixes[0]), variant_slice=slice(0, 0))[2]
    samples = fam["iid"].astype(str).tolist()
    keep = sample_mask(samples, read_keep(keep_txt))
    packed = np.concatenate(list(pruned_by_contig(prefixes, variant_qc_paths, len(samples),
                                                  keep, settings)))
    idx = np.flatnonzero(keep).astype(np.int64)
    n_pcs = min(settings.n_pcs, len(idx) - 1, len(packed))
    eigenvalues, scores, _ = randomized_pca(packed, len(samples), idx, n_components=n_pcs,
                                            seed=settings.seed)
    table = pd.DataFrame(scores, columns=[f"PC{k + 1}" for k in range(n_pcs)])
    table.insert(0, "sample_id", [samples[i] for i in idx])
    write_tsv(pcs_tsv, table, private=True, float_format="%.10g")
    summary = {"n_samples": len(idx), "n_variants": int(len(packed)),
               "eigenvalues": [float(v) for v in eigenvalues],
               "long_range_ld_excluded": has_long_range_ld_regions(settings.genome_build)}
    write_json(pca_json, summary)
    return summary
