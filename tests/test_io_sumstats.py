"""GWAS-SSF writer: round trip, order, formats, bgzip + tabix, sidecar, determinism."""

import gzip
import hashlib

import numpy as np
import pandas as pd
import pysam
import pytest
import yaml

from cohortgen import __version__
from cohortgen.errors import InputError
from cohortgen.io.sumstats import (
    GWAS_SSF_COLUMNS,
    meta_path_for,
    read_gwas_ssf,
    write_gwas_ssf,
)

META = {"genome_assembly": "GRCh38", "trait_description": "type 2 diabetes"}


def small_table() -> pd.DataFrame:
    """Unsorted rows over autosomes, X (two spellings), Y and MT, with a position tie."""
    return pd.DataFrame(
        {
            "chromosome": ["chrX", "2", "1", "chr1", "X", "MT", "chrY", "10"],
            "base_pair_location": [100, 5, 10, 10, 50, 7, 3, 1],
            "effect_allele": ["A", "A", "A", "AT", "C", "G", "T", "C"],
            "other_allele": ["G", "G", "G", "A", "T", "A", "C", "G"],
            "beta": [0.1, 0.05, -2e-7, 1 / 3, 1.0, 0.25, -0.5, 2.0],
            "standard_error": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
            "effect_allele_frequency": [0.5, 0.01, 0.2, 0.3, 0.4, 0.05, 0.06, 0.07],
            "p_value": [1e-300, 0.5, 0.01, 1.0, 3e-9, 0.2, 0.3, 0.04],
            "variant_id": [
                "X_100_G_A",
                "2_5_G_A",
                "1_10_G_A",
                "1_10_A_AT",
                "X_50_T_C",
                "MT_7_A_G",
                "Y_3_C_T",
                "10_1_G_C",
            ],
            "n": [100, 100, 100, 100, 98, 100, 50, 100],
            "n_cases": [40, 40, 40, 40, 39, 40, 20, 40],
            "n_controls": [60, 60, 60, 60, 59, 60, 30, 60],
        }
    )


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "t2d.tsv.gz"
    write_gwas_ssf(path, small_table(), META)
    return path


def test_write_gwas_ssf__round_trip(written):
    back = read_gwas_ssf(written)
    assert list(back.columns) == GWAS_SSF_COLUMNS
    table = small_table()
    merged = back.merge(table, on="variant_id", suffixes=("", "_in"))
    assert len(merged) == len(table)
    for name in ("beta", "standard_error", "effect_allele_frequency", "p_value"):
        np.testing.assert_allclose(merged[name], merged[f"{name}_in"], rtol=1e-5)
    assert (merged["base_pair_location"] == merged["base_pair_location_in"]).all()
    assert (merged["effect_allele"] == merged["effect_allele_in"]).all()
    assert back["rsid"].isna().all()
    assert back["status"].isna().all()


def test_write_gwas_ssf__sort_order_and_codes(written):
    back = read_gwas_ssf(written)
    assert back["chromosome"].tolist() == ["1", "1", "2", "10", "23", "23", "24", "25"]
    assert back["variant_id"].tolist() == [
        "1_10_A_AT",
        "1_10_G_A",
        "2_5_G_A",
        "10_1_G_C",
        "X_50_T_C",
        "X_100_G_A",
        "Y_3_C_T",
        "MT_7_A_G",
    ]


def test_write_gwas_ssf__tiny_p_and_formats(written):
    with gzip.open(written, "rt") as handle:
        lines = handle.read().splitlines()
    assert lines[0].split("\t") == GWAS_SSF_COLUMNS
    rows = {line.split("\t")[8]: line.split("\t") for line in lines[1:]}
    assert rows["X_100_G_A"][7] == "1.0000e-300"
    assert rows["1_10_A_AT"][4] == "0.333333"
    assert rows["2_5_G_A"][9] == "#NA"  # rsid
    assert read_gwas_ssf(written).loc[5, "p_value"] == pytest.approx(1e-300, rel=1e-4)


def test_write_gwas_ssf__bgzip_and_tabix_query(written):
    with open(written, "rb") as handle:
        magic = handle.read(16)
    assert magic[:4] == b"\x1f\x8b\x08\x04"  # gzip with an extra field
    assert magic[12:14] == b"BC"  # the BGZF block-size subfield
    assert written.with_name(written.name + ".tbi").exists()
    with pysam.TabixFile(str(written)) as tabix:
        assert set(tabix.contigs) == {"1", "2", "10", "23", "24", "25"}
        rows = [line.split("\t") for line in tabix.fetch("23", 0, 1000)]
        assert [r[8] for r in rows] == ["X_50_T_C", "X_100_G_A"]
        assert [r.split("\t")[8] for r in tabix.fetch("23", 60, 1000)] == ["X_100_G_A"]
        assert [r.split("\t")[8] for r in tabix.fetch("1", 9, 10)] == ["1_10_A_AT", "1_10_G_A"]


def test_write_gwas_ssf__sidecar_md5_and_keys(written):
    sidecar = meta_path_for(written)
    assert sidecar.name == "t2d.tsv.gz-meta.yaml"
    meta = yaml.safe_load(sidecar.read_text())
    assert meta["data_file_md5sum"] == hashlib.md5(written.read_bytes()).hexdigest()
    assert meta["data_file_name"] == "t2d.tsv.gz"
    assert meta["file_type"] == "GWAS-SSF v1.0"
    assert meta["coordinate_system"] == "1-based"
    assert meta["is_sorted"] is True
    assert meta["samples"] == [{"sample_size": 100, "case_count": 40, "control_count": 60,
                                "case_control_study": True}]
    assert meta["trait_description"] == ["type 2 diabetes"]
    assert meta["analysis_software"] == f"cohortgen {__version__}"


def test_write_gwas_ssf__byte_identical_on_rewrite(tmp_path, written):
    other = tmp_path / "again" / "t2d.tsv.gz"
    write_gwas_ssf(other, small_table().sample(frac=1.0, random_state=3), META)
    for suffix in ("", ".tbi", "-meta.yaml"):
        first = written.with_name(written.name + suffix).read_bytes()
        assert first == other.with_name(other.name + suffix).read_bytes(), suffix
    assert sorted(p.name for p in written.parent.iterdir() if p.is_file()) == [
        "t2d.tsv.gz",
        "t2d.tsv.gz-meta.yaml",
        "t2d.tsv.gz.tbi",
    ]


def test_write_gwas_ssf__extra_meta_sorted_after_standard(tmp_path):
    path = tmp_path / "x.tsv.gz"
    write_gwas_ssf(path, small_table(), META | {"zeta": 1, "alpha": "a"})
    keys = list(yaml.safe_load(meta_path_for(path).read_text()))
    assert keys[-3:] == ["is_sorted", "alpha", "zeta"]


def test_write_gwas_ssf__unknown_chromosome(tmp_path):
    table = small_table()
    table.loc[3, "chromosome"] = "chrUn_gl000220"
    with pytest.raises(InputError, match="chrUn_gl000220.*row 4"):
        write_gwas_ssf(tmp_path / "x.tsv.gz", table, META)


def test_write_gwas_ssf__missing_mandatory_column(tmp_path):
    with pytest.raises(InputError, match="standard_error"):
        write_gwas_ssf(tmp_path / "x.tsv.gz", small_table().drop(columns="standard_error"), META)


def test_write_gwas_ssf__tab_in_allele(tmp_path):
    table = small_table()
    table.loc[2, "effect_allele"] = "A\tC"
    with pytest.raises(InputError, match="effect_allele.*table index 2"):
        write_gwas_ssf(tmp_path / "x.tsv.gz", table, META)
    assert not list(tmp_path.iterdir())
