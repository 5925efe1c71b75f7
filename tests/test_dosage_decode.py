"""The association step's dosage decode (:meth:`cohortgen.assoc.genotypes.PgenDosages.blocks`):
from pgenlib's block to the mean-imputed float64 G and the group sums, bit for bit what the
NaN-block path gives."""

from pathlib import Path

import numpy as np
import pytest

from cohortgen.assoc.genotypes import PgenDosages, group_dosage_sums
from cohortgen.io.pgen import PGEN_MISSING


def _raw(rng, shape, missing: float) -> np.ndarray:
    """float32 dosages on PLINK 2's 1/16384 grid, a share ``missing`` set to pgenlib's -9."""
    raw = (np.rint(rng.uniform(0, 2, shape) * 16384) / 16384).astype(np.float32)
    raw[rng.random(shape) < missing] = PGEN_MISSING
    return raw


def _write_pgen(prefix: Path, raw: np.ndarray) -> None:
    import pgenlib

    n = raw.shape[1]
    Path(f"{prefix}.psam").write_text("#IID\n" + "".join(f"s{i}\n" for i in range(n)))
    writer = pgenlib.PgenWriter(bytes(Path(f"{prefix}.pgen")), n, variant_ct=raw.shape[0],
                                nonref_flags=False, dosage_present=True)
    for row in raw:
        writer.append_dosages(row)
    writer.close()


@pytest.mark.parametrize(("missing", "extra"), [(0.0, []), (0.1, []), (0.1, ["x1", "x2"])])
def test_pgen_dosages_blocks__equal_the_nan_block_path(tmp_path, missing, extra):
    """G, ALT dosage sums and called counts of every block equal mean-imputing the NaN block
    of :meth:`PgenDosages.read` and :func:`group_dosage_sums` on it, exactly, with and without
    missing dosages and null-model samples absent from the file."""
    rng = np.random.default_rng(12)
    raw = _raw(rng, (23, 40), missing)
    _write_pgen(tmp_path / "d", raw)
    source = PgenDosages(tmp_path / "d", 23, extra)
    n = len(source.samples)
    idx = rng.permutation(n)[: n - 3]
    groups = np.zeros((4, n), bool)
    groups[:, idx] = rng.random((4, idx.size)) < 0.4
    for rows, G, (alt, called) in source.blocks(idx, groups, 10):
        block = source.read(rows)
        expected = block[:, idx].astype(np.float64)
        for row in expected:
            gaps = np.isnan(row)
            row[gaps] = row[~gaps].sum() / (~gaps).sum()
        np.testing.assert_array_equal(G, expected)
        expected_alt, expected_called = group_dosage_sums(block, groups)
        np.testing.assert_array_equal(alt, expected_alt)
        np.testing.assert_array_equal(called, expected_called)


def test_pgen_dosages_blocks__group_outside_the_samples_is_refused(tmp_path):
    rng = np.random.default_rng(13)
    _write_pgen(tmp_path / "d", _raw(rng, (3, 8), 0.0))
    groups = np.zeros((1, 8), bool)
    groups[0, 7] = True
    with pytest.raises(ValueError, match="group member"):
        next(PgenDosages(tmp_path / "d", 3).blocks(np.arange(7), groups, 10))
