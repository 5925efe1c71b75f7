"""Imputed dosages as every reader yields them, and the checks every reader applies.

A reader (:mod:`cohortgen.io.dosage_vcf`, :mod:`cohortgen.io.bgen`, :mod:`cohortgen.io.pgen`)
yields :class:`DosageBlock` s of consecutive variants of one region. Dosages are of the ALT
allele as PLINK 2 stores them (``plink2 --vcf dosage=DS``): on the 0..2 scale, a haploid call (a
male's on non-PAR chrX, chrY, MT; told by a one-allele GT or a haploid BGEN ploidy) doubled, and
rounded to the nearest 1/16384.
"""

from typing import NamedTuple

import numpy as np

from cohortgen.errors import InputError

DOSAGE_STEPS = 16384
"""Steps per allele of a stored dosage: PLINK 2 (and pgenlib) keep dosages as multiples of
1/16384, rounding half up."""

HARD_CALLS = "GT"
"""The field a VCF without DS, HDS and GP is read from: hard calls as dosages 0, 1, 2 (as
``plink2 --vcf dosage=DS`` imports such a file), flagged ``hard_calls_only``."""

GP_SUM_TOLERANCE = 0.01
"""How far a call's genotype probabilities may sum from 1. Beagle 5 writes GP with 2 decimals
without renormalising: the rounded values are multiples of 0.01 and each moves by at most 0.005,
so their sum is exactly 0.99, 1 or 1.01 (measured on 10^6 simulated calls: 23% sum to 0.99 or
1.01, none further off; Minimac4's 3 decimals: 0.999, 1 or 1.001). 0.01 accepts both and still
refuses a sum of 0.98 (compared after rounding the deviation to 9 decimals, so that float
arithmetic on 0.33 + 0.33 + 0.33 does not refuse it)."""

DS_GP_TOLERANCE = 0.02
"""How far DS may be from GP's expected dosage (P(het) + 2 P(hom ALT)): Beagle writes both with
2 decimals, Minimac4 with 3, each rounded from the unrounded posterior (measured on 10^6
simulated calls: differences of at most 0.01 and 0.001)."""


class DosageBlock(NamedTuple):
    """Consecutive variants of one contig; m variants, n samples."""

    chrom: str
    pos: np.ndarray        # int64 (m,), 1-based
    ids: list[str]         # (m,) variant IDs as in the file ("." when absent)
    ref: list[str]         # (m,)
    alt: list[str]         # (m,) ALT alleles, comma-joined for a multi-allelic record
    dosage: np.ndarray     # float32 (m, n), ALT dosage 0..2, NaN missing (multi-allelic: NaN)
    file_r2: np.ndarray    # float32 (m,), the file's R2/DR2/INFO, NaN when absent
    typed: np.ndarray      # bool (m,), genotyped (TYPED flag), False when unknown


def record_name(chrom: str, pos: int, variant_id: str) -> str:
    """How errors name a record: ``chrom:pos (ID)``."""
    return f"{chrom}:{pos} ({variant_id})"


def check_dosages(dosage: np.ndarray, haploid: np.ndarray, where: str, samples: list[str],
                  field: str) -> None:
    """Refuse a dosage outside [0, 2], or [0, 1] for a haploid call, before doubling.

    dosage: float (n,) one record's values as written, NaN missing; haploid: bool (n,).
    """
    top = np.where(haploid, 1.0, 2.0)
    bad = np.flatnonzero((dosage < 0) | (dosage > top))
    if bad.size:
        j = int(bad[0])
        kind = "haploid " if haploid[j] else ""
        raise InputError(f"{where}: sample {samples[j]}: {field} {dosage[j]:g} is outside "
                         f"[0, {top[j]:g}] for a {kind}call; fix or drop the record")


def allele_copies(n_alt: int) -> np.ndarray:
    """float64 (G, n_alt): copies of ALT j in each diploid genotype, in VCF GP order (a/b with
    a <= b at index b (b + 1) / 2 + a; G = (n_alt + 1) (n_alt + 2) / 2)."""
    copies = np.zeros(((n_alt + 1) * (n_alt + 2) // 2, n_alt))
    for b in range(n_alt + 1):
        for a in range(b + 1):
            for allele in (a, b):
                if allele:
                    copies[b * (b + 1) // 2 + a, allele - 1] += 1
    return copies


def gp_dosage(gp: np.ndarray, haploid: np.ndarray, n_alt: int, where: str,
              samples: list[str]) -> np.ndarray:
    """float64 (n, n_alt) dosage of each ALT as written (haploid 0..1) from genotype
    probabilities (other ALTs counted as REF, as a split record holds them).

    gp: float (n, G) probabilities per sample, NaN beyond a call's own (n_alt + 1 haploid, G
    diploid); a call whose first probability is NaN is missing. Probabilities must sum to 1
    within :data:`GP_SUM_TOLERANCE` and lie in [0, 1].
    """
    gp = np.asarray(gp, dtype=np.float64)
    present = ~np.isnan(gp[:, 0])
    filled = np.where(np.isnan(gp), 0.0, gp)
    total = filled.sum(axis=1)
    bad = np.flatnonzero(present & ((np.round(np.abs(total - 1), 9) > GP_SUM_TOLERANCE)
                                    | (filled < 0).any(axis=1) | (filled > 1).any(axis=1)))
    if bad.size:
        j = int(bad[0])
        values = ",".join(f"{v:g}" for v in gp[j] if not np.isnan(v))
        raise InputError(f"{where}: sample {samples[j]}: GP {values} are not probabilities "
                         f"summing to 1 (within {GP_SUM_TOLERANCE:g}); fix the file")
    copies = allele_copies(n_alt)
    diploid = np.zeros((len(gp), len(copies)))
    width = min(len(copies), gp.shape[1])
    diploid[:, :width] = filled[:, :width]
    dosage = np.where(haploid[:, None], filled[:, 1:n_alt + 1], diploid @ copies)
    dosage[~present] = np.nan
    return dosage


def check_ds_gp(ds: np.ndarray, gp_ds: np.ndarray, where: str, samples: list[str]) -> None:
    """Refuse DS differing from the GP expected dosage by more than :data:`DS_GP_TOLERANCE`."""
    bad = np.flatnonzero(np.abs(ds - gp_ds) > DS_GP_TOLERANCE)
    if bad.size:
        j = int(bad[0])
        raise InputError(f"{where}: sample {samples[j]}: DS {ds[j]:g} disagrees with GP "
                         f"(expected dosage {gp_ds[j]:.4f}, tolerance "
                         f"{DS_GP_TOLERANCE:g}); the file's DS and GP are inconsistent")


SIGNIFICANT_DIGITS = 7
"""Significant decimal digits a float32 keeps apart for every value in [0, 2]."""


def decimal_values(values: np.ndarray) -> np.ndarray:
    """float64, same shape: float32 values parsed from VCF text (htslib keeps DS, HDS and GP
    as float32) back to the decimals written, i.e. rounded to :data:`SIGNIFICANT_DIGITS`
    significant digits; NaN stays NaN. plink2 parses the text as double, and a float32 can
    fall on the other side of a 1/16384 rounding boundary (about 1 value in 1,500 written
    with 5 decimals)."""
    values = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(np.where(np.isfinite(values) & (values != 0), values, 1.0))
    scale = 10.0 ** (SIGNIFICANT_DIGITS - 1 - np.floor(np.log10(magnitude)))
    return np.rint(values * scale) / scale


def stored_dosages(dosage: np.ndarray, haploid: np.ndarray) -> np.ndarray:
    """float32 (n,) as PLINK 2 stores ``dosage`` (n,) as written: a haploid call doubled, then
    rounded to 1/16384 (:func:`quantized`)."""
    return quantized(np.where(haploid, 2 * np.asarray(dosage, np.float64), dosage))


def quantized(dosage: np.ndarray) -> np.ndarray:
    """float32, same shape: ``dosage`` rounded to the nearest 1/16384 (half up), as PLINK 2
    stores it; NaN stays NaN. Exact in float32 (at most 15 significant bits)."""
    return (np.floor(np.asarray(dosage, np.float64) * DOSAGE_STEPS + 0.5)
            / DOSAGE_STEPS).astype(np.float32)
