"""Hardy-Weinberg exact test (Wigginton, Cutler & Abecasis 2005, AJHG 76:887).

Given the observed genotype counts of a bi-allelic variant, the het count under HWE conditional
on the allele counts has probabilities that obey the recurrence (rare allele count ``r``, ``n``
genotypes, ``h`` hets, ``r_hom = (r - h) / 2``, ``c_hom = n - h - r_hom``)::

    P(h - 2) = P(h) * h (h - 1) / (4 (r_hom + 1) (c_hom + 1))
    P(h + 2) = P(h) * 4 r_hom c_hom / ((h + 2) (h + 1))

Probabilities are computed relative to the mode (set to 1), as Wigginton does, so nothing
overflows for large n; tail terms too small to change the sum are not visited, so the cost is
about O(sqrt(n)) per variant. The p-value is the mass of het counts at most as likely as the
observed one; mid-p (PLINK 2 ``--hardy midp``) counts the exactly-as-likely ones at half weight.

"Exactly as likely" means within a relative tolerance :data:`TIE_TOLERANCE` = 2**-40 (about
9.1e-13) of the observed probability: PLINK uses 2**-44 for the same purpose, and 2**-40 leaves
room for the rounding of the longer mode-relative recurrence.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel

TIE_TOLERANCE = 2.0**-40
"""Relative tolerance under which a het count is as likely as the observed one."""

_NEGLIGIBLE = 2.0**-60
"""A tail term below this fraction of the running tail sum cannot change it: stop the walk."""


def hwe_exact_midp(n_het: np.ndarray, n_hom1: np.ndarray, n_hom2: np.ndarray) -> np.ndarray:
    """Mid-p HWE exact test per variant, as PLINK 2 ``--hardy midp``.

    n_het, n_hom1, n_hom2: int64, shape (n_variants,), genotype counts (either homozygote may be
    the ALT one). Returns float64, shape (n_variants,), in [0, 1]; 0.5 when monomorphic or when
    no genotype is called (the one possible table is a tie: half its mass, as PLINK 2 prints).
    """
    return _hwe_pvalues_checked(n_het, n_hom1, n_hom2, True)


def hwe_exact_p(n_het: np.ndarray, n_hom1: np.ndarray, n_hom2: np.ndarray) -> np.ndarray:
    """HWE exact test p-value per variant (no mid-p), as PLINK ``--hardy``.

    Same inputs and output as :func:`hwe_exact_midp`, but 1.0 when monomorphic or empty.
    """
    return _hwe_pvalues_checked(n_het, n_hom1, n_hom2, False)


def _hwe_pvalues_checked(n_het, n_hom1, n_hom2, midp: bool) -> np.ndarray:
    """Validate the three count arrays, then run the parallel kernel."""
    arrays = [np.ascontiguousarray(a, dtype=np.int64) for a in (n_het, n_hom1, n_hom2)]
    if arrays[0].ndim != 1 or any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError("n_het, n_hom1 and n_hom2 must be 1-D arrays of the same length")
    if any((a < 0).any() for a in arrays):
        raise ValueError("genotype counts must be non-negative")
    out = np.empty(arrays[0].size, dtype=np.float64)
    _hwe_pvalues_into(arrays[0], arrays[1], arrays[2], midp, out)
    return out


@parallel_kernel
def _hwe_pvalues_into(n_het, n_hom1, n_hom2, midp, out):
    """Fill ``out`` (float64, (m,)) with :func:`_hwe_pvalue` of each variant."""
    for v in prange(out.size):
        out[v] = _hwe_pvalue(n_het[v], n_hom1[v], n_hom2[v], midp)


@kernel
def _hwe_pvalue(n_het, n_hom1, n_hom2, midp):
    """HWE exact p-value (mid-p when ``midp``) of one variant; if monomorphic or empty, the one
    possible table is a tie: 1.0, or 0.5 for the mid-p."""
    n = n_het + n_hom1 + n_hom2
    n_rare = n_het + 2 * min(n_hom1, n_hom2)
    if n == 0 or n_rare == 0:
        return 0.5 if midp else 1.0
    mode = het_mode(n, n_rare)
    p_obs = _relative_prob(n, n_rare, mode, n_het)
    less_down, tie_down, total_down = _walk_sums(n, n_rare, mode, -2, p_obs)
    less_up, tie_up, total_up = _walk_sums(n, n_rare, mode + 2, 2, p_obs)
    less = less_down + less_up
    tie = tie_down + tie_up
    total = total_down + total_up
    tail = less + 0.5 * tie if midp else less + tie
    return min(1.0, tail / total)


@kernel
def het_mode(n, n_rare):
    """A het count at (or next to) the mode, with the parity of ``n_rare``."""
    mode = (n_rare * (2 * n - n_rare)) // (2 * n)
    if (mode - n_rare) % 2 != 0:
        mode += 1
    return min(mode, n_rare)


@kernel
def step_ratio(n, n_rare, het, direction):
    """P(het + direction) / P(het), direction -2 or +2."""
    hom_rare = (n_rare - het) // 2
    hom_common = n - het - hom_rare
    if direction < 0:
        return het * (het - 1.0) / (4.0 * (hom_rare + 1.0) * (hom_common + 1.0))
    return 4.0 * hom_rare * hom_common / ((het + 2.0) * (het + 1.0))


@kernel
def _relative_prob(n, n_rare, mode, het):
    """P(het) / P(mode) by the recurrence walked from the mode."""
    direction = 2 if het > mode else -2
    p = 1.0
    h = mode
    while h != het:
        p *= step_ratio(n, n_rare, h, direction)
        h += direction
    return p


@kernel
def _walk_sums(n, n_rare, start, direction, p_obs):
    """Sums of relative P(het) for het = start, start + direction, ... within [0, n_rare].

    Returns (less, tie, total): mass strictly less likely than ``p_obs``, mass as likely (within
    :data:`TIE_TOLERANCE`) and all mass. ``start`` must be the mode or mode + 2, so that P(het)
    decreases along the walk; the walk stops once a term is below ``p_obs`` and negligible.
    """
    if start > n_rare:
        return 0.0, 0.0, 0.0
    upper = p_obs * (1.0 + TIE_TOLERANCE)
    lower = p_obs * (1.0 - TIE_TOLERANCE)
    less = 0.0
    tie = 0.0
    total = 0.0
    p = 1.0 if direction < 0 else step_ratio(n, n_rare, start - 2, 2)
    het = start
    while True:
        total += p
        if p == 0.0:
            break  # underflow: every later term is zero as well
        if p < lower:
            less += p
            if p <= _NEGLIGIBLE * (less + tie):
                break
        elif p <= upper:
            tie += p
        next_het = het + direction
        if next_het < 0 or next_het > n_rare:
            break
        p *= step_ratio(n, n_rare, het, direction)
        het = next_het
    return less, tie, total
