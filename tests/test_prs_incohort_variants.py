"""``prs.incohort.variants``: the in-cohort variant set restricted to a listed set (IDs or
chrom:pos:ref:alt), on array variant QC tables and dosage variant tables alike; a list that
matches nothing is a clear error."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_prs_incohort import DISEASES, OPTIONS, inputs  # noqa: F401  (module fixture)

from cohortgen.errors import InputError
from cohortgen.io.files import write_tsv
from cohortgen.prs.incohort import (
    assign_folds,
    load_cohort,
    restrict_to_listed,
    run_fold,
    selected_variants,
)
from cohortgen.prs.stage import dosage_scoring_variants

VARIANT_QC = pd.DataFrame({
    "chrom": ["1", "1", "1", "2", "2", "X"], "pos": [100, 200, 300, 100, 200, 500],
    "id": ["rs1", "rs2", "1:300", "rs4", "rs5", "rs6"], "ref": ["A", "C", "G", "T", "A", "C"],
    "alt": ["G", "T", "A", "C", "C", "T"], "alt_freq": [0.2, 0.3, 0.4, 0.01, 0.25, 0.3],
    "pass": [True, True, True, True, False, True]})
LISTED = "# HapMap3-like\nrs1\nchr1:300:A:G\n2:100:T:C extra fields ignored\nrs5\nrs6\nrs99\n\n"
"""rs1 by ID, 1:300 by position with alleles swapped and a chr prefix, 2:100 (MAF below 0.05),
rs5 (fails QC), rs6 (chrX: not autosomal), rs99 (not in the cohort)."""


def test_selected_variants__restricted_to_listed(tmp_path):
    write_tsv(tmp_path / "qc.tsv", VARIANT_QC)
    (tmp_path / "list.txt").write_text(LISTED)
    everything = selected_variants([tmp_path / "qc.tsv"], 0.05)
    assert everything["id"].tolist() == ["rs1", "rs2", "1:300"]
    listed = selected_variants([tmp_path / "qc.tsv"], 0.05, tmp_path / "list.txt")
    assert listed["id"].tolist() == ["rs1", "1:300"]
    assert listed["row"].tolist() == [0, 2]
    assert selected_variants([tmp_path / "qc.tsv"], 0.0, tmp_path / "list.txt")["id"].tolist() \
        == ["rs1", "1:300", "rs4"]


def test_selected_variants__list_without_overlap_is_an_error(tmp_path):
    write_tsv(tmp_path / "qc.tsv", VARIANT_QC)
    (tmp_path / "other_build.txt").write_text("1:101:A:G\nrs2000\n")
    with pytest.raises(InputError, match=r"other_build\.txt: none of its 2 variants is among "
                                         r"the 3 QC-passed autosomal variants"):
        selected_variants([tmp_path / "qc.tsv"], 0.05, tmp_path / "other_build.txt")
    with pytest.raises(InputError, match=r"missing\.txt: cannot read the variant list"):
        selected_variants([tmp_path / "qc.tsv"], 0.05, tmp_path / "missing.txt")


def test_restrict_to_listed__dosage_variants(tmp_path):
    """The same list restricts a dosage chunk's variants (``<prefix>.variants.tsv``)."""
    table = VARIANT_QC.drop(columns="pass").assign(
        missing_rate=0.0, reason=np.where(VARIANT_QC["pass"], "", "low_r2"))
    write_tsv(tmp_path / "c.variants.tsv", table)
    (tmp_path / "c.pgen").write_bytes(b"")  # the chunk's files must exist; rows are not read
    (tmp_path / "c.psam").write_text("#IID\tSEX\n")
    (tmp_path / "list.txt").write_text(LISTED)
    variants = dosage_scoring_variants([tmp_path / "c"], 0.9, "GRCh38")
    listed = restrict_to_listed(variants.loc[variants["pass"]].reset_index(drop=True),
                                tmp_path / "list.txt")
    assert listed["id"].tolist() == ["rs1", "1:300", "rs4", "rs6"]
    assert listed["row"].tolist() == [0, 2, 3, 4]


def test_run_fold__uses_only_listed_variants(inputs, tmp_path, capsys):  # noqa: F811
    cohort, work, prefixes = inputs
    qc = [Path(f"{p}.variant_qc.tsv") for p in prefixes]
    ids = pd.read_csv(qc[0], sep="\t", dtype={"id": str})["id"].tolist()
    (tmp_path / "list.txt").write_text("".join(f"{i}\n" for i in ids[::10]))
    data = load_cohort(prefixes[0], work / "keep.txt", cohort / "phenotypes.tsv", DISEASES,
                       ["age", "sex"], work / "pcs.tsv")
    assign_folds(data, OPTIONS["folds"], 42, tmp_path / "folds.tsv")
    options = {**OPTIONS, "min_maf": 0.0, "variants": tmp_path / "list.txt"}
    run_fold(0, prefixes, qc, data, tmp_path / "folds.tsv", 10_000, 42, options,
             tmp_path / "fold0.npz")
    assert f"fold 0: {len(ids[::10])} variants" in capsys.readouterr().err
