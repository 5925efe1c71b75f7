"""Variant QC per chunk, on the samples kept by sample QC (QC-passed and unrelated).

Metrics over kept samples: call rate, ALT frequency, MAF, MAC; HWE exact mid-p (PLINK 2
``--hardy midp``) on autosomes and the chrX PARs over all kept samples, on non-PAR chrX over kept
females only (males are hemizygous), not tested on chrY/MT (NA); differential missingness per
disease: Fisher exact p of missing/called x case/control among kept samples with a known
status (plink1.9 ``--test-missing``), the smallest p over diseases and its disease.

Reason codes, first failing in this order: ``duplicate`` (same chrom, pos, REF and ALT as an
earlier variant of the chunk, or the same ID other than "."; the first one is kept, as
``plink2 --rm-dup force-first``; chunks are regions, so equal positions never span chunks),
``all_missing``, ``monomorphic`` (no minor allele among kept calls), ``low_call_rate``,
``low_maf``, ``low_mac`` (MAC < ``mac``; 0 turns it off), ``hwe``, ``diff_missingness``
(p < ``diff_miss_p`` for any disease).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import read_bed
from cohortgen.io.files import write_tsv
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.kernels.hwe import hwe_exact_midp
from cohortgen.kernels.stats import fisher_exact_2x2, genotype_counts
from cohortgen.qc.keep import read_keep, sample_mask
from cohortgen.qc.regions import contig_classes
from cohortgen.qc.variant_stats import FEMALE, count_table


@dataclass(frozen=True)
class VariantThresholds:
    """Floors for a variant to pass: call rate, MAF, MAC, HWE mid-p, differential-missingness p."""

    call_rate: float
    maf: float
    hwe_midp: float
    mac: int = 0
    diff_miss_p: float = 1e-5


def variant_metrics(counts: np.ndarray) -> pd.DataFrame:
    """Call rate, ALT frequency, MAF, MAC and HWE mid-p from (n_variants, 4) genotype counts
    (:data:`cohortgen.kernels.stats.COUNT_COLUMNS`); frequencies are NaN when nothing is called."""
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


def hwe_by_locus(packed: np.ndarray, kept: np.ndarray, female: np.ndarray,
                 classes: np.ndarray, all_counts: np.ndarray) -> np.ndarray:
    """HWE mid-p per variant: kept samples (autosomes, PAR), kept females (non-PAR X), NaN on
    chrY, MT and other contigs."""
    p = hwe_exact_midp(all_counts[:, 1], all_counts[:, 0], all_counts[:, 2])
    on_x = classes == "x"
    if on_x.any():
        fem = genotype_counts(packed[on_x], kept.size, kept & female)
        p[on_x] = hwe_exact_midp(fem[:, 1], fem[:, 0], fem[:, 2])
    p[~np.isin(classes, ["auto", "x", "par"])] = np.nan
    return p


def diff_missingness(packed: np.ndarray, kept: np.ndarray,
                     status: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Smallest Fisher p of missingness vs case status over diseases, and that disease.

    status: float frame, one 0/1/NaN column per disease, rows aligned to the .fam. Returns
    (p float64 (m,), 1.0 when nothing is tested; disease object (m,), "" when p is 1)."""
    m, n = packed.shape[0], kept.size
    best_p = np.ones(m)
    best = np.full(m, "", dtype=object)
    for disease in status.columns:
        values = status[disease].to_numpy()
        cases = genotype_counts(packed, n, kept & (values == 1))
        controls = genotype_counts(packed, n, kept & (values == 0))
        p = fisher_exact_2x2(cases[:, 3], cases[:, :3].sum(axis=1),
                             controls[:, 3], controls[:, :3].sum(axis=1))
        better = p < best_p
        best_p[better], best[better] = p[better], disease
    return best_p, best


def duplicate_mask(bim: pd.DataFrame) -> np.ndarray:
    """True for a variant repeating an earlier one's (chrom, pos, a1, a2) or ID (not ".")."""
    same_site = bim.duplicated(subset=["chrom", "pos", "a1", "a2"], keep="first").to_numpy()
    named = bim["id"].astype(str) != "."
    same_id = (bim["id"].duplicated(keep="first") & named).to_numpy()
    return same_site | same_id


def failing_reason(metrics: pd.DataFrame, thresholds: VariantThresholds) -> np.ndarray:
    """The first failing reason code per variant ('' when it passes)."""
    checks = [
        ("duplicate", metrics["duplicate"]),
        ("all_missing", ~(metrics["call_rate"] > 0)),
        ("monomorphic", ~(metrics["mac"] > 0)),
        ("low_call_rate", ~(metrics["call_rate"] >= thresholds.call_rate)),
        ("low_maf", ~(metrics["maf"] >= thresholds.maf)),
        ("low_mac", ~(metrics["mac"] >= thresholds.mac)),
        ("hwe", metrics["hwe_midp"] < thresholds.hwe_midp),
        ("diff_missingness", metrics["diff_miss_p"] < thresholds.diff_miss_p),
    ]
    reason = np.full(len(metrics), "", dtype=object)
    for code, failed in reversed(checks):
        reason = np.where(np.asarray(failed, dtype=bool), code, reason)
    return reason


def variant_qc_table(packed: np.ndarray, bim: pd.DataFrame, kept: np.ndarray,
                     sheet: pd.DataFrame, thresholds: VariantThresholds,
                     genome_build: str) -> pd.DataFrame:
    """Per-variant QC table: identity, counts and metrics over kept samples, ``reason``, ``pass``.

    sheet: phenotype frame with ``sex`` and disease columns, rows aligned to the .fam samples."""
    counts = genotype_counts(packed, kept.size, kept)
    metrics = variant_metrics(counts)
    classes = contig_classes(bim["chrom"].to_numpy(str), bim["pos"].to_numpy(), genome_build)
    female = sheet["sex"].to_numpy() == FEMALE
    metrics["hwe_midp"] = hwe_by_locus(packed, kept, female, classes, counts)
    metrics["diff_miss_p"], metrics["diff_miss_disease"] = diff_missingness(
        packed, kept, sheet.drop(columns="sex"))
    metrics["duplicate"] = duplicate_mask(bim)
    table = pd.concat([count_table(bim, counts), metrics], axis=1)
    table["reason"] = failing_reason(metrics, thresholds)
    table["pass"] = table["reason"] == ""
    return table


def variant_qc_chunk(prefix: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
                     thresholds: VariantThresholds, genome_build: str,
                     variants_tsv: Path) -> pd.DataFrame:
    """Write the chunk's per-variant QC table (metrics, ``pass``, ``reason``)."""
    packed, bim, fam = read_bed(Path(prefix))
    samples = fam["iid"].astype(str).tolist()
    kept = sample_mask(samples, read_keep(keep_txt))
    sheet = read_phenotypes(Path(phenotypes), diseases, [])
    sheet = sheet[["sex", *diseases]].reindex(pd.Index(samples, dtype="string"))
    table = variant_qc_table(packed, bim, kept, sheet, thresholds, genome_build)
    write_tsv(variants_tsv, table)
    return table
