"""Variant QC per chunk, on the samples kept by sample QC: call rate, MAF, HWE mid-p.

Reason codes, first failing in this order: ``monomorphic`` (no minor allele among kept samples,
or all calls missing), ``low_call_rate``, ``low_maf``, ``hwe``. Statistics are computed on all
kept samples (unrelated-only HWE comes with relatedness QC).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import read_bed
from cohortgen.io.files import write_tsv
from cohortgen.kernels.hwe import hwe_exact_midp
from cohortgen.kernels.stats import genotype_counts
from cohortgen.qc.sample_qc import read_keep
from cohortgen.qc.variant_stats import count_table


@dataclass(frozen=True)
class VariantThresholds:
    """Minimum call rate, minimum MAF and minimum HWE mid-p for a variant to pass."""

    call_rate: float
    maf: float
    hwe_midp: float


def sample_mask(fam_iids: list[str], keep: list[str]) -> np.ndarray:
    """bool per .fam sample: listed in ``keep``."""
    return np.isin(np.array(fam_iids, dtype=object), np.array(keep, dtype=object))


def variant_metrics(counts: np.ndarray) -> pd.DataFrame:
    """Call rate, ALT frequency, MAF, MAC and HWE mid-p from (n_variants, 4) genotype counts."""
    hom_alt, het, hom_ref, missing = (counts[:, k].astype(np.int64) for k in range(4))
    n_called = hom_alt + het + hom_ref
    alt_count = 2 * hom_alt + het
    with np.errstate(invalid="ignore", divide="ignore"):
        call_rate = n_called / (n_called + missing)
        alt_freq = alt_count / (2 * n_called)
    mac = np.minimum(alt_count, 2 * n_called - alt_count)
    return pd.DataFrame({"call_rate": call_rate, "alt_freq": alt_freq,
                         "maf": np.minimum(alt_freq, 1 - alt_freq), "mac": mac,
                         "hwe_midp": hwe_exact_midp(het, hom_alt, hom_ref)})


def failing_reason(metrics: pd.DataFrame, thresholds: VariantThresholds) -> np.ndarray:
    """The first failing reason code per variant ('' when it passes)."""
    checks = [
        ("monomorphic", ~(metrics["mac"] > 0)),
        ("low_call_rate", ~(metrics["call_rate"] >= thresholds.call_rate)),
        ("low_maf", ~(metrics["maf"] >= thresholds.maf)),
        ("hwe", ~(metrics["hwe_midp"] >= thresholds.hwe_midp)),
    ]
    reason = np.full(len(metrics), "", dtype=object)
    for code, failed in reversed(checks):
        reason = np.where(failed.to_numpy(), code, reason)
    return reason


def variant_qc_chunk(prefix: Path, keep_txt: Path, thresholds: VariantThresholds,
                     variants_tsv: Path) -> pd.DataFrame:
    """Write the chunk's per-variant QC table (metrics, ``pass``, ``reason``)."""
    packed, bim, fam = read_bed(Path(prefix))
    mask = sample_mask(fam["iid"].astype(str).tolist(), read_keep(keep_txt))
    counts = genotype_counts(packed, len(fam), mask)
    metrics = variant_metrics(counts)
    table = pd.concat([count_table(bim, counts), metrics], axis=1)
    table["reason"] = failing_reason(metrics, thresholds)
    table["pass"] = table["reason"] == ""
    write_tsv(variants_tsv, table)
    return table
