"""Memory of the in-cohort fold job: genotypes read from the .bed chunks a block at a time
(:class:`cohortgen.io.bed_rows.BedRows`), with the same results as all rows in memory."""

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import pack_dosages
from cohortgen.prs import incohort
from cohortgen.prs.incohort import genotype_rows

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


def test_genotype_rows__any_slice_or_rows_equal_the_stacked_selection(tmp_path):
    prefixes, packed = _chunks(tmp_path, 1003)
    rng = np.random.default_rng(6)
    rows = [np.sort(rng.choice(PER_CHUNK, 50 * (c + 1), replace=False)) for c in range(N_CHUNKS)]
    rows[1] = rows[1][:0]  # a chunk with no selected variant
    variants = pd.DataFrame({"chunk": np.repeat(np.arange(N_CHUNKS), [r.size for r in rows]),
                             "row": np.concatenate(rows)})
    source = genotype_rows(prefixes, variants)
    expected = np.concatenate([p[r] for p, r in zip(packed, rows, strict=True)])
    assert source.shape == expected.shape
    for key in (slice(None), slice(40, 700), slice(1790, 5000),
                rng.permutation(len(variants))[:300], np.array([], dtype=np.int64)):
        got = source[key]
        assert got.dtype == np.uint8
        assert got.flags.c_contiguous
        assert got.flags.writeable
        np.testing.assert_array_equal(got, expected[key])


def test_genotype_rows__a_pass_over_blocks_holds_one_block_not_the_selection(tmp_path):
    """Every row selected (8 chunks of 2,000 variants x 4,000 samples: 16 MB); a pass in
    blocks of 500 rows (0.5 MB) may hold a block and the tables read, far below the 16 MB
    that loading the selection (the former fold job) took."""
    per_chunk = 2000
    prefixes, packed = _chunks(tmp_path, 4000, per_chunk)
    variants = pd.DataFrame({"chunk": np.repeat(np.arange(N_CHUNKS), per_chunk),
                             "row": np.tile(np.arange(per_chunk), N_CHUNKS)})
    total = sum(p.nbytes for p in packed)
    tracemalloc.start()
    try:
        source = genotype_rows(prefixes, variants)
        checksum = sum(int(source[s:s + 500].sum(dtype=np.int64))
                       for s in range(0, len(variants), 500))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert checksum == sum(int(p.sum(dtype=np.int64)) for p in packed)
    assert peak < 0.25 * total, (peak, total)


def _stacked(bfiles, variants):
    """Every selected row in memory at once (what the fold job held before)."""
    return genotype_rows(bfiles, variants)[:]


@pytest.mark.slow
@pytest.mark.parametrize("fold", [1, 0])
def test_run_fold__rows_from_disk_give_the_bytes_of_rows_in_memory(fold, tmp_path, monkeypatch):
    """A CV fold (training GWAS, C+T grid and clumping, LDpred2-auto, held-out scores) and the
    refit, with the genotypes read block by block, write the same file byte for byte as with
    all genotypes in one array."""
    from test_prs_incohort import DISEASES, OPTIONS, write_chunks

    from cohortgen.prs.incohort import assign_folds, load_cohort, run_fold
    from cohortgen.simulate import simulate_cohort

    cohort = tmp_path / "cohort"
    simulate_cohort(cohort, n_samples=300, n_chromosomes=2, chromosome_mb=3.0, seed=7)
    prefixes = write_chunks(cohort, tmp_path)
    qc = [Path(f"{p}.variant_qc.tsv") for p in prefixes]
    data = load_cohort(prefixes[0], tmp_path / "keep.txt", cohort / "phenotypes.tsv", DISEASES,
                       ["age", "sex"], tmp_path / "pcs.tsv")
    assign_folds(data, OPTIONS["folds"], 42, tmp_path / "folds.tsv")

    def fold_file(name):
        out = tmp_path / name
        run_fold(fold, prefixes, qc, data, tmp_path / "folds.tsv", 10, 42, OPTIONS, out)
        return out.read_bytes()

    from_disk = fold_file("disk.npz")
    monkeypatch.setattr(incohort, "genotype_rows", _stacked)
    assert fold_file("memory.npz") == from_disk


def test_column_scores__parts_added_into_out_equal_one_call_bit_for_bit():
    """The C+T grid scores its variants a block at a time into one accumulator: the same
    floating-point sums, in the same order, as one call over every variant."""
    from cohortgen.kernels.ct_scores import column_scores

    rng = np.random.default_rng(8)
    dosage = rng.integers(-1, 3, (700, 301)).astype(np.int8)
    packed = pack_dosages(dosage)
    idx = np.sort(rng.choice(301, 200, replace=False))
    rows = np.sort(rng.choice(700, 500, replace=False))
    weights, fill = rng.normal(size=rows.size), rng.uniform(0, 2, 700)
    columns = rng.integers(-1, 6, (rows.size, 2))
    whole = column_scores(packed, 301, idx, rows, weights, fill, columns, 6)
    sums = np.zeros((6, idx.size))
    for s in range(0, rows.size, 128):
        part = rows[s:s + 128]
        column_scores(packed[part], 301, idx, np.arange(part.size), weights[s:s + 128],
                      fill[part], columns[s:s + 128], 6, out=sums)
    assert np.array_equal(sums.T, whole)
