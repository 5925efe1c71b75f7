"""The one-pass dosage summary kernel (alleles per call derived from the region codes and the
males, no weight matrix) against its NumPy twin and the weight matrix, on every ploidy region."""

import numpy as np

from cohortgen.kernels.dosage import allele_weights, dosage_summaries, dosage_summaries_naive
from cohortgen.kernels.gt import REGION_DIPLOID, REGION_MT, REGION_X, REGION_Y


def test_dosage_summaries__every_region_equals_the_weight_matrix_twin():
    rng = np.random.default_rng(11)
    region = np.repeat(np.array([REGION_DIPLOID, REGION_X, REGION_Y, REGION_MT], np.int8), 12)
    dosage = (rng.integers(0, 16385, (region.size, 23)) / 8192).astype(np.float32)
    dosage[rng.random(dosage.shape) < 0.1] = np.nan
    dosage[5] = np.nan  # every call missing
    male = rng.random(23) < 0.4
    ours = dosage_summaries(dosage, region, male)
    np.testing.assert_allclose(ours, dosage_summaries_naive(dosage, region, male), rtol=1e-12)
    weight = allele_weights(region, male).astype(np.float64)
    called = ~np.isnan(dosage)
    np.testing.assert_array_equal(ours[:, 1], np.where(called, weight, 0).sum(axis=1))
    np.testing.assert_allclose(ours[:, 0], np.nansum(dosage * weight / 2, axis=1), rtol=1e-12)
    assert np.isnan(ours[region != REGION_DIPLOID, 3]).all()
