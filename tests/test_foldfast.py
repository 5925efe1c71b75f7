"""The in-cohort fold job made cheaper with the same results: .bed rows read one run at a
time (:class:`cohortgen.io.bed_rows.BedRows`), LD scores shared by the diseases of a fold, and
the dosage path's rounded hard calls read a block of rows at a time
(:class:`cohortgen.prs.dosages.HardCallRows`)."""

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_prs_incohort_dosages import _cross_validated, _dosage_inputs, cohort  # noqa: F401

from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.prs.dosages import HardCallRows


class _Dosages:
    """Stands in for :class:`cohortgen.prs.dosages.ChunkedDosages`: float32 (m, n) dosages,
    NaN missing; ``read`` counts the rows read and insists on ascending rows."""

    def __init__(self, dosage):
        self.dosage, self.n_samples, self.rows_read = dosage, dosage.shape[1], 0

    def __len__(self):
        return self.dosage.shape[0]

    def read(self, rows):
        assert np.all(np.diff(rows) > 0)
        self.rows_read += len(rows)
        return self.dosage[rows]


def _imputed(rng, m, n):
    dosage = rng.uniform(0.0, 2.0, (m, n)).astype(np.float32)
    dosage[rng.random((m, n)) < 0.03] = np.nan
    dosage[:, :3] = [0.5, 1.5, 1.49]  # rounding halves to even, as np.rint
    return dosage


def test_hard_call_rows__any_slice_or_rows_are_the_rounded_dosages_packed():
    """Rows asked for in any order (repeats too) are the dosages rounded to the nearest hard
    call and packed (missing stays missing), byte for byte."""
    rng = np.random.default_rng(22)
    dosage = _imputed(rng, 5000, 1003)
    rounded = np.where(np.isnan(dosage), MISSING, np.rint(dosage)).astype(np.int8)
    expected = pack_dosages(rounded)
    source = HardCallRows(_Dosages(dosage))
    assert source.shape == expected.shape
    for key in (slice(None), slice(40, 2900), slice(4990, 6000), np.array([7, 3, 3, 4999]),
                rng.permutation(5000)[:300], np.array([], dtype=np.int64)):
        got = source[key]
        assert got.dtype == np.uint8
        assert got.flags.c_contiguous
        np.testing.assert_array_equal(got, expected[key])


class _TiledDosages(_Dosages):
    """m variants whose dosages repeat a small tile of rows: no m × n array behind them."""

    def __init__(self, tile, m):
        super().__init__(tile)
        self.m = m

    def __len__(self):
        return self.m

    def read(self, rows):
        assert np.all(np.diff(rows) > 0)
        self.rows_read += len(rows)
        return self.dosage[rows % self.dosage.shape[0]]


def test_hard_call_rows__a_pass_over_blocks_holds_a_block_not_every_row():
    """Made and read 100 rows at a time, the hard calls of 40,000 variants × 2,000 samples
    (20 MB packed) take a fraction of what holding them all took (the former
    ``ChunkedDosages.hard_calls``), and nothing is read before it is asked for."""
    tile = _imputed(np.random.default_rng(23), 97, 2000)
    dosages = _TiledDosages(tile, 40_000)
    expected = pack_dosages(np.where(np.isnan(tile), MISSING, np.rint(tile)).astype(np.int8))
    total = 40_000 * 500
    tracemalloc.start()
    try:
        source = HardCallRows(dosages)
        assert dosages.rows_read == 0
        checksum = sum(int(source[s:s + 100].sum(dtype=np.int64)) for s in range(0, 40_000, 100))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dosages.rows_read == 40_000
    assert checksum == int(expected[np.arange(40_000) % 97].sum(dtype=np.int64))
    assert peak < 0.25 * total, (peak, total)


def test_cross_validated_scores__hard_calls_from_disk_equal_hard_calls_in_memory(cohort):  # noqa: F811
    """A fold on imputed dosages (``ds``: clumping reads the rounded hard calls) gives the same
    GWAS, C+T and LDpred2-auto weights and held-out scores, bit for bit, whether the hard calls
    are read a block at a time or all held in one array (the former path)."""
    variants, dosages = _dosage_inputs(cohort, "ds")
    from_disk = _cross_validated(cohort, variants, dosages.hard_calls(), dosages)
    in_memory = _cross_validated(cohort, variants, dosages.hard_calls()[:], dosages)
    for a, b in zip(from_disk, in_memory, strict=True):
        np.testing.assert_array_equal(a.gwas[0].z, b.gwas[0].z)
        for method in ("ct", "ldpred2"):
            assert a.results[method][0].status == b.results[method][0].status
            np.testing.assert_array_equal(a.results[method][0].weights,
                                          b.results[method][0].weights)
            np.testing.assert_array_equal(a.scores[method], b.scores[method])
    assert np.count_nonzero(from_disk[0].results["ct"][0].weights) >= 5


def test_ldpred_weights__ld_scores_once_per_sample_size_same_weights(monkeypatch):
    """Diseases of a fold with the same GWAS size share the LD scores (computed once) and get
    the weights that a training set of their own (nothing shared) gives, bit for bit."""
    from test_prs_ldpred import ld_genotypes, liability_trait

    from cohortgen.prs import ldpred
    from cohortgen.prs.folds import TrainingSet, training_gwas

    G = ld_genotypes(400, 100, seed=10, block=10)
    packed, idx, covariates = pack_dosages(G), np.arange(400), np.zeros((400, 0))
    options = {"max_block_variants": 50, "n_chains": 2, "burn_in": 20, "num_iter": 20}

    def training_set(seed, shared):
        y = liability_trait(G, 0.5, 10, 0.5, seed=seed)
        gwas = training_gwas(packed, 400, idx, y, covariates)
        return TrainingSet(packed, 400, np.ones(100), np.arange(100) * 1000, idx, y,
                           covariates, gwas, seed, shared=shared)

    alone = [ldpred.ldpred_weights(training_set(seed, {}), **options) for seed in (11, 12)]
    calls, original = [], ldpred.ld_scores
    monkeypatch.setattr(ldpred, "ld_scores", lambda *a: calls.append(a) or original(*a))
    shared: dict = {}
    together = [ldpred.ldpred_weights(training_set(seed, shared), **options) for seed in (11, 12)]
    assert len(calls) == 1
    for a, b in zip(alone, together, strict=True):
        assert a.status == b.status == "ok"
        np.testing.assert_array_equal(a.weights, b.weights)



def test_genotype_rows__a_bed_cut_short_after_the_check_is_an_input_error(tmp_path):
    """Rows read straight from the file: a .bed that lost bytes after BedRows checked it is an
    InputError naming the file, not a short or garbage array."""
    from test_prs_incohort_memory import _chunks

    from cohortgen.errors import InputError
    from cohortgen.prs.incohort import genotype_rows

    prefixes, packed = _chunks(tmp_path, 101, per_chunk=20)
    variants = pd.DataFrame({"chunk": np.repeat([0, 1], 20), "row": np.tile(np.arange(20), 2)})
    source = genotype_rows(prefixes, variants)
    np.testing.assert_array_equal(source[::-1], np.concatenate(packed[:2])[::-1])
    bed = Path(f"{prefixes[1]}.bed")
    bed.write_bytes(bed.read_bytes()[:-30])
    with pytest.raises(InputError, match=f"{bed.name}: ends 30 bytes early"):
        source[35:40]
