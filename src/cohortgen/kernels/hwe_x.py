"""Hardy-Weinberg exact test for non-PAR chrX (Graffelman & Weir 2016, Heredity 116:558).

Females are diploid (counts ``hom1``, ``het``, ``hom2``), males hemizygous (allele counts ``m1``,
``m2``). Under HWE with equal allele frequencies in both sexes, conditional on the total allele
counts ``n1``, ``n2`` over ``N = 2 n_f + n_m`` alleles, a table has probability::

    P(het, m1) = n1! n2! n_f! n_m! 2^het / (hom1! het! hom2! m1! m2! N!)
               = Hyp(m1) * HWE(het | female allele count n1 - m1)

a hypergeometric "row" weight for the males' share of allele 1 times the autosomal het-count
distribution of the females given their allele counts (:mod:`cohortgen.kernels.hwe`). Mid-p
(PLINK 2 ``--hardy midp``, ``.hardy.x``): the mass of the tables strictly less likely than the
observed one plus half the mass of those as likely (relative tolerance :data:`TIE_TOLERANCE_X`),
over all tables.

Evaluation, with every table weighed relative to the observed one by exact ratios: the observed
row is summed whole; a row's mass follows from the previous row's by the hypergeometric ratio;
within a row, the tables at least as likely as the observed one form an interval [L, R] around
the row mode (the log-probability is concave), whose ends are carried from row to row (one
diagonal step, then a few steps along the row), so only the tails beyond L and R are summed.
Rows whose mode is less likely than the observed table count whole. A row, or a tail term, too
small to change the running tail sum ends its walk. When the observed table's probability is
below 1e-300 (weights relative to it could overflow), p is below about 1e-290 and comes out
as 0.
"""

import math

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.hwe import het_mode, step_ratio

TIE_TOLERANCE_X = 2.0**-36
"""Relative tolerance under which a table is as likely as the observed one: wider than the
autosomal :data:`cohortgen.kernels.hwe.TIE_TOLERANCE`, as ratios are chained over many rows."""

_NEGLIGIBLE = 2.0**-60
"""A term below this fraction of the running tail sum cannot change it: stop the walk."""

_LOG_MIN_PROB = math.log(1e-300)
"""Below this log-probability of the observed table, weights relative to it could overflow."""


def hwe_x_midp(female_het: np.ndarray, female_hom1: np.ndarray, female_hom2: np.ndarray,
               male1: np.ndarray, male2: np.ndarray) -> np.ndarray:
    """Graffelman-Weir mid-p per non-PAR chrX variant, as PLINK 2 ``--hardy midp`` (.hardy.x).

    female_het, female_hom1, female_hom2: int64, shape (n_variants,), female genotype counts;
    male1, male2: int64, shape (n_variants,), hemizygous male allele counts of the same two
    alleles (male het calls are not counted). Returns float64, shape (n_variants,), in [0, 1];
    0.5 when monomorphic, with no female or with nothing called (as PLINK 2 prints: the observed
    table's own half mass). Without males it equals the autosomal mid-p of the female counts.
    """
    arrays = [np.ascontiguousarray(a, dtype=np.int64)
              for a in (female_het, female_hom1, female_hom2, male1, male2)]
    if arrays[0].ndim != 1 or any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError("the five count arrays must be 1-D arrays of the same length")
    if any((a < 0).any() for a in arrays):
        raise ValueError("genotype and allele counts must be non-negative")
    out = np.empty(arrays[0].size, dtype=np.float64)
    _hwe_x_into(*arrays, out)
    return out


@parallel_kernel
def _hwe_x_into(female_het, female_hom1, female_hom2, male1, male2, out):
    """Fill ``out`` (float64, (m,)) with :func:`_hwe_x_midp_one` of each variant."""
    for v in prange(out.size):
        out[v] = _hwe_x_midp_one(female_het[v], female_hom1[v], female_hom2[v], male1[v],
                                 male2[v])


@kernel
def _hwe_x_midp_one(het, hom1, hom2, m1, m2):
    """Graffelman-Weir mid-p of one variant (see the module docstring)."""
    n_f = het + hom1 + hom2
    n_m = m1 + m2
    n1 = het + 2 * hom1 + m1
    n2 = het + 2 * hom2 + m2
    if n_f == 0 or n1 == 0 or n2 == 0:
        return 0.5
    if _log_prob(het, hom1, hom2, m1, m2) < _LOG_MIN_PROB:
        return 0.0  # p <= (number of tables) * P(observed) < 1e-290
    a = het + 2 * hom1
    left, w_left = _extend(n_f, a, het, 1.0, -2)
    right, w_right = _extend(n_f, a, het, 1.0, 2)
    mass = _span_sum(n_f, a, left, w_left, right)
    less = _tail(n_f, a, left, w_left, -2) + _tail(n_f, a, right, w_right, 2)
    tie = _ties(left, w_left, right, w_right)
    mass += less
    mode = _row_mode(n1, n2, n_m)
    less_down, tie_down, total_down = _walk_rows(n1, n2, n_f, n_m, m1, left, w_left, right,
                                                 w_right, mass, -1, mode, less, tie)
    less, tie, total_up = _walk_rows(n1, n2, n_f, n_m, m1, left, w_left, right, w_right, mass,
                                     1, mode, less_down, tie_down)
    p = (less + 0.5 * tie) / (mass + total_down + total_up)
    return min(1.0, p)


@kernel
def _log_prob(het, hom1, hom2, m1, m2):
    """Natural log of P(table) by the closed form of the module docstring (lgamma)."""
    n_f, n_m = het + hom1 + hom2, m1 + m2
    n1, n2 = het + 2 * hom1 + m1, het + 2 * hom2 + m2
    numer = (math.lgamma(n1 + 1.0) + math.lgamma(n2 + 1.0) + math.lgamma(n_f + 1.0)
             + math.lgamma(n_m + 1.0) + het * math.log(2.0))
    denom = (math.lgamma(hom1 + 1.0) + math.lgamma(het + 1.0) + math.lgamma(hom2 + 1.0)
             + math.lgamma(m1 + 1.0) + math.lgamma(m2 + 1.0) + math.lgamma(n1 + n2 + 1.0))
    return numer - denom


@kernel
def _row_mode(n1, n2, n_m):
    """The mode of the males' allele-1 count (hypergeometric: n_m draws from n1 + n2)."""
    return (n_m + 1) * (n1 + 1) // (n1 + n2 + 2)


@kernel
def _row_ratio(n1, n2, n_m, m):
    """Hyp(m + 1) / Hyp(m) for the males' allele-1 count m."""
    return (n1 - m) * (n_m - m) / ((m + 1.0) * (n2 - n_m + m + 1.0))


@kernel
def _along(n_f, a, h, step):
    """W(h + step) / W(h) within a row (female allele-1 count ``a``), step -2 or 2; 0.0 when
    h + step is outside the row."""
    if h + step < 0 or h + step > min(a, 2 * n_f - a):
        return 0.0
    return step_ratio(n_f, min(a, 2 * n_f - a), h, step)


@kernel
def _extend(n_f, a, h, w, step):
    """From a table (het ``h``, relative weight ``w`` >= 1 - tol) step by ``step`` while the next
    table is at least as likely as the observed one; returns the last such (h, w)."""
    while True:
        r = _along(n_f, a, h, step)
        if w * r < 1.0 - TIE_TOLERANCE_X:
            return h, w
        h += step
        w *= r


@kernel
def _enter(n_f, a, h, w):
    """Climb from a table less likely than the observed one toward the row mode; returns
    (h, w, True) at the first table at least as likely, or (h, w, False) at the mode."""
    step = 2 if _along(n_f, a, h, 2) > 1.0 else -2
    while True:
        r = _along(n_f, a, h, step)
        if r <= 1.0:
            return h, w, False
        h += step
        w *= r
        if w >= 1.0 - TIE_TOLERANCE_X:
            return h, w, True


@kernel
def _span_sum(n_f, a, left, w_left, right):
    """Sum of the relative weights of hets left, left + 2, ..., right of one row."""
    total = 0.0
    h, w = left, w_left
    while True:
        total += w
        if h >= right:
            return total
        w *= _along(n_f, a, h, 2)
        h += 2


@kernel
def _tail(n_f, a, h, w, step):
    """Sum of the relative weights beyond het ``h`` (weight ``w``) in direction ``step``, until
    the row ends or a term is negligible."""
    total = 0.0
    while True:
        w *= _along(n_f, a, h, step)
        if w == 0.0:
            return total
        h += step
        total += w
        if w <= _NEGLIGIBLE * total:
            return total


@kernel
def _ties(left, w_left, right, w_right):
    """Relative mass of the interval ends as likely as the observed table (within tolerance)."""
    tie = w_left if w_left <= 1.0 + TIE_TOLERANCE_X else 0.0
    if right != left and w_right <= 1.0 + TIE_TOLERANCE_X:
        tie += w_right
    return tie


@kernel
def _cross(n_f, n_m, a, h, m, w, direction):
    """Move table (h, m), weight ``w``, to row m + direction by one diagonal step (het +-1);
    returns (h', w')."""
    hom1 = (a - h) // 2
    hom2 = (2 * n_f - a - h) // 2
    if direction > 0:
        males = (n_m - m) / (m + 1.0)
        if h >= 1:
            return h - 1, w * h / (2.0 * (hom2 + 1)) * males
        return h + 1, w * 2.0 * hom1 / (h + 1.0) * males
    males = m / (n_m - m + 1.0)
    if hom2 >= 1:
        return h + 1, w * 2.0 * hom2 / (h + 1.0) * males
    return h - 1, w * h / (2.0 * (hom1 + 1)) * males


@kernel
def _to_mode(n_f, a, h, w):
    """Walk table (h, w) along its row to the row's most likely het count; returns it and its
    weight."""
    mode = het_mode(n_f, min(a, 2 * n_f - a))
    while h < mode:
        w *= _along(n_f, a, h, 2)
        h += 2
    while h > mode:
        w *= _along(n_f, a, h, -2)
        h -= 2
    for step in (2, -2):  # het_mode may sit next to the maximum
        while _along(n_f, a, h, step) > 1.0:
            w *= _along(n_f, a, h, step)
            h += step
    return h, w


@kernel
def _boundary(n_f, a, h, w, step, mode, w_mode):
    """The end of the row's interval of tables at least as likely as the observed one, in
    direction ``step``, from an anchor table (h, w) (or from the mode when the climb fails)."""
    if w < 1.0 - TIE_TOLERANCE_X:
        h, w, inside = _enter(n_f, a, h, w)
        if not inside:
            h, w = mode, w_mode
    return _extend(n_f, a, h, w, step)


@kernel
def _walk_rows(n1, n2, n_f, n_m, m_obs, left, w_left, right, w_right, mass, direction,
               row_mode, less, tie):
    """Rows m_obs + direction, m_obs + 2 direction, ...: adds their tails to (less, tie) and
    returns them with the summed row masses (all relative to the observed table)."""
    total = 0.0
    m = m_obs
    mode, w_mode = _to_mode(n_f, n1 - m_obs, left, w_left)
    low, high = max(0, n1 - 2 * n_f), min(n_m, n1)
    while low <= m + direction <= high:
        a = n1 - m
        mass = mass * _row_ratio(n1, n2, n_m, m) if direction > 0 else (
            mass / _row_ratio(n1, n2, n_m, m - 1))
        h, w = _cross(n_f, n_m, a, mode, m, w_mode, direction)
        mode, w_mode = _to_mode(n_f, a - direction, h, w)
        if w_mode >= 1.0 - TIE_TOLERANCE_X:
            h, w = _cross(n_f, n_m, a, left, m, w_left, direction)
            left, w_left = _boundary(n_f, a - direction, h, w, -2, mode, w_mode)
            h, w = _cross(n_f, n_m, a, right, m, w_right, direction)
            right, w_right = _boundary(n_f, a - direction, h, w, 2, mode, w_mode)
        m += direction
        total += mass
        if w_mode < 1.0 - TIE_TOLERANCE_X:
            less += mass  # even the row's mode is less likely than the observed table
            left, w_left, right, w_right = mode, w_mode, mode, w_mode
        else:
            less += _tail(n_f, n1 - m, left, w_left, -2) + _tail(n_f, n1 - m, right, w_right, 2)
            tie += _ties(left, w_left, right, w_right)
        if (m - row_mode) * direction > 0 and mass <= _NEGLIGIBLE * (less + tie):
            break
    return less, tie, total
