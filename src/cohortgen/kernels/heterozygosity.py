"""Method-of-moments inbreeding coefficient F per sample, as PLINK 2 ``--het``.

For sample s over the selected variants where s is called (N of them)::

    O_hom = number of homozygous calls
    E_hom = sum over those variants of 1 - 2 p (1 - p)        (p: ALT frequency)
    F     = (O_hom - E_hom) / (N - E_hom)

PLINK 2 (2.00a3.5) takes p from the founders' non-missing calls (:func:`alt_freq`), skips
variants monomorphic by that p (het_f does too), needs >= 50 founders unless told otherwise, and by
default omits Nei's n/(n-1) small-sample factor; with ``allele_ct`` (the 2 * called-founder
count per variant) the expected het term becomes 2 p (1 - p) * c / (c - 1), PLINK's
``--het small-sample``. PLINK ``--het`` uses autosomes only; the sex check applies the same
statistic to non-PAR chrX variants by passing that variant mask.
"""

import numpy as np

from cohortgen.kernels.bed import checked_packed
from cohortgen.kernels.stats import COUNT_COLUMNS, genotype_counts, variant_sample_counts


def alt_freq(packed: np.ndarray, n_samples: int, sample_mask: np.ndarray) -> np.ndarray:
    """ALT (A1) allele frequency per variant over the non-missing calls of selected samples.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes;
    sample_mask: bool, shape (n_samples,), e.g. founders. Returns float64, shape (n_variants,),
    nan where no selected sample is called.
    """
    counts = genotype_counts(packed, n_samples, sample_mask).astype(np.float64)
    col = {name: k for k, name in enumerate(COUNT_COLUMNS)}
    het, hom_alt = counts[:, col["n_het"]], counts[:, col["n_hom_alt"]]
    n_called = het + hom_alt + counts[:, col["n_hom_ref"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (het + 2.0 * hom_alt) / (2.0 * n_called)


def het_f(
    packed: np.ndarray,
    n_samples: int,
    variant_mask: np.ndarray,
    alt_freq: np.ndarray,
    allele_ct: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observed and expected homozygous counts and F per sample (PLINK ``--het``).

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes (missing
    0b01 is skipped, never counted as a genotype); variant_mask: bool, shape (n_variants,),
    variants to use (autosomes for ``--het``, non-PAR chrX for the sex check; variants with
    alt_freq 0 or 1 are skipped too, as PLINK skips monomorphic variants); alt_freq:
    float64, shape (n_variants,), ALT frequency (see :func:`alt_freq`), finite on masked
    variants; allele_ct: optional int64, shape (n_variants,), allele count behind alt_freq, for
    the n/(n-1) correction (PLINK ``small-sample``).
    Returns (o_hom int64 (n,), e_hom float64 (n,), n_nm int64 (n,), f float64 (n,));
    f is nan for a sample with n_nm == e_hom (e.g. no called variant). One
    :func:`variant_sample_counts` pass gives the het and missing calls per sample and, per
    sample, the expected-hom rates of its missing calls, subtracted from their total.
    """
    packed = checked_packed(packed, n_samples)
    n_variants = packed.shape[0]
    variant_mask = np.ascontiguousarray(variant_mask, dtype=np.bool_)
    alt_freq = np.ascontiguousarray(alt_freq, dtype=np.float64)
    if variant_mask.shape != (n_variants,) or alt_freq.shape != (n_variants,):
        raise ValueError(f"variant_mask and alt_freq must have shape ({n_variants},)")
    if not np.all(np.isfinite(alt_freq[variant_mask])):
        bad = np.flatnonzero(variant_mask & ~np.isfinite(alt_freq))[0]
        raise ValueError(f"alt_freq is not finite at selected variant {bad}")
    used = variant_mask & (alt_freq > 0.0) & (alt_freq < 1.0)
    expected_het = 2.0 * alt_freq * (1.0 - alt_freq)
    if allele_ct is not None:
        c = np.asarray(allele_ct, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected_het = expected_het * c / (c - 1.0)
    expected_hom = np.where(used, 1.0 - expected_het, 0.0)
    counts = variant_sample_counts(packed, n_samples, np.where(used, 0, -1), 1, expected_hom)
    n_nm = used.sum() - counts.missing[0]
    o_hom = n_nm - counts.het[0]
    # expected homs over called variants = all used variants' minus the missing calls' share
    e_hom = np.where(n_nm > 0, expected_hom.sum() - counts.missing_weight[0], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (o_hom - e_hom) / (n_nm - e_hom)
    return o_hom, e_hom, n_nm, f
