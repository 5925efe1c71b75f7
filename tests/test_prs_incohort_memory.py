"""Memory of the in-cohort fold job's genotype load: the selected rows once, not twice."""

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import pack_dosages
from cohortgen.prs.incohort import load_genotypes

N_CHUNKS, PER_CHUNK = 8, 400


def _chunks(tmp_path: Path, n_samples: int, per_chunk: int = PER_CHUNK):
    """N_CHUNKS random .bed chunks of ``per_chunk`` variants x ``n_samples``; their prefixes
    and packed rows."""
    rng = np.random.default_rng(5)
    ids = [f"S{i}" for i in range(n_samples)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": -9})
    prefixes, packed = [], []
    for c in range(N_CHUNKS):
        dosage = rng.integers(-1, 3, (per_chunk, n_samples)).astype(np.int8)
        bim = pd.DataFrame({"chrom": "1", "id": [f"v{c}_{j}" for j in range(per_chunk)],
                            "cm": 0.0, "pos": np.arange(1, per_chunk + 1) + c * per_chunk,
                            "a1": "G", "a2": "A"})
        prefixes.append(tmp_path / f"c{c:04d}")
        packed.append(pack_dosages(dosage))
        write_bed(prefixes[-1], packed[-1], bim, fam)
    return prefixes, packed


def test_load_genotypes__selected_rows_in_chunk_order(tmp_path):
    prefixes, packed = _chunks(tmp_path, 1003)
    rng = np.random.default_rng(6)
    rows = [np.sort(rng.choice(PER_CHUNK, 50 * (c + 1), replace=False)) for c in range(N_CHUNKS)]
    rows[1] = rows[1][:0]  # a chunk with no selected variant
    variants = pd.DataFrame({"chunk": np.repeat(np.arange(N_CHUNKS), [r.size for r in rows]),
                             "row": np.concatenate(rows)})
    loaded = load_genotypes(prefixes, variants)
    expected = np.concatenate([p[r] for p, r in zip(packed, rows, strict=True)])
    assert loaded.dtype == np.uint8
    assert loaded.flags.c_contiguous
    np.testing.assert_array_equal(loaded, expected)


def test_load_genotypes__peak_memory_is_the_result_plus_one_chunk(tmp_path):
    """Every row selected: the load may hold the result and one chunk's rows (the copy out of
    the memory map), with the .bim and .fam tables read beside them, but not a second copy of
    the result (which the peak would be at least twice the result with). 2,000 variants x
    4,000 samples per chunk (2 MB), so the genotypes outweigh the tables."""
    per_chunk = 2000
    prefixes, _ = _chunks(tmp_path, 4000, per_chunk)
    variants = pd.DataFrame({"chunk": np.repeat(np.arange(N_CHUNKS), per_chunk),
                             "row": np.tile(np.arange(per_chunk), N_CHUNKS)})
    tracemalloc.start()
    try:
        loaded = load_genotypes(prefixes, variants)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * loaded.nbytes, (peak, loaded.nbytes)
