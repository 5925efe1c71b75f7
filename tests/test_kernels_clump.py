"""LD clumping kernel: naive twin (exact) and plink1.9 --clump (same index variants and clumps)."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import read_bed
from cohortgen.kernels.bed import pack_dosages, unpack_dosages
from cohortgen.kernels.clump import (
    clump,
    clump_by_levels,
    haplotype_r2,
    pair_levels,
    r2_at_least,
)
from cohortgen.simulate import simulate_cohort


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


def ld_blocks(rng, n_variants=120, n_samples=200, block=10):
    """int8 dosages (m, n) in blocks of correlated variants (copies with random flips), 2%
    missing; positions 10 kb apart."""
    base = rng.binomial(2, rng.uniform(0.1, 0.5, size=(n_variants // block, 1)),
                        size=(n_variants // block, n_samples))
    dosage = np.repeat(base, block, axis=0)
    flip = rng.random(dosage.shape) < rng.uniform(0.0, 0.5, size=(n_variants, 1))
    dosage = np.where(flip, rng.binomial(2, 0.3, size=dosage.shape), dosage).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.02] = -1
    return dosage, np.arange(n_variants, dtype=np.int64) * 10_000 + 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clump__matches_naive_twin(seed):
    rng = np.random.default_rng(seed)
    dosage, pos = ld_blocks(rng)
    p = rng.uniform(size=len(pos)) ** 6
    p[rng.random(len(p)) < 0.05] = np.nan
    mask = rng.random(dosage.shape[1]) < 0.9
    for r2, window in [(0.1, 250_000), (0.5, 30_000)]:
        ours = clump(pack_dosages(dosage), dosage.shape[1], pos, p, r2, window, 1e-3, 0.2, mask)
        twin = naive_clump(dosage, pos, p, r2, window, 1e-3, 0.2, mask)
        np.testing.assert_array_equal(ours[0], twin[0])
        np.testing.assert_array_equal(ours[1], twin[1])
        assert ours[0].sum() > 1


@pytest.mark.parametrize("seed", [4, 5])
def test_clump_by_levels__matches_clump_at_every_threshold(seed):
    rng = np.random.default_rng(seed)
    dosage, pos = ld_blocks(rng, n_variants=200)
    dosage[7] = 1  # monomorphic: no r2
    p = rng.uniform(size=len(pos)) ** 4
    p[rng.random(len(p)) < 0.05] = np.nan
    mask = rng.random(dosage.shape[1]) < 0.8
    packed, n = pack_dosages(dosage), dosage.shape[1]
    thresholds = np.array([0.1, 0.2, 0.5, 0.8])
    start, levels = pair_levels(packed, n, pos, thresholds, 60_000, mask)
    assert levels.size == start[-1] > 0
    for level, r2 in enumerate(thresholds, start=1):
        for p_index, p_member in [(1.0, 1.0), (1e-2, 0.3)]:
            expected = clump(packed, n, pos, p, r2, 60_000, p_index, p_member, mask)
            ours = clump_by_levels(p, start, levels, level, p_index, p_member)
            np.testing.assert_array_equal(ours[0], expected[0])
            np.testing.assert_array_equal(ours[1], expected[1])


def test_clump__constant_variant_never_joins_and_nan_p_is_ignored():
    dosage = np.array([[0, 1, 2, 1], [0, 0, 0, 0], [0, 1, 2, 1]], dtype=np.int8)
    pos = np.array([1, 2, 3])
    is_index, clump_of = clump(pack_dosages(dosage), 4, pos, np.array([1e-9, 1e-9, np.nan]))
    assert is_index.tolist() == [True, True, False]
    assert clump_of.tolist() == [0, 1, -1]


def test_clump__rejects_unsorted_positions():
    dosage = np.zeros((2, 4), dtype=np.int8)
    with pytest.raises(ValueError, match="ascending"):
        clump(pack_dosages(dosage), 4, np.array([5, 1]), np.array([0.1, 0.1]))


@pytest.fixture(scope="module")
def plink_clumped(plink2, plink19, tmp_path_factory):
    """msprime cohort (300 samples, 5 Mb), synthetic p-values with several strong signals, our
    clumps and plink1.9's ``--clump`` report."""
    tmp = tmp_path_factory.mktemp("clump")
    sim = simulate_cohort(tmp / "sim", 300, 1, 5.0, seed=11)
    subprocess.run([plink2, "--vcf", sim["vcf"], "--make-bed", "--out", str(tmp / "g")],
                   check=True, capture_output=True)
    packed, bim, fam = read_bed(tmp / "g")
    rng = np.random.default_rng(5)
    dosage = unpack_dosages(packed, len(fam)).astype(float)
    dosage[dosage < 0] = np.nan
    m = len(bim)
    z = rng.normal(size=m)
    for lead in rng.choice(m, size=6, replace=False):  # signals spread by LD with the lead
        r = pd.DataFrame(dosage.T).corrwith(pd.Series(dosage[lead]), axis=0).fillna(0).to_numpy()
        z += 9.0 * r
    from scipy import stats

    p = 2 * stats.norm.sf(np.abs(z))
    pd.DataFrame({"SNP": bim["id"], "P": p}).to_csv(tmp / "assoc.tsv", sep="\t", index=False,
                                                    float_format="%.6e")
    p = pd.read_csv(tmp / "assoc.tsv", sep="\t")["P"].to_numpy()  # same rounding as PLINK sees
    subprocess.run([plink19, "--bfile", str(tmp / "g"), "--clump", str(tmp / "assoc.tsv"),
                    "--clump-p1", "1e-5", "--clump-p2", "0.01", "--clump-r2", "0.1",
                    "--clump-kb", "250", "--out", str(tmp / "ref")], check=True,
                   capture_output=True)
    report = pd.read_csv(tmp / "ref.clumped", sep=r"\s+")
    ours = clump(packed, len(fam), bim["pos"].to_numpy(), p, 0.1, 250_000, 1e-5, 0.01)
    return bim, report, ours


@pytest.mark.reference
def test_clump__matches_plink19(plink_clumped):
    bim, report, (is_index, clump_of) = plink_clumped
    ids = bim["id"].to_numpy()
    assert len(report) >= 3
    assert sorted(ids[is_index]) == sorted(report["SNP"])
    for _, row in report.iterrows():
        i = int(np.flatnonzero(ids == row["SNP"])[0])
        members = set() if row["SP2"] == "NONE" else {s.rsplit("(", 1)[0]
                                                   for s in row["SP2"].split(",")}
        ours = set(ids[(clump_of == i) & (np.arange(len(ids)) != i)])
        assert ours == members, row["SNP"]


def test_r2_at_least__bounds_agree_with_em_on_random_tables():
    rng = np.random.default_rng(4)
    tables = [rng.integers(0, 30, size=(3, 3)).astype(float) * (rng.random((3, 3)) < 0.7)
              for _ in range(3000)]
    tables += [np.diag([10.0, 5.0, 10.0]), np.zeros((3, 3)), np.ones((3, 3))]
    for table in tables:
        r2_em = haplotype_r2(table)
        for r2 in (0.05, 0.2, 0.5, 0.8):
            expected = bool(np.isfinite(r2_em) and r2_em >= r2)
            assert r2_at_least(table, r2) == expected, (table, r2, r2_em)
