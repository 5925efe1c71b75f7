"""LD clumping of association results (PLINK 1.9 ``--clump`` semantics), one contig at a time.

Index variants are taken in increasing p (ties: earlier row first) among those with
p ≤ ``p_index`` that no earlier clump has claimed. Each claims every unclaimed variant within
``window_bp`` of it (|Δpos| ≤ window_bp) with p ≤ ``p_member`` and r² ≥ ``r2`` with the index
variant; a claimed variant belongs to one clump only and never becomes an index itself.
r² is PLINK 1.9's: the haplotype r² = D² / (p_A(1 − p_A) p_B(1 − p_B)) from maximum-likelihood
two-locus haplotype frequencies (EM over the double heterozygotes, as ``--ld``), on the masked
samples called at both variants (pairwise-complete). A pair where either variant is monomorphic
on those samples has no r² and is never clumped. Variants with a NaN p are neither index nor
member.

``packed`` is uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(:mod:`cohortgen.kernels.bed`).
"""

import numpy as np

from cohortgen.kernels._numba import kernel
from cohortgen.kernels.bed import BYTE_DOSAGE, checked_packed

EM_STARTS = (0.02, 0.5, 0.98)
"""Starting fractions of double heterozygotes in phase AB/ab; the best fit of the three wins
(the likelihood can have two maxima)."""

EM_ITER = 200
EM_TOL = 1e-12


@kernel
def _haplotype_loglik(cAB, cAb, caB, cab, dh, fAB, fAb, faB, fab):
    """Log-likelihood of the two-locus genotype counts given haplotype frequencies."""
    total = 0.0
    for c, f in ((cAB, fAB), (cAb, fAb), (caB, faB), (cab, fab)):
        if c > 0:
            total += c * np.log(max(f, 1e-300))
    if dh > 0:
        total += dh * np.log(max(fAB * fab + fAb * faB, 1e-300))
    return total


@kernel
def _haplotype_r2(table):
    """Haplotype r² from a 3×3 table of (dosage at A, dosage at B) counts; NaN if monomorphic."""
    cAB = 2 * table[2, 2] + table[2, 1] + table[1, 2]
    cAb = 2 * table[2, 0] + table[2, 1] + table[1, 0]
    caB = 2 * table[0, 2] + table[1, 2] + table[0, 1]
    cab = 2 * table[0, 0] + table[1, 0] + table[0, 1]
    dh = table[1, 1]
    n_hap = cAB + cAb + caB + cab + 2 * dh
    if n_hap == 0:
        return np.nan
    best_ll = -np.inf
    best = (0.0, 0.0, 0.0, 0.0)
    for start in EM_STARTS:
        x = start * dh
        for _ in range(EM_ITER):
            fAB = (cAB + x) / n_hap
            fab = (cab + x) / n_hap
            fAb = (cAb + dh - x) / n_hap
            faB = (caB + dh - x) / n_hap
            cis = fAB * fab
            both = cis + fAb * faB
            new_x = dh * cis / both if both > 0 else 0.0
            if abs(new_x - x) <= EM_TOL * (1.0 + dh):
                x = new_x
                break
            x = new_x
        fAB = (cAB + x) / n_hap
        fab = (cab + x) / n_hap
        fAb = (cAb + dh - x) / n_hap
        faB = (caB + dh - x) / n_hap
        ll = _haplotype_loglik(cAB, cAb, caB, cab, dh, fAB, fAb, faB, fab)
        if ll > best_ll:
            best_ll = ll
            best = (fAB, fAb, faB, fab)
    fAB, fAb, faB, fab = best
    pA = fAB + fAb
    pB = fAB + faB
    var = pA * (1.0 - pA) * pB * (1.0 - pB)
    if var <= 1e-12:
        return np.nan
    d = fAB * fab - fAb * faB
    return d * d / var


@kernel
def _pair_r2(row_a, row_b, n_samples, mask, byte_dosage):
    """Haplotype r² of two packed rows over masked samples called at both (NaN: see above)."""
    table = np.zeros((3, 3))
    for j in range(n_samples):
        if not mask[j]:
            continue
        da = byte_dosage[row_a[j >> 2], j & 3]
        db = byte_dosage[row_b[j >> 2], j & 3]
        if da < 0 or db < 0:
            continue
        table[da, db] += 1.0
    return _haplotype_r2(table)


@kernel
def _clump_into(packed, n_samples, pos, p, order, r2, window_bp, p_index, p_member, mask,
                byte_dosage, is_index, clump_of):
    """Fill ``is_index`` and ``clump_of`` (preset False / -1); ``order``: rows by ascending p."""
    for k in range(order.shape[0]):
        i = order[k]
        if not p[i] <= p_index:
            break
        if clump_of[i] >= 0:
            continue
        is_index[i] = True
        clump_of[i] = i
        lo = np.searchsorted(pos, pos[i] - window_bp, side="left")
        hi = np.searchsorted(pos, pos[i] + window_bp, side="right")
        for j in range(lo, hi):
            if clump_of[j] >= 0 or not p[j] <= p_member:
                continue
            value = _pair_r2(packed[i], packed[j], n_samples, mask, byte_dosage)
            if value >= r2:
                clump_of[j] = i


def clump(packed: np.ndarray, n_samples: int, pos: np.ndarray, p: np.ndarray, r2: float = 0.1,
          window_bp: int = 250_000, p_index: float = 5e-8, p_member: float = 1e-2,
          sample_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Clump the variants of one contig (see the module docstring for the rules).

    packed: uint8 (m, ceil(n_samples / 4)) .bed rows; pos: int (m,) positions, ascending;
    p: float64 (m,), NaN = untested; sample_mask: bool (n_samples,), default all samples.
    Returns is_index: bool (m,) and clump_of: int64 (m,), the row of the index variant of each
    variant's clump (itself for an index variant), -1 for a variant in no clump.
    """
    packed = checked_packed(packed, n_samples)
    pos = np.ascontiguousarray(pos, dtype=np.int64)
    p = np.ascontiguousarray(p, dtype=np.float64)
    m = packed.shape[0]
    if pos.shape != (m,) or p.shape != (m,):
        raise ValueError(f"pos {pos.shape} and p {p.shape} must have shape ({m},)")
    if np.any(np.diff(pos) < 0):
        raise ValueError("pos must be ascending (one contig, sorted by position)")
    if sample_mask is None:
        sample_mask = np.ones(n_samples, dtype=np.bool_)
    mask = np.ascontiguousarray(sample_mask, dtype=np.bool_)
    if mask.shape != (n_samples,):
        raise ValueError(f"sample_mask must have shape ({n_samples},), got {mask.shape}")
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")].astype(np.int64)
    is_index = np.zeros(m, dtype=np.bool_)
    clump_of = np.full(m, -1, dtype=np.int64)
    _clump_into(packed, n_samples, pos, p, order, float(r2), int(window_bp), float(p_index),
                float(p_member), mask, BYTE_DOSAGE, is_index, clump_of)
    return is_index, clump_of


def naive_haplotype_r2(a: np.ndarray, b: np.ndarray) -> float:
    """Clarity twin of the kernel's r² (tests only): haplotype frequencies by maximising the
    likelihood over the phase split of the double heterozygotes with ``scipy``."""
    from scipy import optimize

    table = np.zeros((3, 3))
    np.add.at(table, (a.astype(int), b.astype(int)), 1.0)
    counts = {"AB": 2 * table[2, 2] + table[2, 1] + table[1, 2],
              "Ab": 2 * table[2, 0] + table[2, 1] + table[1, 0],
              "aB": 2 * table[0, 2] + table[1, 2] + table[0, 1],
              "ab": 2 * table[0, 0] + table[1, 0] + table[0, 1]}
    dh, n_hap = table[1, 1], table.sum() * 2

    def freqs(x):
        return ((counts["AB"] + x) / n_hap, (counts["Ab"] + dh - x) / n_hap,
                (counts["aB"] + dh - x) / n_hap, (counts["ab"] + x) / n_hap)

    def negative_loglik(x):
        f = np.maximum(freqs(x), 1e-300)
        fixed = sum(c * np.log(v) for c, v in zip(counts.values(), f, strict=True) if c > 0)
        return -(fixed + (dh * np.log(f[0] * f[3] + f[1] * f[2]) if dh > 0 else 0.0))

    grid = np.linspace(0, dh, 201) if dh > 0 else np.zeros(1)
    x0 = grid[np.argmin([negative_loglik(x) for x in grid])]
    step = dh / 200 if dh > 0 else 0.0
    if dh > 0:
        x0 = optimize.minimize_scalar(negative_loglik, bounds=(max(0, x0 - step),
                                      min(dh, x0 + step)), method="bounded",
                                      options={"xatol": 1e-10}).x
    fAB, fAb, faB, fab = freqs(x0)
    pA, pB = fAB + fAb, fAB + faB
    var = pA * (1 - pA) * pB * (1 - pB)
    return np.nan if var <= 1e-12 else (fAB * fab - fAb * faB) ** 2 / var


def naive_clump(dosage: np.ndarray, pos: np.ndarray, p: np.ndarray, r2: float = 0.1,
                window_bp: int = 250_000, p_index: float = 5e-8, p_member: float = 1e-2,
                sample_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Clarity twin of :func:`clump` (tests only) on int8 dosages (m, n), -1 = missing."""
    m, n = dosage.shape
    mask = np.ones(n, bool) if sample_mask is None else np.asarray(sample_mask, bool)
    is_index = np.zeros(m, bool)
    clump_of = np.full(m, -1, np.int64)
    finite = [i for i in range(m) if np.isfinite(p[i])]
    for i in sorted(finite, key=lambda k: (p[k], k)):
        if p[i] > p_index:
            break
        if clump_of[i] >= 0:
            continue
        is_index[i], clump_of[i] = True, i
        for j in range(m):
            if clump_of[j] >= 0 or abs(pos[j] - pos[i]) > window_bp or not p[j] <= p_member:
                continue
            both = mask & (dosage[i] >= 0) & (dosage[j] >= 0)
            if naive_haplotype_r2(dosage[i, both], dosage[j, both]) >= r2:
                clump_of[j] = i
    return is_index, clump_of
