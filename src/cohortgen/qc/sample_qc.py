"""Sample QC (gather step): call rate, heterozygosity, sex check, relatedness, ancestry PCA.

Reason codes, the first failing one recorded, in this order:

* ``not_in_phenotype_sheet``;
* ``low_call_rate``: autosomal call rate < ``min_call_rate``; the samples passing so far are the
  "preliminary" samples, whose calls set every frequency below;
* ``het_outlier``: |F - mean| > ``het_sd`` SD (ddof 1, over preliminary samples), F as PLINK 2
  ``--het`` on the pruned autosomal set with frequencies from the preliminary samples;
* ``sex_mismatch``: a confident opposite chrX sex call, see :mod:`cohortgen.qc.sexcheck`
  (``sex_mismatch_action="flag"`` keeps them);
* ``sex_ambiguous``: chrX F between the female and male cut-offs, or a mismatch vetoed by chrY;
  only with ``sex_ambiguous_action="remove"`` (default: flagged, kept);
* ``related``: dropped from a pair with KING kinship > ``kinship_threshold`` (see
  :mod:`cohortgen.qc.relatedness`; a case for any disease counts as a case); only with
  ``relatives="remove"``: with ``"keep"`` (for the whole-genome regression) the pairs are still
  found, written and counted (``n_related``), and the relatives stay in ``keep.txt``;
* ``pca_outlier``: only with ``pca_outlier_action="remove"`` (default: flagged, kept).

Unless ``hwe_population`` is ``all``, each PCA sample is given an ancestry cluster
(:func:`cohortgen.qc.ancestry.ancestry_clusters`, ``ancestry_clusters`` a number or ``auto``;
column ``ancestry_cluster`` of ``samples.tsv``, 1 = largest, empty for other samples and when
not clustered) for variant QC's HWE test; ``pca.json`` holds the cluster sizes.

Outputs (private, 0600): ``samples.tsv`` (every metric and the decision), ``keep.txt``,
``related_pairs.tsv``, ``pcs.tsv`` (every sample that passes the checks above but for
relatedness: the PCA is fitted on the unrelated ones, a superset of the kept ones, and the
relatives are projected onto it, :mod:`cohortgen.qc.pca`); ``pca.json`` holds aggregates only.

Empty input stops with an :class:`InputError` naming the cause: no autosomal variant ingested,
no sample in the sheet with a good call rate, fewer than 2 samples or no variant for the PCA,
or no sample kept.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.bed import read_bed, read_fam
from cohortgen.io.files import write_tsv
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.kernels.heterozygosity import alt_freq, het_f
from cohortgen.qc.ancestry import ancestry_clusters, cluster_sizes, parse_n_clusters
from cohortgen.qc.keep import read_keep, sample_mask, write_keep
from cohortgen.qc.pca import PcaSettings, pca_outliers, pca_scores, write_pcs
from cohortgen.qc.relatedness import related_pair_table, unrelated_mask
from cohortgen.qc.sexcheck import sex_check
from cohortgen.qc.variant_stats import sum_partials

__all__ = ["SampleSettings", "read_keep", "sample_mask", "sample_qc"]

REASONS = ("not_in_phenotype_sheet", "low_call_rate", "het_outlier", "sex_mismatch",
           "sex_ambiguous", "related", "pca_outlier")
"""Sample reason codes in the order they are checked."""


@dataclass(frozen=True)
class SampleSettings:
    """Sample QC thresholds and actions (see the module docstring)."""

    min_call_rate: float = 0.95
    het_sd: float = 3.0
    sex_mismatch_action: str = "remove"
    sex_ambiguous_action: str = "flag"
    kinship_threshold: float = 0.0884
    pca_outlier_action: str = "flag"
    pca: PcaSettings = field(default_factory=PcaSettings)
    hwe_population: str = "all"
    ancestry_clusters: str = "auto"
    relatives: str = "remove"


@dataclass(frozen=True)
class SampleQcPaths:
    """Output paths of :func:`sample_qc`."""

    samples_tsv: Path
    keep_txt: Path
    related_pairs_tsv: Path
    pcs_tsv: Path
    pca_json: Path


def call_rates(partials: dict) -> tuple[np.ndarray, np.ndarray]:
    """(call rate, het rate) per sample over autosomes, float64 (n,), NaN without calls."""
    n_variants, missing = partials["auto_variants"], partials["auto_missing"]
    called = n_variants - missing
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(n_variants > 0, called / n_variants, np.nan),
                np.where(called > 0, partials["auto_het"] / called, np.nan))


def preliminary_samples(fam_path: Path, partial_paths: list[Path], phenotypes: Path,
                        min_call_rate: float) -> np.ndarray:
    """bool per .fam sample: in the sheet with call rate >= ``min_call_rate``."""
    samples = read_fam(Path(fam_path))["iid"].astype(str).tolist()
    sheet = read_phenotypes(Path(phenotypes), [], [])
    partials = sum_partials(partial_paths)
    call_rate, _ = call_rates(partials)
    return checked_preliminary(fam_path, sample_mask(samples, list(sheet.index)), call_rate,
                               min_call_rate, partials)


def checked_preliminary(fam_path: Path, in_sheet: np.ndarray, call_rate: np.ndarray,
                        min_call_rate: float, partials: dict) -> np.ndarray:
    """bool per .fam sample: in the sheet (``in_sheet``) with ``call_rate`` >= ``min_call_rate``.
    InputError when no autosomal variant was ingested or no sample qualifies."""
    if not partials["auto_variants"].any():
        raise InputError(
            f"{fam_path}: no autosomal variant reached sample QC (call rates, heterozygosity and "
            "relatedness need chromosomes 1-22): check the genotype file's contig names; "
            "chunks/*/ingest.json count the records excluded per reason")
    prelim = in_sheet & (call_rate >= min_call_rate)
    if not prelim.any():
        raise InputError(
            f"{fam_path}: no sample is fit for sample QC: {int(in_sheet.sum())} of "
            f"{in_sheet.size} samples are in the phenotype sheet and "
            f"{int((call_rate >= min_call_rate).sum())} have an autosomal call rate >= "
            f"{min_call_rate}; check that the sheet's sample IDs match the genotypes and "
            "qc.sample_call_rate")
    return prelim


def het_outliers(packed: np.ndarray, prelim: np.ndarray, het_sd: float):
    """(F float64 (n,), outlier bool (n,)): PLINK 2 --het F, frequencies from ``prelim``."""
    n = prelim.size
    freq = alt_freq(packed, n, prelim)
    *_, f = het_f(packed, n, np.ones(len(packed), dtype=bool), freq)
    ref = f[prelim]
    outlier = prelim & (np.abs(f - ref.mean()) > het_sd * ref.std(ddof=1))
    return f, outlier


def cluster_column(settings: SampleSettings, eigenvalues: np.ndarray, scores: np.ndarray,
                   pca_samples: np.ndarray, n: int) -> tuple[pd.array, dict | None]:
    """(ancestry cluster per .fam sample, Int64 (n,) with NA outside the PCA samples; the
    clustering summary for pca.json) when ``settings.hwe_population`` needs clusters, else
    (all NA, None)."""
    column = pd.array(np.full(n, pd.NA), dtype="Int64")
    if settings.hwe_population == "all":
        return column, None
    fit = ancestry_clusters(scores, eigenvalues, parse_n_clusters(settings.ancestry_clusters),
                            settings.pca.seed)
    column[pca_samples] = fit.labels
    return column, {"requested": str(settings.ancestry_clusters), "n_clusters": fit.n_clusters,
                    "sizes": cluster_sizes(fit.labels)}


def first_reason(failures: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The first failing reason of :data:`REASONS` per sample ('' when none fails)."""
    reason = np.full(n, "", dtype=object)
    for code in reversed(REASONS):
        if code in failures:
            reason = np.where(failures[code], code, reason)
    return reason


def check_pca_input(pruned_prefix: Path, n_samples: int, n_variants: int) -> None:
    """InputError unless ancestry PCA has at least 2 samples and 1 variant."""
    if n_samples < 2 or n_variants < 1:
        raise InputError(
            f"{pruned_prefix}: ancestry PCA needs at least 2 unrelated samples that pass the "
            f"call rate, heterozygosity and sex checks and 1 pruned variant; there are "
            f"{n_samples} and {n_variants}: check the qc thresholds in the config")


def check_kept(fam_path: Path, reason: np.ndarray) -> None:
    """InputError when sample QC keeps no sample (``reason``: '' for a kept sample), with the
    number of samples removed per reason (aggregates only)."""
    if (reason == "").any():
        return
    codes, counts = np.unique(reason.astype(str), return_counts=True)
    removed = ", ".join(f"{code}: {count}" for code, count in zip(codes, counts, strict=True))
    raise InputError(f"{fam_path}: sample QC removed all {reason.size} samples ({removed}); "
                     "check the qc thresholds in the config")


def sample_qc(fam_path: Path, partial_paths: list[Path], phenotypes: Path, diseases: list[str],
              covariates: list[str], pruned_prefix: Path, settings: SampleSettings,
              out: SampleQcPaths) -> pd.DataFrame:
    """Run sample QC and write the outputs listed in the module docstring; return the table."""
    samples = read_fam(Path(fam_path))["iid"].astype(str).tolist()
    n = len(samples)
    sheet = read_phenotypes(Path(phenotypes), diseases, covariates)
    in_sheet = sample_mask(samples, list(sheet.index))
    aligned = sheet.reindex(pd.Index(samples, dtype="string"))
    sex = aligned["sex"].fillna(0).to_numpy().astype(np.int64)
    is_case = (aligned[diseases] == 1).any(axis=1).to_numpy()
    partials = sum_partials(partial_paths)
    call_rate, het_rate = call_rates(partials)
    prelim = checked_preliminary(fam_path, in_sheet, call_rate, settings.min_call_rate, partials)
    packed, _, pruned_fam = read_bed(Path(pruned_prefix))
    if pruned_fam["iid"].astype(str).tolist() != samples:
        raise ValueError(f"{pruned_prefix}.fam does not list the samples of {fam_path}")
    f, het_out = het_outliers(packed, prelim, settings.het_sd)
    sex_table = sex_check(partials, sex)
    sex_failures = {code: sex_table[code].to_numpy() & prelim for code, action in
                    (("sex_mismatch", settings.sex_mismatch_action),
                     ("sex_ambiguous", settings.sex_ambiguous_action)) if action == "remove"}
    candidate = prelim & ~het_out
    for removed in sex_failures.values():
        candidate &= ~removed

    prelim_idx = np.flatnonzero(prelim).astype(np.int64)
    prelim_ids = [samples[i] for i in prelim_idx]
    pairs = related_pair_table(packed, n, prelim_idx, prelim_ids, settings.kinship_threshold)
    unrelated = unrelated_mask(pairs, samples, candidate, call_rate, is_case)
    pca_samples = np.flatnonzero(candidate & unrelated).astype(np.int64)
    relatives = np.flatnonzero(candidate & ~unrelated).astype(np.int64)
    check_pca_input(pruned_prefix, pca_samples.size, len(packed))
    eigenvalues, scores, projected = pca_scores(packed, n, pca_samples, settings.pca, relatives)
    outlier = np.zeros(n, dtype=bool)
    outlier[pca_samples] = pca_outliers(scores, settings.pca.outlier_sd)
    cluster, clustering = cluster_column(settings, eigenvalues, scores, pca_samples, n)

    failures = {"not_in_phenotype_sheet": ~in_sheet,
                "low_call_rate": ~(call_rate >= settings.min_call_rate),
                "het_outlier": het_out, **sex_failures}
    if settings.relatives == "remove":
        failures["related"] = ~unrelated
    if settings.pca_outlier_action == "remove":
        failures["pca_outlier"] = outlier
    reason = first_reason(failures, n)
    check_kept(fam_path, reason)
    n_related = pd.concat([pairs["id1"], pairs["id2"]]).value_counts()
    table = pd.concat([pd.DataFrame({
        "sample_id": samples, "sheet_sex": sex, "is_case": is_case, "call_rate": call_rate,
        "het_rate": het_rate, "het_f": f}), sex_table, pd.DataFrame({
        "n_related": n_related.reindex(samples, fill_value=0).to_numpy(np.int64),
        "pca_outlier": outlier, "ancestry_cluster": cluster, "keep": reason == "",
        "reason": reason})], axis=1)
    write_tsv(out.samples_tsv, table, private=True)
    write_keep(out.keep_txt, table.loc[table["keep"], "sample_id"])
    write_tsv(out.related_pairs_tsv, pairs, private=True)
    write_pcs([samples[i] for i in pca_samples], eigenvalues, scores, len(packed), out.pcs_tsv,
              out.pca_json, clustering, [samples[i] for i in relatives], projected)
    return table
