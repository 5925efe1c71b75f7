"""The pruned common set (gather step): one private fileset used by heterozygosity, KING and PCA.

Samples used for the variant filters, frequencies and r²: those in the phenotype sheet with
sample call rate >= ``min_call_rate`` ("preliminary" samples). Candidate variants: autosomal,
call rate >= ``variant_call_rate``, MAF >= ``min_maf``, HWE mid-p >= ``hwe_midp`` over the
preliminary samples, outside long-range LD regions (when the build has a verified list), then
pruned as PLINK ``--indep-pairwise`` per contig (whole contig, so the result does not depend on
the chunking). Chunks come in plan order (contig-sorted), so a contig is pruned as soon as the
next one starts: memory holds the common candidates of one contig plus the pruned rows.

Outputs ``qc/pruned.{bed,bim,fam}`` (private; every sample of the chunks' .fam) and
``qc/pruned.json`` (variant counts: aggregates only).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.files import write_json
from cohortgen.kernels.ld import ld_prune
from cohortgen.kernels.stats import genotype_counts
from cohortgen.qc.regions import contig_classes, has_long_range_ld_regions, in_long_range_ld
from cohortgen.qc.variant_qc import variant_metrics


@dataclass(frozen=True)
class PruneSettings:
    """Variant filters (call rate, MAF, HWE mid-p floors), LD window/step/r², genome build."""

    variant_call_rate: float = 0.95
    min_maf: float = 0.05
    hwe_midp: float = 1e-6
    ld_window: int = 50
    ld_step: int = 5
    ld_r2: float = 0.2
    genome_build: str = "GRCh38"


def common_candidates(packed: np.ndarray, bim: pd.DataFrame, samples: np.ndarray,
                      settings: PruneSettings) -> np.ndarray:
    """bool per chunk variant: a candidate for the pruned set (see the module docstring)."""
    chrom, pos = bim["chrom"].to_numpy(str), bim["pos"].to_numpy(np.int64)
    metrics = variant_metrics(genotype_counts(packed, samples.size, samples))
    use = contig_classes(chrom, pos, settings.genome_build) == "auto"
    use &= (metrics["call_rate"].to_numpy() >= settings.variant_call_rate)
    use &= (metrics["maf"].to_numpy() >= settings.min_maf)
    use &= (metrics["hwe_midp"].to_numpy() >= settings.hwe_midp)
    if has_long_range_ld_regions(settings.genome_build):
        use &= ~in_long_range_ld(chrom, pos, settings.genome_build)
    return use


def candidates_by_contig(prefixes: list[Path], samples: np.ndarray,
                         settings: PruneSettings) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """(packed rows, bim rows) of the candidates of each contig, position-sorted."""
    pending: list[tuple[np.ndarray, pd.DataFrame]] = []

    def flush():
        packed = np.concatenate([p for p, _ in pending])
        bim = pd.concat([b for _, b in pending], ignore_index=True)
        order = np.argsort(bim["pos"].to_numpy(np.int64), kind="stable")
        return np.ascontiguousarray(packed[order]), bim.iloc[order].reset_index(drop=True)

    for prefix in prefixes:
        packed, bim, _ = read_bed(Path(prefix))
        use = common_candidates(packed, bim, samples, settings)
        for contig in dict.fromkeys(bim["chrom"].astype(str)):
            rows = use & (bim["chrom"].astype(str) == contig).to_numpy()
            if pending and str(pending[-1][1]["chrom"].iloc[0]) != contig:
                yield flush()
                pending = []
            if rows.any():
                pending.append((packed[rows], bim[rows]))
    if pending:
        yield flush()


def prune_common(prefixes: list[Path], samples: np.ndarray, settings: PruneSettings):
    """(packed uint8 (m, n/4), bim (m rows), candidates per contig dict) of the pruned set."""
    kept_packed, kept_bim, n_candidates = [], [], {}
    for packed, bim in candidates_by_contig(prefixes, samples, settings):
        keep = ld_prune(packed, samples.size, bim["pos"].to_numpy(np.int64), settings.ld_window,
                        settings.ld_step, settings.ld_r2, sample_mask=samples)
        contig = str(bim["chrom"].iloc[0])
        n_candidates[contig] = n_candidates.get(contig, 0) + len(bim)
        kept_packed.append(packed[keep])
        kept_bim.append(bim[keep])
    if not kept_bim:
        return np.zeros((0, (samples.size + 3) // 4), np.uint8), None, n_candidates
    return np.concatenate(kept_packed), pd.concat(kept_bim, ignore_index=True), n_candidates


def select_pruned_set(prefixes: list[Path], samples: np.ndarray, settings: PruneSettings,
                      out_prefix: Path, summary_json: Path) -> dict:
    """Write the pruned fileset (private) and its summary; ``samples``: bool per .fam sample,
    the preliminary samples. Returns the summary."""
    fam = read_bed(Path(prefixes[0]), variant_slice=slice(0, 0))[2]
    packed, bim, n_candidates = prune_common(prefixes, samples, settings)
    if bim is None or len(bim) < 2:
        raise InputError(
            f"{out_prefix}: only {0 if bim is None else len(bim)} autosomal common variants "
            "survive the filters and LD pruning; sample QC needs more (check pca.min_maf, the "
            "qc thresholds and that the genotypes cover autosomes)")
    write_bed(Path(out_prefix), packed, bim, fam)
    summary = {"n_candidates": int(sum(n_candidates.values())), "n_pruned": len(bim),
               "n_samples_for_frequencies": int(samples.sum()),
               "long_range_ld_excluded": has_long_range_ld_regions(settings.genome_build),
               "pruned_per_contig": {str(k): int(v) for k, v in
                                     bim["chrom"].astype(str).value_counts(sort=False).items()}}
    write_json(summary_json, summary)
    return summary
