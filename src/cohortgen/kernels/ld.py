"""LD pruning as PLINK 2 ``--indep-pairwise``: greedy pairwise r² within sliding windows.

Input ``packed`` is uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes
(see :mod:`cohortgen.kernels.bed`), the variants of ONE chromosome in position order.

PLINK 2's rule (``IndepPairwiseThread`` in plink2_ld.cc, checked against Debian plink2
v2.00a3.5 ``.prune.in``):

* Variants with no variance among the non-missing calls (all hom, all het, or all missing) are
  pruned on sight.
* Windows: ``[s, s + window)`` for s = 0, step, 2·step, … (the last one is cut at the end of the
  chromosome); with a bp window (``window_bp``, PLINK ``<kb>kb`` with step 1) a window holds the
  variants with ``pos <= pos[s] + window_bp`` and ``s`` advances just far enough for the window
  end to move. Pruned variants leave the window for good.
* In each window PLINK makes passes until one removes nothing. A pass walks the kept variants
  ``f`` in order; for each it scans the later kept variants ``g`` not yet compared with ``f``
  and stops at the first with r² > threshold (strictly). Of that pair it removes ``f`` if
  ``f``'s major-allele frequency is larger than ``g``'s by more than a relative 2^-44 (i.e.
  ``f`` has the lower MAF), else ``g`` (the later variant, also on MAF ties). Then the pass
  moves to the next ``f``.
* r² = cov² / (var₁ var₂) of allele counts over the samples non-missing for BOTH variants
  (integer sums, compared as ``cov² > r2_threshold · var₁ · var₂`` in float64, as PLINK);
  allele frequencies for the MAF rule use each variant's own non-missing calls.

The kernel keeps a ring of bit-plane rows (hom-ALT bits, carries-ALT bits and non-missing bits,
64 samples per uint64) and, per variant, the r² > threshold flags against the variants before it
that share a window with it. Rows and flags are computed for blocks of :data:`LOAD_BLOCK` new
variants at a time (parallel over variants; each pair once, skipping variants already pruned);
the greedy passes then run serially, window by window.
"""

import numpy as np
from numba import prange

from cohortgen.kernels._numba import kernel, parallel_kernel
from cohortgen.kernels.bed import checked_packed
from cohortgen.kernels.bitplanes import BYTE_PLANES, mask_words, popcount, row_planes

MAF_TIE_EPSILON = 2.0**-44
"""PLINK 2's ``kSmallEpsilon``: relative slack when comparing major-allele frequencies."""

LOAD_BLOCK = 2048
"""Default new variants whose bit planes and pair flags are computed together (one parallel
step)."""


def ld_prune(
    packed: np.ndarray,
    n_samples: int,
    pos: np.ndarray,
    window_variants: int = 50,
    step: int = 5,
    r2_threshold: float = 0.2,
    *,
    window_bp: int | None = None,
    sample_mask: np.ndarray | None = None,
    load_block: int = LOAD_BLOCK,
) -> np.ndarray:
    """PLINK 2 ``--indep-pairwise <window_variants> <step> <r2_threshold>`` on one chromosome.

    packed: uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes, position order.
    pos: int64, shape (m,), non-decreasing base-pair positions (used only with ``window_bp``).
    window_bp: if given, a bp window (PLINK ``--indep-pairwise <window_bp/1000>kb 1 <r2>``);
    ``window_variants`` is then ignored and ``step`` must be 1.
    sample_mask: bool, shape (n_samples,), samples to use (PLINK uses founders); default all.
    load_block: new variants per parallel step (memory and speed only: the result is the same).
    Returns bool, shape (m,): True for variants kept (PLINK's ``.prune.in``).
    """
    packed = checked_packed(packed, n_samples)
    m = packed.shape[0]
    pos = np.ascontiguousarray(pos, dtype=np.int64)
    if pos.shape != (m,):
        raise ValueError(f"pos must have shape ({m},), got {pos.shape}")
    if not 0.0 <= r2_threshold <= 1.0:
        raise ValueError(f"r2_threshold must lie in [0, 1], got {r2_threshold}")
    keep = np.ones(m, dtype=bool)
    if m == 0:
        return keep
    if window_bp is not None:
        if step != 1:
            raise ValueError("a bp window needs step 1 (as PLINK)")
        if window_bp < 1:
            raise ValueError(f"window_bp must be >= 1, got {window_bp}")
        if m and np.any(np.diff(pos) < 0):
            raise ValueError("pos must be sorted (non-decreasing) for a bp window")
        starts, ends = bp_windows(pos, int(window_bp))
    else:
        if window_variants < 2 or not 1 <= step <= window_variants:
            raise ValueError(
                f"need window_variants >= 2 and 1 <= step <= window_variants, got "
                f"{window_variants} and {step}"
            )
        starts, ends = count_windows(m, int(window_variants), int(step))
    if sample_mask is None:
        sample_mask = np.ones(n_samples, dtype=bool)
    sample_mask = np.ascontiguousarray(sample_mask, dtype=bool)
    if sample_mask.shape != (n_samples,):
        raise ValueError(f"sample_mask must have shape ({n_samples},), got {sample_mask.shape}")
    capacity = int((ends - starts).max())
    words = mask_words(sample_mask)
    if load_block < 1:
        raise ValueError(f"load_block must be >= 1, got {load_block}")
    _prune_into(packed, words, starts, ends, capacity, int(load_block), float(r2_threshold),
                BYTE_PLANES, keep)
    return keep


def count_windows(m: int, window: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 (w,), (w,): PLINK's variant-count windows [start, end) up to the last variant."""
    starts = [0]
    ends = [min(window, m)]
    while ends[-1] < m:
        starts.append(starts[-1] + step)
        ends.append(min(starts[-1] + window, m))
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


@kernel
def bp_windows(pos, window_bp):
    """int64 (w,), (w,): PLINK's bp windows (``LdPruneNextWindow``), [start, end) per window."""
    m = pos.shape[0]
    starts = np.empty(m, dtype=np.int64)
    ends = np.empty(m, dtype=np.int64)
    s = 0
    e = 1
    while e < m and pos[e] <= pos[0] + window_bp:
        e += 1
    w = 0
    starts[0] = s
    ends[0] = e
    w = 1
    while e < m:
        start_min = pos[e] - window_bp  # pos of the first variant beyond the window
        s += 1
        while pos[s] < start_min:
            s += 1
        e += 1
        while e < m and pos[e] <= pos[s] + window_bp:
            e += 1
        starts[w] = s
        ends[w] = e
        w += 1
    return starts[:w].copy(), ends[:w].copy()


@kernel
def _pair_exceeds(i, j, hom, car, nm, n_nm, sums, ssqs, n_full, threshold):
    """True if r² of ring slots ``i``, ``j`` over jointly non-missing samples > threshold (one
    pass over the words; the per-variant sums serve when neither has a missing call)."""
    n_words = hom.shape[1]
    sxy = 0
    if n_nm[i] == n_full and n_nm[j] == n_full:
        for w in range(n_words):
            sxy += _cross_count(car[i, w], hom[i, w], car[j, w], hom[j, w])
        n, sx, sxx, sy, syy = n_full, sums[i], ssqs[i], sums[j], ssqs[j]
    else:
        n = hx = cx = hy = cy = 0
        for w in range(n_words):
            ci, hi, cj, hj = car[i, w], hom[i, w], car[j, w], hom[j, w]
            both = nm[i, w] & nm[j, w]
            sxy += _cross_count(ci, hi, cj, hj)
            n += popcount(both)
            hx += popcount(hi & both)
            cx += popcount(ci & both)
            hy += popcount(hj & both)
            cy += popcount(cj & both)
        sx, sxx, sy, syy = cx + hx, cx + 3 * hx, cy + hy, cy + 3 * hy
    cov = float(n * sxy - sx * sy)
    var1 = float(n * sxx - sx * sx)
    var2 = float(n * syy - sy * sy)
    return cov * cov > threshold * var1 * var2


@kernel
def _cross_count(ci, hi, cj, hj):
    """Sum over the word's samples of dosage_i * dosage_j (dosage = carrier bit + hom bit; a
    sample missing in either has no bits)."""
    return popcount(ci & cj) + popcount(ci & hj) + popcount(hi & cj) + popcount(hi & hj)


@parallel_kernel
def _load_block(packed, start, stop, ring, mask_words, planes_table, hom, car, nm, n_nm, sums,
                ssqs, maj_freq, keep):
    """Bit planes of rows [start, stop) into ring slots ``v % ring`` (parallel over rows);
    rows with no variance among their non-missing calls are pruned on sight."""
    for v in prange(start, stop):
        slot = v % ring
        cnt, sm, sq = row_planes(packed[v], mask_words, planes_table, hom[slot], car[slot],
                                 nm[slot])
        n_nm[slot] = cnt
        sums[slot] = sm
        ssqs[slot] = sq
        if cnt == 0 or cnt * sq == sm * sm:
            keep[v] = False
        else:
            maj_freq[v] = max(sm, 2 * cnt - sm) / (2.0 * cnt)


@parallel_kernel
def _flag_block(start, stop, first_partner, ring, hom, car, nm, n_nm, sums, ssqs, n_full,
                threshold, keep, flags):
    """``flags[j % ring, j - i]`` = r² > threshold for each kept j in [start, stop) and kept i
    in [first_partner[j], j): every pair that shares a window (parallel over j)."""
    for j in prange(start, stop):
        if keep[j]:
            for i in range(first_partner[j], j):
                if keep[i]:
                    flags[j % ring, j - i] = _pair_exceeds(i % ring, j % ring, hom, car, nm,
                                                           n_nm, sums, ssqs, n_full, threshold)


@kernel
def _prune_into(packed, mask_words, starts, ends, capacity, load_block, threshold, planes_table,
                keep):
    """Run PLINK's greedy pruning over the windows; clear ``keep`` for pruned variants.

    Rows are loaded and their window pairs' r² flags computed in blocks of up to
    ``load_block`` new variants (two parallel steps per block); a ring of
    ``capacity + load_block`` slots holds the bit planes and, per later variant, the flags
    against the ``capacity - 1`` variants before it. The greedy passes then run window by
    window.
    """
    m = packed.shape[0]
    ring = capacity + load_block
    n_words = mask_words.shape[0]
    n_full = 0
    for w in range(n_words):
        n_full += popcount(mask_words[w])
    hom = np.zeros((ring, n_words), dtype=np.uint64)
    car = np.zeros((ring, n_words), dtype=np.uint64)
    nm = np.zeros((ring, n_words), dtype=np.uint64)
    n_nm = np.zeros(ring, dtype=np.int64)
    sums = np.zeros(ring, dtype=np.int64)
    ssqs = np.zeros(ring, dtype=np.int64)
    flags = np.zeros((ring, capacity), dtype=np.bool_)
    maj_freq = np.zeros(m, dtype=np.float64)
    first_partner = _first_partners(starts, ends, m)
    unchecked = np.arange(1, m + 1).astype(np.int64)  # PLINK's first_unchecked_tvidx
    active = np.empty(capacity, dtype=np.int64)  # kept variants in the window, in order
    removed = np.zeros(capacity, dtype=np.bool_)  # per active position, this window
    n_active = 0
    loaded_end = 0  # rows loaded so far
    window_end = 0  # end of the previous window
    for w in range(starts.shape[0]):
        s = starts[w]
        e = ends[w]
        if e > loaded_end:
            stop = min(m, s + ring)  # slots of variants before s are free
            _load_block(packed, loaded_end, stop, ring, mask_words, planes_table, hom, car, nm,
                        n_nm, sums, ssqs, maj_freq, keep)
            _flag_block(loaded_end, stop, first_partner, ring, hom, car, nm, n_nm, sums, ssqs,
                        n_full, threshold, keep, flags)
            loaded_end = stop
        # drop pruned variants and those before the window start, then add the new ones
        write = 0
        for a in range(n_active):
            v = active[a]
            if keep[v] and v >= s:
                active[write] = v
                write += 1
        n_active = write
        for v in range(max(window_end, s), e):
            if keep[v]:
                active[n_active] = v
                n_active += 1
        window_end = e
        _greedy_passes(active, n_active, removed, e, ring, flags, maj_freq, unchecked, keep)


@kernel
def _first_partners(starts, ends, m):
    """int64 (m,): for each variant j, the first variant of the first window holding j."""
    out = np.empty(m, dtype=np.int64)
    w = 0
    for j in range(m):
        while ends[w] <= j:
            w += 1
        out[j] = starts[w]
    return out


@kernel
def _greedy_passes(active, n_active, removed, e, ring, flags, maj_freq, unchecked, keep):
    """PLINK's greedy passes over one window's kept variants ``active[:n_active]`` (in order),
    until a pass removes nothing; ``e`` is the window end."""
    removed[:n_active] = False
    n_removed = 0
    while True:
        before = n_removed
        fa = 0
        while fa < n_active:
            if removed[fa]:
                fa += 1
                continue
            f = active[fa]
            ga = fa + 1
            while ga < n_active and (removed[ga] or active[ga] < unchecked[f]):
                ga += 1
            while ga < n_active:
                g = active[ga]
                if flags[g % ring, g - f]:
                    if maj_freq[f] > maj_freq[g] * (1.0 + MAF_TIE_EPSILON):
                        removed[fa] = True
                        keep[f] = False
                    else:
                        removed[ga] = True
                        keep[g] = False
                        nxt = ga + 1
                        while nxt < n_active and removed[nxt]:
                            nxt += 1
                        unchecked[f] = active[nxt] if nxt < n_active else e
                    n_removed += 1
                    break
                ga += 1
                while ga < n_active and removed[ga]:
                    ga += 1
                if ga == n_active:
                    unchecked[f] = e
            fa += 1
        if n_removed == before:
            break
