"""GWAS-SSF files against the official validator (``gwas-ssf validate``, PyPI
``gwas-sumstats-tools``, test-only environment ``.refenvs/gwas-ssf``): the data file and the
metadata sidecar of a small association run, the companion table of untested rows, and the
writer's errors on rows that GWAS-SSF does not allow."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import require_reference_env
from test_io_sumstats import small_table

from cohortgen.assoc.gather import read_chunk_table
from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_tsv
from cohortgen.io.sumstats import (
    NON_NUCLEOTIDE,
    UNTESTED_COLUMNS,
    meta_path_for,
    metadata_date,
    read_gwas_ssf,
    split_gwas_ssf,
    untested_path_for,
    write_gwas_ssf,
)
from cohortgen.kernels.bed import pack_dosages

N = 300
AUTOSOMES = [str(c) for c in range(1, 23)]
PER_CHROM = 4
MONOMORPHIC_ROW, LOW_MAC_ROW, NUMERIC_ALLELES_ROW, INDEL_ROW = 0, 5, 9, 13


def write_cohort(tmp: Path) -> pd.DataFrame:
    """A .bed of 4 variants on each of the 22 autosomes × N samples (one monomorphic, one with
    MAC 2, one with PLINK 1/2 allele codes, one indel; even rows named by rsID, odd rows
    ``chrom:pos:ref:alt``), a sheet with sex, age, a disease ``d`` and a trait ``q``, a keep
    list and a variant QC table. Returns the .bim."""
    rng = np.random.default_rng(11)
    m = len(AUTOSOMES) * PER_CHROM
    dosage = rng.binomial(2, rng.uniform(0.1, 0.5, (m, 1)), size=(m, N)).astype(np.int8)
    dosage[MONOMORPHIC_ROW] = 0
    dosage[LOW_MAC_ROW] = 0
    dosage[LOW_MAC_ROW, :2] = 1
    chrom = np.repeat(AUTOSOMES, PER_CHROM)
    pos = np.tile(np.arange(1, PER_CHROM + 1) * 1000, len(AUTOSOMES))
    a1, a2 = np.full(m, "A", dtype=object), np.full(m, "G", dtype=object)
    a1[NUMERIC_ALLELES_ROW], a2[NUMERIC_ALLELES_ROW] = "1", "2"
    a1[INDEL_ROW] = "AT"
    ids = [f"rs{100 + j}" if j % 2 == 0 else f"{chrom[j]}:{pos[j]}:{a2[j]}:{a1[j]}"
           for j in range(m)]
    bim = pd.DataFrame({"chrom": chrom, "id": ids, "cm": 0.0, "pos": pos, "a1": a1, "a2": a2})
    samples = [f"s{i:03d}" for i in range(N)]
    sex = rng.integers(1, 3, N)
    age = rng.normal(50, 10, N)
    d = (rng.random(N) < 1 / (1 + np.exp(1.0 - 0.8 * (sex == 2)))).astype(float)
    q = 0.03 * age + 0.5 * dosage[1] + rng.normal(size=N)
    pd.DataFrame({"sample_id": samples, "sex": sex, "age": age, "d": d, "q": q}).to_csv(
        tmp / "pheno.tsv", sep="\t", index=False, float_format="%.17g")
    fam = pd.DataFrame({"fid": samples, "iid": samples, "father": "0", "mother": "0",
                        "sex": sex, "pheno": "-9"})
    write_bed(tmp / "g", pack_dosages(dosage), bim, fam)
    (tmp / "keep.txt").write_text("".join(f"{s}\n" for s in samples))
    pd.DataFrame({"pass": np.ones(m, bool)}).to_csv(tmp / "vqc.tsv", sep="\t", index=False)
    return bim


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The association stage's commands, as the rules call them, on :func:`write_cohort`:
    ``gwas/d.tsv.gz`` (disease) and ``gwas/q.tsv.gz`` (quantitative trait) with sidecars and
    companion tables, and the chunk tables ``assoc/<trait>.columns``."""
    tmp = tmp_path_factory.mktemp("gwas_ssf")
    write_cohort(tmp)
    t = str(tmp)
    assert main(["null-model", "--fam", f"{t}/g.fam", "--keep", f"{t}/keep.txt",
                 "--phenotypes", f"{t}/pheno.tsv", "--options",
                 '{"diseases": ["d"], "covariates": ["age", "sex"], "assoc": {"min_cases": 10},'
                 ' "traits": {"q": "quantitative"}}', "--out-table", f"{t}/null.tsv",
                 "--out-json", f"{t}/null.json"]) == 0
    assert main(["assoc", "--bfile", f"{t}/g", "--null-table", f"{t}/null.tsv", "--null-json",
                 f"{t}/null.json", "--variant-qc", f"{t}/vqc.tsv", "--out-dir",
                 f"{t}/assoc"]) == 0
    for trait in ("d", "q"):
        assert main(["gather-gwas", "--disease", trait, "--chunks", f"{t}/assoc/{trait}.columns",
                     "--null-json", f"{t}/null.json", "--options", '{"genome_build": "GRCh38"}',
                     "--out", f"{t}/gwas/{trait}.tsv.gz"]) == 0
    return tmp


def reference_python() -> str:
    """The Python of the validator's environment (its ``gwas-ssf`` script lives beside it)."""
    return str(Path(require_reference_env("gwas-ssf", "gwas-ssf")).with_name("python"))


@pytest.mark.parametrize("trait", ["d", "q"])
def test_gather_gwas__official_validator_accepts_the_data_file(run, trait):
    """The whole ``gwas-ssf validate``: extension, column order, chromosome coverage (the run
    covers the 22 autosomes), then every row's types, patterns and ranges. ``--min-rows 1``:
    the default asks for 100,000 rows."""
    result = subprocess.run(
        [require_reference_env("gwas-ssf", "gwas-ssf"), "validate",
         str(run / f"gwas/{trait}.tsv.gz"), "--min-rows", "1"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation status: True" in result.stdout


def test_gather_gwas__metadata_validates_against_the_official_model(run):
    """The sidecar parses as the validator's ``SumStatsMetadata`` (pydantic: required keys,
    types, enums), keeping our values; our extra keys are allowed by it."""
    script = (
        "import json, sys, yaml\n"
        "from gwas_sumstats_tools.schema.metadata import SumStatsMetadata\n"
        "data = yaml.safe_load(open(sys.argv[1]))\n"
        "print(SumStatsMetadata.parse_obj(data).json(exclude_none=True))\n"
    )
    for trait in ("d", "q"):
        sidecar = meta_path_for(run / f"gwas/{trait}.tsv.gz")
        result = subprocess.run([reference_python(), "-c", script, str(sidecar)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        parsed = json.loads(result.stdout)
        ours = yaml.safe_load(sidecar.read_text())
        assert parsed["date_metadata_last_modified"] == metadata_date().isoformat()
        for key in ("genome_assembly", "data_file_name", "data_file_md5sum", "file_type",
                    "samples", "trait_description", "adjusted_covariates", "is_sorted"):
            assert parsed[key] == ours[key], key
        assert ours["cohortgen_status"] == "OK"
    null = json.loads((run / "null.json").read_text())["diseases"]
    d = yaml.safe_load(meta_path_for(run / "gwas/d.tsv.gz").read_text())["samples"]
    assert d == [{"sample_size": null["d"]["n_cases"] + null["d"]["n_controls"],
                  "case_count": null["d"]["n_cases"], "control_count": null["d"]["n_controls"],
                  "case_control_study": True}]
    q = yaml.safe_load(meta_path_for(run / "gwas/q.tsv.gz").read_text())["samples"]
    assert q == [{"sample_size": N, "case_control_study": False}]


def test_write_gwas_ssf__validator_accepts_sex_chromosomes_mt_and_indels(tmp_path):
    """The writer's edge rows (X, Y, MT as 23-25, indels, p = 1e-300, position ties) pass every
    check but the chromosome coverage, switched off here: the table covers four autosomes."""
    skip_coverage = (
        "import sys\n"
        "from gwas_sumstats_tools.cli import app\n"
        "from gwas_sumstats_tools.validate import Validator\n"
        "Validator._validate_chromosomes = lambda self: (True, 'coverage not checked')\n"
        "app()\n"
    )
    path = tmp_path / "t2d.tsv.gz"
    write_gwas_ssf(path, small_table(), {"genome_assembly": "GRCh38"})
    result = subprocess.run([reference_python(), "-c", skip_coverage, "validate", str(path),
                             "--min-rows", "1"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation status: True" in result.stdout


@pytest.mark.parametrize("trait", ["d", "q"])
def test_gather_gwas__every_untested_row_is_in_the_companion_table(run, trait):
    chunk = read_chunk_table(run / f"assoc/{trait}.columns", trait)
    ssf = read_gwas_ssf(run / f"gwas/{trait}.tsv.gz")
    untested = read_tsv(untested_path_for(run / f"gwas/{trait}.tsv.gz"),
                        dtype={"chromosome": str, "input_variant_id": str})
    assert untested.columns.tolist() == UNTESTED_COLUMNS  # identifiers and reason: no counts
    assert len(ssf) + len(untested) == len(chunk)
    assert set(ssf["variant_id"]).isdisjoint(untested["variant_id"])
    reason = dict(zip(untested["input_variant_id"], untested["reason"], strict=True))
    no_p = chunk.loc[chunk["p_value"].isna()]
    assert {reason[v] for v in no_p["variant_id"]} <= {"LOW_MAC", "MONOMORPHIC", "COLLINEAR"}
    assert [reason[v] for v in no_p["variant_id"]] == no_p["status"].tolist()
    ids = chunk["variant_id"].tolist()
    assert reason[ids[MONOMORPHIC_ROW]] == "MONOMORPHIC"
    assert reason[ids[LOW_MAC_ROW]] == "LOW_MAC"
    assert reason[ids[NUMERIC_ALLELES_ROW]] == NON_NUCLEOTIDE
    assert set(reason) == {ids[k] for k in (MONOMORPHIC_ROW, LOW_MAC_ROW, NUMERIC_ALLELES_ROW)}
    assert ssf["p_value"].notna().all()
    assert ssf["beta"].notna().all()


def test_gather_gwas__variant_id_in_gwas_ssf_form_and_rsid_kept(run):
    """variant_id is <chromosome>_<position>_<other>_<effect>; an input rsID goes to rsid."""
    table = read_gwas_ssf(run / "gwas/d.tsv.gz").set_index(["chromosome", "base_pair_location"])
    assert table.loc[("1", 2000), "variant_id"] == "1_2000_G_A"
    assert pd.isna(table.loc[("1", 2000), "rsid"])
    assert table.loc[("1", 3000), ["variant_id", "rsid"]].tolist() == ["1_3000_G_A", "rs102"]
    assert table.loc[("4", 2000), "variant_id"] == "4_2000_G_AT"  # the indel, input 4:2000:G:AT


def results_table() -> pd.DataFrame:
    """Association rows as the chunk step writes them: a tested SNV named by rsID, a LOW_MAC
    row, a tested row with A/B allele codes and a FIRTH_CONVERGE_FAIL row (score-test values
    kept, so it stays in GWAS-SSF)."""
    return pd.DataFrame({
        "chromosome": ["2", "1", "1", "X"], "base_pair_location": [50, 10, 20, 5],
        "effect_allele": ["T", "A", "B", "G"], "other_allele": ["C", "G", "A", "GA"],
        "beta": [0.2, np.nan, 0.1, -0.3], "standard_error": [0.1, np.nan, 0.1, 0.2],
        "effect_allele_frequency": [0.3, 0.001, 0.4, 0.2],
        "p_value": [0.04, np.nan, 0.3, 0.1],
        "variant_id": ["rs7", "1:10:G:A", "1:20:A:B", "X:5:GA:G"], "rsid": np.nan,
        "n": 100, "status": ["OK", "LOW_MAC", "OK", "FIRTH_CONVERGE_FAIL"]})


def test_split_gwas_ssf__exact_small_case():
    tested, untested = split_gwas_ssf(results_table())
    assert tested["variant_id"].tolist() == ["2_50_C_T", "23_5_GA_G"]
    assert tested["rsid"].tolist()[0] == "rs7"
    assert pd.isna(tested["rsid"].iloc[1])
    assert tested["status"].tolist() == ["OK", "FIRTH_CONVERGE_FAIL"]
    assert untested.to_dict("list") == {
        "chromosome": [1, 1], "base_pair_location": [10, 20], "effect_allele": ["A", "B"],
        "other_allele": ["G", "A"], "variant_id": ["1_10_G_A", "1_20_A_B"],
        "input_variant_id": ["1:10:G:A", "1:20:A:B"], "reason": ["LOW_MAC", NON_NUCLEOTIDE]}


@pytest.mark.parametrize(("column", "value", "match"), [
    ("beta", np.nan, r"table index 1 \(chromosome X, position 5\) has no beta.*LOW_MAC"),
    ("effect_allele", "D", r"table index 1 \(chromosome X, position 5\) has alleles 'D' / 'GA'"),
    ("variant_id", "2:50:C:T", "variant_id '2:50:C:T' at table index 1"),
    ("rsid", "7", "rsid '7' at table index 1"),
    ("p_value", 0.0, r"table index 1 \(chromosome X, position 5\) has p_value 0"),
])
def test_write_gwas_ssf__rows_gwas_ssf_does_not_allow(tmp_path, column, value, match):
    table, _ = split_gwas_ssf(results_table())
    table.index = [4, 1]
    table.loc[1, "status"] = "LOW_MAC"
    table.loc[1, column] = value
    with pytest.raises(InputError, match=match):
        write_gwas_ssf(tmp_path / "x.tsv.gz", table, {"genome_assembly": "GRCh38"})
    assert not list(tmp_path.iterdir())


def test_metadata_date__source_date_epoch(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    tested, _ = split_gwas_ssf(results_table())
    write_gwas_ssf(tmp_path / "x.tsv.gz", tested, {"genome_assembly": "GRCh38"})
    meta = yaml.safe_load(meta_path_for(tmp_path / "x.tsv.gz").read_text())
    assert str(meta["date_metadata_last_modified"]) == "2023-11-14"
    assert list(meta)[:2] == ["date_metadata_last_modified", "trait_description"]
