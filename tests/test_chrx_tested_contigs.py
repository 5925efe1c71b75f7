"""chrX null models follow the contigs the association tests: with imputed dosages those of the
imputed plan (whose chunks are tested instead of the array chunks), not the array .bims."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from test_assoc_traits import M, score_chisq, write_cohort

from cohortgen.assoc.chunk import FallbackSettings, association_chunk
from cohortgen.assoc.gather import read_chunk_table
from cohortgen.cli import main
from cohortgen.ingest.imputed_plan import IMPUTED_PLAN_COLUMNS
from cohortgen.ingest.plan import write_plan
from cohortgen.io.files import read_json, read_tsv


def write_imputed_plan(path: Path, contigs: list[str]) -> Path:
    """A plan.tsv with one chunk per contig (as `cohortgen plan-imputed` writes it)."""
    plan = pd.DataFrame({"chunk_id": [f"c{i + 1:04d}" for i in range(len(contigs))],
                         "file": "imputed.vcf.gz", "contig": contigs, "start": 1,
                         "end": 1_000_000, "n_variants": 10})
    write_plan(plan[IMPUTED_PLAN_COLUMNS], path)
    return path


def null_model(tmp: Path, bim: Path, plan: Path | None) -> dict:
    """``cohortgen null-model`` of disease d on age (sex not a covariate) with the array .bim
    and, if given, the imputed plan; returns the json."""
    t = str(tmp)
    extra = ["--imputed-plan", str(plan)] if plan else []
    status = main(["null-model", "--fam", f"{t}/g.fam", "--keep", f"{t}/keep.txt",
                   "--phenotypes", f"{t}/pheno.tsv", "--options",
                   json.dumps({"diseases": ["d"], "covariates": ["age"],
                               "assoc": {"min_cases": 10}}),
                   "--out-table", f"{t}/null.tsv", "--out-json", f"{t}/null.json",
                   "--bims", str(bim), *extra])
    assert status == 0
    return read_json(tmp / "null.json")


def test_null_model__imputed_chrx_without_array_chrx_gets_sex_on_chrx(tmp_path):
    """Array chunks of chr1 only, imputed chunks of chr1 and chrX: the chrX models get sex, and
    the tested chrX variants (here a chr1/chrX .bed standing for the dosage chunk, same samples)
    match statsmodels' score test of d ~ age + sex, the chr1 ones d ~ age (1e-7 relative)."""
    array, tested = tmp_path / "array", tmp_path / "tested"
    array.mkdir()
    tested.mkdir()
    write_cohort(array, 21, chrom=("1",))
    dosage, sheet = write_cohort(tested, 21, chrom=("1", "X"))
    plan = write_imputed_plan(tmp_path / "plan.tsv", ["1", "X"])
    null = null_model(array, array / "g.bim", plan)
    assert null["sex_added_for_chrX"]
    association_chunk(tested / "g", array / "null.tsv", array / "null.json", tested / "vqc.tsv",
                      tested / "assoc", FallbackSettings(firth_p_threshold=0.0,
                                                         firth_min_carriers=0))
    table = read_chunk_table(tested / "assoc/d.columns", "d")
    ours = ((table["beta"] / table["standard_error"]) ** 2).set_axis(table["variant_id"])
    for j in range(M):
        formula = "d ~ age + C(sex)" if j % 2 else "d ~ age"
        np.testing.assert_allclose(ours[f"v{j}"],
                                   score_chisq(formula, sheet, dosage[j].astype(float)),
                                   rtol=1e-7)


def test_null_model__array_chrx_but_imputed_without_chrx_fits_no_chrx_models(tmp_path):
    """Array chunks list chrX but the imputed (tested) chunks do not: no chrX models are fitted
    (no ``X_`` columns), as without chrX; without the plan the array .bim decides."""
    write_cohort(tmp_path, 22, chrom=("1", "X"))
    assert null_model(tmp_path, tmp_path / "g.bim", None)["sex_added_for_chrX"]
    plan = write_imputed_plan(tmp_path / "plan.tsv", ["1", "2"])
    assert not null_model(tmp_path, tmp_path / "g.bim", plan)["sex_added_for_chrX"]
    assert not [c for c in read_tsv(tmp_path / "null.tsv").columns if c.startswith("X_")]


def test_null_model__imputed_contig_named_chrx_counts_as_chrx(tmp_path):
    """An imputed VCF's contig ``chrX`` (UCSC naming) is chrX for the plan too."""
    write_cohort(tmp_path, 23, chrom=("1",))
    shutil.copy(tmp_path / "g.bim", tmp_path / "array.bim")
    plan = write_imputed_plan(tmp_path / "plan.tsv", ["chr1", "chrX"])
    assert null_model(tmp_path, tmp_path / "array.bim", plan)["sex_added_for_chrX"]
