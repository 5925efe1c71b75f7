"""The LOCO null models fitted once per cohort (``cohortgen loco-null``, ``assoc/loco_null.npz``)
and read by every association chunk: each chromosome's models equal, to the bit, the refit the
chunk did itself before (:func:`offset_null_table` with that chromosome's LOCO offsets), so the
chunk rows are unchanged; the chunk fits no null model any more.

Reference: the in-chunk refit, :func:`offset_null_table` of :func:`loco_offsets`, whose own
correctness (statsmodels GLM/OLS with ``offset=``, REGENIE's approximate Firth) is tested in
tests/test_wgr_step2.py.
"""

import stat

import numpy as np
import pandas as pd
import pytest
from scipy import special

from cohortgen.assoc import loco as loco_module
from cohortgen.assoc.chunk import FallbackSettings, association_chunk, chunk_results
from cohortgen.assoc.loco import (
    ALL_COLUMN,
    fit_loco_nulls,
    loco_column,
    loco_null_stage,
    loco_offsets,
    null_views,
    offset_null_table,
    read_loco,
    read_loco_nulls,
    write_loco_nulls,
)
from cohortgen.assoc.null_model import fit_null_models
from cohortgen.assoc.stage import CHRX_PREFIX, null_model_table
from cohortgen.errors import InputError
from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_tsv, write_json, write_tsv
from cohortgen.kernels.bed import pack_dosages

CHROMOSOMES = ["1", "2", "X"]
"""The LOCO table's chromosome columns (plus ALL)."""


def cohort(seed: int = 3, n: int = 600, m: int = 30):
    """(ids, names, quantitative, null table with chrX models, LOCO table, dosage int8 (m, n),
    bim): two diseases (one rare) and a quantitative trait; the chrX models add sex."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(n)]
    names, quantitative = ["d0", "d1", "q"], ["q"]
    covariates = rng.normal(size=(n, 2))
    sex = rng.integers(1, 3, n).astype(float)
    polygenic = rng.normal(0, 0.7, (n, len(names)))
    y = np.column_stack([
        rng.random(n) < special.expit(-1.0 + covariates[:, 0] * 0.3 + polygenic[:, 0]),
        rng.random(n) < special.expit(-3.0 + polygenic[:, 1]),
    ]).astype(float)
    y = np.column_stack([y, covariates[:, 1] + polygenic[:, 2] + rng.normal(size=n)])
    y[rng.choice(n, 20, replace=False), 1] = np.nan  # a disease that excludes some samples
    kinds = [name in quantitative for name in names]
    sheet = pd.DataFrame(y, columns=names)
    statuses = ["OK"] * len(names)
    null = null_model_table(ids, fit_null_models(covariates, y, kinds), sheet, statuses)
    with_sex = null_model_table(ids, fit_null_models(np.column_stack([sex, covariates]), y,
                                                     kinds), sheet, statuses)
    null = null.join(with_sex.drop(columns="sample_id").add_prefix(CHRX_PREFIX))
    columns = {c: polygenic * (1 + 0.1 * k) for k, c in enumerate([*CHROMOSOMES, ALL_COLUMN])}
    loco = pd.concat([pd.DataFrame({"trait": name, "sample_id": ids}
                                   | {c: columns[c][:, j] for c in columns})
                      for j, name in enumerate(names)], ignore_index=True)
    dosage = rng.binomial(2, rng.uniform(0.05, 0.5, (m, 1)), size=(m, n)).astype(np.int8)
    bim = pd.DataFrame({"chrom": np.repeat(["1", "chr2", "X"], m // 3),
                        "id": [f"v{i}" for i in range(m)], "cm": 0.0,
                        "pos": np.arange(1, m + 1) * 100, "a1": "T", "a2": "C"})
    return ids, names, quantitative, null, loco, dosage, bim


def in_chunk_refit(null, names, quantitative, loco, view, chrom):
    """The refit the chunk job did before: the view's models with ``chrom``'s LOCO offsets."""
    table = null_views(null)[view]
    column = loco_column(loco.columns, chrom)
    return offset_null_table(table, names, quantitative,
                             loco_offsets(loco, column, table, names))


@pytest.mark.parametrize(("view", "chrom"), [("", "1"), ("", "chr2"), ("", "MT"),
                                             (CHRX_PREFIX, "X"), (CHRX_PREFIX, "XY")])
def test_loco_nulls__each_chromosome_equals_the_in_chunk_refit_exactly(view, chrom):
    _, names, quantitative, null, loco, _, _ = cohort()
    nulls = fit_loco_nulls(null, names, quantitative, loco)
    expected = in_chunk_refit(null, names, quantitative, loco, view, chrom)
    got = nulls.null_table(null_views(null)[view], view, chrom)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_exact=True)
    assert (got[f"o_{names[0]}"] != 0).all()  # the offset is in


def test_loco_nulls__chrx_view_holds_only_the_columns_chrx_variants_take():
    _, names, quantitative, null, loco, _, _ = cohort()
    keys = set(fit_loco_nulls(null, names, quantitative, loco).models)
    assert keys == {"1", "2", "X", ALL_COLUMN, f"{CHRX_PREFIX}X", f"{CHRX_PREFIX}{ALL_COLUMN}"}


def test_loco_nulls__npz_round_trip_gives_identical_chunk_rows(tmp_path):
    ids, names, quantitative, null, loco, dosage, bim = cohort()
    nulls = fit_loco_nulls(null, names, quantitative, loco)
    path = tmp_path / "loco_null.npz"
    write_loco_nulls(path, nulls)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # per-sample fits: private
    settings = FallbackSettings(firth_p_threshold=0.5)  # Firth rows too
    direct = chunk_results(pack_dosages(dosage), bim, ids, null, names, settings, quantitative,
                           nulls)
    stored = chunk_results(pack_dosages(dosage), bim, ids, null, names, settings, quantitative,
                           read_loco_nulls(path))
    pd.testing.assert_frame_equal(stored, direct, check_exact=True)
    assert (direct["status"] == "FIRTH").any()
    written = path.read_bytes()
    write_loco_nulls(path, nulls)
    assert path.read_bytes() == written  # deterministic bytes


def test_association_chunk__reads_the_loco_null_models_and_fits_none(tmp_path, monkeypatch):
    """The chunk job with --loco-null gives the rows of the in-chunk refit (computed here
    before the fitter is disabled) without fitting any null model."""
    ids, names, quantitative, null, loco, dosage, bim = cohort()
    write_tsv(tmp_path / "null.tsv", null, private=True, float_format="%.17g")
    write_json(tmp_path / "null.json", {"diseases": {
        name: {"status": "OK", "type": "quantitative" if name in quantitative else "binary"}
        for name in names}})
    write_tsv(tmp_path / "loco.tsv", loco, float_format="%.17g")
    loco_null_stage(tmp_path / "null.tsv", tmp_path / "null.json", tmp_path / "loco.tsv",
                    tmp_path / "loco_null.npz")
    prefix = tmp_path / "chunk"
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": "-9"})
    write_bed(prefix, pack_dosages(dosage), bim, fam)
    write_tsv(tmp_path / "variant_qc.tsv", bim.assign(**{"pass": True}))
    read_back = read_tsv(tmp_path / "null.tsv", dtype={"sample_id": str})
    expected = chunk_results(pack_dosages(dosage), bim, ids, read_back, names,
                             FallbackSettings(), quantitative,
                             fit_loco_nulls(read_back, names, quantitative,
                                            read_loco(tmp_path / "loco.tsv")))

    def no_fit(*args, **kwargs):
        raise AssertionError("a chunk job fitted a null model")

    monkeypatch.setattr(loco_module, "fit_design_models", no_fit)
    got = association_chunk(prefix, tmp_path / "null.tsv", tmp_path / "null.json",
                            tmp_path / "variant_qc.tsv", tmp_path / "out", FallbackSettings(),
                            tmp_path / "loco_null.npz")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_read_loco_nulls__not_a_loco_null_file_is_an_input_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, something=np.zeros(3))
    with pytest.raises(InputError, match="other.npz.*rerun"):
        read_loco_nulls(path)


def test_loco_nulls__other_samples_than_the_null_table_is_an_input_error(tmp_path):
    _, names, quantitative, null, loco, _, _ = cohort()
    nulls = fit_loco_nulls(null, names, quantitative, loco)
    with pytest.raises(InputError, match="loco_null.npz.*rerun the loco-null step"):
        nulls.null_table(null.iloc[1:], "", "1")
