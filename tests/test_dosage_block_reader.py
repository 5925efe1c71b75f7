"""The association step's dosage blocks read as float64 straight into G
(:meth:`cohortgen.assoc.genotypes.PgenDosages.blocks`: one pgenlib reader, range or list reads,
the file's samples in order or a sorted subset of them), mean-imputed in place
(:func:`cohortgen.kernels.dosage.missing_counts`,
:func:`~cohortgen.kernels.dosage.mean_impute_rows`) and summed per group with complementary
groups derived from the row total (:class:`cohortgen.assoc.genotypes.GroupSums`): bit for bit
the naive twins."""


import numpy as np
import pytest
from test_dosage_decode import _write_pgen

from cohortgen.assoc.genotypes import GroupSums, PgenDosages, group_dosage_sums
from cohortgen.io.pgen import PGEN_MISSING
from cohortgen.kernels.dosage import (
    mean_impute_rows,
    mean_impute_rows_naive,
    missing_counts,
)


def _raw(rng, shape, missing: float) -> np.ndarray:
    """float32 dosages on PLINK 2's 1/16384 grid, a share ``missing`` set to pgenlib's -9."""
    raw = (np.rint(rng.uniform(0, 2, shape) * 16384) / 16384).astype(np.float32)
    raw[rng.random(shape) < missing] = PGEN_MISSING
    return raw



def _case_control_groups(rng, n: int, idx: np.ndarray, n_diseases: int) -> np.ndarray:
    """bool (2 · n_diseases, n): cases and controls over ``idx``; every disease but the last
    has every sample of idx (controls the complement of cases), the last leaves some out."""
    groups = np.zeros((2 * n_diseases, n), bool)
    for d in range(n_diseases):
        case = rng.random(idx.size) < 0.3
        keep = np.ones(idx.size, bool) if d < n_diseases - 1 else rng.random(idx.size) < 0.8
        groups[2 * d, idx[case & keep]] = True
        groups[2 * d + 1, idx[~case & keep]] = True
    return groups


def test_missing_counts_and_mean_impute_rows__equal_naive_twin():
    """-9 and NaN are missing; a row without any value is filled with 0; rows without a
    missing value are left as they are."""
    rng = np.random.default_rng(21)
    raw = _raw(rng, (9, 50), 0.2)
    raw[1] = np.abs(raw[1])
    raw[0, 4] = np.nan
    raw[8] = PGEN_MISSING
    G = raw.astype(np.float64)
    n_missing = missing_counts(G)
    mean_impute_rows(G, n_missing)
    expected, expected_missing = mean_impute_rows_naive(raw, np.arange(50))
    np.testing.assert_array_equal(n_missing, expected_missing)
    np.testing.assert_array_equal(G, expected)
    assert n_missing[1] == 0
    assert n_missing[8] == 50
    assert (G[8] == 0.0).all()


@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_group_sums__equal_group_dosage_sums(missing):
    """Complementary groups (derived from the row total), an overlapping group, a duplicate,
    an empty group: sums and called counts exactly those of group_dosage_sums."""
    rng = np.random.default_rng(22)
    raw = _raw(rng, (12, 60), missing)
    groups = _case_control_groups(rng, 60, np.arange(60), 3)
    groups = np.vstack([groups, groups[0] | groups[5], groups[2], np.zeros(60, bool),
                        ~groups[2]])
    G = raw.astype(np.float64)
    alt, called = GroupSums(groups)(G, missing_counts(G))
    nan_block = np.where(raw >= 0, raw, np.nan)
    expected_alt, expected_called = group_dosage_sums(nan_block, groups)
    np.testing.assert_array_equal(alt, expected_alt)
    np.testing.assert_array_equal(called, expected_called)


@pytest.mark.parametrize("samples", ["all", "sorted subset", "permuted with absent"])
@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_pgen_dosages_blocks__equal_the_nan_block_path(tmp_path, samples, missing):
    """Blocks of consecutive variants (range reads) and of a variant subset (list reads) for the
    file's samples in order (pgenlib writes G), a sorted subset (pgenlib's sample subset) and a
    permutation with samples absent from the file (gathered): G, ALT dosage sums and called
    counts equal mean-imputing :meth:`PgenDosages.read`'s NaN block and
    :func:`group_dosage_sums` on it, exactly."""
    rng = np.random.default_rng(23)
    raw = _raw(rng, (29, 45), missing)
    _write_pgen(tmp_path / "d", raw)
    extra = ["x1", "x2"] if samples == "permuted with absent" else []
    full = PgenDosages(tmp_path / "d", 29, extra)
    n = len(full.samples)
    idx = {"all": np.arange(n), "sorted subset": np.sort(rng.permutation(n)[:30]),
           "permuted with absent": rng.permutation(n)[:n - 2]}[samples]
    groups = _case_control_groups(rng, n, idx, 3)
    keep = rng.random(29) < 0.6
    for source in (full, full.subset(keep)):
        seen = 0
        for rows, G, (alt, called) in source.blocks(idx, groups, 8):
            block = source.read(rows)
            expected = block[:, idx].astype(np.float64)
            for row in expected:
                gaps = np.isnan(row)
                row[gaps] = row[~gaps].sum() / (~gaps).sum() if (~gaps).any() else 0.0
            np.testing.assert_array_equal(G, expected)
            expected_alt, expected_called = group_dosage_sums(block, groups)
            np.testing.assert_array_equal(alt, expected_alt)
            np.testing.assert_array_equal(called, expected_called)
            seen += G.shape[0]
        assert seen == len(source)
