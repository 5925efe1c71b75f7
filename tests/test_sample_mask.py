"""sample_mask: a set look-up per sample, the same mask as np.isin (which compared every pair
of object IDs: quadratic)."""

import numpy as np

from cohortgen.qc.keep import sample_mask


def test_sample_mask__equals_isin():
    rng = np.random.default_rng(7)
    fam = [f"S{i:05d}" for i in rng.permutation(3000)]
    keep = [f"S{i:05d}" for i in rng.choice(4000, 2000, replace=False)] + ["S00001", "00123"]
    expected = np.isin(np.array(fam, dtype=object), np.array(keep, dtype=object))
    mask = sample_mask(fam, keep)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, expected)


def test_sample_mask__ids_are_exact_strings():
    fam = ["00123", "123", "A", "a", ""]
    np.testing.assert_array_equal(sample_mask(fam, ["123", "a"]), [False, True, False, True, False])
    np.testing.assert_array_equal(sample_mask([], ["x"]), np.zeros(0, bool))
