"""ld_prune: exact equality with a NumPy twin, and with PLINK 2 ``--indep-pairwise``.

The twin (``ld_prune_naive``) implements PLINK 2's greedy rule from scratch on unpacked dosages
(see :mod:`cohortgen.kernels.ld`). Against Debian plink2 v2.00a3.5 on a simulated chromosome the
pruned-in sets are identical (Jaccard 1.0) for variant-count and kb windows; the test asserts
that equality (which implies the brief's Jaccard >= 0.95).
"""

import subprocess

import numpy as np
import pytest

from cohortgen.io.bed import read_bed
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.ld import (
    MAF_TIE_EPSILON,
    bp_windows,
    count_windows,
    ld_prune,
)


def ld_prune_naive(
    dosage: np.ndarray,
    window_starts: np.ndarray,
    window_ends: np.ndarray,
    r2_threshold: float,
) -> np.ndarray:
    """Plain NumPy twin of :func:`ld_prune` (the test oracle), written for clarity.

    dosage: int8, shape (m, n), ALT dosage 0/1/2 or -1 missing. window_starts/ends: int64, the
    windows [start, end) as from :func:`count_windows` / :func:`bp_windows`.
    Returns bool, shape (m,), kept variants.
    """
    m = dosage.shape[0]
    called = dosage >= 0
    x = np.where(called, dosage, 0).astype(np.int64)
    keep = np.ones(m, dtype=bool)
    maj = np.zeros(m)
    for v in range(m):
        n = int(called[v].sum())
        total = int(x[v].sum())
        if n == 0 or n * int((x[v] ** 2).sum()) == total * total:
            keep[v] = False
        else:
            maj[v] = max(total, 2 * n - total) / (2.0 * n)

    def exceeds(f: int, g: int) -> bool:
        both = called[f] & called[g]
        n = int(both.sum())
        xf, xg = x[f][both], x[g][both]
        cov = float(n * int(xf @ xg) - int(xf.sum()) * int(xg.sum()))
        var_f = float(n * int(xf @ xf) - int(xf.sum()) ** 2)
        var_g = float(n * int(xg @ xg) - int(xg.sum()) ** 2)
        return cov * cov > r2_threshold * var_f * var_g

    unchecked = list(range(1, m + 1))
    window: list[int] = []
    loaded = 0
    for s, e in zip(window_starts.tolist(), window_ends.tolist(), strict=True):
        window = [v for v in window if keep[v] and v >= s]
        window += [v for v in range(loaded, e) if keep[v]]
        loaded = e
        changed = True
        while changed:
            changed = False
            for f in window:
                if not keep[f]:
                    continue
                later = [g for g in window if g > f and keep[g] and g >= unchecked[f]]
                for g in later:
                    if exceeds(f, g):
                        changed = True
                        if maj[f] > maj[g] * (1.0 + MAF_TIE_EPSILON):
                            keep[f] = False
                        else:
                            keep[g] = False
                            rest = [h for h in window if h > g and keep[h]]
                            unchecked[f] = rest[0] if rest else e
                        break
                else:
                    if later:
                        unchecked[f] = e
    return keep


def planted_dosages(rng, n_variants=400, n_samples=203):
    """int8 (m, n): random variants, many copies of earlier ones with a few calls changed
    (correlated pairs at many r² levels), missingness, monomorphic/all-het/no-call variants and
    exact MAF ties (copies)."""
    freq = rng.uniform(0.02, 0.5, size=n_variants)
    dosage = rng.binomial(2, freq[:, None], size=(n_variants, n_samples)).astype(np.int8)
    for v in range(1, n_variants):
        if rng.random() < 0.5:
            source = v - rng.integers(1, min(v, 30) + 1)
            dosage[v] = dosage[source]
            flip = rng.random(n_samples) < rng.choice([0.0, 0.05, 0.2, 0.5])
            dosage[v, flip] = rng.integers(0, 3, size=flip.sum())
    dosage[rng.random(dosage.shape) < 0.03] = MISSING
    dosage[10] = 0
    dosage[20] = 1
    dosage[30] = MISSING
    dosage[40, :] = MISSING
    dosage[40, :5] = 2
    return dosage


@pytest.mark.parametrize(
    ("window", "step", "r2"), [(50, 5, 0.2), (20, 1, 0.5), (10, 10, 0.1), (7, 3, 0.8)]
)
def test_ld_prune__matches_naive_twin(window, step, r2):
    rng = np.random.default_rng(window * 100 + step)
    dosage = planted_dosages(rng)
    m, n = dosage.shape
    pos = np.arange(m, dtype=np.int64) * 1000
    keep = ld_prune(pack_dosages(dosage), n, pos, window, step, r2)
    starts, ends = count_windows(m, window, step)
    expected = ld_prune_naive(dosage, starts, ends, r2)
    assert keep.dtype == bool
    assert np.array_equal(keep, expected)
    assert 0 < keep.sum() < m
    assert not keep[[10, 20, 30, 40]].any()


def test_ld_prune__bp_window_matches_naive_twin():
    rng = np.random.default_rng(7)
    dosage = planted_dosages(rng)
    m, n = dosage.shape
    pos = np.cumsum(rng.integers(1, 3000, size=m)).astype(np.int64)
    pos[50:60] = pos[50]  # duplicated positions
    keep = ld_prune(pack_dosages(dosage), n, pos, step=1, r2_threshold=0.3, window_bp=20_000)
    starts, ends = bp_windows(pos, 20_000)
    assert np.array_equal(keep, ld_prune_naive(dosage, starts, ends, 0.3))


@pytest.mark.parametrize("load_block", [1, 3, 64])
def test_ld_prune__any_load_block_matches_naive_twin(load_block):
    """Small blocks wrap the ring of bit planes and flags many times (count and bp windows)."""
    rng = np.random.default_rng(11)
    dosage = planted_dosages(rng)
    m, n = dosage.shape
    packed = pack_dosages(dosage)
    keep = ld_prune(packed, n, np.zeros(m, dtype=np.int64), 20, 4, 0.3, load_block=load_block)
    assert np.array_equal(keep, ld_prune_naive(dosage, *count_windows(m, 20, 4), 0.3))
    pos = np.cumsum(rng.integers(1, 3000, size=m)).astype(np.int64)
    keep = ld_prune(packed, n, pos, step=1, r2_threshold=0.3, window_bp=15_000,
                    load_block=load_block)
    assert np.array_equal(keep, ld_prune_naive(dosage, *bp_windows(pos, 15_000), 0.3))


def test_ld_prune__sample_mask_equals_subsetting():
    rng = np.random.default_rng(3)
    dosage = planted_dosages(rng)
    m, n = dosage.shape
    mask = rng.random(n) < 0.6
    pos = np.arange(m, dtype=np.int64)
    masked = ld_prune(pack_dosages(dosage), n, pos, 30, 3, 0.2, sample_mask=mask)
    subset = ld_prune(pack_dosages(dosage[:, mask]), int(mask.sum()), pos, 30, 3, 0.2)
    assert np.array_equal(masked, subset)


def test_ld_prune__rejects_bad_arguments():
    packed = pack_dosages(np.zeros((3, 8), dtype=np.int8))
    pos = np.arange(3, dtype=np.int64)
    with pytest.raises(ValueError, match="step"):
        ld_prune(packed, 8, pos, 5, 6, 0.2)
    with pytest.raises(ValueError, match="r2_threshold"):
        ld_prune(packed, 8, pos, 5, 1, 1.5)
    with pytest.raises(ValueError, match="step 1"):
        ld_prune(packed, 8, pos, step=2, window_bp=1000)
    with pytest.raises(ValueError, match="sorted"):
        ld_prune(packed, 8, pos[::-1].copy(), step=1, window_bp=1000)
    with pytest.raises(ValueError, match="pos must have shape"):
        ld_prune(packed, 8, pos[:2], 5, 1, 0.2)
    with pytest.raises(ValueError, match="load_block"):
        ld_prune(packed, 8, pos, 5, 1, 0.2, load_block=0)


@pytest.mark.reference
@pytest.mark.parametrize("args", [("50", "5", "0.2"), ("20", "1", "0.5"), ("200kb", "1", "0.1")])
def test_ld_prune__matches_plink2_indep_pairwise(simulated_bfile, plink2, args, tmp_path):
    out = tmp_path / "prune"
    subprocess.run(
        [
            plink2,
            "--bfile",
            simulated_bfile,
            "--indep-pairwise",
            *args,
            "--out",
            out,
            "--threads",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    plink_in = set((tmp_path / "prune.prune.in").read_text().split())
    packed, bim, fam = read_bed(simulated_bfile)
    pos = bim["pos"].to_numpy()
    if args[0].endswith("kb"):
        window_bp = int(args[0][:-2]) * 1000
        keep = ld_prune(
            packed, len(fam), pos, step=1, r2_threshold=float(args[2]), window_bp=window_bp
        )
    else:
        keep = ld_prune(packed, len(fam), pos, int(args[0]), int(args[1]), float(args[2]))
    ours = set(bim["id"][keep])
    jaccard = len(ours & plink_in) / len(ours | plink_in)
    assert 0 < len(ours) < len(bim)
    assert ours == plink_in, f"Jaccard {jaccard:.4f}"
