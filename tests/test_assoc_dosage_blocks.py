"""The dosage blocks of ``cohortgen assoc --pfile`` on their fast paths (no missing dosage, no
null-model sample missing from the file, a disease with every sample) give exactly what the
general paths give: these paths exist for speed only (bench/bench_assoc_dosages.py)."""

from pathlib import Path

import numpy as np
import pytest

from cohortgen.assoc.chunk import DiseaseModel, _disease_rows
from cohortgen.assoc.genotypes import PgenDosages, group_dosage_sums


def _dosages(rng, shape, missing: float) -> np.ndarray:
    """float32 dosages on PLINK 2's 1/16384 grid, a share ``missing`` NaN."""
    dosage = (np.rint(rng.uniform(0, 2, shape) * 16384) / 16384).astype(np.float32)
    dosage[rng.random(shape) < missing] = np.nan
    return dosage


@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_group_dosage_sums__equal_naive_loops_with_and_without_missing(missing):
    """ALT dosage sums (float64) and called counts (int64, writable) per group against plain
    loops, on a block with and one without a missing dosage."""
    rng = np.random.default_rng(2)
    dosage = _dosages(rng, (5, 17), missing)
    groups = rng.random((4, 17)) < 0.5
    alt, called = group_dosage_sums(dosage, groups)
    assert alt.dtype == np.float64
    assert called.dtype == np.int64
    assert called.flags.writeable
    for j in range(5):
        for g in range(4):
            values = [float(dosage[j, i]) for i in range(17)
                      if groups[g, i] and not np.isnan(dosage[j, i])]
            assert alt[j, g] == pytest.approx(sum(values), rel=1e-12)
            assert called[j, g] == len(values)


@pytest.mark.parametrize("all_samples", [True, False])
def test_disease_rows__equal_two_axis_index(all_samples):
    """Rows of a block on a disease's samples: G[rows][:, model.rows], C-contiguous, whether the
    disease has every null-model sample (a row copy) or a subset."""
    rng = np.random.default_rng(3)
    G = rng.random((9, 12))
    cols = np.arange(12) if all_samples else np.array([0, 2, 3, 7, 11])
    rows = np.array([1, 4, 8])
    zeros = np.zeros(cols.size)
    model = DiseaseModel("d", cols, y=zeros, X=np.ones((cols.size, 1)), w=zeros, offset=zeros,
                         firth_offset=zeros, cases=np.zeros(12, bool),
                         controls=np.zeros(12, bool))
    out = _disease_rows(G, rows, model)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, G[np.ix_(rows, cols)])


@pytest.mark.parametrize("extra", [[], ["x1", "x2"]])
def test_pgen_dosages_read__missing_and_extra_samples_are_nan(tmp_path, extra):
    """PgenDosages.read returns the stored dosages, NaN where pgenlib has none and in the
    columns of null-model samples absent from the file, with or without such samples."""
    import pgenlib

    rng = np.random.default_rng(4)
    dosage = _dosages(rng, (3, 10), 0.2)
    prefix = tmp_path / "d"
    Path(f"{prefix}.psam").write_text("#IID\n" + "".join(f"s{i}\n" for i in range(10)))
    writer = pgenlib.PgenWriter(bytes(Path(f"{prefix}.pgen")), 10, variant_ct=3,
                                nonref_flags=False, dosage_present=True)
    for row in dosage:
        writer.append_dosages(np.where(np.isnan(row), -9.0, row).astype(np.float32))
    writer.close()
    genotypes = PgenDosages(prefix, 3, extra)
    out = genotypes.read(slice(0, 3))
    expected = np.hstack([dosage, np.full((3, len(extra)), np.nan, np.float32)])
    assert out.shape == (3, 10 + len(extra))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)
