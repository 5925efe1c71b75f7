"""PGS Catalog / plain weight file reader and writer."""

import gzip

import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.io.scorefile import (
    canonical_build,
    canonical_chrom,
    read_scoring_file,
    write_scoring_file,
)

HARMONISED = """###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/
#format_version=2.0
##POLYGENIC SCORE (PGS) INFORMATION
#pgs_id=PGS000999
#trait_reported=Coronary artery disease
#genome_build=GRCh37
#variants_number=3
##HARMONIZATION DETAILS
#HmPOS_build=GRCh38
rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\thm_chr\thm_pos\thm_inferOtherAllele
rs1\t1\t100\ta\tG\t0.5\t1\t1100\t
rs2\t1\t200\tC\t\t-0.25\tchr1\t1200\tT
rs3\t2\t300\tT\tC\t1e-3\t\t\t
"""


def _write(path, text, compress=False):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_read_scoring_file__harmonised_positions_preferred(tmp_path):
    path = _write(tmp_path / "PGS000999_hmPOS_GRCh38.txt.gz", HARMONISED, compress=True)
    scoring = read_scoring_file(path, "GRCh38")
    table = scoring.table
    assert scoring.harmonised
    assert scoring.build == "GRCh38"
    assert scoring.pgs_catalog
    assert scoring.header["pgs_id"] == "PGS000999"
    assert table["chrom"].tolist() == ["1", "1", ""]
    assert table["pos"].tolist() == [1100, 1200, -1]
    assert table["effect_allele"].tolist() == ["A", "C", "T"]
    assert table["other_allele"].tolist() == ["G", "T", "C"]
    np.testing.assert_array_equal(table["weight"], [0.5, -0.25, 1e-3])
    assert table["line"].tolist() == [11, 12, 13]


def test_read_scoring_file__build_mismatch(tmp_path):
    path = _write(tmp_path / "s.txt", HARMONISED)
    with pytest.raises(InputError, match=r"s\.txt.*GRCh38 \(#HmPOS_build\).*GRCh37"):
        read_scoring_file(path, "GRCh37")


def test_read_scoring_file__unharmonised_build_alias(tmp_path):
    text = "\n".join(line.split("\t\thm_")[0] for line in HARMONISED.splitlines()
                     if "HmPOS" not in line and line[:3] not in ("rs1", "rs2", "rs3"))
    text = text.replace("\thm_chr\thm_pos\thm_inferOtherAllele", "").replace(
        "#genome_build=GRCh37", "#genome_build=hg19")
    text += "\nrs1\t1\t100\tA\tG\t0.5\nrs2\t1\t200\tC\tT\t-0.25\nrs3\t2\t300\tT\tC\t1\n"
    scoring = read_scoring_file(_write(tmp_path / "s.txt", text), "GRCh37")
    assert not scoring.harmonised
    assert scoring.build == "GRCh37"
    assert scoring.table["pos"].tolist() == [100, 200, 300]
    with pytest.raises(InputError, match="GRCh37"):
        read_scoring_file(tmp_path / "s.txt", "GRCh38")


def test_read_scoring_file__build_not_reported(tmp_path):
    text = HARMONISED.replace("#HmPOS_build=GRCh38", "#HmPOS_build=NR")
    with pytest.raises(InputError, match=r"s\.txt: header #HmPOS_build=NR"):
        read_scoring_file(_write(tmp_path / "s.txt", text), "GRCh38")


def test_read_scoring_file__plain_weights(tmp_path):
    text = "#genome_build=GRCh38\nCHROM\tPOS\teffect_allele\tother_allele\tWEIGHT\tEAF\n" \
           "chr3\t5\tA\tG\t0.1\t0.2\n23\t9\tC\tT\t-1\t0.7\n"
    scoring = read_scoring_file(_write(tmp_path / "w.tsv", text), "GRCh38")
    assert not scoring.pgs_catalog
    assert scoring.build == "GRCh38"
    assert scoring.table["chrom"].tolist() == ["3", "X"]
    np.testing.assert_array_equal(scoring.table["effect_allele_frequency"], [0.2, 0.7])


def test_read_scoring_file__bad_weight_names_line(tmp_path):
    text = HARMONISED.replace("-0.25", "minus")
    with pytest.raises(InputError, match=r"s\.txt, line 12: effect_weight is 'minus'"):
        read_scoring_file(_write(tmp_path / "s.txt", text), "GRCh38")


def test_read_scoring_file__rsid_only(tmp_path):
    text = "###PGS CATALOG SCORING FILE\n#genome_build=GRCh38\n" \
           "rsID\teffect_allele\teffect_weight\nrs1\tA\t0.1\n"
    with pytest.raises(InputError, match="rsIDs only"):
        read_scoring_file(_write(tmp_path / "s.txt", text), "GRCh38")


def test_read_scoring_file__missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.txt: scoring file not found"):
        read_scoring_file(tmp_path / "nope.txt", "GRCh38")


def test_write_scoring_file__round_trip(tmp_path):
    table = pd.DataFrame({"chrom": ["1", "2"], "pos": [10, 20], "effect_allele": ["A", "T"],
                          "other_allele": ["G", "C"], "weight": [0.123456789, -2.0],
                          "effect_allele_frequency": [0.1, np.nan]})
    header = {"pgs_id": "CG_T2D", "trait_reported": "type 2 diabetes",
              "genome_build": "GRCh38", "weight_type": "beta"}
    path = tmp_path / "score.txt.gz"
    write_scoring_file(path, table, header)
    first = path.read_bytes()
    write_scoring_file(path, table, header)
    assert path.read_bytes() == first
    scoring = read_scoring_file(path, "GRCh38")
    assert scoring.pgs_catalog
    assert scoring.header["variants_number"] == "2"
    assert scoring.header["format_version"] == "2.0"
    back = scoring.table
    assert back["chrom"].tolist() == ["1", "2"]
    assert back["pos"].tolist() == [10, 20]
    np.testing.assert_array_equal(back["weight"], table["weight"])
    np.testing.assert_array_equal(back["effect_allele_frequency"], [0.1, np.nan])


def test_canonical_build__aliases():
    assert [canonical_build(b) for b in ("hg19", "GRCh37", "hg38", "grch38", "NR", None)] == [
        "GRCh37", "GRCh37", "GRCh38", "GRCh38", None, None]


def test_canonical_chrom__prefixes_and_numbers():
    names = canonical_chrom(pd.Series(["chr1", "CHRX", "23", "24", "25", "chrM", "7"]))
    assert names.tolist() == ["1", "X", "X", "Y", "MT", "MT", "7"]
