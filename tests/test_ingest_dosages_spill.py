"""ingest-dosages writes the passing variants' dosage rows to its spill file in runs of
consecutive rows, straight from the block: the bytes of the rows selected by the mask."""

import io

import numpy as np
import pytest

from cohortgen.ingest.dosages import write_rows


@pytest.mark.parametrize("m", [0, 1, 2, 9, 64])
def test_write_rows__bytes_of_the_passing_rows(m):
    rng = np.random.default_rng(m)
    dosage = rng.random((m, 7), dtype=np.float32)
    masks = [np.zeros(m, bool), np.ones(m, bool)] + [rng.random(m) < share
                                                     for share in (0.1, 0.5, 0.9)]
    for passing in masks:
        out = io.BytesIO()
        write_rows(out, dosage, passing)
        assert out.getvalue() == dosage[passing].tobytes()
