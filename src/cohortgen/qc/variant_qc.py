"""Variant QC per chunk, on the samples kept by sample QC (QC-passed and unrelated).

Metrics over kept samples, each variant counted by its locus's ploidy as PLINK 2 (2.00a3.5
``--missing``, ``--freq counts``; see :func:`ploidy_masks`): call rate over the kept samples
expected to carry a call (kept males on chrY, every kept sample elsewhere), ALT frequency, MAF
and MAC over alleles with haploid calls counting one allele (males on non-PAR chrX and chrY,
everyone on MT); HWE exact mid-p (PLINK 2 ``--hardy midp``; column ``hwe_test`` names the test,
see :func:`hwe_by_locus`): Wigginton's test over all kept samples on autosomes and the chrX
PARs, the Graffelman-Weir test over kept females and hemizygous kept males on non-PAR chrX
(PLINK 2's ``.hardy.x``), not tested on chrY/MT (NA); with ``qc.hwe_population``
``largest_cluster`` or ``per_cluster`` the same tests within ancestry clusters
(:func:`cohortgen.qc.ancestry.hwe_groups`), ``hwe_midp`` the smallest over the clusters tested,
so a variant fails if it fails in any of them (no multiple-testing correction, as per-ancestry
QC pipelines do); differential missingness per disease:
Fisher exact p of missing/called x case/control among the kept samples expected to carry a call
with a known status (plink1.9 ``--test-missing``, which counts males only on chrY), the smallest
p over diseases and its disease.

Reason codes, first failing in this order: ``duplicate`` (same chrom, pos and REF/ALT pair, in
either order, as an earlier variant of the chunk; chunks are regions, so equal positions never
span chunks),
``duplicate_id`` (an ID other than "." seen at an earlier variant, in this chunk or an earlier
one in plan order: the gather step :func:`write_repeated_ids` lists each repeated ID with the
site of its first occurrence, and every chunk keeps only that site), both keeping the first
occurrence as ``plink2 --rm-dup force-first`` does; ``all_missing``, ``monomorphic`` (no minor
allele among kept calls), ``low_call_rate``, ``low_maf``, ``low_mac`` (MAC < ``mac``; 0 turns it
off), ``hwe``, ``diff_missingness`` (p < ``diff_miss_p`` for any disease).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import read_bed, read_bim
from cohortgen.io.files import read_tsv, write_tsv
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.kernels.hwe import hwe_exact_midp
from cohortgen.kernels.hwe_x import hwe_x_midp
from cohortgen.kernels.stats import fisher_exact_2x2, genotype_counts
from cohortgen.qc.ancestry import HweSettings, hwe_groups, read_clusters
from cohortgen.qc.keep import read_keep, sample_mask
from cohortgen.qc.regions import contig_classes
from cohortgen.qc.variant_stats import FEMALE, MALE, allele_counts, count_table


@dataclass(frozen=True)
class VariantThresholds:
    """Floors for a variant to pass: call rate, MAF, MAC, HWE mid-p, differential-missingness p."""

    call_rate: float
    maf: float
    hwe_midp: float
    mac: int = 0
    diff_miss_p: float = 1e-5


PLINK2_HAPLOID_HET = 0.5
"""ALT alleles of a haploid het call (one allele) in ``plink2 --freq`` counts; ingest sets
such calls missing, so they only occur in filesets written elsewhere."""


def ploidy_masks(contig_class: str, kept: np.ndarray,
                 sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(diploid, haploid): bool (n,) masks of the kept samples whose calls count two alleles
    and one allele at a locus of ``contig_class`` (:func:`cohortgen.qc.regions.contig_classes`),
    as PLINK 2: non-PAR chrX, males haploid and females and unknown sex diploid; chrY, males
    haploid and the others not counted (no call expected); MT, everyone haploid; elsewhere
    everyone diploid. sex: per .fam sample, 1 male, 2 female, anything else unknown."""
    male = kept & (sex == MALE)
    none = np.zeros_like(kept)
    if contig_class == "x":
        return kept & ~male, male
    if contig_class == "y":
        return none, male
    if contig_class == "mt":
        return none, kept
    return kept, none


def class_counts(packed: np.ndarray, n_samples: int, classes: np.ndarray,
                 mask_of: Callable[[str], np.ndarray]) -> np.ndarray:
    """Genotype counts int64 (m, 4) (:data:`cohortgen.kernels.stats.COUNT_COLUMNS`) of each
    variant over the samples ``mask_of(contig class)`` (bool (n_samples,)) selects; rows whose
    mask selects nobody are zeros without a pass over them."""
    out = np.zeros((packed.shape[0], 4), dtype=np.int64)
    for contig_class in pd.unique(classes):
        mask = mask_of(contig_class)
        if mask.any():
            rows = classes == contig_class
            block = packed if rows.all() else packed[rows]
            out[rows] = genotype_counts(block, n_samples, mask)
    return out


def ploidy_counts(packed: np.ndarray, kept: np.ndarray, sex: np.ndarray,
                  classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Genotype counts int64 (m, 4) of each variant over the kept samples counted diploid and
    over those counted haploid at its locus (:func:`ploidy_masks`); their sum counts the kept
    samples expected to carry a call."""
    return tuple(class_counts(packed, kept.size, classes,
                              lambda c, k=k: ploidy_masks(c, kept, sex)[k]) for k in (0, 1))


def variant_metrics(diploid: np.ndarray, haploid: np.ndarray | None = None) -> pd.DataFrame:
    """Call rate, ALT frequency, MAF, MAC (float64: a haploid het call holds half an ALT allele)
    and HWE mid-p from genotype counts (m, 4) (:data:`cohortgen.kernels.stats.COUNT_COLUMNS`)
    of the samples counted diploid and haploid (:func:`ploidy_counts`; no haploid samples when
    None); frequencies are NaN when nothing is called."""
    if haploid is None:
        haploid = np.zeros_like(diploid)
    counts = diploid + haploid
    n_called, missing = counts[:, :3].sum(axis=1), counts[:, 3]
    alt, total = allele_counts(diploid, haploid, PLINK2_HAPLOID_HET)
    with np.errstate(invalid="ignore", divide="ignore"):
        call_rate = n_called / (n_called + missing)
        alt_freq = alt / total
    return pd.DataFrame({"call_rate": call_rate, "alt_freq": alt_freq,
                         "maf": np.minimum(alt_freq, 1 - alt_freq),
                         "mac": np.minimum(alt, total - alt),
                         "hwe_midp": hwe_exact_midp(counts[:, 1], counts[:, 0], counts[:, 2])})


HWE_TESTS = {"auto": "exact", "par": "exact", "x": "exact_x"}
"""HWE test per contig class (:func:`cohortgen.qc.regions.contig_classes`); others: ``none``."""


def hwe_by_locus(packed: np.ndarray, kept: np.ndarray, sex: np.ndarray, classes: np.ndarray,
                 exact_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HWE mid-p per variant and the test used (:data:`HWE_TESTS`).

    ``exact`` over kept samples on autosomes and the PARs (``exact_p``, float64 (m,): the
    ``hwe_midp`` of :func:`variant_metrics`); ``exact_x`` (Graffelman-Weir) on non-PAR chrX
    over kept females (genotypes) and kept males (hemizygous alleles; male het calls and
    samples of unknown sex are left out); NaN and ``none`` on chrY, MT and other contigs.
    sex: per .fam sample, 1 male, 2 female, anything else unknown."""
    p = np.array(exact_p, dtype=np.float64)
    on_x = classes == "x"
    if on_x.any():
        fem = genotype_counts(packed[on_x], kept.size, kept & (sex == FEMALE))
        male = genotype_counts(packed[on_x], kept.size, kept & (sex == MALE))
        p[on_x] = hwe_x_midp(fem[:, 1], fem[:, 0], fem[:, 2], male[:, 0], male[:, 2])
    test = np.array([HWE_TESTS.get(c, "none") for c in classes], dtype=object)
    p[test == "none"] = np.nan
    return p, test


def hwe_within_groups(packed: np.ndarray, groups: list[np.ndarray], kept: np.ndarray,
                      kept_exact_p: np.ndarray, sex: np.ndarray,
                      classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest HWE mid-p per variant over sample groups and the test used (:func:`hwe_by_locus`
    within each group; NaN where untested). groups: bool masks (n,) of kept samples
    (:func:`cohortgen.qc.ancestry.hwe_groups`); a group equal to ``kept`` reuses
    ``kept_exact_p``, the autosomal mid-p over all kept samples."""
    smallest, test = None, None
    for group in groups:
        if np.array_equal(group, kept):
            exact_p = kept_exact_p
        else:
            counts = sum(ploidy_counts(packed, group, sex, classes))
            exact_p = hwe_exact_midp(counts[:, 1], counts[:, 0], counts[:, 2])
        p, test = hwe_by_locus(packed, group, sex, classes, exact_p)
        smallest = p if smallest is None else np.fmin(smallest, p)
    return smallest, test


def diff_missingness(packed: np.ndarray, kept: np.ndarray, status: pd.DataFrame,
                     classes: np.ndarray | None = None,
                     sex: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Smallest Fisher p of missingness vs case status over diseases, and that disease.

    Counts the kept samples expected to carry a call at each variant's locus (:func:`ploidy_masks`
    of ``classes``, contig classes (m,), with ``sex`` (n,): males only on chrY, as plink1.9
    ``--test-missing``); every kept sample when ``classes`` is None. status: float frame, one
    0/1/NaN column per disease, rows aligned to the .fam. Returns (p float64 (m,), 1.0 when
    nothing is tested; disease object (m,), "" when p is 1)."""
    m, n = packed.shape[0], kept.size
    if classes is None:
        classes, sex = np.full(m, "auto", dtype=object), np.zeros(n)

    def expected(contig_class: str) -> np.ndarray:
        diploid, haploid = ploidy_masks(contig_class, kept, sex)
        return diploid | haploid

    best_p = np.ones(m)
    best = np.full(m, "", dtype=object)
    for disease in status.columns:
        values = status[disease].to_numpy()
        cases = class_counts(packed, n, classes, lambda c, v=values: expected(c) & (v == 1))
        controls = class_counts(packed, n, classes, lambda c, v=values: expected(c) & (v == 0))
        p = fisher_exact_2x2(cases[:, 3], cases[:, :3].sum(axis=1),
                             controls[:, 3], controls[:, :3].sum(axis=1))
        better = p < best_p
        best_p[better], best[better] = p[better], disease
    return best_p, best


def duplicate_site_mask(bim: pd.DataFrame) -> np.ndarray:
    """True for a variant repeating an earlier one's site in the chunk: the same chrom, pos and
    allele pair in either order (G/A after A/G is the same biallelic site with its alleles
    swapped). Split multi-allelic records (A/C, A/G at one position) are distinct sites."""
    a1, a2 = bim["a1"].astype(str).to_numpy(), bim["a2"].astype(str).to_numpy()
    swapped = a1 > a2
    site = pd.DataFrame({"chrom": bim["chrom"].to_numpy(), "pos": bim["pos"].to_numpy(),
                         "allele_lo": np.where(swapped, a2, a1),
                         "allele_hi": np.where(swapped, a1, a2)})
    return site.duplicated(keep="first").to_numpy()


def repeated_id_first_sites(bim_paths: list[Path]) -> pd.DataFrame:
    """IDs (not ".") found more than once over the chunks' .bim files, in plan order: one row
    per ID with the site of its first occurrence (chrom, pos, ref, alt) and n_occurrences."""
    bims = pd.concat([read_bim(Path(p))[["id", "chrom", "pos", "a2", "a1"]] for p in bim_paths],
                     ignore_index=True).rename(columns={"a2": "ref", "a1": "alt"})
    bims = bims[bims["id"] != "."]
    counts = bims["id"].value_counts()
    first = bims[~bims["id"].duplicated(keep="first")]
    first = first[first["id"].map(counts) > 1]
    return first.assign(n_occurrences=first["id"].map(counts).to_numpy()).reset_index(drop=True)


def duplicate_id_mask(bim: pd.DataFrame, first_sites: pd.DataFrame) -> np.ndarray:
    """True for a variant whose ID (not ".") is not at its first occurrence: repeated earlier in
    the chunk, or listed in ``first_sites`` (:func:`repeated_id_first_sites`) with another
    site. Chunks are disjoint regions, so a site lies in one chunk only."""
    named = (bim["id"] != ".").to_numpy()
    earlier_in_chunk = bim["id"].duplicated(keep="first").to_numpy()
    first = first_sites.set_index("id").reindex(bim["id"])
    other_site = first["chrom"].notna().to_numpy() & ~(
        (first["chrom"].to_numpy() == bim["chrom"].to_numpy())
        & (first["pos"].to_numpy() == bim["pos"].to_numpy())
        & (first["ref"].to_numpy() == bim["a2"].to_numpy())
        & (first["alt"].to_numpy() == bim["a1"].to_numpy()))
    return named & (earlier_in_chunk | other_site)


def read_first_sites(path: Path) -> pd.DataFrame:
    """Read the table of :func:`repeated_id_first_sites` (IDs, chromosomes, alleles as text)."""
    return read_tsv(path, dtype={"id": str, "chrom": str, "pos": np.int64, "ref": str,
                                 "alt": str})


def write_repeated_ids(bim_paths: list[Path], out_tsv: Path) -> pd.DataFrame:
    """Write :func:`repeated_id_first_sites` of the chunks (variant-level, shareable)."""
    table = repeated_id_first_sites(bim_paths)
    write_tsv(out_tsv, table)
    return table


def failing_reason(metrics: pd.DataFrame, thresholds: VariantThresholds) -> np.ndarray:
    """The first failing reason code per variant ('' when it passes)."""
    checks = [
        ("duplicate", metrics["duplicate"]),
        ("duplicate_id", metrics["duplicate_id"]),
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
                     sheet: pd.DataFrame, thresholds: VariantThresholds, genome_build: str,
                     first_sites: pd.DataFrame,
                     hwe_masks: list[np.ndarray] | None = None) -> pd.DataFrame:
    """Per-variant QC table: identity, genotype counts over the kept samples expected to carry a
    call (:func:`ploidy_counts`), metrics (module docstring), ``reason``, ``pass``.

    sheet: phenotype frame with ``sex`` and disease columns, rows aligned to the .fam samples;
    first_sites: IDs repeated over all chunks (:func:`repeated_id_first_sites`); hwe_masks: the
    sample masks HWE is tested within (:func:`hwe_within_groups`; None: all kept samples)."""
    classes = contig_classes(bim["chrom"].to_numpy(str), bim["pos"].to_numpy(), genome_build)
    sex = sheet["sex"].to_numpy()
    diploid, haploid = ploidy_counts(packed, kept, sex, classes)
    counts = diploid + haploid
    metrics = variant_metrics(diploid, haploid)
    metrics["hwe_midp"], metrics["hwe_test"] = hwe_within_groups(
        packed, [kept] if hwe_masks is None else hwe_masks, kept,
        metrics["hwe_midp"].to_numpy(), sex, classes)
    metrics["diff_miss_p"], metrics["diff_miss_disease"] = diff_missingness(
        packed, kept, sheet.drop(columns="sex"), classes, sex)
    metrics["duplicate"] = duplicate_site_mask(bim)
    metrics["duplicate_id"] = duplicate_id_mask(bim, first_sites)
    table = pd.concat([count_table(bim, counts), metrics], axis=1)
    table["reason"] = failing_reason(metrics, thresholds)
    table["pass"] = table["reason"] == ""
    return table


def variant_qc_chunk(prefix: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
                     thresholds: VariantThresholds, genome_build: str, repeated_ids_tsv: Path,
                     variants_tsv: Path, hwe: HweSettings | None = None) -> pd.DataFrame:
    """Write the chunk's per-variant QC table (metrics, ``pass``, ``reason``); HWE as ``hwe``
    says (None: over all kept samples)."""
    packed, bim, fam = read_bed(Path(prefix))
    samples = fam["iid"].astype(str).tolist()
    kept = sample_mask(samples, read_keep(keep_txt))
    groups = None
    if hwe is not None and hwe.population != "all":
        clusters = read_clusters(hwe.samples_tsv, samples, kept)
        groups = hwe_groups(hwe.population, clusters, kept, hwe.min_cluster_size)
    sheet = read_phenotypes(Path(phenotypes), diseases, [])
    sheet = sheet[["sex", *diseases]].reindex(pd.Index(samples, dtype="string"))
    table = variant_qc_table(packed, bim, kept, sheet, thresholds, genome_build,
                             read_first_sites(repeated_ids_tsv), groups)
    write_tsv(variants_tsv, table)
    return table
