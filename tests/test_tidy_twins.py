"""One body for one piece of logic: the row-mean fill shared by the two mean-imputing decoders
(2-bit hard calls and float64 dosage blocks), and ``report.min_cell_count`` declared in one options
class that every step writing shareable counts of people inherits."""

import dataclasses
import inspect

import numpy as np
import pytest

from cohortgen.kernels.bed import (
    MISSING,
    dosages_mean_imputed,
    fill_missing_with_mean,
    pack_dosages,
)
from cohortgen.kernels.dosage import mean_impute_rows, mean_impute_rows_naive, missing_counts
from cohortgen.options import STEP_OPTIONS, SmallCellOptions, key_paths, parse_options


def test_fill_missing_with_mean__exact_small_cases():
    row = np.array([1.0, -1.0, 2.0, -1.0, 0.0])
    fill_missing_with_mean(row, 3.0, 2)
    np.testing.assert_array_equal(row, [1.0, 1.0, 2.0, 1.0, 0.0])
    none_called = np.array([-1.0, -1.0])
    fill_missing_with_mean(none_called, 0.0, 2)
    np.testing.assert_array_equal(none_called, [0.0, 0.0])
    complete = np.array([2.0, 1.0])
    fill_missing_with_mean(complete, 3.0, 0)
    np.testing.assert_array_equal(complete, [2.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1])
def test_mean_imputed_decoders__the_same_calls_give_the_same_bytes(seed):
    """Hard calls decoded from .bed bytes and the same calls as float64 dosages (NaN or -9
    missing, mean-imputed in place) give byte-identical float64 matrices, equal to the dosage
    decoder's NumPy twin: a row with no missing call, one with every call missing, the others
    with some; repeated and reordered samples."""
    rng = np.random.default_rng(seed)
    calls = rng.integers(0, 3, (6, 23)).astype(np.int8)
    calls[rng.random(calls.shape) < 0.2] = MISSING
    calls[0] = rng.integers(0, 3, 23)
    calls[1] = MISSING
    idx = rng.permutation(23)[:17]
    idx = np.concatenate([idx, idx[:3]]).astype(np.int64)
    hard = dosages_mean_imputed(pack_dosages(calls), 23, idx).copy()
    raw = calls.astype(np.float32)
    raw[calls == MISSING] = np.where(rng.random(int((calls == MISSING).sum())) < 0.5,
                                     np.nan, -9.0)
    soft = raw[:, idx].astype(np.float64)
    n_missing = missing_counts(soft)
    mean_impute_rows(soft, n_missing)
    assert hard.tobytes() == soft.tobytes()
    naive, naive_missing = mean_impute_rows_naive(raw, idx)
    np.testing.assert_array_equal(soft, naive)
    np.testing.assert_array_equal(hard, naive)
    np.testing.assert_array_equal(n_missing, naive_missing)


def _classes_declaring(name: str) -> set[type]:
    """Options classes (the steps' and their bases) whose own body declares field ``name``."""
    classes = {base for cls in STEP_OPTIONS.values() for base in cls.__mro__
               if dataclasses.is_dataclass(base)}
    return {cls for cls in classes if name in inspect.get_annotations(cls)}


def test_min_cell_count__one_declaration_inherited_by_every_masking_step():
    assert _classes_declaring("min_cell_count") == {SmallCellOptions}
    masking = {step for step, cls in STEP_OPTIONS.items() if issubclass(cls, SmallCellOptions)}
    assert masking == {"gather_gwas", "gwas_summary", "prs_evaluate", "prs_incohort_evaluate",
                       "report", "report_index"}
    for step in masking:
        assert key_paths(STEP_OPTIONS[step])["min_cell_count"] == ("report", "min_cell_count")
        assert parse_options("{}", step).min_cell_count == 5
        assert parse_options('{"report": {"min_cell_count": 11}}', step).min_cell_count == 11


def test_min_cell_count__steps_that_write_no_counts_do_not_take_it():
    others = set(STEP_OPTIONS) - {"gather_gwas", "gwas_summary", "prs_evaluate",
                                  "prs_incohort_evaluate", "report", "report_index"}
    assert not any("min_cell_count" in key_paths(STEP_OPTIONS[s]) for s in others)


def test_step_options__no_two_classes_hold_the_same_keys():
    """Two steps that read the same keys share one options class, never two copies of it."""
    classes = {base for cls in STEP_OPTIONS.values() for base in cls.__mro__
               if dataclasses.is_dataclass(base)}
    by_keys: dict = {}
    for cls in classes:
        by_keys.setdefault(frozenset(key_paths(cls).values()), []).append(cls.__name__)
    assert [names for names in by_keys.values() if len(names) > 1] == []
