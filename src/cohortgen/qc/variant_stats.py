"""Per-chunk per-sample partial sums for sample QC, and the genotype-count helpers of variant QC.

Output: per-sample partial sums (private .npz; every array int64 or float64, shape
(n_samples,), summed over chunks by :func:`sum_partials`):

* ``auto_variants``, ``auto_missing``, ``auto_het``: autosomal variants seen, missing and het
  calls (sample call rate is autosomal);
* ``x_o_hom``, ``x_e_hom``, ``x_n_called``: the sex check's F terms on non-PAR chrX (see
  :func:`chrx_f_terms`), so F = (Σ o_hom - Σ e_hom) / (Σ n_called - Σ e_hom) over all chunks;
* ``y_variants``, ``y_called``: chrY variants seen and calls per sample.

The sex check's sums (:data:`SEX_CHECK_KEYS`) must come from the calls as they came in: ingest
sets a sheet male's non-PAR chrX het calls (and a sheet female's chrY calls) to missing, which
would make a woman recorded as a man look hemizygous (F = 1). Ingest therefore computes them
(:func:`sex_check_partials`) before it applies the sheet's ploidy, and :func:`variant_stats_chunk`
copies them into the chunk's partials.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.ingest.ploidy import sample_sex
from cohortgen.io.bed import read_bed
from cohortgen.io.files import write_npz
from cohortgen.kernels.heterozygosity import het_f
from cohortgen.kernels.stats import (
    PassCounts,
    genotype_counts,
    sample_missing_counts,
    variant_sample_counts,
)
from cohortgen.qc.regions import contig_classes

COUNT_COLUMNS = ["n_hom_alt", "n_het", "n_hom_ref", "n_missing"]
MALE, FEMALE = 1, 2
"""Sex codes of the phenotype sheet (0: unknown)."""


def count_table(bim: pd.DataFrame, counts: np.ndarray) -> pd.DataFrame:
    """Variant identity (chrom, pos, id, ref, alt) beside genotype counts (n_variants, 4)."""
    table = pd.DataFrame({"chrom": bim["chrom"].astype(str), "pos": bim["pos"],
                          "id": bim["id"], "ref": bim["a2"], "alt": bim["a1"]})
    return pd.concat([table, pd.DataFrame(counts, columns=COUNT_COLUMNS)], axis=1)


def allele_counts(diploid: np.ndarray, haploid: np.ndarray,
                  haploid_het: float | None) -> tuple[np.ndarray, np.ndarray]:
    """ALT alleles (float64 (m,)) and alleles counted (int64 (m,)) from genotype counts int64
    (m, 4) (:data:`COUNT_COLUMNS`) of samples counted diploid (a call is two alleles) and of
    samples counted haploid (a call is one allele, ALT for a hom ALT call). A haploid het call
    is one allele holding ``haploid_het`` ALT (0.5 as ``plink2 --freq``), or is left out when
    ``haploid_het`` is None (as plink1.9 ``--check-sex``)."""
    alt = (2 * diploid[:, 0] + diploid[:, 1] + haploid[:, 0]).astype(np.float64)
    total = 2 * diploid[:, :3].sum(axis=1) + haploid[:, 0] + haploid[:, 2]
    if haploid_het is not None:
        alt += haploid_het * haploid[:, 1]
        total = total + haploid[:, 1]
    return alt, total


def chrx_alt_freq(packed: np.ndarray, sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ALT frequency on non-PAR chrX as plink1.9 ``--check-sex``: the call of each sample not
    a male (female or unknown sex) counts two alleles, each male's homozygous call one allele
    (male hets are left out; :func:`allele_counts`). Returns (freq float64 (m,), nan where no
    allele is counted; allele count int64)."""
    n = sex.size
    alt, total = allele_counts(genotype_counts(packed, n, sex != MALE),
                               genotype_counts(packed, n, sex == MALE), None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return alt / total, total


def chrx_f_terms(packed: np.ndarray, is_x: np.ndarray, sex: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-sample (o_hom int64, e_hom float64, n_called int64) over non-PAR chrX rows ``is_x``,
    with :func:`chrx_alt_freq` frequencies (variants with no counted allele are skipped)."""
    x_rows = packed[is_x]
    freq, _ = chrx_alt_freq(x_rows, sex)
    use = np.isfinite(freq)
    o_hom, e_hom, n_called, _ = het_f(x_rows, sex.size, use, np.where(use, freq, 0.0))
    return o_hom, e_hom, n_called


SEX_CHECK_KEYS = ("x_o_hom", "x_e_hom", "x_n_called", "y_variants", "y_called")
"""Keys of the sex check's per-sample partial sums (module docstring)."""


def sex_check_partials(packed: np.ndarray, is_x: np.ndarray, is_y: np.ndarray,
                       sex: np.ndarray) -> dict:
    """The sex check's per-sample partial sums (:data:`SEX_CHECK_KEYS`) over the non-PAR chrX
    rows ``is_x`` and the chrY rows ``is_y`` (bool (m,)) of ``packed`` (uint8 (m, ceil(n / 4)),
    .bed codes of the calls as they came in, before any sheet-driven change); ``sex``: sheet
    sex int (n,), 1 male, 2 female, 0 unknown, which sets the chrX frequencies
    (:func:`chrx_alt_freq`). Rows of neither kind are ignored; with none of a kind its sums
    are 0."""
    n = sex.size
    is_x, is_y = np.asarray(is_x, dtype=bool), np.asarray(is_y, dtype=bool)
    if is_x.any():
        o_hom, e_hom, n_called = chrx_f_terms(packed, is_x, sex)
    else:
        o_hom, e_hom, n_called = np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64)
    n_y = int(is_y.sum())
    missing_y = sample_missing_counts(packed, n, is_y) if n_y else np.zeros(n, np.int64)
    return {"x_o_hom": o_hom, "x_e_hom": e_hom, "x_n_called": n_called,
            "y_variants": np.full(n, n_y, dtype=np.int64), "y_called": n_y - missing_y}


AUTO_GROUP = 0
"""The per-sample count group of :func:`count_pass` (other contigs are in none)."""


def count_pass(packed: np.ndarray, n_samples: int, classes: np.ndarray) -> PassCounts:
    """One pass over the chunk: counts per variant over all samples, and per-sample missing and
    het counts over the autosomes (group :data:`AUTO_GROUP`)."""
    return variant_sample_counts(packed, n_samples, np.where(classes == "auto", AUTO_GROUP, -1),
                                 1)


def sample_partials(packed: np.ndarray, classes: np.ndarray, sex: np.ndarray,
                    counts: PassCounts | None = None, sex_sums: dict | None = None) -> dict:
    """The per-sample partial sums of one chunk (keys as in the module docstring), from the
    chunk's :func:`count_pass` ``counts`` (computed here when not given) and the sex check's
    ``sex_sums`` from the calls as they came in (ingest's :func:`sex_check_partials`; computed
    here from ``packed`` when not given, right only when no call of ``packed`` was changed to
    fit the sheet's sex)."""
    n = sex.size
    if counts is None:
        counts = count_pass(packed, n, classes)
    if sex_sums is None:
        sex_sums = sex_check_partials(packed, classes == "x", classes == "y", sex)
    return {
        "auto_variants": np.full(n, (classes == "auto").sum(), dtype=np.int64),
        "auto_missing": counts.missing[AUTO_GROUP],
        "auto_het": counts.het[AUTO_GROUP],
        **{key: sex_sums[key] for key in SEX_CHECK_KEYS},
    }


def add_partials(total: dict, part) -> dict:
    """``total`` with ``part``'s arrays added key-wise (a new key is copied); returns ``total``."""
    for key in part:
        total[key] = total[key] + part[key] if key in total else np.array(part[key])
    return total


def sum_partials(paths: list[Path]) -> dict:
    """Key-wise sum of per-chunk partials (.npz), in the given order."""
    total: dict = {}
    for path in paths:
        with np.load(path) as part:
            add_partials(total, part)
    return total


def read_sex_partials(path: Path, n_samples: int) -> dict:
    """The sex-check sums of :func:`sex_check_partials` from ingest's .npz, checked to hold
    every key of :data:`SEX_CHECK_KEYS` for ``n_samples`` samples; a file with no array (a
    chunk without non-PAR chrX or chrY calls) gives the sums over no variant (zeros)."""
    sums = sum_partials([Path(path)])
    if not sums:
        none = np.zeros(0, dtype=bool)
        return sex_check_partials(np.zeros((0, (n_samples + 3) // 4), np.uint8), none, none,
                                  np.zeros(n_samples, np.int64))
    if any(sums.get(key, np.zeros(0)).shape != (n_samples,) for key in SEX_CHECK_KEYS):
        raise InputError(f"{path}: not the sex-check sums of this chunk's {n_samples} samples; "
                         "rerun `cohortgen ingest --sex-partials` for the chunk")
    return {key: sums[key] for key in SEX_CHECK_KEYS}


def variant_stats_chunk(prefix: Path, phenotypes: Path, genome_build: str,
                        sample_partials_npz: Path, sex_partials_npz: Path | None = None) -> None:
    """Write the chunk's per-sample partial sums (private). The sex check's sums are copied
    from ``sex_partials_npz`` (written by ingest from the calls as they came in); without it
    they are computed from this .bed with the sheet's sex (read as ingest reads it,
    :func:`cohortgen.ingest.ploidy.sample_sex`), which is right only for a .bed whose calls no
    sheet changed."""
    packed, bim, fam = read_bed(Path(prefix))
    classes = contig_classes(bim["chrom"].to_numpy(str), bim["pos"].to_numpy(), genome_build)
    counts = count_pass(packed, len(fam), classes)
    sex = sample_sex(Path(phenotypes), fam["iid"].astype(str).tolist()).astype(np.int64)
    sex_sums = None if sex_partials_npz is None else read_sex_partials(sex_partials_npz, len(fam))
    write_npz(Path(sample_partials_npz), sample_partials(packed, classes, sex, counts, sex_sums),
              private=True)
