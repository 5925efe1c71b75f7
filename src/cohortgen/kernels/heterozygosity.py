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
from numba import prange

from cohortgen.kernels._numba import parallel_kernel
from cohortgen.kernels.bed import checked_packed
from cohortgen.kernels.stats import COUNT_COLUMNS, genotype_counts

BYTE_BLOCK = 64
"""Bytes (4 samples each) per parallel task: each task owns its samples' sums."""


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
    f is nan for a sample with n_nm == e_hom (e.g. no called variant).
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
    variants = np.flatnonzero(variant_mask & (alt_freq > 0.0) & (alt_freq < 1.0)).astype(np.int64)
    p = alt_freq[variants]
    expected_het = 2.0 * p * (1.0 - p)
    if allele_ct is not None:
        c = np.asarray(allele_ct, dtype=np.float64)[variants]
        expected_het = expected_het * c / (c - 1.0)
    expected_hom = 1.0 - expected_het
    n_bytes = packed.shape[1]
    o_hom = np.zeros(4 * n_bytes, dtype=np.int64)
    n_nm = np.zeros(4 * n_bytes, dtype=np.int64)
    e_hom = np.zeros(4 * n_bytes, dtype=np.float64)
    _het_into(packed, variants, expected_hom, BYTE_BLOCK, o_hom, e_hom, n_nm)
    o_hom, e_hom, n_nm = o_hom[:n_samples], e_hom[:n_samples], n_nm[:n_samples]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (o_hom - e_hom) / (n_nm - e_hom)
    return o_hom, e_hom, n_nm, f


@parallel_kernel
def _het_into(packed, variants, expected_hom, block, o_hom, e_hom, n_nm):
    """Add per-sample hom calls, expected homs and calls over ``variants`` (int64 row indices).

    Outputs have length 4 * n_bytes (pad samples included, dropped by the caller). Each task
    owns ``block`` bytes of samples and sums variants in order, so results do not depend on
    the thread count.
    """
    n_bytes = packed.shape[1]
    n_blocks = (n_bytes + block - 1) // block
    for t in prange(n_blocks):
        b0 = t * block
        b1 = min(b0 + block, n_bytes)
        for idx in range(variants.shape[0]):
            v = variants[idx]
            e = expected_hom[idx]
            for b in range(b0, b1):
                byte = packed[v, b]
                for k in range(4):
                    code = (byte >> (2 * k)) & 3
                    if code != 1:
                        s = 4 * b + k
                        n_nm[s] += 1
                        e_hom[s] += e
                        if code != 2:
                            o_hom[s] += 1
