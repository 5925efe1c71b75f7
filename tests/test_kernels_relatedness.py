"""KING-robust kinship kernels: naive NumPy twins, planted relatives, and PLINK 2 (2.00a3.5).

PLINK 2 ``--make-king-table counts`` prints exact integer counts (NSNP, HETHET, IBS0,
HET1_HOM2, HET2_HOM1) and KINSHIP with 6 significant digits; |kinship| <= 0.5, so a correct
value is within 5e-7 of the printed one and the test allows 1e-6.
"""

import subprocess

import numba
import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.kernels import relatedness
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.relatedness import (
    king_counts,
    king_kinship,
    king_related_pairs,
)
from cohortgen.qc.genotypes import subset_samples
from cohortgen.qc.relatedness import (
    degree,
    maximal_unrelated_set,
    pair_frame,
    related_pair_table,
)


def kinship_matrix(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray) -> np.ndarray:
    """float64 (k, k): KING-robust kinship among ``sample_idx`` (int64 (k,), .fam order)."""
    sub = subset_samples(packed, n_samples, sample_idx)
    return king_kinship(*king_counts(sub, len(sample_idx)))


def pair_table(kinship: np.ndarray, sample_ids: list[str], threshold: float) -> pd.DataFrame:
    """Related pairs: id1, id2 (str), kinship, degree (0 duplicate/MZ, 1, 2, 3)."""
    return pair_frame(related_pairs(kinship, sample_ids, threshold), sample_ids)


def related_pairs(
    kinship: np.ndarray, sample_ids, threshold: float = 0.0884
) -> list[tuple[int, int, float]]:
    """Pairs with kinship above ``threshold`` (default: 2nd degree or closer).

    kinship: float64, shape (n, n), from :func:`king_kinship`; sample_ids: n IDs, in the same
    order (checked against the matrix). Returns (i, j, kinship) with i < j sample indices,
    ordered by i then j; nan/-inf pairs never qualify.
    """
    kinship = np.asarray(kinship, dtype=np.float64)
    n = len(sample_ids)
    if kinship.shape != (n, n):
        raise ValueError(f"kinship has shape {kinship.shape}, expected ({n}, {n}) for the IDs")
    rows, cols = np.nonzero(np.triu(kinship > threshold, k=1))
    return [(int(i), int(j), float(kinship[i, j])) for i, j in zip(rows, cols, strict=True)]


def naive_king_counts(dosage: np.ndarray) -> tuple[np.ndarray, ...]:
    """Twin of king_counts on int8 (m, n) dosages: indicator matrix products."""
    called = (dosage != MISSING).astype(np.int64)
    het = (dosage == 1).astype(np.int64)
    hom_alt = (dosage == 2).astype(np.int64)
    hom_ref = (dosage == 0).astype(np.int64)
    return het.T @ het, hom_alt.T @ hom_ref + hom_ref.T @ hom_alt, het.T @ called, called.T @ called


def naive_kinship(dosage: np.ndarray, i: int, j: int) -> float:
    """KING paper's between-family estimator for one pair, over variants called in both."""
    both = (dosage[:, i] != MISSING) & (dosage[:, j] != MISSING)
    gi, gj = dosage[both, i], dosage[both, j]
    n_hethet = np.sum((gi == 1) & (gj == 1))
    n_ibs0 = np.sum(np.abs(gi.astype(int) - gj) == 2)
    het_i, het_j = np.sum(gi == 1), np.sum(gj == 1)
    smaller = min(het_i, het_j)
    return (n_hethet - 2 * n_ibs0) / (2 * smaller) + 0.5 - (het_i + het_j) / (4 * smaller)


def random_dosages(rng, n_variants, n_samples, missing_rate):
    freq = rng.uniform(0.05, 0.5, size=(n_variants, 1))
    dosage = (rng.random((n_variants, n_samples)) < freq).astype(np.int8)
    dosage += rng.random((n_variants, n_samples)) < freq
    dosage[rng.random(dosage.shape) < missing_rate] = MISSING
    return dosage


PLANTED = {"duplicate": 0, "parent_offspring": 1, "full_sibs": 1, "half_sibs": 2, "cousins": 3}


def cohort_with_relatives(rng, n_unrelated=190, n_variants=3000):
    """int8 (m, n) dosages of unrelated samples plus one planted pair per PLANTED entry
    (independent variants, per-variant Mendelian transmission), shuffled; 1% missing.
    Returns (dosage, {relationship: (i, j)})."""
    freq = rng.uniform(0.05, 0.5, size=n_variants)

    def founder():
        return (rng.random((2, n_variants)) < freq).astype(np.int8)

    def child(mother, father):
        pick = rng.integers(0, 2, size=(2, n_variants))
        return np.stack(
            [mother[pick[0], np.arange(n_variants)], father[pick[1], np.arange(n_variants)]]
        )

    genomes = [founder() for _ in range(n_unrelated)]
    # Fresh founders for each relationship, so planted pairs are unrelated to each other.
    a, b, c, d, e, f, g, h, k = (founder() for _ in range(9))
    sib1, sib2 = child(g, h), child(g, h)
    parent = founder()
    pairs = {
        "duplicate": (founder(),) * 2,
        "parent_offspring": (parent, child(parent, a)),
        "full_sibs": (child(b, c), child(b, c)),
        "half_sibs": (child(d, e), child(d, f)),
        "cousins": (child(sib1, k), child(sib2, founder())),
    }
    labels = [None] * n_unrelated
    for name, (g1, g2) in pairs.items():
        genomes += [g1, g2]
        labels += [name, name]
    order = rng.permutation(len(genomes))
    dosage = np.stack([genomes[k].sum(axis=0) for k in order], axis=1).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.01] = MISSING
    where = {}
    for position, k in enumerate(order):
        if labels[k] is not None:
            where.setdefault(labels[k], []).append(position)
    return dosage, {name: tuple(sorted(pos)) for name, pos in where.items()}


@pytest.fixture(scope="module")
def cohort():
    """200 samples x 3,000 variants: enough for exact counts, too few to separate 3rd degree
    from noise (unrelated kinship SD is about 0.02)."""
    return cohort_with_relatives(np.random.default_rng(2010))


@pytest.fixture(scope="module")
def deep_cohort():
    """200 samples x 30,000 variants: unrelated kinship SD about 0.006, so degrees separate."""
    return cohort_with_relatives(np.random.default_rng(2010), n_variants=30_000)


@pytest.mark.parametrize("sample_tile", [7, 8])
def test_king_counts__matches_naive_twin_across_blocks_and_tiles(monkeypatch, sample_tile):
    # Odd and even tile heights: rows go two at a time, an odd last row of a tile alone.
    rng = np.random.default_rng(1)
    dosage = random_dosages(rng, 333, 37, missing_rate=0.05)
    dosage[:, 5] = MISSING  # a sample with no call
    dosage[:, 6] = np.where(dosage[:, 6] == MISSING, 0, dosage[:, 6])  # one with none missing
    monkeypatch.setattr(relatedness, "VARIANT_BLOCK", 128)
    monkeypatch.setattr(relatedness, "SAMPLE_TILE", sample_tile)
    got = king_counts(pack_dosages(dosage), 37)
    for name, g, want in zip(
        ("hethet", "ibs0", "het", "n_both"), got, naive_king_counts(dosage), strict=True
    ):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, want, err_msg=name)


def test_king_counts__no_missing_calls():
    dosage = random_dosages(np.random.default_rng(2), 200, 21, missing_rate=0.0)
    got = king_counts(pack_dosages(dosage), 21)
    for g, want in zip(got, naive_king_counts(dosage), strict=True):
        np.testing.assert_array_equal(g, want)


def test_king_counts__same_for_any_thread_count():
    dosage = random_dosages(np.random.default_rng(3), 500, 150, missing_rate=0.02)
    packed = pack_dosages(dosage)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = king_counts(packed, 150)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, king_counts(packed, 150), strict=True):
        np.testing.assert_array_equal(a, b)


def test_king_counts__rejects_wrong_row_width():
    with pytest.raises(ValueError, match="shape"):
        king_counts(np.zeros((3, 2), dtype=np.uint8), 9)


def full_matrix_pairs(packed, n, threshold):
    """Twin of king_related_pairs: the full-matrix path, then the pairs above threshold."""
    counts = king_counts(packed, n)
    hethet, ibs0, het, n_both = counts
    kinship = king_kinship(*counts)
    i, j = np.nonzero(np.triu(kinship > threshold, k=1))
    return i, j, kinship[i, j], n_both[i, j], hethet[i, j], ibs0[i, j], het[i, j], het[j, i]


@pytest.mark.parametrize(
    ("n", "tile", "sample_tile"),
    [
        (37, 10, 4),
        (37, 37, 8),
        (37, 64, 8),
        (37, 1, 8),
        (64, 16, 16),
        (150, 23, 8),
        (150, 1024, 64),
    ],
)
def test_king_related_pairs__equals_full_matrix_pairs(monkeypatch, n, tile, sample_tile):
    rng = np.random.default_rng(n + tile)
    dosage = random_dosages(rng, 333, n, missing_rate=0.05)
    dosage[:, 5] = MISSING  # no call: nan kinship everywhere, never kept
    dosage[:, 6] = np.where(dosage[:, 6] == MISSING, 0, dosage[:, 6])  # none missing
    dosage[:, 7] = dosage[:, 8]  # duplicates: one pair close together
    dosage[:, n - 1] = dosage[:, 0]  # and one in the first and last tiles
    monkeypatch.setattr(relatedness, "VARIANT_BLOCK", 128)
    monkeypatch.setattr(relatedness, "SAMPLE_TILE", sample_tile)
    packed = pack_dosages(dosage)
    for threshold in (-1.0, 0.0, 0.0884):
        got = king_related_pairs(packed, n, threshold, tile=tile)
        want = full_matrix_pairs(packed, n, threshold)
        assert len(got.i) > 0
        for name, g, w in zip(got._fields, got, want, strict=True):
            assert g.dtype == w.dtype, name
            np.testing.assert_array_equal(g, w, err_msg=f"{name} at threshold {threshold}")


def test_king_related_pairs__planted_pairs_as_related_pairs(deep_cohort):
    dosage, planted = deep_cohort
    n = dosage.shape[1]
    packed = pack_dosages(dosage)
    kinship = king_kinship(*king_counts(packed, n))
    want = related_pairs(kinship, [f"s{k}" for k in range(n)], threshold=0.0442)
    got = king_related_pairs(packed, n, 0.0442, tile=48)
    assert list(zip(got.i.tolist(), got.j.tolist(), got.kinship.tolist(), strict=True)) == want
    assert {(i, j) for i, j, _ in want} == set(planted.values())


def test_king_related_pairs__same_for_any_thread_count():
    dosage = random_dosages(np.random.default_rng(3), 500, 150, missing_rate=0.02)
    packed = pack_dosages(dosage)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = king_related_pairs(packed, 150, -1.0, tile=40)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, king_related_pairs(packed, 150, -1.0, tile=40), strict=True):
        np.testing.assert_array_equal(a, b)


def test_king_related_pairs__rejects_bad_tile_and_row_width():
    with pytest.raises(ValueError, match="tile"):
        king_related_pairs(np.zeros((3, 3), dtype=np.uint8), 9, 0.1, tile=0)
    with pytest.raises(ValueError, match="shape"):
        king_related_pairs(np.zeros((3, 2), dtype=np.uint8), 9, 0.1)


def test_king_kinship__matches_king_paper_formula(cohort):
    dosage, _ = cohort
    kinship = king_kinship(*king_counts(pack_dosages(dosage), dosage.shape[1]))
    rng = np.random.default_rng(4)
    for i, j in rng.integers(0, dosage.shape[1], size=(40, 2)):
        if i != j:
            assert kinship[i, j] == pytest.approx(naive_kinship(dosage, i, j), abs=1e-12)
    np.testing.assert_array_equal(kinship, kinship.T)
    np.testing.assert_array_equal(np.diag(kinship), 0.5)


def test_king_kinship__no_het_in_smaller_sample_is_minus_inf():
    dosage = np.array([[0, 1], [2, 1], [0, 0]], dtype=np.int8)  # sample 0 never het
    kinship = king_kinship(*king_counts(pack_dosages(dosage), 2))
    assert kinship[0, 1] == -np.inf


def test_king_kinship__no_het_and_no_difference_is_nan():
    # 0/0: no het call in either sample and no IBS0 (identical homozygotes everywhere).
    dosage = np.array([[0, 0], [2, 2], [MISSING, 0]], dtype=np.int8)
    kinship = king_kinship(*king_counts(pack_dosages(dosage), 2))
    assert np.isnan(kinship).all()


def test_related_pairs__finds_planted_pairs_with_their_degree(deep_cohort):
    dosage, planted = deep_cohort
    n = dosage.shape[1]
    kinship = king_kinship(*king_counts(pack_dosages(dosage), n))
    ids = [f"s{k}" for k in range(n)]
    found = {(i, j): k for i, j, k in related_pairs(kinship, ids, threshold=0.0442)}
    assert set(found) == set(planted.values())
    for name, pair in planted.items():
        assert degree(found[pair]) == PLANTED[name], (name, found[pair])
    close = {(i, j) for i, j, _ in related_pairs(kinship, ids)}
    assert close == {pair for name, pair in planted.items() if PLANTED[name] <= 2}


def test_maximal_unrelated_set__drops_exactly_one_of_each_pair(deep_cohort):
    dosage, planted = deep_cohort
    n = dosage.shape[1]
    kinship = king_kinship(*king_counts(pack_dosages(dosage), n))
    pairs = related_pairs(kinship, [str(k) for k in range(n)], threshold=0.0442)
    call_rate = np.mean(dosage != MISSING, axis=0)
    is_case = np.zeros(n, dtype=bool)
    keep = maximal_unrelated_set(n, pairs, call_rate, is_case)
    assert keep.sum() == n - len(planted)
    for i, j in planted.values():
        assert keep[i] != keep[j]
        dropped = i if not keep[i] else j
        other = j if dropped == i else i
        assert call_rate[dropped] <= call_rate[other]
    np.testing.assert_array_equal(keep, maximal_unrelated_set(n, pairs[::-1], call_rate, is_case))


@pytest.mark.reference
def test_king_counts__matches_plink2_make_king_table(cohort, plink2, tmp_path):
    dosage, _ = cohort
    n_variants, n = dosage.shape
    packed = pack_dosages(dosage)
    ids = [f"s{k}" for k in range(n)]
    bim = pd.DataFrame(
        {
            "chrom": np.where(np.arange(n_variants) < n_variants // 2, "1", "2"),
            "id": [f"v{k}" for k in range(n_variants)],
            "cm": 0.0,
            "pos": np.arange(1, n_variants + 1) * 100,
            "a1": "T",
            "a2": "C",
        }
    )
    fam = pd.DataFrame(
        {"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 1, "pheno": "-9"}
    )
    write_bed(tmp_path / "c", packed, bim, fam)
    subprocess.run(
        [
            plink2,
            "--bfile",
            str(tmp_path / "c"),
            "--make-king-table",
            "counts",
            "cols=id,nsnp,hethet,ibs0,ibs1,kinship",
            "--threads",
            "2",
            "--out",
            str(tmp_path / "c"),
        ],
        check=True,
        capture_output=True,
    )
    table = pd.read_csv(tmp_path / "c.kin0", sep="\t", dtype={"#IID1": str, "IID2": str})
    i = table["#IID1"].str[1:].astype(int).to_numpy()
    j = table["IID2"].str[1:].astype(int).to_numpy()
    assert len(table) == n * (n - 1) // 2
    hethet, ibs0, het, n_both = king_counts(packed, n)
    np.testing.assert_array_equal(table["NSNP"], n_both[i, j])
    np.testing.assert_array_equal(table["HETHET"], hethet[i, j])
    np.testing.assert_array_equal(table["IBS0"], ibs0[i, j])
    # "1" is the earlier sample in the file (IID2), "2" the later one (#IID1).
    np.testing.assert_array_equal(table["HET1_HOM2"], het[j, i] - hethet[i, j])
    np.testing.assert_array_equal(table["HET2_HOM1"], het[i, j] - hethet[i, j])
    kinship = king_kinship(hethet, ibs0, het, n_both)
    np.testing.assert_allclose(kinship[i, j], table["KINSHIP"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("threshold", [0.0442, 0.6])
def test_related_pair_table__same_table_as_full_matrix_path(deep_cohort, threshold):
    # The QC stage's table (qc/relatedness.py), tiled vs full matrix, on a sample subset;
    # threshold 0.6 gives the empty table, whose dtypes must match too.
    dosage, _ = deep_cohort
    n = dosage.shape[1]
    packed = pack_dosages(dosage)
    idx = np.flatnonzero(np.arange(n) % 7 != 3).astype(np.int64)
    ids = [f"s{k}" for k in idx]
    want = pair_table(kinship_matrix(packed, n, idx), ids, threshold)
    got = related_pair_table(packed, n, idx, ids, threshold)
    pd.testing.assert_frame_equal(got, want)
    assert (len(want) > 0) == (threshold < 0.5)
